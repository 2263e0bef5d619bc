"""Planning a replay: which windows reach `--to T` exactly, what `--latest` reaches, which anchor,
and every window validated before anything is written (a damaged one named, or replaced by a
valid duplicate of the same window)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from conventions.vault import export_prefix
from safetynet.recovery.replay import (
    ChainBroken,
    NotOnWindowBoundary,
    ReplayError,
    WindowsCorrupt,
    choose_anchor,
    list_vault,
    plan_replay,
    validate_windows,
)
from tests.safetynet.recovery import replay_fixtures as fx


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name=fx.REGION)
    client.create_bucket(Bucket=fx.BUCKET)
    return client


def _plan(s3: Any, to: Any) -> Any:
    exports = list_vault(s3, fx.BUCKET, export_prefix(fx.TABLE))
    ref, summary, _ = choose_anchor(s3, exports, to=to, expected_table_arn=fx.TABLE_ARN)
    return exports, plan_replay(exports, ref, summary, to=to)


def _vault(s3: Any, windows: int = 3) -> Any:
    anchor = fx.full_export(s3, [fx.item("a", 0)])
    links = fx.chain(s3, [[fx.put("a", i + 1, window=i + 1)] for i in range(windows)])
    return anchor, links


def test_to_a_window_end_takes_exactly_the_windows_up_to_it(s3: Any) -> None:
    anchor, links = _vault(s3)
    _, plan = _plan(s3, fx.at(30))
    assert plan.anchor == anchor
    assert [w.ref for w in plan.windows] == links[:2]
    assert [w.number for w in plan.windows] == [1, 2]
    assert plan.to == fx.at(30)
    assert plan.changes == 2


def test_to_the_anchors_time_needs_no_window(s3: Any) -> None:
    _vault(s3)
    _, plan = _plan(s3, fx.ANCHOR_TIME)
    assert plan.windows == []
    assert plan.to == fx.ANCHOR_TIME


def test_latest_reaches_the_end_of_the_chain(s3: Any) -> None:
    _, links = _vault(s3)
    _, plan = _plan(s3, None)
    assert [w.ref for w in plan.windows] == links
    assert plan.to == fx.at(45)
    assert plan.gap is None


def test_a_time_inside_a_window_is_refused_with_both_possible_times(s3: Any) -> None:
    _vault(s3)
    with pytest.raises(NotOnWindowBoundary) as caught:
        _plan(s3, fx.at(20))
    assert (caught.value.before, caught.value.after) == (fx.at(15), fx.at(30))
    text = str(caught.value)
    assert "--to 2026-11-27T03:15:00.000Z" in text
    assert "--to 2026-11-27T03:30:00.000Z" in text


def test_a_time_beyond_the_chain_is_refused_with_its_recovery_point(s3: Any) -> None:
    _vault(s3)
    with pytest.raises(ChainBroken) as caught:
        _plan(s3, fx.at(60))
    assert caught.value.recovery_point == fx.at(45)
    assert "--to 2026-11-27T03:45:00.000Z" in str(caught.value)


def test_a_gap_stops_the_plan_at_the_gap(s3: Any) -> None:
    fx.full_export(s3, [fx.item("a", 0)])
    fx.window_export(s3, [fx.put("a", 1)], fx.at(0), fx.at(15))
    fx.window_export(s3, [fx.put("a", 3)], fx.at(30), fx.at(45))  # 03:15 .. 03:30 never exported
    with pytest.raises(ChainBroken) as caught:
        _plan(s3, fx.at(45))
    assert caught.value.recovery_point == fx.at(15)
    assert caught.value.gap is not None and caught.value.gap.kind == "gap"
    assert "no window covers 2026-11-27T03:15:00.000Z .. 2026-11-27T03:30:00.000Z" in str(caught.value)
    # --latest replays up to the gap and says where the chain stops.
    _, plan = _plan(s3, None)
    assert plan.to == fx.at(15)
    assert plan.gap is not None and plan.gap.next_start == fx.at(30)


def test_the_anchor_is_the_newest_valid_full_export_at_or_before_t(s3: Any) -> None:
    older = fx.full_export(s3, [fx.item("a", 0)])
    newer = fx.full_export(s3, [fx.item("a", 9)], fx.at(30))
    fx.chain(s3, [[fx.put("a", 1)], [fx.put("a", 2)], [fx.put("a", 3)]])
    exports = list_vault(s3, fx.BUCKET, export_prefix(fx.TABLE))
    assert choose_anchor(s3, exports, to=fx.at(15), expected_table_arn=fx.TABLE_ARN)[0] == older
    assert choose_anchor(s3, exports, to=fx.at(45), expected_table_arn=fx.TABLE_ARN)[0] == newer
    # A damaged newest export is passed over (with why), as restore-plan passes over it.
    fx.corrupt(s3, newer)
    ref, _, skipped = choose_anchor(s3, exports, to=fx.at(45), expected_table_arn=fx.TABLE_ARN)
    assert ref == older
    assert [url for url, _ in skipped] == [newer.url]


def test_a_given_anchor_must_be_a_full_export_of_the_table_before_t(s3: Any) -> None:
    anchor, links = _vault(s3)
    exports = list_vault(s3, fx.BUCKET, export_prefix(fx.TABLE))
    with pytest.raises(ReplayError, match="not a full export"):
        choose_anchor(s3, exports, to=None, expected_table_arn=fx.TABLE_ARN, anchor=links[0])
    with pytest.raises(ReplayError, match="is an export of"):
        choose_anchor(s3, exports, to=None, expected_table_arn=fx.TABLE_ARN + "-other", anchor=anchor)
    with pytest.raises(ReplayError, match="only moves forward"):
        choose_anchor(s3, exports, to=fx.at(-1), expected_table_arn=fx.TABLE_ARN, anchor=anchor)


def test_a_damaged_window_stops_the_replay_before_anything_is_written_and_is_named(s3: Any) -> None:
    _, links = _vault(s3)
    fx.corrupt(s3, links[1])
    exports, plan = _plan(s3, fx.at(45))
    with pytest.raises(WindowsCorrupt) as caught:
        validate_windows(s3, exports, plan)
    assert list(caught.value.problems) == [links[1].url]
    assert caught.value.usable_until == fx.at(15)
    assert "--to 2026-11-27T03:15:00.000Z" in str(caught.value)


def test_a_window_whose_data_file_is_missing_is_named(s3: Any) -> None:
    _, links = _vault(s3)
    exports, plan = _plan(s3, fx.at(45))
    s3.delete_object(Bucket=fx.BUCKET, Key=fx.data_keys(s3, links[2])[0])
    with pytest.raises(WindowsCorrupt) as caught:
        validate_windows(s3, exports, plan)
    assert list(caught.value.problems) == [links[2].url]
    assert "does not exist" in str(caught.value)


def test_a_damaged_window_with_a_valid_duplicate_is_replaced_by_it(s3: Any) -> None:
    _, links = _vault(s3)
    duplicate = fx.window_export(
        s3, [fx.put("a", 2, window=2)], fx.at(15), fx.at(30), export_id="99999999999999-dddddddd"
    )
    fx.corrupt(s3, links[1])
    exports, plan = _plan(s3, fx.at(45))
    checked = validate_windows(s3, exports, plan)
    assert [w.ref for w in checked.windows] == [links[0], duplicate, links[2]]
    assert list(checked.replaced) == [links[1].url]


def test_windows_already_applied_are_not_read_again(s3: Any) -> None:
    _, links = _vault(s3)
    fx.corrupt(s3, links[0])  # applied before: the journal says the table is past it
    exports, plan = _plan(s3, fx.at(45))
    checked = validate_windows(s3, exports, plan, after=fx.at(15))
    assert [w.ref for w in checked.pending(fx.at(15))] == links[1:]


GOOD = (
    b'{"Metadata":{"WriteTimestampMicros":{"N":"1764212400000000"}},"Keys":{"pk":{"S":"a"},"sk":{"S":"x"}},'
    b'"NewImage":{"pk":{"S":"a"},"sk":{"S":"x"},"b":{"B":"AP8="}},"OldImage":{"pk":{"S":"a"},"sk":{"S":"x"}}}'
)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json", "not JSON"),
        (GOOD.replace(b'"Metadata"', b'"Meta"'), "unknown field(s) 'Meta'"),
        (GOOD.replace(b'{"N":"1764212400000000"}', b'"soon"'), "Metadata.WriteTimestampMicros"),
        (GOOD.replace(b'"Keys":{"pk":{"S":"a"},"sk":{"S":"x"}}', b'"Keys":{}'), "Keys: must be an object"),
        (
            GOOD.replace(b'"Keys":{"pk":{"S":"a"},', b'"Keys":{"pk":{"S":"z"},'),
            "NewImage: does not hold the line's Keys",
        ),
        (GOOD.replace(b'"B":"AP8="', b'"B":"not base64!"'), "NewImage: holds a value that is not valid"),
        (GOOD.replace(b'"OldImage":{"pk":{"S":"a"},"sk":{"S":"x"}}', b'"OldImage":[1]'), "OldImage: must be an object"),
        (GOOD.replace(b'"NewImage":{"pk":{"S":"a"},"sk":{"S":"x"},"b":{"B":"AP8="}}', b'"NewImage":null'), "is null"),
    ],
)
def test_validation_names_what_a_line_replay_would_use_gets_wrong(line: bytes, reason: str) -> None:
    from handlers.exports.apply import check_line, request_of
    from handlers.exports.items import ItemFormatError

    assert check_line(GOOD) is True
    assert request_of(GOOD) == b'{"PutRequest":{"Item":{"pk":{"S":"a"},"sk":{"S":"x"},"b":{"B":"AP8="}}}}'
    with pytest.raises(ItemFormatError) as caught:
        check_line(line)
    assert reason in str(caught.value)


def test_old_image_values_are_not_what_replay_checks() -> None:
    from handlers.exports.apply import check_line, request_of

    odd_old = GOOD.replace(b'"OldImage":{"pk":{"S":"a"},"sk":{"S":"x"}}', b'"OldImage":{"n":{"N":"x"}}')
    assert check_line(odd_old) is True
    delete = b'{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"pk":{"S":"a"},"sk":{"S":"x"}}}'
    assert check_line(delete) is True
    assert request_of(delete) == b'{"DeleteRequest":{"Key":{"pk":{"S":"a"},"sk":{"S":"x"}}}}'

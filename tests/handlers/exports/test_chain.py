"""Chain integrity (handlers.exports.chain.build_chain): the anchor, contiguous windows, and the
first break named. Pure logic over manifest summaries; `read_chain`/`verify_chain` on moto are in
test_chain_vault.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count, permutations

import pytest

from handlers.exports.chain import Chain, ChainError, ChainGap, build_chain
from handlers.exports.layout import (
    FULL_EXPORT,
    INCREMENTAL_EXPORT,
    INCREMENTAL_VERSION,
    ExportRef,
    ManifestSummary,
)

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # the nightly full export's ExportTime: the first window's start
_ids = count(1)

Export = tuple[ExportRef, ManifestSummary]


def _ref() -> ExportRef:
    return ExportRef("vault", f"exports/orders/AWSDynamoDB/0179{next(_ids):010d}-abcd1234/")


def full(at: datetime, *, status: str | None = None, arn: str = ARN) -> Export:
    summary = ManifestSummary(
        table_arn=arn, export_time=at, manifest_files_s3_key="x", item_count=1, export_type=FULL_EXPORT, status=status
    )
    return _ref(), summary


def window(
    start: datetime, end: datetime, *, status: str | None = None, arn: str = ARN, fmt: str = "DYNAMODB_JSON"
) -> Export:
    summary = ManifestSummary(
        table_arn=arn,
        export_time=end,
        manifest_files_s3_key="x",
        item_count=1,
        export_type=INCREMENTAL_EXPORT,
        version=INCREMENTAL_VERSION,
        export_from_time=start,
        export_to_time=end,
        output_view="NEW_AND_OLD_IMAGES",
        status=status,
        output_format=fmt,
    )
    return _ref(), summary


def at(minutes: float) -> datetime:
    """The windows' 15-minute grid, from the anchor's ExportTime."""
    return T0 + timedelta(minutes=minutes)


def spans(chain: Chain) -> list[tuple[datetime, datetime]]:
    return [(link.start, link.end) for link in chain.links]


def test_contiguous_windows_reach_the_last_end() -> None:
    # Given the anchor and windows every 15 minutes from its ExportTime
    anchor = full(T0)
    windows = [window(at(m), at(m + 15)) for m in (0, 15, 30, 45)]
    # When building the chain (in any listing order)
    chain = build_chain([*reversed(windows), anchor])
    # Then it holds all of them in order, and reaches the last one's end
    assert chain.anchor == anchor
    assert spans(chain) == [(at(m), at(m + 15)) for m in (0, 15, 30, 45)]
    assert chain.recovery_point == at(60)
    assert chain.gap is None
    assert chain.complete
    assert [link.ref for link in chain.links] == [ref for ref, _ in windows]
    assert chain.links[0].summary is windows[0][1]


def test_without_windows_the_recovery_point_is_the_anchor() -> None:
    anchor = full(T0)
    chain = build_chain([anchor])
    assert (chain.links, chain.recovery_point, chain.gap) == ((), T0, None)


def test_the_first_gap_is_named_and_the_chain_stops_there() -> None:
    # Given a window missing between 03:30 and 03:45 (a failed run never caught up)
    exports = [full(T0), *(window(at(m), at(m + 15)) for m in (0, 15, 45, 60))]
    chain = build_chain(exports)
    # Then the chain stops at 03:30 and names the hole
    assert chain.recovery_point == at(30)
    assert chain.gap == ChainGap(at(30), at(45), "gap")
    assert "gap: no window covers 2026-11-26T03:30:00.000Z .. 2026-11-26T03:45:00.000Z (15m" in str(chain.gap)
    assert not chain.complete


def test_a_first_window_starting_after_the_anchor_is_a_gap() -> None:
    # Given the first window starting after the anchor's ExportTime (as in the real export of
    # test_incremental: full export at 10:18:50.622, first window from 10:20)
    chain = build_chain([full(T0), window(at(15), at(30))])
    # Then the writes between the ExportTime and 03:15 are in no window
    assert chain.links == ()
    assert chain.recovery_point == T0
    assert chain.gap == ChainGap(T0, at(15), "gap")


def test_an_overlapping_window_is_named() -> None:
    # Given the window after 03:15 starting at 03:10 instead
    chain = build_chain([full(T0), window(at(0), at(15)), window(at(10), at(25)), window(at(25), at(40))])
    assert chain.recovery_point == at(15)
    assert chain.gap == ChainGap(at(15), at(10), "overlap")
    assert str(chain.gap).startswith("overlap: no window starts at 2026-11-26T03:15:00.000Z")


def test_duplicate_windows_count_once() -> None:
    # Given the 03:15-03:30 window exported twice (a retried run)
    first = window(at(15), at(30))
    retry = window(at(15), at(30))
    chain = build_chain([full(T0), window(at(0), at(15)), retry, first, window(at(30), at(45))])
    # Then it is in the chain once (the first by ExportId) and the chain goes on
    assert spans(chain) == [(at(0), at(15)), (at(15), at(30)), (at(30), at(45))]
    assert chain.links[1].ref == first[0]
    assert chain.gap is None


def test_failed_and_unreadable_runs_are_not_used_but_a_retry_is() -> None:
    # Given a failed attempt at a window and its successful retry, and an ION export of the next
    chain = build_chain(
        [
            full(T0),
            window(at(0), at(15)),
            window(at(15), at(30), status="FAILED"),
            ok := window(at(15), at(30)),
            window(at(30), at(45), fmt="ION"),
        ]
    )
    assert [link.ref for link in chain.links][1] == ok[0]
    assert chain.recovery_point == at(30)
    assert chain.gap is None  # nothing usable after 03:30: the chain simply ends there


def test_catch_up_windows_of_other_lengths_join_the_chain() -> None:
    # Given a run that was late and caught up with one long window, then the grid again
    chain = build_chain([full(T0), window(at(0), at(15)), window(at(15), at(120)), window(at(120), at(135))])
    assert spans(chain) == [(at(0), at(15)), (at(15), at(120)), (at(120), at(135))]


def test_of_two_ways_on_the_path_reaching_furthest_is_taken() -> None:
    # Given a long window that leads nowhere and short ones that go on
    chain = build_chain(
        [
            full(T0),
            window(at(0), at(60)),
            *(window(at(m), at(m + 15)) for m in (0, 15, 30, 45, 60)),
        ]
    )
    assert chain.recovery_point == at(75)
    assert chain.gap is None
    # and, when both reach as far, the one with fewer windows
    short = build_chain([full(T0), window(at(0), at(30)), window(at(0), at(15)), window(at(15), at(30))])
    assert spans(short) == [(at(0), at(30))]


def test_a_window_straddling_the_anchor_does_not_start_the_chain() -> None:
    # Given windows on a grid and a full export in the middle of one (03:00:07.250): an item
    # created at 03:00:05 (in the full export) and deleted at 03:10 has no line in [03:00, 03:15)
    anchor = full(T0 + timedelta(seconds=7.25))
    chain = build_chain([anchor, window(at(0), at(15)), window(at(15), at(30))])
    # Then that window cannot be replayed on this anchor: the chain stops at the ExportTime
    assert chain.anchor == anchor
    assert chain.links == ()
    assert chain.gap == ChainGap(anchor[1].export_time, at(0), "overlap")
    # A window starting exactly at the ExportTime does start it
    aligned = window(anchor[1].export_time, at(15))
    assert spans(build_chain([anchor, aligned, window(at(15), at(30))])) == [
        (anchor[1].export_time, at(15)),
        (at(15), at(30)),
    ]


def test_an_export_time_inside_a_second_may_be_followed_by_a_window_from_that_second() -> None:
    # Given AWS's kind of ExportTime (03:00:00.622) and whole-second windows from 03:00:00
    anchor = full(T0 + timedelta(milliseconds=622))
    chain = build_chain([anchor, window(at(0), at(15)), window(at(15), at(30))])
    # Then the window starts the chain, and the chain says by how much it leads the anchor
    assert spans(chain) == [(at(0), at(15)), (at(15), at(30))]
    assert chain.lead == timedelta(milliseconds=622)
    assert chain.to_json()["firstWindowLeadSeconds"] == 0.622
    # but not from a second earlier
    late = build_chain([anchor, window(at(0) - timedelta(seconds=1), at(15))])
    assert late.links == ()
    assert late.gap is not None and late.gap.kind == "overlap"
    # and without a fraction, none
    assert build_chain([full(T0), window(at(0), at(15))]).lead == timedelta(0)


def test_an_older_anchor_whose_chain_runs_past_a_newer_one_is_kept() -> None:
    # Given yesterday's anchor with windows on the grid through today's full export, which no
    # window starts at yet
    older, newer = full(T0 - timedelta(days=1)), full(T0 + timedelta(seconds=7.25))
    grid = [window(at(m), at(m + 15)) for m in range(-24 * 60, 30, 15)]
    chain = build_chain([older, newer, *grid])
    # Then the recovery point stays at the last window's end, through the older anchor
    assert chain.anchor == older
    assert chain.recovery_point == at(30)
    assert chain.gap is None
    # Once a window starts at the newer anchor's ExportTime, it anchors the chain
    catch_up = window(newer[1].export_time, at(30))
    assert build_chain([older, newer, *grid, catch_up]).anchor == newer


def test_the_anchor_moves_with_each_new_full_export() -> None:
    # Given two nightly exports a day apart and windows across both days
    day = timedelta(days=1)
    first, second = full(T0), full(T0 + day)
    exports = [first, second, *(window(at(m), at(m + 15)) for m in range(0, 24 * 60 + 30, 15))]
    # Then the chain starts from the newest full export
    chain = build_chain(exports)
    assert chain.anchor == second
    assert chain.links[0].start == at(24 * 60)
    assert chain.recovery_point == at(24 * 60 + 30)
    # and from the older one when asked for a time before the newer one
    earlier = build_chain(exports, until=at(12 * 60))
    assert earlier.anchor == first
    assert earlier.recovery_point == at(12 * 60)
    assert earlier.gap is None


def test_until_cuts_the_chain_at_a_window_boundary() -> None:
    exports = [full(T0), *(window(at(m), at(m + 15)) for m in (0, 15, 30))]
    # A window cannot be replayed in part: up to 03:20 the chain reaches 03:15, and goes on after
    chain = build_chain(exports, until=at(20))
    assert chain.recovery_point == at(15)
    assert chain.gap is None
    assert build_chain(exports, until=at(30)).recovery_point == at(30)
    # Before the first window's end, only the anchor
    first = build_chain(exports, until=at(5))
    assert (first.links, first.recovery_point, first.gap) == ((), T0, None)
    # Up to a time after the last window, the missing part is named
    late = build_chain(exports, until=at(60))
    assert late.recovery_point == at(45)
    assert late.gap == ChainGap(at(45), None, "missing", at(60))
    assert str(late.gap) == "missing: no window starts at 2026-11-26T03:45:00.000Z up to 2026-11-26T04:00:00.000Z"


def test_no_full_export_no_chain() -> None:
    chain = build_chain([window(at(0), at(15))])
    assert chain == Chain(None, (), None, None)
    assert not chain.complete
    assert build_chain([full(T0)], until=T0 - timedelta(seconds=1)).anchor is None


def test_unusable_full_exports_do_not_anchor() -> None:
    older = full(T0 - timedelta(days=1))
    chain = build_chain([older, full(T0, status="FAILED")])
    assert chain.anchor == older


def test_windows_of_another_table_are_not_used() -> None:
    other = "arn:aws:dynamodb:us-east-1:123456789012:table/customers"
    chain = build_chain([full(T0), window(at(0), at(15), arn=other), window(at(15), at(30))])
    assert chain.links == ()
    assert chain.gap == ChainGap(T0, at(15), "gap")


def test_a_given_anchor_is_used() -> None:
    older, newer = full(T0 - timedelta(hours=1)), full(T0)
    exports = [older, newer, window(at(-60), at(-45)), window(at(-45), at(0))]
    assert build_chain(exports).anchor == newer  # both reach 03:00: the newest
    chain = build_chain(exports, anchor=older[0])
    assert chain.anchor == older
    assert chain.recovery_point == at(0)
    with pytest.raises(ChainError, match="not among the exports"):
        build_chain(exports, anchor=_ref())
    with pytest.raises(ChainError, match="not a usable full export"):
        build_chain(exports, anchor=exports[2][0])
    with pytest.raises(ChainError, match="it is later"):
        build_chain(exports, anchor=newer[0], until=at(-10))


def test_excluded_exports_are_replaced_by_duplicates_or_break_the_chain() -> None:
    damaged, duplicate = window(at(15), at(30)), window(at(15), at(30))
    exports = [full(T0), window(at(0), at(15)), damaged, duplicate, window(at(30), at(45))]
    assert build_chain(exports, exclude={damaged[0]}).links[1].ref == duplicate[0]
    broken = build_chain(exports, exclude={damaged[0], duplicate[0]})
    assert broken.gap == ChainGap(at(15), at(30), "gap")


@pytest.mark.parametrize("order", list(permutations(range(4))))
def test_the_listing_order_does_not_matter(order: tuple[int, ...]) -> None:
    exports = [full(T0), window(at(0), at(15)), window(at(15), at(30)), window(at(15), at(30))]
    chains = build_chain([exports[i] for i in order])
    assert spans(chains) == [(at(0), at(15)), (at(15), at(30))]
    assert chains.links[1].ref == exports[2][0]


def test_to_json_names_the_chain_in_camel_case() -> None:
    anchor = full(T0)
    doc = build_chain([anchor, window(at(0), at(15)), window(at(30), at(45))]).to_json()
    assert doc["anchor"] == {"export": anchor[0].url, "exportTime": "2026-11-26T03:00:00.000Z"}
    assert [(w["from"], w["to"]) for w in doc["windows"]] == [("2026-11-26T03:00:00.000Z", "2026-11-26T03:15:00.000Z")]
    assert doc["recoveryPoint"] == "2026-11-26T03:15:00.000Z"
    assert doc["gap"]["kind"] == "gap"
    assert doc["gap"]["nextStart"] == "2026-11-26T03:30:00.000Z"

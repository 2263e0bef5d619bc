"""The emulator exporter: a table's DynamoDB stream on moto -> an incremental export of exactly
[start, end), compacted per key as AWS compacts its incremental exports.

moto stamps stream records with its clock; the `clock` fixture sets that clock, so windows and
their boundaries are exact without waiting for real time to pass."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from components.config.tables import TableSpec
from handlers.exports import Change, ExportRef, iter_changes, iter_items, list_exports, read_summary, validate_export
from handlers.exports.layout import INCREMENTAL_EXPORT, NEW_IMAGE
from safetynet.backup import stream_export
from safetynet.backup.scan_export import point_in_time
from safetynet.backup.stream_export import StreamExportError, StreamNotUsable, export_stream_window
from safetynet.cli import app

BUCKET = "vault"
TABLE = "orders"
SPEC = TableSpec.model_validate(
    {"name": "orders", "hashKey": {"name": "pk", "type": "S"}, "rangeKey": {"name": "sk", "type": "S"}}
)
# Within the stream's 24 hours, whole seconds.
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


class Clock:
    """moto's clock for stream records (naive UTC, as moto keeps it)."""

    def __init__(self) -> None:
        self.now = BASE - timedelta(minutes=10)

    def set(self, when: datetime) -> None:
        self.now = when

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture
def moto_streams(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's DynamoDB Streams as DynamoDB's: served at the regional endpoint (moto does not
    answer at the account-based one botocore derives from a stream ARN). Binaries in stream
    records are handed back as bytes by safetynet/local/moto_compat.py, applied in conftest."""
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")


@pytest.fixture
def clock(moto_streams: None, monkeypatch: pytest.MonkeyPatch) -> Clock:
    from moto.dynamodb.models import table as moto_table

    fake = Clock()
    monkeypatch.setattr(moto_table, "utcnow", fake)
    return fake


def _table(view: str | None = "NEW_AND_OLD_IMAGES") -> Any:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    request = SPEC.create_table_request(TABLE)
    if view:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    ddb.create_table(**request)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return ddb


@pytest.fixture
def ddb(clock: Clock) -> Any:
    return _table()


@pytest.fixture
def clients(clock: Clock) -> tuple[Any, Any]:
    return boto3.client("dynamodbstreams", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")


def _item(pk: str, sk: str = "x", **attrs: Any) -> dict[str, Any]:
    item = {"pk": {"S": pk}, "sk": {"S": sk}}
    item.update(attrs)
    return item


def _key(pk: str, sk: str = "x") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def _export(ddb: Any, clients: tuple[Any, Any], start: float, end: float, **kwargs: Any) -> tuple[Any, list[Change]]:
    streams, s3 = clients
    ref = export_stream_window(
        ddb, streams, s3, table=TABLE, bucket=BUCKET, prefix="exports/orders", start=_at(start), end=_at(end), **kwargs
    )
    return ref, sorted(iter_changes(s3, ref), key=lambda c: repr(sorted(c.keys.items())))


def _by_pk(changes: list[Change]) -> dict[str, Change]:
    return {c.keys["pk"]["S"]: c for c in changes}


def test_one_line_per_changed_key_with_its_state_before_and_after_the_window(
    clock: Clock, ddb: Any, clients: tuple[Any, Any]
) -> None:
    # Given items that exist before the window
    clock.set(_at(-5))
    for pk in ("updated", "deleted", "recreated", "many"):
        ddb.put_item(TableName=TABLE, Item=_item(pk, v={"N": "0"}))
    # When, inside the window, they are updated, deleted, deleted and re-created, changed three
    # times; one item is created; one is created and deleted
    clock.set(_at(1))
    ddb.update_item(
        TableName=TABLE,
        Key=_key("updated"),
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "1"}},
    )
    ddb.delete_item(TableName=TABLE, Key=_key("deleted"))
    ddb.delete_item(TableName=TABLE, Key=_key("recreated"))
    ddb.put_item(TableName=TABLE, Item=_item("created", v={"N": "1"}))
    ddb.put_item(TableName=TABLE, Item=_item("ephemeral"))
    clock.set(_at(2.5))
    ddb.put_item(TableName=TABLE, Item=_item("recreated", v={"S": "again"}))
    for n in (1, 2, 3):
        ddb.put_item(TableName=TABLE, Item=_item("many", v={"N": str(n)}))
    ddb.delete_item(TableName=TABLE, Key=_key("ephemeral"))
    clock.set(_at(3.25))
    ddb.put_item(TableName=TABLE, Item=_item("many", v={"N": "4"}))
    ref, changes = _export(ddb, clients, 0, 10)
    # Then each changed key is there once: before = its state at the window's start, after =
    # its state at the end, the time = its last change; the ephemeral item is not there
    got = _by_pk(changes)
    assert set(got) == {"updated", "deleted", "recreated", "many", "created"}
    assert got["updated"].old_image == _item("updated", v={"N": "0"})
    assert got["updated"].new_image == _item("updated", v={"N": "1"})
    assert got["deleted"].new_image is None
    assert got["deleted"].old_image == _item("deleted", v={"N": "0"})
    assert got["recreated"].old_image == _item("recreated", v={"N": "0"})
    assert got["recreated"].new_image == _item("recreated", v={"S": "again"})
    assert got["created"].old_image is None
    assert got["created"].new_image == _item("created", v={"N": "1"})
    assert got["many"].old_image == _item("many", v={"N": "0"})
    assert got["many"].new_image == _item("many", v={"N": "4"})
    assert got["many"].write_micros == (_at(3.25) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert got["updated"].write_micros == (_at(1) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    # And the export is a valid incremental export of exactly that window
    summary = read_summary(clients[1], ref)
    assert (summary.export_type, summary.export_from_time, summary.export_to_time) == (
        INCREMENTAL_EXPORT,
        _at(0),
        _at(10),
    )
    assert validate_export(clients[1], ref, expected_type=INCREMENTAL_EXPORT).ok


def test_window_boundaries_are_exact(clock: Clock, ddb: Any, clients: tuple[Any, Any]) -> None:
    # Given writes a millisecond before the start, at the start, a millisecond before the end, at the end
    for pk, seconds in (("before", -0.001), ("at-start", 0), ("last-ms", 4.999), ("at-end", 5)):
        clock.set(_at(seconds))
        ddb.put_item(TableName=TABLE, Item=_item(pk))
    # When exporting [0, 5)
    _, changes = _export(ddb, clients, 0, 5)
    # Then the start is inclusive and the end exclusive
    assert set(_by_pk(changes)) == {"at-start", "last-ms"}


def test_adjacent_windows_split_the_history_between_them(clock: Clock, ddb: Any, clients: tuple[Any, Any]) -> None:
    # Given an item written in two consecutive windows, another only in the second
    clock.set(_at(1))
    ddb.put_item(TableName=TABLE, Item=_item("a", v={"N": "1"}))
    clock.set(_at(3))
    ddb.put_item(TableName=TABLE, Item=_item("a", v={"N": "2"}))
    ddb.put_item(TableName=TABLE, Item=_item("b"))
    # When exporting [0, 2) and [2, 4)
    _, first = _export(ddb, clients, 0, 2)
    _, second = _export(ddb, clients, 2, 4)
    # Then each change is in exactly one window, and the second window's before-image is the
    # state the first left
    assert [c.keys["pk"]["S"] for c in first] == ["a"]
    assert first[0].new_image == _item("a", v={"N": "1"})
    assert _by_pk(second)["a"].old_image == _item("a", v={"N": "1"})
    assert _by_pk(second)["a"].new_image == _item("a", v={"N": "2"})
    assert _by_pk(second)["b"].old_image is None


def test_a_window_without_changes_is_an_empty_export(clock: Clock, ddb: Any, clients: tuple[Any, Any]) -> None:
    clock.set(_at(-1))
    ddb.put_item(TableName=TABLE, Item=_item("a"))
    ref, changes = _export(ddb, clients, 0, 1)
    assert changes == []
    report = validate_export(clients[1], ref, expected_type=INCREMENTAL_EXPORT)
    assert report.ok
    assert report.summary is not None
    assert (report.summary.item_count, len(report.files)) == (0, 1)  # AWS writes one empty file


def test_binary_keys_and_values_survive(clock: Clock, clients: tuple[Any, Any]) -> None:
    # Given a table keyed by binary, written with binary values and sets
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "B"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    item = {
        "id": {"B": bytes(range(256))},
        "b": {"B": b"\x00\xff"},
        "bs": {"BS": [b"\x01", b"\xfe"]},
        "m": {"M": {"inner": {"B": b"\x10"}}},
    }
    clock.set(_at(1))
    ddb.put_item(TableName=TABLE, Item=item)
    # When exported
    _, changes = _export(ddb, clients, 0, 2)
    # Then every byte comes back
    assert changes == [Change({"id": {"B": bytes(range(256))}}, item, None, changes[0].write_micros)]


def test_new_image_view_has_no_old_images_and_deletes_are_keys_only(
    clock: Clock, ddb: Any, clients: tuple[Any, Any]
) -> None:
    clock.set(_at(-1))
    ddb.put_item(TableName=TABLE, Item=_item("gone"))
    ddb.put_item(TableName=TABLE, Item=_item("kept", v={"N": "1"}))
    clock.set(_at(1))
    ddb.delete_item(TableName=TABLE, Key=_key("gone"))
    ddb.put_item(TableName=TABLE, Item=_item("kept", v={"N": "2"}))
    ref, changes = _export(ddb, clients, 0, 2, view=NEW_IMAGE)
    got = _by_pk(changes)
    assert got["gone"] == Change(_key("gone"), None, None, got["gone"].write_micros)
    assert got["kept"].old_image is None
    assert got["kept"].new_image == _item("kept", v={"N": "2"})
    assert read_summary(clients[1], ref).output_view == NEW_IMAGE


@pytest.mark.parametrize(
    ("stream_view", "message"),
    [
        (None, "has no DynamoDB stream"),
        ("KEYS_ONLY", "has the view KEYS_ONLY"),
        ("NEW_IMAGE", "has the view NEW_IMAGE"),
    ],
)
def test_a_table_without_a_stream_of_both_images_is_refused(
    clock: Clock, clients: tuple[Any, Any], stream_view: str | None, message: str
) -> None:
    ddb = _table(stream_view)
    with pytest.raises(StreamNotUsable, match=message) as caught:
        _export(ddb, clients, 0, 1)
    assert "StreamViewType=NEW_AND_OLD_IMAGES" in str(caught.value)


def test_a_disabled_stream_is_refused(clock: Clock, ddb: Any, clients: tuple[Any, Any]) -> None:
    ddb.update_table(TableName=TABLE, StreamSpecification={"StreamEnabled": False})
    with pytest.raises(StreamNotUsable, match="has no DynamoDB stream"):
        _export(ddb, clients, 0, 1)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (0.5, 2, "not a whole second"),
        (0, 2.25, "not a whole second"),
        (3, 3, "the window is empty"),
        (-700, 1, "stream was enabled at"),  # the stream exists since BASE - 10 minutes
        (-30 * 3600, 1, "more than 24 hours ago"),
        (0, 4 * 3600, "in the future"),
    ],
)
def test_windows_that_cannot_be_exact_are_refused(
    clock: Clock, ddb: Any, clients: tuple[Any, Any], start: float, end: float, message: str
) -> None:
    with pytest.raises(StreamNotUsable, match=message):
        _export(ddb, clients, start, end)


def test_a_missing_table_is_an_error(clock: Clock, clients: tuple[Any, Any]) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    with pytest.raises(StreamExportError, match="does not exist"):
        _export(ddb, clients, 0, 1)


def test_an_end_just_passed_is_waited_for(
    clock: Clock, ddb: Any, clients: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a window ending half a second before "now"
    slept: list[float] = []
    monkeypatch.setattr(stream_export, "_now", lambda: _at(10.5))
    monkeypatch.setattr(stream_export.time, "sleep", slept.append)
    # When exporting it
    _export(ddb, clients, 9, 10)
    # Then the exporter first lets the rest of the settle time pass
    assert slept == [pytest.approx(0.5)]


# --- the scan anchor: a snapshot at its ExportTime -------------------------------------------------


def test_a_scan_becomes_the_table_at_its_export_time(clock: Clock, ddb: Any, clients: tuple[Any, Any]) -> None:
    # Given items before the ExportTime (second 0), then writes while the scan runs: one item
    # updated, one deleted before the scan reached it, one created (seen by the scan) and deleted
    # again, one created and seen
    clock.set(_at(-1))
    for pk in ("stable", "updated", "deleted"):
        ddb.put_item(TableName=TABLE, Item=_item(pk, v={"N": "0"}))
    clock.set(_at(0.5))
    ddb.put_item(TableName=TABLE, Item=_item("updated", v={"N": "1"}))
    ddb.delete_item(TableName=TABLE, Key=_key("deleted"))
    ddb.put_item(TableName=TABLE, Item=_item("ephemeral"))
    ddb.put_item(TableName=TABLE, Item=_item("created"))
    seen_by_the_scan = [
        _item("stable", v={"N": "0"}),
        _item("updated", v={"N": "1"}),
        _item("ephemeral"),
        _item("created"),
    ]
    clock.set(_at(2))
    ddb.delete_item(TableName=TABLE, Key=_key("ephemeral"))
    # When the scan is turned into the table at second 0
    table = ddb.describe_table(TableName=TABLE)["Table"]
    snapshot = list(point_in_time(ddb, clients[0], table, iter(seen_by_the_scan), _at(0)))
    # Then it is exactly the table as it was then
    assert sorted(snapshot, key=lambda i: i["pk"]["S"]) == [
        _item("deleted", v={"N": "0"}),
        _item("stable", v={"N": "0"}),
        _item("updated", v={"N": "0"}),
    ]
    # and the window from second 0 takes it to the table as it is now
    _, changes = _export(ddb, clients, 0, 3)
    state = {i["pk"]["S"]: i for i in snapshot}
    _apply(state, changes)
    assert state == _scan(ddb, "")


def test_why_a_window_must_not_straddle_its_anchor(clock: Clock, ddb: Any, clients: tuple[Any, Any]) -> None:
    # Given an item created at second 1, a full export (snapshot) at second 2, the item deleted at 3
    clock.set(_at(1))
    ddb.put_item(TableName=TABLE, Item=_item("ghost"))
    clock.set(_at(2.5))  # the "scan" runs after the ExportTime
    anchor = list(
        point_in_time(ddb, clients[0], ddb.describe_table(TableName=TABLE)["Table"], iter([_item("ghost")]), _at(2))
    )
    clock.set(_at(3))
    ddb.delete_item(TableName=TABLE, Key=_key("ghost"))
    assert anchor == [_item("ghost")]
    # When replaying a window that starts before the anchor, [0, 10): the item was absent at both
    # of its ends, so (as AWS does) the window has no line for it
    _, straddling = _export(ddb, clients, 0, 10)
    replayed = {i["pk"]["S"]: i for i in anchor}
    _apply(replayed, straddling)
    # Then the deleted item would survive the replay
    assert straddling == []
    assert replayed == {"ghost": _item("ghost")} != _scan(ddb, "")
    # while the window from the anchor's ExportTime, [2, 10), deletes it
    _, aligned = _export(ddb, clients, 2, 10)
    replayed = {i["pk"]["S"]: i for i in anchor}
    _apply(replayed, aligned)
    assert replayed == _scan(ddb, "") == {}


# --- the property: the window's changes take the table from its state at the start to its state at the end


def _apply(state: dict[str, dict[str, Any]], changes: Iterator[Change] | list[Change]) -> None:
    for change in changes:
        key = change.keys["pk"]["S"]
        if change.new_image is None:
            state.pop(key, None)
        else:
            state[key] = change.new_image


def _scan(ddb: Any, prefix: str) -> dict[str, dict[str, Any]]:
    items = ddb.scan(TableName=TABLE)["Items"]
    return {i["pk"]["S"]: i for i in items if i["pk"]["S"].startswith(prefix)}


_ops = st.lists(
    st.tuples(
        st.sampled_from(["put", "update", "delete"]),
        st.integers(min_value=0, max_value=5),  # key
        st.integers(min_value=0, max_value=3),  # window step: 0 before, 1..2 inside, 3 after
        st.integers(min_value=0, max_value=99),  # value
    ),
    max_size=30,
)
_examples = iter(range(10**6))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=_ops)
def test_replaying_the_window_turns_the_start_state_into_the_end_state(
    clock: Clock, ddb: Any, clients: tuple[Any, Any], history: list[tuple[str, int, int, int]]
) -> None:
    # Given a random history of puts, updates and deletes (some keys written several times,
    # deleted and re-created) before, inside and after the window [100, 110), with fresh keys
    # per example
    example = f"e{next(_examples)}-"
    start_state: dict[str, dict[str, Any]] = {}
    end_state: dict[str, dict[str, Any]] = {}
    for step in range(4):
        if step == 1:
            start_state = _scan(ddb, example)
        if step == 3:
            end_state = _scan(ddb, example)
        clock.set(_at(100 + [-5, 1, 9, 12][step]))
        for op, key, when, value in history:
            if when != step:
                continue
            pk = f"{example}{key}"
            if op == "put":
                ddb.put_item(TableName=TABLE, Item=_item(pk, v={"N": str(value)}))
            elif op == "update":
                ddb.update_item(
                    TableName=TABLE,
                    Key=_key(pk),
                    UpdateExpression="SET v = :v, w = :w",
                    ExpressionAttributeValues={":v": {"N": str(value)}, ":w": {"S": str(step)}},
                )
            else:
                ddb.delete_item(TableName=TABLE, Key=_key(pk))
    # When the window is exported
    _, changes = _export(ddb, clients, 100, 110)
    mine = [c for c in changes if c.keys["pk"]["S"].startswith(example)]
    # Then every key appears at most once, its OldImage is its state at the start, and applying
    # the changes to the start state gives the end state, item for item
    assert len({c.keys["pk"]["S"] for c in mine}) == len(mine)
    for change in mine:
        assert change.old_image == start_state.get(change.keys["pk"]["S"])
        assert change.old_image is not None or change.new_image is not None
    replayed = dict(start_state)
    _apply(replayed, mine)
    assert replayed == end_state


# --- the CLI: backup --scan, backup --incremental, verify --chain (real time: moto's own clock) ---

runner = CliRunner()
VAULT_PREFIX = f"s3://{BUCKET}/exports/{TABLE}/"


def _next_second() -> None:
    """Wait for the next whole second: windows are whole seconds, so two windows need two."""
    now = datetime.now(UTC)
    time.sleep(1 - now.microsecond / 1_000_000 + 0.01)


def _cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_cli_scan_then_incremental_windows_build_a_chain_that_verifies_and_replays(moto_streams: None) -> None:
    # Given a table with its stream (enabled before the anchor's ExportTime, a whole second),
    # backed up by scan (the anchor)
    ddb = _table()
    _next_second()
    for n in range(5):
        ddb.put_item(TableName=TABLE, Item=_item(f"k{n}", v={"N": str(n)}))
    _next_second()  # so that these writes are before the anchor's ExportTime (a whole second)
    anchor = _cli("backup", "--scan", TABLE, "--bucket", BUCKET)
    assert anchor.exit_code == 0, anchor.output
    # When writes go on and two windows are exported, each continuing the chain
    ddb.put_item(TableName=TABLE, Item=_item("k0", v={"N": "100"}))
    ddb.delete_item(TableName=TABLE, Key=_key("k1"))
    ddb.put_item(TableName=TABLE, Item=_item("new", b={"B": b"\x00\x01"}))
    _next_second()
    first = _cli("backup", "--incremental", TABLE, "--since", "chain", "--bucket", BUCKET)
    assert first.exit_code == 0, first.output
    assert "exported 3 changed items" in first.stderr
    ddb.delete_item(TableName=TABLE, Key=_key("new"))
    ddb.update_item(
        TableName=TABLE, Key=_key("k2"), UpdateExpression="SET w = :w", ExpressionAttributeValues={":w": {"S": "x"}}
    )
    _next_second()
    second = _cli("backup", "--incremental", TABLE, "--since", "chain", "--bucket", BUCKET, "--json")
    assert second.exit_code == 0, second.output
    doc = json.loads(second.stdout)
    assert doc["changes"] == 2
    # Then the chain verifies: the anchor, two windows, no gap
    verified = _cli("verify", VAULT_PREFIX, "--chain", "--json")
    assert verified.exit_code == 0, verified.output
    chain = json.loads(verified.stdout)
    assert chain["ok"] is True
    assert len(chain["windows"]) == 2
    assert chain["windows"][1]["from"] == chain["windows"][0]["to"]
    assert chain["recoveryPoint"] == doc["to"] == chain["windows"][1]["to"]
    assert chain["gap"] is None
    assert chain["anchor"]["export"] == anchor.stdout.strip().splitlines()[-1]
    text = _cli("verify", VAULT_PREFIX, "--chain")
    assert text.exit_code == 0
    assert "valid: contiguous from the anchor" in text.stdout
    # And the full export plus the windows, replayed in order, is the table as it is now
    s3 = boto3.client("s3", region_name="us-east-1")
    state: dict[str, dict[str, Any]] = {
        item["pk"]["S"]: item for item in iter_items(s3, ExportRef.parse(chain["anchor"]["export"]))
    }
    for link in chain["windows"]:
        _apply(state, iter_changes(s3, ExportRef.parse(link["export"])))
    assert state == _scan(ddb, "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--incremental", TABLE, "--bucket", BUCKET], "--incremental needs --since"),
        (["--incremental", TABLE, "--since", "monday", "--bucket", BUCKET], "is not an ISO-8601 time"),
        (["--incremental", TABLE, "--since", "chain", "--until", "later", "--bucket", BUCKET], "--until 'later'"),
        (["--scan", TABLE, "--since", "2026-01-01T00:00:00Z", "--bucket", BUCKET], "go with --incremental TABLE"),
        (["--incremental", TABLE, "--scan", TABLE, "--since", "chain", "--bucket", BUCKET], "a source of its own"),
        (["--incremental", TABLE, "--since", "chain"], "--bucket is required"),
        (["--incremental", TABLE, "--since", "chain", "--bucket", BUCKET], "no full export of orders"),
        (["--incremental", TABLE, "--since", "2026-01-01T00:00:00.5Z", "--bucket", BUCKET], "not a whole second"),
        (["--incremental", TABLE, "--since", "2026-01-01T00:00:00Z", "--bucket", BUCKET], "more than 24 hours ago"),
        (["--incremental", TABLE, "--since", "chain", "--view", "OLD_IMAGE", "--bucket", BUCKET], "OLD_IMAGE"),
    ],
)
def test_cli_incremental_usage_errors(moto_streams: None, args: list[str], message: str) -> None:
    _table()
    result = _cli("backup", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_cli_incremental_of_a_table_without_a_stream_says_how_to_enable_it(moto_streams: None) -> None:
    _table(None)
    since = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    until = since + timedelta(minutes=1)
    result = _cli(
        "backup", "--incremental", TABLE, "--since", since.isoformat(), "--until", until.isoformat(), "--bucket", BUCKET
    )
    assert result.exit_code == 2
    assert "has no DynamoDB stream" in result.stderr
    assert "StreamViewType=NEW_AND_OLD_IMAGES" in result.stderr


def _write_chain_with_a_gap(
    s3: Any, *, whole_seconds: bool = False, spans: tuple[tuple[int, int], ...] = ((0, 15), (30, 45))
) -> None:
    from handlers.exports import write_incremental_export
    from tests.support.export_fixtures import EXPORT_TIME, TABLE_ARN, realistic_items, write_fixture_export

    write_fixture_export(s3, realistic_items(8), bucket=BUCKET)
    # The anchor's ExportTime (03:00:00.123): where the first window starts, or its whole second
    grid = EXPORT_TIME.replace(microsecond=0) if whole_seconds else EXPORT_TIME
    for start, end in spans:
        key = {"customerId": {"S": "c"}, "orderId": {"S": str(start)}}
        write_incremental_export(
            s3,
            bucket=BUCKET,
            prefix=f"exports/{TABLE}",
            table_arn=TABLE_ARN,
            changes=[Change(key, key, None, 1)],
            export_from_time=grid + timedelta(minutes=start),
            export_to_time=grid + timedelta(minutes=end),
        )


def test_cli_verify_chain_names_the_first_gap(aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    _write_chain_with_a_gap(s3)
    result = _cli("verify", VAULT_PREFIX, "--chain")
    assert result.exit_code == 1
    assert "broken: gap: no window covers 2026-11-26T03:15:00.123Z .. 2026-11-26T03:30:00.123Z" in result.stdout
    doc = json.loads(_cli("verify", VAULT_PREFIX, "--chain", "--json").stdout)
    assert (doc["ok"], doc["gap"]["kind"], doc["gap"]["nextStart"], doc["validated"]) == (
        False,
        "gap",
        "2026-11-26T03:30:00.123Z",
        2,
    )
    # Up to a time before the gap, the chain is whole
    early = _cli("verify", VAULT_PREFIX, "--chain", "--until", "2026-11-26T03:15:00.123Z")
    assert early.exit_code == 0, early.output


def test_cli_verify_chain_warns_of_a_first_window_leading_the_anchor(aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    _write_chain_with_a_gap(s3, whole_seconds=True, spans=((0, 15), (15, 30)))
    result = _cli("verify", VAULT_PREFIX, "--chain")
    assert result.exit_code == 0, result.output
    assert "warning: the first window starts 0.123 s before the anchor's ExportTime" in result.stdout
    assert json.loads(_cli("verify", VAULT_PREFIX, "--chain", "--json").stdout)["firstWindowLeadSeconds"] == 0.123


def test_cli_verify_a_single_incremental_export(aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    _write_chain_with_a_gap(s3)
    listing = list_exports(s3, BUCKET, f"exports/{TABLE}", export_type=INCREMENTAL_EXPORT)
    result = _cli("verify", listing[0][0].url)
    assert result.exit_code == 0, result.output
    assert "INCREMENTAL_EXPORT" in result.stdout
    assert "2026-11-26T03:30:00.123Z .. 2026-11-26T03:45:00.123Z" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([f"{VAULT_PREFIX}AWSDynamoDB/01764126000123-abcdef12/", "--chain"], "--chain reads a table's prefix"),
        (["vault/exports/orders/", "--chain"], "not an S3 URL"),
        ([VAULT_PREFIX, "--chain", "--until", "soon"], "--until 'soon' is not an ISO-8601 time"),
        ([f"{VAULT_PREFIX}AWSDynamoDB/01764126000123-abcdef12/", "--until", "2026-01-01T00:00:00Z"], "--chain only"),
    ],
)
def test_cli_verify_chain_usage_errors(aws: None, args: list[str], message: str) -> None:
    result = _cli("verify", *args)
    assert result.exit_code == 2
    assert message in result.stderr

"""The emulator exporter: an incremental export of exactly [start, end), written from the table's
DynamoDB stream, for endpoints that have no incremental exports (moto, DynamoDB Local).

What it writes is what AWS writes for the same window (`handlers.exports.incremental`): per key
changed in the window, one line with `OldImage` = the item before the window's first change to
it (that record's OldImage; none when that change created it), `NewImage` = the item after its
last change (none when that change deleted it), `WriteTimestampMicros` = the time of that last
change. A key created and deleted inside the window has no line, as AWS's compacted exports do.
The layout is AWS's (`write_incremental_export`), so verify, chain, replay and rewind read it as
they read a native export.

Window boundaries are whole seconds. DynamoDB Streams gives ApproximateCreationDateTime rounded
down to the second; moto 5.1 gives milliseconds. With whole-second boundaries both classify a
record alike: floor(t) is in [start, end) exactly when t is. A record belongs to the window when
start <= its time < end; because the exporter sees every change, it exports exactly that window,
however short (AWS's 15-minute minimum is a limit of its export service, not of the format).

It needs the table's stream enabled with NEW_AND_OLD_IMAGES (NEW_IMAGE is enough for a NEW_IMAGE
export) since before the window's start; `StreamNotUsable` says what to change otherwise.
Stream records are kept 24 hours by DynamoDB, so a window must start within the last 24 hours.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from handlers.exports.dynamodb_json import json_default
from handlers.exports.incremental import Change
from handlers.exports.items import Item
from handlers.exports.layout import NEW_AND_OLD_IMAGES, NEW_IMAGE, VIEW_TYPES, ExportRef, format_time
from handlers.exports.writer import DEFAULT_ITEMS_PER_FILE, write_incremental_export

logger = logging.getLogger(__name__)

STREAM_RETENTION = timedelta(hours=24)
SETTLE = 1.0
"""Seconds a window's end must lie in the past, so every record before it is in the stream."""
MAX_WAIT = 60.0
"""The longest the exporter waits for a window's end to pass; later ends are refused."""
_PAGE = 1000  # GetRecords' maximum
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


class StreamExportError(Exception):
    """The window could not be exported (table missing, stream unreadable, writing failed)."""


class StreamNotUsable(StreamExportError):
    """The request cannot work as given (stream off or of another view, window not whole seconds,
    in the future or older than the stream): a usage error, the message says what to change."""


def _utc(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if not isinstance(value, datetime):
        raise StreamExportError(f"a stream record time is not a timestamp: {value!r:.60}")
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _check_window(start: datetime, end: datetime, view: str) -> tuple[datetime, datetime]:
    if view not in VIEW_TYPES:
        raise StreamNotUsable(f"view must be one of {', '.join(VIEW_TYPES)}, got {view!r}")
    start, end = _utc(start), _utc(end)
    for name, value in (("start", start), ("end", end)):
        if value.microsecond:
            raise StreamNotUsable(
                f"the window's {name} {value.isoformat()} is not a whole second: stream record times are "
                "whole seconds on DynamoDB, so a window boundary inside a second cannot be exact"
            )
    if start >= end:
        raise StreamNotUsable(f"the window is empty: start {format_time(start)} is not before end {format_time(end)}")
    return start, end


def _wait_for_end(end: datetime, settle: float) -> None:
    """Return once `end` lies `settle` seconds in the past (waiting at most MAX_WAIT)."""
    lag = (end - _now()).total_seconds() + settle
    if lag > MAX_WAIT:
        raise StreamNotUsable(f"the window ends at {format_time(end)}, in the future: choose an end in the past")
    if lag > 0:
        time.sleep(lag)


def _stream(ddb: Any, table: str, view: str) -> tuple[dict[str, Any], str]:
    """The table's description and its stream ARN, refusing a stream that cannot serve `view`."""
    try:
        desc = ddb.describe_table(TableName=table)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        raise StreamExportError(f"table {table} does not exist (check the name and region)") from None
    spec = desc.get("StreamSpecification") or {}
    stream_view = spec.get("StreamViewType")
    enable = (
        f"aws dynamodb update-table --table-name {table} --stream-specification "
        "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES (only writes after that are captured)"
    )
    if not spec.get("StreamEnabled") or not desc.get("LatestStreamArn"):
        raise StreamNotUsable(f"table {table} has no DynamoDB stream, which the emulator exporter reads: {enable}")
    wanted = (NEW_AND_OLD_IMAGES,) if view == NEW_AND_OLD_IMAGES else (NEW_AND_OLD_IMAGES, NEW_IMAGE)
    if stream_view not in wanted:
        raise StreamNotUsable(
            f"table {table}'s stream has the view {stream_view}; a {view} export needs {' or '.join(wanted)}: "
            f"disable the stream, then {enable}"
        )
    return desc, str(desc["LatestStreamArn"])


def _shards(streams: Any, arn: str) -> tuple[datetime | None, list[dict[str, Any]]]:
    """The stream's creation time and its shards, parents before their children."""
    shards: list[dict[str, Any]] = []
    created: datetime | None = None
    kwargs: dict[str, Any] = {"StreamArn": arn}
    while True:
        desc = streams.describe_stream(**kwargs)["StreamDescription"]
        if desc.get("CreationRequestDateTime") is not None:
            created = _utc(desc["CreationRequestDateTime"])
        shards.extend(desc.get("Shards", []))
        if not desc.get("LastEvaluatedShardId"):
            break
        kwargs["ExclusiveStartShardId"] = desc["LastEvaluatedShardId"]
    ids = {shard["ShardId"] for shard in shards}
    ordered: list[dict[str, Any]] = []
    done: set[str] = set()

    def visit(shard: dict[str, Any]) -> None:
        if shard["ShardId"] in done:
            return
        parent = shard.get("ParentShardId")
        if parent in ids and parent not in done:
            visit(next(s for s in shards if s["ShardId"] == parent))
        done.add(shard["ShardId"])
        ordered.append(shard)

    for shard in shards:
        visit(shard)
    return created, ordered


def _records(streams: Any, arn: str, shard: dict[str, Any], end: datetime) -> Iterator[dict[str, Any]]:
    """A shard's records before `end`, from its oldest to its end (a closed shard's last page; an
    open shard's first empty page: the emulator has no partly filled pages). Every record is
    read: record times are not assumed to grow along a shard."""
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=_PAGE)
        records = page.get("Records", [])
        for record in records:
            if _utc(record["dynamodb"]["ApproximateCreationDateTime"]) < end:
                yield record
        if not records:
            return
        iterator = page.get("NextShardIterator")


@dataclass
class _KeyState:
    keys: Item
    existed: bool
    """Whether the item existed at the window's start (its first change was not an INSERT)."""
    old: Item | None
    new: Item | None
    micros: int


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _image(record: dict[str, Any], name: str) -> Item | None:
    image = record["dynamodb"].get(name)
    return image or None  # moto sends {} for an absent image


def key_id(keys: Item) -> bytes:
    """A key's identity (its attributes in a canonical encoding), for dicts keyed by item key."""
    return orjson.dumps(keys, option=orjson.OPT_SORT_KEYS, default=json_default)


def compact(records: Iterator[dict[str, Any]], start: datetime, view: str) -> Iterator[Change]:
    """Stream records (in order per key, all before the window's end) -> the window's changes,
    compacted as AWS does: one per key, none for a key created and deleted in the window."""
    states: dict[bytes, _KeyState] = {}
    for record in records:
        when = _utc(record["dynamodb"]["ApproximateCreationDateTime"])
        if when < start:
            continue
        keys = record["dynamodb"]["Keys"]
        micros = (when - _EPOCH) // _MICRO
        event = record.get("eventName")
        new = None if event == "REMOVE" else _image(record, "NewImage")
        key = key_id(keys)
        state = states.get(key)
        if state is None:
            existed = event != "INSERT"
            states[key] = _KeyState(keys, existed, _image(record, "OldImage") if existed else None, new, micros)
        else:
            state.new, state.micros = new, micros
    for state in states.values():
        if not state.existed and state.new is None:
            continue  # created and deleted inside the window: AWS exports nothing for it
        yield Change(state.keys, state.new, state.old if view == NEW_AND_OLD_IMAGES else None, state.micros)


def states_at(ddb: Any, streams: Any, *, table: str, at: datetime) -> dict[bytes, Item | None] | None:
    """For every key the table's stream shows changed at or after `at`: the item as it was at
    `at` (the OldImage of its first record since; None when that record created it), keyed by
    `key_id(keys)`. None when the stream cannot tell: no stream, a view without old images, or
    enabled after `at`. This is what turns a scan into a snapshot at `at` (scan_export)."""
    desc = ddb.describe_table(TableName=table)["Table"]
    spec = desc.get("StreamSpecification") or {}
    if not spec.get("StreamEnabled") or spec.get("StreamViewType") not in (NEW_AND_OLD_IMAGES, "OLD_IMAGE"):
        return None
    arn = desc.get("LatestStreamArn")
    if not arn:
        return None
    created, shards = _shards(streams, arn)
    if created is not None and created > at:
        return None
    states: dict[bytes, Item | None] = {}
    for shard in shards:
        for record in _records(streams, arn, shard, _END_OF_TIME):
            if _utc(record["dynamodb"]["ApproximateCreationDateTime"]) < at:
                continue
            key = key_id(record["dynamodb"]["Keys"])
            if key not in states:
                states[key] = None if record.get("eventName") == "INSERT" else _image(record, "OldImage")
    return states


def export_stream_window(
    ddb: Any,
    streams: Any,
    s3: Any,
    *,
    table: str,
    bucket: str,
    prefix: str,
    start: datetime,
    end: datetime,
    view: str = NEW_AND_OLD_IMAGES,
    kms_key_id: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    items_per_file: int = DEFAULT_ITEMS_PER_FILE,
    settle: float = SETTLE,
) -> ExportRef:
    """Write the table's changes in [start, end) (whole seconds) as an INCREMENTAL_EXPORT in
    AWS's layout under `s3://bucket/prefix/AWSDynamoDB/`, read from its DynamoDB stream.

    `on_progress(n)` gets the running count of stream records read. Raises StreamNotUsable for
    a request that cannot work as given, StreamExportError when reading or writing fails."""
    start, end = _check_window(start, end, view)
    desc, arn = _stream(ddb, table, view)
    if start < _now() - STREAM_RETENTION:
        raise StreamNotUsable(
            f"the window starts at {format_time(start)}, more than 24 hours ago: stream records are kept 24 hours"
        )
    _wait_for_end(end, settle)
    created, shards = _shards(streams, arn)
    if created is not None and created > start:
        raise StreamNotUsable(
            f"table {table}'s stream was enabled at {format_time(created)}, after the window's start "
            f"{format_time(start)}: changes before it were not captured; start the window at or after it"
        )
    read = 0

    def all_records() -> Iterator[dict[str, Any]]:
        nonlocal read
        for shard in shards:
            for record in _records(streams, arn, shard, end):
                read += 1
                if on_progress is not None:
                    on_progress(read)
                yield record

    logger.info("stream export started", extra={"table": table, "from": format_time(start), "to": format_time(end)})
    ref = write_incremental_export(
        s3,
        bucket=bucket,
        prefix=prefix,
        table_arn=desc["TableArn"],
        table_id=desc.get("TableId"),
        changes=compact(all_records(), start, view),
        export_from_time=start,
        export_to_time=end,
        view=view,
        items_per_file=items_per_file,
        kms_key_id=kms_key_id,
    )
    logger.info("stream export written", extra={"table": table, "export": ref.url, "records": read})
    return ref

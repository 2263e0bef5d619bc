"""A scan-based exporter: a table's items, read with a parallel Scan, written as a native export.

For DynamoDB Local, emulators (moto, LocalStack) and accounts where ExportTableToPointInTime
is not available. The result has AWS's exact export layout, so the validator, staging and
restores use it like a native export. Unlike a native export it is not a point-in-time
snapshot (each page is a strongly consistent read at its own moment) and it consumes read
capacity.

`exportTime` is taken before the scan starts, rounded down to the whole second: every write
the scan might have missed or seen half-way happened at or after it, so an incremental chain
anchored on this export (its first window starting at `exportTime`, `backup --incremental`)
replays every such write. Whole seconds because the emulator's windows are whole seconds
(`stream_export`). A chain restores a consistent table only from the scan's end on (the
summary's `endTime`): before that, keys the scan read late may hold later states.
"""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handlers.exports.items import Item
from handlers.exports.layout import ExportRef, parse_time
from handlers.exports.reader import gunzip, split_lines
from handlers.exports.writer import DEFAULT_ITEMS_PER_FILE, new_export_id, write_export
from safetynet.backup.unfinished import Unfinished, discard_unfinished, export_ref

logger = logging.getLogger(__name__)

DEFAULT_SEGMENTS = 4
_QUEUE_PAGES_PER_SEGMENT = 2  # pages buffered per segment: bounds memory at ~2 MB x segments


class ScanExportError(Exception):
    """The scan could not complete (table missing, access denied, a segment failed)."""


@dataclass
class ExportAttempt:
    """Where `scan_export` writes, and what an interruption or failure left there."""

    ref: ExportRef | None = None
    left: Unfinished | None = None
    """Set once the unfinished folder was cleared away (None: not stopped, or clearing itself
    was interrupted)."""


@dataclass(frozen=True)
class _SegmentFailed:
    segment: int
    error: BaseException


_DONE = object()


def _scan_segment(
    dynamodb: Any,
    table_name: str,
    segment: int,
    total: int,
    *,
    out: queue.Queue[Any],
    stop: threading.Event,
) -> None:
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "ConsistentRead": True,
        "Segment": segment,
        "TotalSegments": total,
    }
    try:
        while not stop.is_set():
            page = dynamodb.scan(**kwargs)
            _put(out, page.get("Items", []), stop)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        _put(out, _DONE, stop)
    except Exception as exc:  # noqa: BLE001 - handed to the consumer thread, which re-raises it
        _put(out, _SegmentFailed(segment, exc), stop)


def _put(out: queue.Queue[Any], value: Any, stop: threading.Event) -> None:
    # A bounded queue with a timeout: a consumer that failed sets `stop`, so producers never hang.
    while not stop.is_set():
        try:
            out.put(value, timeout=0.2)
            return
        except queue.Full:
            continue


def parallel_scan(dynamodb: Any, table_name: str, *, segments: int = DEFAULT_SEGMENTS) -> Iterator[Item]:
    """Every item of a table (low-level format), scanned by `segments` threads with strongly
    consistent reads. Raises ScanExportError when any segment fails."""
    if segments < 1:
        raise ValueError("segments must be at least 1")
    out: queue.Queue[Any] = queue.Queue(maxsize=segments * _QUEUE_PAGES_PER_SEGMENT)
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_scan_segment,
            args=(dynamodb, table_name, seg, segments),
            kwargs={"out": out, "stop": stop},
            name=f"scan-{table_name}-{seg}",
            daemon=True,
        )
        for seg in range(segments)
    ]
    for thread in threads:
        thread.start()
    finished = 0
    try:
        while finished < segments:
            value = out.get()
            if value is _DONE:
                finished += 1
            elif isinstance(value, _SegmentFailed):
                raise ScanExportError(
                    f"scanning {table_name} failed in segment {value.segment}: {value.error}"
                ) from value.error
            else:
                yield from value
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


def _has_old_images(table: dict[str, Any]) -> bool:
    spec = table.get("StreamSpecification") or {}
    return bool(spec.get("StreamEnabled")) and spec.get("StreamViewType") in ("NEW_AND_OLD_IMAGES", "OLD_IMAGE")


def _wait_for_stream(table: dict[str, Any]) -> None:
    """A stream enabled less than a second ago: wait for the next whole second, so that the
    ExportTime (a whole second) is not before the stream's first record could be."""
    try:
        created = parse_time(table.get("LatestStreamLabel"))  # AWS: "a timestamp, in ISO 8601 format"
    except ValueError:
        return
    if created is not None:
        lag = (created - datetime.now(UTC)).total_seconds() + 1
        if 0 < lag <= 2:
            time.sleep(lag)


def point_in_time(
    dynamodb: Any, streams: Any, table: dict[str, Any], scanned: Iterator[Item], at: datetime
) -> Iterator[Item]:
    """The scanned items turned into the table's state at `at` (taken before the scan): every
    key the stream shows changed since `at` is given its item as it was then (left out when it
    did not exist), which a scan alone cannot do, since each page reads its own moment. Without
    this an item created after `at`, read by the scan and deleted in the first window would
    outlive a replay: an incremental export leaves out items created and deleted in its window.
    The scan is spooled to a temporary file (compressed lines), so memory holds only the keys
    changed during the scan."""
    from handlers.exports.dynamodb_json import decode_export_line_unchecked, encode_export_line
    from safetynet.backup.stream_export import key_id, states_at

    names = [key["AttributeName"] for key in table["KeySchema"]]
    with tempfile.TemporaryFile() as spool:
        gz = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip, as gunzip reads it
        for item in scanned:
            spool.write(gz.compress(encode_export_line(item)))
        spool.write(gz.flush())
        states = states_at(dynamodb, streams, table=table["TableName"], at=at)
        if states is None:
            raise ScanExportError(f"the stream of {table['TableName']} cannot say its state at {at.isoformat()}")
        spool.seek(0)
        for line in split_lines(gunzip(iter(lambda: spool.read(1 << 20), b""), "scan spool")):
            item = decode_export_line_unchecked(line)
            if key_id({name: item[name] for name in names}) not in states:
                yield item
    yield from (state for state in states.values() if state is not None)


def scan_export(
    dynamodb: Any,
    s3: Any,
    *,
    table_name: str,
    bucket: str,
    prefix: str,
    segments: int = DEFAULT_SEGMENTS,
    items_per_file: int = DEFAULT_ITEMS_PER_FILE,
    kms_key_id: str | None = None,
    on_item: Callable[[int], None] | None = None,
    attempt: ExportAttempt | None = None,
    streams: Any | None = None,
) -> ExportRef:
    """Scan `table_name` and write its items as a native-layout export under
    `s3://bucket/prefix/AWSDynamoDB/<ExportId>/`. Returns the export's ref.

    When the table has a stream with old images, the export is a snapshot at its ExportTime
    (`point_in_time`), so an incremental chain can be anchored on it; `streams` is the
    DynamoDB Streams client to read it with (default: one for the DynamoDB client's region).

    Interrupted (KeyboardInterrupt: Ctrl-C, SIGTERM) or failed, the unfinished folder is cleared
    away (`safetynet.backup.unfinished`) and the exception re-raised; `attempt` (optional) then
    says where it was and what remains."""
    try:
        table = dynamodb.describe_table(TableName=table_name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        raise ScanExportError(f"table {table_name} does not exist (check the name and region)") from None
    snapshot = _has_old_images(table)
    if snapshot:
        _wait_for_stream(table)
    # Before the first page is read (the scan starts when write_export pulls the first item).
    started = datetime.now(UTC).replace(microsecond=0)
    items = parallel_scan(dynamodb, table_name, segments=segments)
    if snapshot:
        if streams is None:
            from handlers.clients import client

            streams = client("dynamodbstreams", dynamodb.meta.region_name)
        items = point_in_time(dynamodb, streams, table, items, started)
    logger.info("scan export started", extra={"table": table_name, "segments": segments})
    attempt = attempt if attempt is not None else ExportAttempt()
    export_id = new_export_id(started)
    attempt.ref = export_ref(bucket, prefix, export_id)
    try:
        ref = write_export(
            s3,
            bucket=bucket,
            prefix=prefix,
            table_arn=table["TableArn"],
            table_id=table.get("TableId"),
            items=items,
            export_time=started,
            items_per_file=items_per_file,
            kms_key_id=kms_key_id,
            on_item=on_item,
            export_id=export_id,
        )
    except BaseException:
        attempt.left = discard_unfinished(s3, attempt.ref)
        raise
    logger.info("scan export written", extra={"table": table_name, "export": ref.url})
    return ref

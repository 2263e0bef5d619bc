"""A scan-based exporter: a table's items, read with a parallel Scan, written as a native export.

For DynamoDB Local, emulators (moto, LocalStack) and accounts where ExportTableToPointInTime
is not available. The result has AWS's exact export layout, so the validator, staging and
restores use it like a native export. Unlike a native export it is not a point-in-time
snapshot (each page is a strongly consistent read at its own moment) and it consumes read
capacity; `exportTime` is when the scan started.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handlers.exports.items import Item
from handlers.exports.layout import ExportRef
from handlers.exports.writer import DEFAULT_ITEMS_PER_FILE, write_export

logger = logging.getLogger(__name__)

DEFAULT_SEGMENTS = 4
_QUEUE_PAGES_PER_SEGMENT = 2  # pages buffered per segment: bounds memory at ~2 MB x segments


class ScanExportError(Exception):
    """The scan could not complete (table missing, access denied, a segment failed)."""


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
) -> ExportRef:
    """Scan `table_name` and write its items as a native-layout export under
    `s3://bucket/prefix/AWSDynamoDB/<ExportId>/`. Returns the export's ref."""
    try:
        table = dynamodb.describe_table(TableName=table_name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        raise ScanExportError(f"table {table_name} does not exist (check the name and region)") from None
    started = datetime.now(UTC)
    logger.info("scan export started", extra={"table": table_name, "segments": segments})
    ref = write_export(
        s3,
        bucket=bucket,
        prefix=prefix,
        table_arn=table["TableArn"],
        table_id=table.get("TableId"),
        items=parallel_scan(dynamodb, table_name, segments=segments),
        export_time=started,
        items_per_file=items_per_file,
        kms_key_id=kms_key_id,
        on_item=on_item,
    )
    logger.info("scan export written", extra={"table": table_name, "export": ref.url})
    return ref

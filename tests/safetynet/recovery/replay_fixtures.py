"""A vault with a full export and incremental windows written directly (no stream needed), the
restored table, and sinks that record or break writes: what the replay tests share."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from conventions.chain import incremental_export_prefix
from conventions.vault import export_prefix
from handlers.exports import Change, ExportRef, new_export_id, write_export, write_incremental_export
from handlers.exports.batch_writer import Request

REGION = "us-east-1"
BUCKET = "vault"
TABLE = "orders"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}"
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ANCHOR_TIME = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def at(minutes: float) -> datetime:
    """ANCHOR_TIME + minutes."""
    return ANCHOR_TIME + timedelta(minutes=minutes)


def key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "x"}}


def item(pk: str, v: int, **extra: Any) -> dict[str, Any]:
    return {**key(pk), "v": {"N": str(v)}, **extra}


def put(pk: str, v: int, *, window: int = 0, old: int | None = None) -> Change:
    """A line whose item exists at the window's end with `v` (and held `old` before it)."""
    return Change(key(pk), item(pk, v, w={"N": str(window)}), None if old is None else item(pk, old), 1)


def delete(pk: str, *, old: int = 0) -> Change:
    """A line whose item is gone at the window's end."""
    return Change(key(pk), None, item(pk, old), 1)


def full_export(s3: Any, items: Iterable[dict[str, Any]], when: datetime = ANCHOR_TIME, **kw: Any) -> ExportRef:
    """A full export of `orders` at `when` in the vault."""
    return write_export(
        s3,
        bucket=kw.pop("bucket", BUCKET),
        prefix=export_prefix(TABLE),
        table_arn=kw.pop("table_arn", TABLE_ARN),
        items=items,
        export_time=when,
        export_id=new_export_id(when),
        **kw,
    )


def window_export(s3: Any, changes: Iterable[Change], start: datetime, end: datetime, **kw: Any) -> ExportRef:
    """An incremental export of `orders` for [start, end) in the vault."""
    return write_incremental_export(
        s3,
        bucket=kw.pop("bucket", BUCKET),
        prefix=incremental_export_prefix(TABLE),
        table_arn=kw.pop("table_arn", TABLE_ARN),
        changes=changes,
        export_from_time=start,
        export_to_time=end,
        export_id=kw.pop("export_id", None) or new_export_id(end),
        **kw,
    )


def chain(s3: Any, windows: list[list[Change]], *, items_per_file: int = 1000) -> list[ExportRef]:
    """Windows of 15 minutes from ANCHOR_TIME, one per list of changes."""
    return [
        window_export(s3, changes, at(15 * i), at(15 * (i + 1)), items_per_file=items_per_file)
        for i, changes in enumerate(windows)
    ]


def create_table(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def table_items(ddb: Any, name: str) -> dict[str, dict[str, Any]]:
    """Every item of a table by its pk (consistent scan)."""
    out: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        for it in page.get("Items", []):
            out[it["pk"]["S"]] = it
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class Batch:
    """One batch a sink received: which windows its items say they come from, and when."""

    thread: str
    windows: set[int]
    started: float
    ended: float
    size: int


@dataclass
class RecordingSink:
    """Accepts every write, recording each batch (its thread, the `w` attribute of its items, its
    time); `hold` seconds per batch make overlapping batches visible; `stop_after` raises
    `error` on that batch (counted from 1), before any of it is accepted."""

    hold: float = 0.0
    stop_after: int | None = None
    error: BaseException | None = None
    batches: list[Batch] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(self, requests: list[Request]) -> list[Request]:
        with self._lock:
            number = len(self.batches) + 1
            if self.stop_after is not None and number >= self.stop_after:
                raise self.error or KeyboardInterrupt()
        started = time.perf_counter()
        if self.hold:
            time.sleep(self.hold)
        windows = set()
        for raw in requests:
            doc = orjson.loads(raw)
            w = doc.get("PutRequest", {}).get("Item", {}).get("w")
            windows.add(int(w["N"]) if w else -1)
        with self._lock:
            self.batches.append(
                Batch(threading.current_thread().name, windows, started, time.perf_counter(), len(requests))
            )
            self.requests.extend(requests)
        return []


def data_keys(s3: Any, ref: ExportRef) -> list[str]:
    """The S3 keys of an export's data files, as its manifest-files.json lists them."""
    body = s3.get_object(Bucket=ref.bucket, Key=ref.key("manifest-files.json"))["Body"].read()
    return [ref.resolve(orjson.loads(line)["dataFileS3Key"]) for line in body.splitlines() if line.strip()]


def corrupt(s3: Any, ref: ExportRef) -> None:
    """Overwrite an export's first data file: its MD5 and content no longer match the manifest."""
    s3.put_object(Bucket=ref.bucket, Key=data_keys(s3, ref)[0], Body=b"not gzip at all")

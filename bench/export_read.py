"""Export reader throughput and memory: the streaming reader beside a plain gunzip + json.loads.

One gzip data file of N order-like items is served from memory through botocore's own
StreamingBody (no network, no moto), so the numbers are the reader's: incremental gunzip, MD5,
line splitting and item decoding. Peak memory (tracemalloc, a separate pass) is shown for two
sizes: a streaming reader's peak must not grow with the number of items.

    .venv/bin/python bench/export_read.py [ITEMS]
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from botocore.response import StreamingBody

from handlers.exports import DataFile, ExportRef, check_data_file, iter_file_items
from handlers.exports.dynamodb_json import encode_export_line

REF = ExportRef("bench", "exports/orders/AWSDynamoDB/01732590000000-00000000/")
KEY = REF.key("data/bench.json.gz")


def _item(i: int) -> dict[str, Any]:
    return {
        "customerId": {"S": f"c{i % 9973}"},
        "orderId": {"S": f"o-{i:09d}"},
        "total": {"N": f"{i}.{i % 100:02d}"},
        "tags": {"SS": ["a", f"t{i % 5}"]},
        "lines": {"L": [{"M": {"sku": {"S": f"sku-{i % 1000}"}, "qty": {"N": str(i % 5 + 1)}}}]},
        "note": {"S": "delivered to the back door, ring twice"},
        "paid": {"BOOL": i % 3 == 0},
        "receipt": {"B": i.to_bytes(8, "big")},
    }


def build(n: int) -> tuple[bytes, DataFile]:
    blob = gzip.compress(b"".join(encode_export_line(_item(i)) for i in range(n)), compresslevel=6)
    md5 = base64.b64encode(hashlib.md5(blob, usedforsecurity=False).digest()).decode()
    return blob, DataFile(data_file_s3_key=KEY, item_count=n, md5_checksum=md5)


class MemoryS3:
    """Just enough of an S3 client: get_object from memory, through botocore's StreamingBody."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def get_object(self, **_: Any) -> dict[str, Any]:
        return {"Body": StreamingBody(io.BytesIO(self.blob), len(self.blob)), "ContentLength": len(self.blob)}


def baseline(blob: bytes, _: DataFile) -> int:
    n = 0
    with gzip.GzipFile(fileobj=io.BytesIO(blob)) as f:
        for line in f:
            json.loads(line)
            n += 1
    return n


def stream_checked(blob: bytes, df: DataFile) -> int:
    return sum(1 for _ in iter_file_items(MemoryS3(blob), REF, df))


def stream_unchecked(blob: bytes, df: DataFile) -> int:
    return sum(1 for _ in iter_file_items(MemoryS3(blob), REF, df, check_items=False))


def validate_file(blob: bytes, df: DataFile) -> int:
    check = check_data_file(MemoryS3(blob), REF, df)
    assert check.ok, check.problems
    return check.items


MODES: list[tuple[str, Callable[[bytes, DataFile], int]]] = [
    ("baseline: gunzip + json.loads", baseline),
    ("iter_file_items (checked)", stream_checked),
    ("iter_file_items (check_items=False)", stream_unchecked),
    ("check_data_file (validation)", validate_file),
]


def timed(fn: Callable[[bytes, DataFile], int], blob: bytes, df: DataFile) -> float:
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        assert fn(blob, df) == df.item_count
        best = min(best, time.perf_counter() - start)
    return best


def peak_kib(fn: Callable[[bytes, DataFile], int], blob: bytes, df: DataFile) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn(blob, df)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    blob, df = build(n)
    size = len(blob) / 2**20
    print(f"python {platform.python_version()} on {platform.machine()}; {n:,} items, {size:.1f} MiB gzip")
    base = timed(baseline, blob, df)
    print(f"{'mode':<40} {'seconds':>8} {'items/s':>10} {'x baseline':>10}")
    for name, fn in MODES:
        seconds = base if fn is baseline else timed(fn, blob, df)
        print(f"{name:<40} {seconds:>8.2f} {n / seconds:>10,.0f} {seconds / base:>10.2f}")
    small_n = max(n // 10, 1)
    small_blob, small_df = build(small_n)
    print(f"\npeak traced memory (KiB), excluding the in-memory object: {small_n:,} vs {n:,} items")
    for name, fn in MODES[1:3]:
        small = peak_kib(fn, small_blob, small_df)
        large = peak_kib(fn, blob, df)
        print(f"{name:<40} {small:>10,.0f} {large:>10,.0f}")


if __name__ == "__main__":
    main()

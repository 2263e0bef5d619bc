"""Rewind throughput and memory: planning and applying N changed keys, beside a plain gunzip +
json.loads of the same export files.

The window's export (AWS's incremental layout: order-like items with a number, strings, a string
set, a list of maps, a boolean and a binary, so every image's base64 is decoded; 80% overwritten,
10% deleted and 10% created in the window) is written to gzip data files on disk and served
through botocore's StreamingBody (no network, no moto). The rewind reads it with the export
reader, settles every key against an in-process DynamoDB that answers BatchGetItem with the
version the window left and accepts every conditional PutItem/DeleteItem (so every key is
reverted, the most work per key), and writes every key's outcome line to the audit (gzip,
spooled, "uploaded" to nowhere). The in-process DynamoDB answers each read with a new item dict
built from shared parts (the requested key's attribute values, the attributes the window left),
so its own time stays small beside the rewind's; the last mode measures it alone. Each mode
runs in its own process, so peak RSS (ru_maxrss) and CPU time are that mode's alone; the ratio
to the baseline is taken on CPU time, which other work on a shared machine does not inflate (wall
time is printed beside it).

    .venv/bin/python bench/rewind.py [--repeat 3] [KEYS ...]        (default: 100000 1000000)
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from botocore.response import StreamingBody

from handlers.exports.incremental import Change, encode_change_line
from handlers.exports.layout import DataFile, ExportRef
from handlers.rewind import RewindSpec, RunLocation, Window, rewind_data_file

KEYS_PER_FILE = 250_000  # AWS writes many data files per export; a few large ones here
REF = ExportRef("bench", "rewinds/orders/w/AWSDynamoDB/01764126000000-abcdef12/")
T1_MICROS = 1_764_126_000_000_000
WINDOW = Window(T1_MICROS, T1_MICROS + 600_000_000)


VARIANTS = 1000
"""Items vary in their non-key attributes with i % VARIANTS: the in-process DynamoDB builds its
answers from shared parts (its own cost stays small), and the export holds the same items."""


def _attributes(v: int, version: int) -> dict[str, Any]:
    return {
        "total": {"N": f"{v + version}.{v % 100:02d}"},
        "status": {"S": "LOST" if version else "PAID"},
        "tags": {"SS": ["a", f"t{v % 5}"]},
        "lines": {"L": [{"M": {"sku": {"S": f"sku-{v}"}, "qty": {"N": str(v % 5 + 1)}}}]},
        "note": {"S": "delivered to the back door, ring twice"},
        "paid": {"BOOL": v % 3 == 0},
        "receipt": {"B": v.to_bytes(8, "big")},
    }


_NEW_ATTRIBUTES = [_attributes(v, 1) for v in range(VARIANTS)]


def _item(i: int, version: int) -> dict[str, Any]:
    attributes = _NEW_ATTRIBUTES[i % VARIANTS] if version else _attributes(i % VARIANTS, 0)
    return {"customerId": {"S": f"c{i:09d}"}, "orderId": {"S": "o-1"}, **attributes}


def _key(i: int) -> dict[str, Any]:
    return {"customerId": {"S": f"c{i:09d}"}, "orderId": {"S": "o-1"}}


def _images(i: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(OldImage, NewImage) of key i: 80% overwritten, 10% deleted, 10% created in the window."""
    kind = i % 10
    if kind == 8:
        return _item(i, 0), None
    if kind == 9:
        return None, _item(i, 1)
    return _item(i, 0), _item(i, 1)


def build(n: int, folder: Path) -> list[dict[str, Any]]:
    """Write the export's data files for n keys; returns their DataFile documents."""
    files = []
    for start in range(0, n, KEYS_PER_FILE):
        count = min(KEYS_PER_FILE, n - start)
        path = folder / f"part-{start // KEYS_PER_FILE:04d}.json.gz"
        with gzip.open(path, "wb", compresslevel=6) as out:
            for i in range(start, start + count):
                old, new = _images(i)
                out.write(encode_change_line(Change(_key(i), new, old, T1_MICROS + 1 + i % 599_000_000)))
        md5 = base64.b64encode(hashlib.md5(path.read_bytes(), usedforsecurity=False).digest()).decode()
        files.append(
            {"path": str(path), "dataFileS3Key": REF.key(f"data/{path.name}"), "itemCount": count, "md5Checksum": md5}
        )
    return files


class FileS3:
    """get_object from files on disk through botocore's StreamingBody; uploads are read and dropped."""

    def __init__(self, files: list[dict[str, Any]]) -> None:
        self.paths = {f["dataFileS3Key"]: f["path"] for f in files}
        self.uploaded = 0

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        path = Path(self.paths[Key])
        size = path.stat().st_size
        return {"Body": StreamingBody(path.open("rb"), size), "ContentLength": size}

    def upload_fileobj(self, fileobj: Any, bucket: str, key: str, **_: Any) -> None:
        while chunk := fileobj.read(1 << 20):
            self.uploaded += len(chunk)


class ConditionalSink:
    """An in-process DynamoDB: BatchGetItem answers with the version the window left; conditional
    PutItem/DeleteItem are checked for a condition and accepted."""

    def __init__(self) -> None:
        self.reads = self.puts = self.deletes = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        # Each answer a new item dict (as a client's would be): the requested key's attributes,
        # then the attributes the window left, shared (see VARIANTS). Key i % 10 == 8 was
        # deleted in the window: no item.
        found = [
            {**key, **_NEW_ATTRIBUTES[i % VARIANTS]} for key in keys if (i := int(key["customerId"]["S"][1:])) % 10 != 8
        ]
        self.reads += len(keys)
        return {"Responses": {table: found}, "UnprocessedKeys": {}}

    def put_item(self, **kw: Any) -> dict[str, Any]:
        assert kw["ConditionExpression"] and kw["Item"]
        self.puts += 1
        return {}

    def delete_item(self, **kw: Any) -> dict[str, Any]:
        assert kw["ConditionExpression"] and kw["Key"]
        self.deletes += 1
        return {}


def run_baseline(files: list[dict[str, Any]]) -> int:
    n = 0
    for f in files:
        with gzip.open(f["path"], "rb") as lines:
            for line in lines:
                json.loads(line)
                n += 1
    return n


def run_rewind(files: list[dict[str, Any]], concurrency: int) -> int:
    s3, sink = FileS3(files), ConditionalSink()
    run = RunLocation("bench", "rewinds/orders/w", "bench")
    total = 0
    for f in files:
        data_file = DataFile(f["dataFileS3Key"], f["itemCount"], f["md5Checksum"])
        tally = rewind_data_file(
            sink, s3, REF, data_file, RewindSpec(window=WINDOW), table="orders", dry_run=False, run=run,
            concurrency=concurrency,
        )  # fmt: skip
        total += tally.total
    # Every key settled and reverted: nothing skipped, nothing dropped.
    assert sink.puts + sink.deletes == total, (sink.puts, sink.deletes, total)
    return total


def run_sink(files: list[dict[str, Any]]) -> int:
    """The in-process DynamoDB alone: the requests a rewind of these files makes (one read per
    100 keys, one conditional write per key), without the rewind. Its keys are built here, so
    this is an upper bound of the sink's share of the rewind's time."""
    sink = ConditionalSink()
    n = sum(f["itemCount"] for f in files)
    guard = {
        "ConditionExpression": "#n0 = :v0",
        "ExpressionAttributeNames": {"#n0": "total"},
        "ExpressionAttributeValues": {":v0": {"N": "1"}},
    }
    for start in range(0, n, 100):
        numbers = range(start, min(start + 100, n))
        keys = [_key(i) for i in numbers]
        sink.batch_get_item(RequestItems={"orders": {"Keys": keys, "ConsistentRead": True}})
        for i, key in zip(numbers, keys, strict=True):
            if i % 10 == 9:
                sink.delete_item(TableName="orders", Key=key, ReturnValuesOnConditionCheckFailure="ALL_OLD", **guard)
            else:
                sink.put_item(TableName="orders", Item=key, ReturnValuesOnConditionCheckFailure="ALL_OLD", **guard)
    assert sink.puts + sink.deletes == n
    return n


MODES = {
    "baseline: gunzip + json.loads": run_baseline,
    "rewind, in one thread": lambda files: run_rewind(files, 1),
    "rewind, 4 threads": lambda files: run_rewind(files, 4),
    "(the sink alone, in one thread)": run_sink,
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(mode: str, manifest: str) -> None:
    files = json.loads(Path(manifest).read_text())
    start, cpu = time.perf_counter(), _cpu()
    n = MODES[mode](files)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"n": n, "seconds": seconds, "cpu": cpu, "maxrss_kib": rss}))


def measure(mode: str, manifest: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(manifest)], check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main(sizes: list[int], repeat: int) -> None:
    cpus = os.cpu_count()
    print(f"python {platform.python_version()} on {platform.machine()}, {cpus} CPUs; load {os.getloadavg()[0]:.1f}")
    print(f"runs: fastest of {repeat} interleaved runs per mode (noise only ever adds); peak RSS the largest")
    results: dict[int, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            folder = Path(tmp) / str(n)
            folder.mkdir()
            start = time.perf_counter()
            files = build(n, folder)
            manifest = folder / "files.json"
            manifest.write_text(json.dumps(files))
            size = sum(Path(f["path"]).stat().st_size for f in files) / 2**20
            built = time.perf_counter() - start
            print(f"\n{n:,} changed keys: {len(files)} data files, {size:.1f} MiB gzip (built in {built:.0f} s)")
            print(
                f"{'mode':<32} {'wall s':>7} {'CPU s':>7} {'keys/CPU s':>11} "
                f"{'x baseline (CPU)':>17} {'peak RSS MiB':>13}"
            )
            runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
            for _ in range(repeat):
                for mode in MODES:
                    r = measure(mode, manifest)
                    assert r["n"] == n, (mode, r)
                    runs[mode].append(r)
            results[n] = {
                mode: {
                    "seconds": min(r["seconds"] for r in rs),
                    "cpu": min(r["cpu"] for r in rs),
                    "maxrss_kib": max(r["maxrss_kib"] for r in rs),
                }
                for mode, rs in runs.items()
            }
            base = results[n]["baseline: gunzip + json.loads"]["cpu"]
            for mode, r in results[n].items():
                print(
                    f"{mode:<32} {r['seconds']:>7.1f} {r['cpu']:>7.1f} {n / r['cpu']:>11,.0f} "
                    f"{r['cpu'] / base:>17.2f} {r['maxrss_kib'] / 1024:>13.0f}"
                )
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        print(f"\npeak RSS, {large:,} keys vs {small:,}:")
        for mode in MODES:
            a, b = results[small][mode]["maxrss_kib"], results[large][mode]["maxrss_kib"]
            print(f"{mode:<32} {a / 1024:>8.0f} MiB -> {b / 1024:>6.0f} MiB ({(b - a) / a:+.0%})")


def cli(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keys", type=int, nargs="*", default=[100_000, 1_000_000], help="changed keys per export")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode, interleaved; the fastest is shown")
    args = parser.parse_args(argv)
    if args.repeat < 1 or any(k < 1 for k in args.keys):
        parser.error("--repeat and KEYS must be at least 1")
    main(args.keys, args.repeat)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        cli(sys.argv[1:])

"""Refill throughput and memory: staging an export into a no-op sink beside a plain
gunzip + json.loads of the same files.

Exports of 100,000 and 1,000,000 order-like items are written in DynamoDB's native layout
(handlers.exports.write_export, 50,000 items per data file) to a LOCAL FILESYSTEM folder served
through a minimal S3 client (botocore StreamingBody over open files; no network, no moto), so the
numbers are the staging code's. Every measurement runs in its own process, so each peak RSS
(getrusage ru_maxrss) is that measurement's alone, with the same modules imported before its
clock starts:

    baseline  gunzip + json.loads of every line of every data file (nothing else)
    read      the export reader alone (handlers.exports.iter_items: streaming gunzip, MD5, lines,
              items parsed with binaries decoded, not checked), for the breakdown
    refill    the refill load step: stream the validated export (MD5 checked and lines counted
              while streaming), each line wrapped as a PutRequest without being parsed again
              (the bytes DynamoDBSink sends), batches of 25 on 4 worker threads, into a sink
              that accepts all
    stage     the whole staging run into the sink: validate_export (manifests, MD5, counts,
              every item) THEN the refill load step - two passes over the data, by design:
              nothing is written before the export is proven

    .venv/bin/python bench/refill.py [--items 1000000] [--small 100000] [--repeat 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from botocore.response import StreamingBody

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TABLE_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/orders"
BUCKET = "bench"


class LocalS3:
    """Just enough of an S3 client over a folder: get/put objects and multipart uploads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.uploads: dict[str, list[bytes]] = {}

    def _path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def get_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        path = self._path(Bucket, Key)
        if not path.is_file():
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": Key}}, "GetObject")
        size = path.stat().st_size
        return {"Body": StreamingBody(path.open("rb"), size), "ContentLength": size}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        path = self._path(Bucket, Key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Body)
        return {"ETag": '"' + hashlib.md5(Body, usedforsecurity=False).hexdigest() + '"'}

    def create_multipart_upload(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        upload = f"{Bucket}/{Key}"
        self.uploads[upload] = []
        return {"UploadId": upload}

    def upload_part(self, *, UploadId: str, Body: bytes, **_: Any) -> dict[str, Any]:
        self.uploads[UploadId].append(Body)
        return {"ETag": '"' + hashlib.md5(Body, usedforsecurity=False).hexdigest() + '"'}

    def complete_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str, **_: Any) -> dict[str, Any]:
        return self.put_object(Bucket=Bucket, Key=Key, Body=b"".join(self.uploads.pop(UploadId)))

    def abort_multipart_upload(self, *, UploadId: str, **_: Any) -> None:
        self.uploads.pop(UploadId, None)


def item(i: int) -> dict[str, Any]:
    return {
        "customerId": {"S": f"c{i % 9973}"},
        "orderId": {"S": f"o-{i:09d}"},
        "createdAt": {"N": str(1_700_000_000 + i)},
        "status": {"S": ("open", "paid", "shipped")[i % 3]},
        "total": {"N": f"{i}.{i % 100:02d}"},
        "tags": {"SS": ["a", f"t{i % 5}"]},
        "lines": {"L": [{"M": {"sku": {"S": f"sku-{i % 1000}"}, "qty": {"N": str(i % 5 + 1)}}}]},
        "note": {"S": "delivered to the back door, ring twice"},
        "paid": {"BOOL": i % 3 == 0},
        "receipt": {"B": i.to_bytes(8, "big")},
    }


# -- children (one measurement per process) --------------------------------------------------


def child_generate(folder: Path, n: int) -> dict[str, Any]:
    from handlers.exports import write_export

    ref = write_export(
        LocalS3(folder),
        bucket=BUCKET,
        prefix=f"exports/orders-{n}",
        table_arn=TABLE_ARN,
        items=(item(i) for i in range(n)),
        export_time=datetime(2026, 11, 1, tzinfo=UTC),
        items_per_file=50_000,
    )
    return {"url": ref.url}


def child_baseline(folder: Path, url: str) -> int:
    from handlers.exports import ExportRef

    ref = ExportRef.parse(url)
    count = 0
    for line in (folder / BUCKET / ref.prefix / "manifest-files.json").read_text().splitlines():
        key = ref.resolve(json.loads(line)["dataFileS3Key"])
        with gzip.open(folder / BUCKET / key, "rb") as f:
            for raw in f:
                json.loads(raw)
                count += 1
    return count


def child_read(folder: Path, url: str) -> int:
    from handlers.exports import ExportRef, iter_items

    return sum(1 for _ in iter_items(LocalS3(folder), ExportRef.parse(url), check_items=False))


def child_refill(folder: Path, url: str) -> int:
    from handlers.exports import ExportRef, iter_requests
    from handlers.exports.batch_writer import NullSink, write_requests

    s3 = LocalS3(folder)
    sink = NullSink()
    write_requests(sink, iter_requests(s3, ExportRef.parse(url)), concurrency=4)
    return sink.count


def child_stage(folder: Path, url: str) -> int:
    from handlers.exports import ExportRef
    from safetynet.staging.flow import validate_or_reject

    validate_or_reject(LocalS3(folder), ExportRef.parse(url), TABLE_ARN)
    return child_refill(folder, url)


def boto3_serializer_cost(n: int = 5_000) -> float:
    """Microseconds of CPU per item that boto3's own request building (parameter validation +
    per-attribute JSON serializer) spends on BatchWriteItem batches of these items: the work the
    sink avoids by sending the export's lines as the body (handlers.exports.batch_writer)."""
    import boto3
    from botocore.validate import ParamValidator

    ddb = boto3.client("dynamodb", region_name="eu-central-1", aws_access_key_id="x", aws_secret_access_key="x")
    op = ddb.meta.service_model.operation_model("BatchWriteItem")
    batches = [
        {"RequestItems": {"orders": [{"PutRequest": {"Item": item(i)}} for i in range(start, start + 25)]}}
        for start in range(0, n, 25)
    ]
    start = time.process_time()
    for params in batches:
        ParamValidator().validate(params, op.input_shape)
        ddb._serializer.serialize_to_request(params, op)  # what batch_write_item runs
    return (time.process_time() - start) / n * 1e6


CHILDREN = {"baseline": child_baseline, "read": child_read, "refill": child_refill, "stage": child_stage}


def run_child(argv: list[str]) -> None:
    mode, folder, arg = argv[0], Path(argv[1]), argv[2]
    # Every measured mode gets the same modules imported before its clock starts (a Lambda has
    # them from its cold start): the times are the per-item work, not import time.
    import safetynet.staging.flow  # noqa: F401

    start = time.perf_counter()
    out = child_generate(folder, int(arg)) if mode == "generate" else {"items": CHILDREN[mode](folder, arg)}
    out["seconds"] = time.perf_counter() - start
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def measure(mode: str, folder: Path, arg: str, *, script: str = __file__) -> dict[str, Any]:
    """Run `script --child mode folder arg` in a fresh process (its own peak RSS) and return the
    JSON its run_child printed last. bench/replay.py measures through this too."""
    env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING", "LOG_LEVEL": "WARNING"}
    out = subprocess.run(
        [sys.executable, script, "--child", mode, str(folder), arg],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="Folder for the exports (default: a temp dir).")
    parser.add_argument(
        "--repeat", type=int, default=3, help="Runs per measurement, interleaved; the fastest is shown (default 3)."
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        rows = []
        for n in (args.small, args.items):
            url = measure("generate", folder, str(n))["url"]
            runs: dict[str, list[dict[str, Any]]] = {}
            # Round robin, so a burst of load on a shared machine hits every mode alike; the
            # fastest run of each is its time (noise only ever adds), its largest peak RSS its memory.
            for _ in range(args.repeat):
                for mode in ("baseline", "read", "refill", "stage"):
                    r = measure(mode, folder, url)
                    assert r["items"] == n, (mode, r)
                    runs.setdefault(mode, []).append(r)
            for mode, rs in runs.items():
                best = {**min(rs, key=lambda r: r["seconds"]), "peak_rss_mb": max(r["peak_rss_mb"] for r in rs)}
                rows.append((n, mode, best))
    print_table(rows, args)
    per_item = boto3_serializer_cost()
    print(
        f"for comparison: boto3 building BatchWriteItem requests from parsed items costs {per_item:.0f} us of CPU "
        f"per item ({1e6 / per_item:,.0f} items/s); the sink sends the export's lines instead"
    )


def print_table(rows: list[tuple[int, str, dict[str, Any]]], args: argparse.Namespace) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"python:  {platform.python_implementation()} {platform.python_version()}")
    print("exports: local filesystem through a minimal S3 client (no network, no moto); 50,000 items per file")
    print(f"runs:    fastest of {args.repeat} interleaved runs per measurement; peak RSS the largest of them")
    print()
    header = f"{'items':>10} {'run':<9} {'seconds':>8} {'items/s':>10} {'vs baseline':>12} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    base = {n: r["seconds"] for n, mode, r in rows if mode == "baseline"}
    for n, mode, r in rows:
        ratio = r["seconds"] / base[n]
        speed = n / r["seconds"]
        print(f"{n:>10,} {mode:<9} {r['seconds']:>8.1f} {speed:>10,.0f} {ratio:>11.2f}x {r['peak_rss_mb']:>12.1f}")
    print()
    rss = {(n, mode): r["peak_rss_mb"] for n, mode, r in rows}
    for mode in ("refill", "stage"):
        growth = rss[(args.items, mode)] / rss[(args.small, mode)] - 1
        print(f"{mode}: peak RSS at {args.items:,} items is {growth:+.1%} vs {args.small:,} (target: within 20%)")
    for mode in ("refill", "stage"):
        ratio = next(r["seconds"] for n, m, r in rows if n == args.items and m == mode) / base[args.items]
        print(f"{mode}: {ratio:.2f}x the baseline's time at {args.items:,} items (target: within 1.5x)")


if __name__ == "__main__":
    main()

"""Replay throughput and memory: applying N changes of a chain of incremental exports into a
no-op sink, beside a plain gunzip + json.loads of the same files.

The chain (windows of 100,000 changes, AWS's incremental layout written by
`handlers.exports.write_incremental_export`: order-like items, 80% puts with NewImage and
OldImage, 20% deletes with OldImage only; 50,000 changes per data file) is written to a LOCAL
FILESYSTEM folder served through bench/refill.py's minimal S3 client (botocore StreamingBody
over open files; no network, no moto), so the numbers are the replay's own. Every measurement
runs in its own process, so each peak RSS (getrusage ru_maxrss) is that measurement's alone, with
the same modules imported before its clock starts:

    baseline  gunzip + json.loads of every line of every data file of every window (nothing else)
    apply     the windows applied in order (safetynet.recovery.replay.run_replay: MD5 checked and
              lines counted while streaming, each change turned into its PutRequest/DeleteRequest,
              batches of 25 on 4 writer threads, counts checked against the manifests) - no validation
    replay    what `safetynet replay` does: every window validated in full first (manifests, MD5,
              line count, every change line's syntax and values), then applied as above

    .venv/bin/python bench/replay.py [--changes 1000000] [--small 100000] [--repeat 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.refill import BUCKET, TABLE_ARN, LocalS3, item, measure  # noqa: E402 (after the path set-up)

WINDOW_CHANGES = 100_000
CHANGES_PER_FILE = 50_000
ANCHOR_TIME = datetime(2026, 11, 1, tzinfo=UTC)
PREFIX = "exports/orders"


class NoJournal:
    """The journal of a table that does not exist: writes go nowhere (the sink is a no-op too)."""

    def write(self, entry: Any) -> None:
        pass


def _change(i: int, window: int) -> Any:
    from handlers.exports.incremental import Change

    new, old = item(i), item(i)
    key = {"customerId": new["customerId"], "orderId": new["orderId"]}
    old["status"] = {"S": "open"}
    if i % 5 == 4:  # every fifth change is a delete
        return Change(key, None, old, 1_700_000_000_000_000 + i)
    new["status"] = {"S": f"window-{window}"}
    return Change(key, new, old, 1_700_000_000_000_000 + i)


# -- children (one measurement per process) --------------------------------------------------


def child_generate(folder: Path, n: int) -> dict[str, Any]:
    from handlers.exports import write_export, write_incremental_export

    s3 = LocalS3(folder)
    prefix = f"{PREFIX}-{n}"
    anchor = write_export(
        s3, bucket=BUCKET, prefix=prefix, table_arn=TABLE_ARN, items=[item(0)], export_time=ANCHOR_TIME
    )
    windows = []
    for w in range(-(-n // WINDOW_CHANGES)):
        first, last = w * WINDOW_CHANGES, min(n, (w + 1) * WINDOW_CHANGES)
        ref = write_incremental_export(
            s3,
            bucket=BUCKET,
            prefix=f"{prefix}/incremental",
            table_arn=TABLE_ARN,
            changes=(_change(i, w) for i in range(first, last)),
            export_from_time=ANCHOR_TIME + timedelta(minutes=15 * w),
            export_to_time=ANCHOR_TIME + timedelta(minutes=15 * (w + 1)),
            items_per_file=CHANGES_PER_FILE,
        )
        windows.append(ref.url)
    return {"anchor": anchor.url, "windows": windows}


def _refs(spec: dict[str, Any]) -> tuple[Any, list[Any]]:
    from handlers.exports import ExportRef

    return ExportRef.parse(spec["anchor"]), [ExportRef.parse(u) for u in spec["windows"]]


def child_baseline(folder: Path, spec: dict[str, Any]) -> int:
    _, windows = _refs(spec)
    count = 0
    for ref in windows:
        for line in (folder / BUCKET / ref.prefix / "manifest-files.json").read_text().splitlines():
            key = ref.resolve(json.loads(line)["dataFileS3Key"])
            with gzip.open(folder / BUCKET / key, "rb") as f:
                for raw in f:
                    json.loads(raw)
                    count += 1
    return count


def _plan(s3: Any, spec: dict[str, Any]) -> Any:
    from handlers.exports import read_summary
    from safetynet.recovery.replay import plan_replay

    anchor, windows = _refs(spec)
    exports = [(ref, read_summary(s3, ref)) for ref in [anchor, *windows]]
    return exports, plan_replay(exports, anchor, exports[0][1], to=None)


def _apply(s3: Any, plan: Any) -> int:
    from handlers.exports.batch_writer import NullSink
    from safetynet.recovery.replay import run_replay

    sink = NullSink()
    outcomes = run_replay(plan, s3=s3, sink=sink, journal=NoJournal(), concurrency=4)  # type: ignore[arg-type]
    assert sum(o.result.changes for o in outcomes if o.result) == sink.count
    return sink.count


def child_apply(folder: Path, spec: dict[str, Any]) -> int:
    s3 = LocalS3(folder)
    _, plan = _plan(s3, spec)
    return _apply(s3, plan)


def child_replay(folder: Path, spec: dict[str, Any]) -> int:
    from safetynet.recovery.replay import validate_windows

    s3 = LocalS3(folder)
    exports, plan = _plan(s3, spec)
    return _apply(s3, validate_windows(s3, exports, plan, workers=1))


CHILDREN = {"baseline": child_baseline, "apply": child_apply, "replay": child_replay}


def run_child(argv: list[str]) -> None:
    mode, folder, arg = argv[0], Path(argv[1]), argv[2]
    # Every measured mode gets the same modules imported before its clock starts.
    import safetynet.recovery.replay  # noqa: F401

    start = time.perf_counter()
    out = child_generate(folder, int(arg)) if mode == "generate" else {"items": CHILDREN[mode](folder, json.loads(arg))}
    out["seconds"] = time.perf_counter() - start
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


MODES = ("baseline", "apply", "replay")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=1_000_000)
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
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        for n in (args.small, args.changes):
            generated = measure("generate", folder, str(n), script=__file__)
            spec = json.dumps({"anchor": generated["anchor"], "windows": generated["windows"]})
            runs: dict[str, list[dict[str, Any]]] = {}
            # Round robin, so a burst of load on a shared machine hits every mode alike; the
            # fastest run of each is its time (noise only ever adds), its largest peak RSS its memory.
            for _ in range(args.repeat):
                for mode in MODES:
                    r = measure(mode, folder, spec, script=__file__)
                    assert r["items"] == n, (mode, r)
                    runs.setdefault(mode, []).append(r)
            for mode, rs in runs.items():
                best = {**min(rs, key=lambda r: r["seconds"]), "peak_rss_mb": max(r["peak_rss_mb"] for r in rs)}
                rows.append((n, mode, best, len(generated["windows"])))
    print_table(rows, args)


def print_table(rows: list[tuple[int, str, dict[str, Any], int]], args: argparse.Namespace) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"python:  {platform.python_implementation()} {platform.python_version()}")
    print(
        f"chain:   local filesystem through a minimal S3 client (no network, no moto); windows of "
        f"{WINDOW_CHANGES:,} changes, {CHANGES_PER_FILE:,} per file; 80% puts, 20% deletes"
    )
    print(f"runs:    fastest of {args.repeat} interleaved runs per measurement; peak RSS the largest of them")
    print()
    header = (
        f"{'changes':>10} {'windows':>7} {'run':<9} {'seconds':>8} {'changes/s':>10} {'vs baseline':>12} "
        f"{'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    base = {n: r["seconds"] for n, mode, r, _ in rows if mode == "baseline"}
    for n, mode, r, windows in rows:
        ratio = r["seconds"] / base[n]
        speed = n / r["seconds"]
        print(
            f"{n:>10,} {windows:>7} {mode:<9} {r['seconds']:>8.1f} {speed:>10,.0f} {ratio:>11.2f}x "
            f"{r['peak_rss_mb']:>12.1f}"
        )
    print()
    rss = {(n, mode): r["peak_rss_mb"] for n, mode, r, _ in rows}
    for mode in ("apply", "replay"):
        growth = rss[(args.changes, mode)] / rss[(args.small, mode)] - 1
        print(f"{mode}: peak RSS at {args.changes:,} changes is {growth:+.1%} vs {args.small:,} (target: within 20%)")
    for mode in ("apply", "replay"):
        ratio = next(r["seconds"] for n, m, r, _ in rows if n == args.changes and m == mode) / base[args.changes]
        print(f"{mode}: {ratio:.2f}x the baseline's time at {args.changes:,} changes (target: within 1.5x)")


if __name__ == "__main__":
    main()

"""Benchmark: offline synth time and peak memory for 0 (baseline: the vault alone), 1, 10, 100
and 500 tables. Each size runs in a fresh subprocess so peak RSS is that run's own.

    .venv/bin/python bench/synth_scale.py [--sizes 0,1,10,100,500]

Prints a table. The per-table cost must stay flat (no superlinear growth) and 500 tables must
synth in under 60 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tables(n: int) -> list[dict[str, object]]:
    """n realistic tables: composite keys, a GSI, TTL and streams on every other one."""
    out: list[dict[str, object]] = []
    for i in range(n):
        t: dict[str, object] = {
            "name": f"table-{i:04d}",
            "hashKey": {"name": "pk", "type": "S"},
            "rangeKey": {"name": "sk", "type": "S"},
            "globalSecondaryIndexes": [{"name": "by-gsi1", "hashKey": {"name": "gsi1pk", "type": "S"}}],
            "tags": {"team": f"team-{i % 7}"},
        }
        if i % 2:
            t["ttlAttribute"] = "expiresAt"
            t["streamViewType"] = "NEW_AND_OLD_IMAGES"
        out.append(t)
    return out


def child(n: int) -> None:
    sys.path.insert(0, str(ROOT))
    from safetynet.synth import synth

    start = time.perf_counter()
    result = synth(ROOT, "prod", config_overrides={"tables": tables(n)})
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"n": n, "seconds": elapsed, "resources": len(result.resources), "peak_mib": peak_kib / 1024}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="0,1,10,100,500")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child)
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"python {platform.python_version()}"
    )
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(n)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        console.print(f"  synthesized {n} tables", style="dim")
    base = next((r for r in rows if r["n"] == 0), None)
    table = Table(title="safetynet synth prod: time and peak memory by table count")
    for col in (
        "tables",
        "resources",
        "synth s",
        "peak RSS MiB",
        "ms per table (over baseline)",
        "MiB per table (over baseline)",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        per_ms = per_mib = "baseline" if r["n"] == 0 else "-"
        if base and r["n"]:
            per_ms = f"{(r['seconds'] - base['seconds']) * 1000 / r['n']:.1f}"
            per_mib = f"{(r['peak_mib'] - base['peak_mib']) / r['n']:.2f}"
        table.add_row(str(r["n"]), str(r["resources"]), f"{r['seconds']:.2f}", f"{r['peak_mib']:.0f}", per_ms, per_mib)
    console.print(table)
    biggest = max(rows, key=lambda r: r["n"])
    verdict = "PASS" if biggest["seconds"] < 60 else "FAIL"
    console.print(f"{biggest['n']} tables in {biggest['seconds']:.1f} s (target < 60 s): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: offline synth of a stack by table count, and how close it comes to AWS's limits.

    .venv/bin/python bench/synth_scale.py [--sizes 0,1,100,500,1000] [--stack prod|test|dr]

Each size runs in a fresh subprocess (so peak RSS is that run's own) on the realistic stack of
tests/support/scale.py (the scale tests use the same: composite keys, a GSI, TTL and streams on
half the tables, two tags each; prod with a vault replica and two cross-account staging readers,
test with masking rules). Size 0 is the baseline (the vault alone).

Prints, per size: resources, AWS resources each added table brings (from the 1-table stack, which
already holds what a stack declares once), synth time and time per table over the baseline, peak
memory; then, for every quantity AWS limits, the largest value the stack declares at each size
beside the limit (measured by the `limit-*` rules' own code, policy_rules/limits.py).
Targets, printed with PASS/FAIL: 1,000 tables synthesize in under 60 s on a 2-core machine, at
most 8 AWS resources per table, a flat time per table from 100 to 1,000 tables (the largest size's
time per table at most 1.25x that at 100), and every limit respected at every size.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MAX_SECONDS_AT_1000 = 60.0
MAX_AWS_RESOURCES_PER_TABLE = 8.0
MAX_PER_TABLE_GROWTH = 1.25
"""Time per table at the largest size over that at 100 tables: above this, synth grows superlinearly."""


def child(stack: str, n: int) -> None:
    """Synthesize `stack` with n tables; print one JSON line of measurements."""
    sys.path.insert(0, str(ROOT))
    import policy_rules
    from policy_rules import limits
    from safetynet.synth import synth
    from tests.support.scale import CONFIGS, PROD_PROJECT_STACK

    references = None
    if stack == "test":
        # The test stack reads prod's outputs (its StackReference): prod with the same tables first.
        references = {PROD_PROJECT_STACK: synth(ROOT, "prod", config_overrides=CONFIGS["prod"](n)).outputs}
    start = time.perf_counter()
    result = synth(ROOT, stack, config_overrides=CONFIGS[stack](n), stack_references=references)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    resources = policy_rules.from_synth(result.resources)
    largest: dict[str, dict[str, Any]] = {}
    for rule in policy_rules.RULES:
        if rule.check not in limits.MEASURES:
            continue
        for size in limits.measured(rule.check, rule.kind, resources):
            name = size.limit.name
            if name not in largest or size.value > largest[name]["value"]:
                largest[name] = {
                    "value": size.value,
                    "limit": size.limit.value,
                    "unit": size.limit.unit,
                    "where": f"{size.subject}: {size.what}",
                    "rule": rule.id,
                }
    aws = sum(1 for r in result.resources if r.get("custom") and str(r["type"]).startswith("aws:"))
    print(
        json.dumps(
            {
                "n": n,
                "seconds": elapsed,
                "resources": len(result.resources),
                "aws_resources": aws,
                "peak_mib": peak_kib / 1024,
                "largest": largest,
            }
        )
    )


def run_size(stack: str, n: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--stack", stack, "--child", str(n)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode:
        raise SystemExit(f"synth of {stack} with {n} tables failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def added_per_table(one: dict[str, Any], r: dict[str, Any]) -> float:
    """AWS resources each table adds: from the 1-table stack (which already carries everything a
    stack declares once, DisasterWatch included) to this size."""
    return float(r["aws_resources"] - one["aws_resources"]) / (r["n"] - 1)


def size_table(stack: str, rows: list[dict[str, Any]]) -> Any:
    """Resources, AWS resources per added table, time per table and memory by table count."""
    from rich.table import Table

    base = next((r for r in rows if r["n"] == 0), None)
    one = next((r for r in rows if r["n"] == 1), None)
    table = Table(title=f"safetynet synth {stack}: resources, time and memory by table count")
    for col in (
        "tables",
        "resources",
        "AWS resources",
        "AWS resources per added table",
        "synth s",
        "ms per table",
        "peak RSS MiB",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        per_table = per_ms = "baseline" if r["n"] == 0 else "-"
        if one and r["n"] > 1:
            per_table = f"{added_per_table(one, r):.2f}"
        if base and r["n"]:
            per_ms = f"{(r['seconds'] - base['seconds']) * 1000 / r['n']:.1f}"
        table.add_row(
            f"{r['n']:,}",
            f"{r['resources']:,}",
            f"{r['aws_resources']:,}",
            per_table,
            f"{r['seconds']:.2f}",
            per_ms,
            f"{r['peak_mib']:.0f}",
        )
    return table


def limit_table(rows: list[dict[str, Any]]) -> tuple[Any, list[str]]:
    """The largest value of each limited quantity by table count, and what is over its limit."""
    from rich.table import Table

    table = Table(title="the largest value of each limited quantity, by table count (over the limit: red)")
    table.add_column("quantity")
    table.add_column("limit", justify="right")
    for r in rows:
        table.add_column(f"{r['n']:,}", justify="right")
    over: list[str] = []
    for name in sorted({name for r in rows for name in r["largest"]}, key=str.lower):
        measured = [r["largest"].get(name) for r in rows]
        known = next(m for m in measured if m)
        cells = []
        for r, m in zip(rows, measured, strict=True):
            if m is None:
                cells.append("-")
            elif m["value"] > m["limit"]:
                cells.append(f"[bold red]{m['value']:,}[/]")
                over.append(f"{name} at {r['n']:,} tables: {m['value']:,} > {m['limit']:,} ({m['where']}; {m['rule']})")
            else:
                cells.append(f"{m['value']:,}")
        table.add_row(f"{name} ({known['unit']})", f"{known['limit']:,}", *cells)
    return table, over


def verdicts(rows: list[dict[str, Any]], over: list[str]) -> list[tuple[bool, str]]:
    """Each target, met or not, in words."""
    base = next((r for r in rows if r["n"] == 0), None)
    biggest = max(rows, key=lambda r: r["n"])
    found = []
    if biggest["n"] >= 1000:
        found.append(
            (
                biggest["seconds"] < MAX_SECONDS_AT_1000,
                f"{biggest['n']:,} tables in {biggest['seconds']:.1f} s (target < {MAX_SECONDS_AT_1000:.0f} s)",
            )
        )
    one = next((r for r in rows if r["n"] == 1), None)
    if one and biggest["n"] > 1:
        per_table = added_per_table(one, biggest)
        found.append(
            (
                per_table <= MAX_AWS_RESOURCES_PER_TABLE,
                f"{per_table:.2f} AWS resources per added table, 1 to {biggest['n']:,} tables "
                f"(target <= {MAX_AWS_RESOURCES_PER_TABLE:.0f})",
            )
        )
    at_100 = next((r for r in rows if r["n"] == 100), None)
    if at_100 and base and biggest["n"] > 100:
        ms_100 = (at_100["seconds"] - base["seconds"]) * 1000 / 100
        ms_big = (biggest["seconds"] - base["seconds"]) * 1000 / biggest["n"]
        found.append(
            (
                ms_big <= MAX_PER_TABLE_GROWTH * ms_100,
                f"time per table {ms_big:.1f} ms at {biggest['n']:,} tables vs {ms_100:.1f} ms at 100 "
                f"(target: flat, at most {MAX_PER_TABLE_GROWTH}x)",
            )
        )
    found.append((not over, f"{len(over)} limit(s) exceeded (target: none)"))
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="0,1,100,500,1000")
    ap.add_argument("--stack", default="prod", choices=("prod", "test", "dr"))
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.stack, args.child)
        return 0

    from rich.console import Console

    console = Console(width=200)
    console.print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"python {platform.python_version()}; stack: {args.stack} (tests/support/scale.py)"
    )
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        rows.append(run_size(args.stack, n))
        console.print(f"  synthesized {n} tables in {rows[-1]['seconds']:.1f} s", style="dim")
    console.print(size_table(args.stack, rows))
    table, over = limit_table(rows)
    console.print(table)
    results = verdicts(rows, over)
    for ok, text in results:
        console.print(f"{'[green]PASS[/]' if ok else '[bold red]FAIL[/]'} {text}")
    for line in over:
        console.print(f"  over: {line}", style="red")
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())

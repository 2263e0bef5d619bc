"""`safetynet demo`: the whole safety net, end to end, on an embedded AWS emulator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel

from safetynet.commands.common import fail, load_config
from safetynet.paths import default_project_dir

NEEDS = "no AWS access (the demo runs on its own embedded emulator)"


def demo(
    items: Annotated[
        int, typer.Option("--items", min=3, help="Items to load into prod (split across tables).")
    ] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated data.")] = 7,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Leave the emulator running afterwards and print how to reach it."),
    ] = False,
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", help="Folder with Pulumi.yaml (default: this project)."),
    ] = None,
    json_summary: Annotated[
        Path | None,
        typer.Option("--json-summary", help="Also write the summary figures as JSON to this file."),
    ] = None,
    inject_fault: Annotated[
        str | None,
        typer.Option("--inject-fault", hidden=True, help="corrupt-data-file: damage an export before staging."),
    ] = None,
) -> None:
    """Run backup, staging with masking, accident detection and restore on a local emulator."""
    from safetynet.local.demo import FAULTS, Demo
    from safetynet.local.demo_report import summary_table
    from safetynet.local.emulator import running_emulator

    if inject_fault is not None and inject_fault not in FAULTS:
        raise fail("demo", f"--inject-fault: choose one of {', '.join(FAULTS)}")
    project = project_dir or default_project_dir()
    for stack in ("prod", "test"):  # config errors exit 2 now, not after the emulator started
        load_config("demo", project, stack)
    console = Console()
    started = time.perf_counter()
    with running_emulator() as emu:
        console.print(
            Panel(
                f"AWS emulator (moto) on {emu.endpoint_url}, region {emu.region}: nothing else is reached.\n"
                f"{items:,} items, seed {seed}.",
                title="safetynet demo",
            )
        )
        run = Demo(
            project,
            items=items,
            seed=seed,
            console=console,
            region=emu.region,
            fault=inject_fault,
            keep_workdir=keep,
        )
        report = run.run()
        console.rule("[bold]Summary")
        console.print(summary_table(report))
        total = time.perf_counter() - started
        if report.failure:
            console.print(f"[red bold]FAILED:[/] {report.failure}")
        console.print(
            f"total {total:.1f} s - "
            + (
                "[green bold]all steps passed, 0 mismatches"
                if report.ok
                else "[red bold]the demo found a problem (see above)"
            )
        )
        if json_summary:
            json_summary.write_text(json.dumps({**report.to_json(), "seconds": round(total, 3)}, indent=2))
        if keep:
            exports = "\n".join(f"export {k}={v}" for k, v in emu.env().items())
            console.print(
                Panel(
                    f"{exports}\n\naws dynamodb list-tables\nsafetynet status prod --vault-bucket "
                    f"<vault bucket above>\n\nThe Lambda code's structured log: {run.log_path}\n"
                    "Ctrl-C stops the emulator.",
                    title="the emulator keeps running",
                )
            )
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                console.print("stopping the emulator")
    from safetynet import cli

    cli.FAST_EXIT = True
    raise typer.Exit(0 if report.ok else 1)

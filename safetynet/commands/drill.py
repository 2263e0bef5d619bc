"""`safetynet drill <stack> [--table T]`: prove now that the latest export of each table restores.

The same drill the weekly state machine runs (handlers/watch/drill.py), in one process: validate the
newest export, load it into a scratch table `safetynet-drill-<table>-<export>-<time>`, compare the count
with the manifest and a sample of items with the live table, delete the scratch table, record
the result in the vault (so `status` and the alarms see it). Loading uses ImportTable; where the
endpoint does not implement it (DynamoDB Local) `--load auto` falls back to BatchWriteItem from
the export reader and says so. Exit 0 when every drill passed, 1 when any failed, 2 for usage or
config errors.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from safetynet.commands.common import (
    ProjectDirOption,
    StackArgument,
    StackOption,
    VaultBucketOption,
    fail,
    resolve_stack,
    watch_session,
)


class Load(StrEnum):
    """How the scratch table is filled."""

    auto = "auto"
    import_table = "import"
    batch_write = "batch-write"


def drill(
    stack_arg: StackArgument = None,
    stack_opt: StackOption = None,
    table: Annotated[
        list[str] | None, typer.Option("--table", "-t", help="Drill only this table (repeatable).")
    ] = None,
    vault_bucket: VaultBucketOption = None,
    load: Annotated[
        Load,
        typer.Option("--load", help="import (ImportTable), batch-write, or auto (import, else batch-write)."),
    ] = Load.auto,
    poll_seconds: Annotated[float, typer.Option("--poll-seconds", min=0.01, help="DescribeImport interval.")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Restore the latest export of each table into a scratch table and verify it."""
    from conventions.watch import WatchConfigError
    from handlers.watch.drill import run_drill

    stack = resolve_stack("drill", stack_arg, stack_opt)
    session = watch_session("drill", stack, project_dir, vault_bucket)
    clients, ctx = session.clients, session.ctx
    try:
        wanted = [ctx.table(t) for t in table] if table else list(ctx.tables)
    except WatchConfigError as exc:
        raise fail("drill", str(exc)) from None
    if not wanted:
        raise fail("drill", f"stack {stack} has no tables (safetynet:tables is empty)")
    use_import: Any = {"auto": "auto", "import": True, "batch-write": False}[load.value]
    out = Console(stderr=as_json)
    results = []
    with Progress(
        TextColumn("[bold]{task.fields[table]}[/]"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=out,
        transient=False,
    ) as progress:
        for t in wanted:
            task = progress.add_task("starting", total=5, table=t.name)

            def step(message: str, done: int, total: int, task: Any = task) -> None:
                progress.update(task, description=escape(message), completed=done, total=total)

            result, method = run_drill(
                ctx,
                t.name,
                ddb=clients.get("dynamodb"),
                s3=clients.get("s3"),
                cw=clients.get("cloudwatch"),
                progress=step,
                use_import=use_import,
                poll_seconds=poll_seconds,
            )
            results.append((result, method))
    ok = all(r.ok for r, _ in results)
    if as_json:
        json.dump(
            {"stack": stack, "ok": ok, "drills": [{**r.to_json(), "loadedWith": m} for r, m in results]},
            sys.stdout,
            indent=2,
            default=str,
        )
        sys.stdout.write("\n")
    else:
        for r, method in results:
            _print_result(out, r, method, use_import)
    raise typer.Exit(0 if ok else 1)


def _print_result(out: Console, r: Any, method: str, use_import: Any) -> None:
    if method == "BatchWriteItem" and use_import == "auto":
        out.print(
            f"[yellow]note:[/] {escape(r.table)}: this endpoint does not implement ImportTable; the scratch "
            "table was loaded with BatchWriteItem from the export reader"
        )
    if r.ok:
        s = r.sample
        out.print(
            f"[green]PASS[/] {escape(r.table)}: export {escape(str(r.export_id))} restored "
            f"{r.imported_item_count} of {r.expected_item_count} items ({method}); sample {s.sampled} items: "
            f"{s.equal} identical, {s.changed} changed since the export"
        )
    else:
        out.print(f"[red]FAIL[/] {escape(r.table)}: export {escape(str(r.export_id or '-'))}")
        for p in r.problems:
            out.print(f"  [red]-[/] {escape(p)}", highlight=False)

"""`safetynet drill -s <stack> [--table T]`: prove now that the latest export of each table restores.

The same drill the weekly state machine runs (handlers/watch/drill.py), in one process: validate the
newest export, load it into a scratch table `safetynet-drill-<table>-<export>-<time>`, compare the count
with the manifest and a sample of items with the live table, delete the scratch table, record
the result in the vault (so `status` and the alarms see it). Loading uses ImportTable; where the
endpoint does not implement it (DynamoDB Local) `--load auto` falls back to BatchWriteItem from
the export reader and says so. Exit 0 when every drill passed, 1 when any failed (or AWS cannot
be reached), 2 for usage or config errors, 130 interrupted (a scratch table may then remain: the
message names it). It asks nothing: it changes nothing that exists (its scratch tables are its
own); `-y` is accepted like on every command that writes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from safetynet.commands.common import (
    JsonOption,
    ProjectDirOption,
    StackArgument,
    StackOption,
    VaultBucketOption,
    YesOption,
    check_vault,
    command_line,
    emit_json,
    fail,
    resolve_stack,
    watch_session,
)

NEEDS = (
    "dynamodb:DescribeTable, ImportTable, DescribeImport, CreateTable, BatchWriteItem, Scan, GetItem and "
    "DeleteTable (scratch tables safetynet-drill-*), s3:ListBucket, GetObject and PutObject on the vault "
    "(the drill record), kms:Decrypt and kms:GenerateDataKey on its key, cloudwatch:PutMetricData"
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
    yes: YesOption = False,
    as_json: JsonOption = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Restore the latest export of each table into a scratch table and verify it."""
    from conventions.watch import WatchConfigError
    from handlers.watch.drill import run_drill

    stack = resolve_stack("drill", stack_arg, stack_opt)
    session = watch_session("drill", stack, project_dir, vault_bucket)
    clients, ctx = session.clients, session.ctx
    check_vault("drill", clients, session.bucket, needs=NEEDS)
    try:
        wanted = [ctx.table(t) for t in table] if table else list(ctx.tables)
    except WatchConfigError as exc:
        raise fail("drill", str(exc)) from None
    if not wanted:
        raise fail("drill", f"stack {stack} has no tables (safetynet:tables is empty)")
    use_import: Any = {"auto": "auto", "import": True, "batch-write": False}[load.value]
    results = []
    try:
        # Progress is a diagnostic: stderr; the verdicts (or the JSON) go to stdout.
        with Progress(
            TextColumn("[bold]{task.fields[table]}[/]"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
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
    except KeyboardInterrupt:
        rerun = command_line(
            "drill",
            "-s",
            stack,
            *[arg for name in table or () for arg in ("--table", name)],
            *(("--vault-bucket", vault_bucket) if vault_bucket else ()),
            *(("--project-dir", str(project_dir)) if project_dir else ()),
        )
        raise _interrupted(rerun, [r.table for r, _ in results], clients.get("dynamodb")) from None
    ok = all(r.ok for r, _ in results)
    if as_json:
        emit_json({"stack": stack, "ok": ok, "drills": [{**r.to_json(), "loaded_with": m} for r, m in results]})
    else:
        out = Console()
        for r, method in results:
            _print_result(out, r, method, use_import)
    raise typer.Exit(0 if ok else 1)


def _interrupted(rerun: str, done: list[str], ddb: Any) -> typer.Exit:
    """Say what an interrupted drill leaves behind: the scratch tables that still exist (a drill
    deletes its scratch table on the way out, but not one ImportTable is still creating)."""
    from conventions.watch import SCRATCH_PREFIX
    from handlers.watch.aws import AWS_ERRORS
    from safetynet.commands.common import interrupted

    try:
        left = [n for page in ddb.get_paginator("list_tables").paginate() for n in page.get("TableNames", [])]
        scratch = [n for n in left if n.startswith(SCRATCH_PREFIX)]
        remains = (
            f"scratch tables still there: {', '.join(scratch)} (delete each once its import has ended: aws "
            "dynamodb delete-table --table-name NAME; coverage excludes them meanwhile)"
            if scratch
            else "no scratch table remains"
        )
    except AWS_ERRORS:
        remains = f"scratch tables ({SCRATCH_PREFIX}*) may remain: list them with aws dynamodb list-tables"
    finished = f"drills finished: {', '.join(done)}" if done else "no drill finished"
    return interrupted(f"{finished}; no table of the stack was changed; {remains}. Run the drill again: {rerun}")


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

"""`safetynet coverage -s STACK`: is every table of the account protected, or knowingly excluded?

Every table of the account in the stack's region (`aws:region` of `Pulumi.<stack>.yaml`) in
exactly one category (safetynet/coverage/report.py): protected by the stack, degraded (the
stack's, but a check fails: which), excluded on purpose (`safetynet:coverage.exclude`, with its
reason), or unprotected. Exit 0 when nothing is degraded or unprotected, 1 when something is (or
AWS cannot be read), 2 for usage and config errors. Read-only: ListTables, DescribeTable,
ListTagsOfResource, DescribeTimeToLive, DescribeContinuousBackups, ListExports (DescribeExport of a
failed one), and List/Get on the vault, so the drift workflow's read-only role suffices.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from safetynet.commands.common import (
    Clients,
    JsonOption,
    ProjectDirOption,
    StackArgument,
    StackOption,
    VaultBucketOption,
    aws_error_code,
    aws_error_text,
    emit_json,
    fail,
    load_config,
    resolve_stack,
)

COMMAND = "coverage"
STYLES = {"protected": "green", "excluded": "cyan", "degraded": "yellow", "unprotected": "red"}
READ_ACTIONS = (
    "dynamodb:ListTables, DescribeTable, ListTagsOfResource, DescribeTimeToLive, "
    "DescribeContinuousBackups, ListExports and DescribeExport; s3:ListBucket and s3:GetObject on the "
    "vault, and kms:Decrypt on its key"
)
NEEDS = READ_ACTIONS


def coverage(
    stack_arg: StackArgument = None,
    stack_opt: StackOption = None,
    vault_bucket: VaultBucketOption = None,
    as_json: JsonOption = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Every table of the account and region: protected, degraded, excluded or unprotected."""
    from safetynet.commands.common import vault_bucket_or_fail
    from safetynet.paths import default_project_dir

    stack = resolve_stack(COMMAND, stack_arg, stack_opt)
    project = project_dir or default_project_dir()
    cfg, region = load_config(COMMAND, project, stack)
    if cfg.staging is not None:
        raise fail(
            COMMAND,
            f"stack {stack} is a test stack (safetynet:staging): its tables are staging targets with no "
            "exports of their own; run coverage for the stack that backs tables up (e.g. -s prod)",
        )
    bucket = vault_bucket_or_fail(COMMAND, cfg, vault_bucket)
    clients = Clients(region)
    now = datetime.now(UTC)
    report = _read_and_judge(stack, cfg, bucket, clients, now=now, progress=not as_json)
    if as_json:
        # `counts` is keyed by category; the rest are field names (already camelCase).
        emit_json({**report.to_json(), "checkedAt": now.isoformat(), "vaultBucket": bucket})
    else:
        _print(report)
    raise typer.Exit(0 if report.ok else 1)


def _read_and_judge(stack: str, cfg: Any, bucket: str, clients: Clients, *, now: datetime, progress: bool) -> Any:
    """Read the account (AWS errors exit 1 with one paragraph) and categorize every table."""
    from handlers.watch.aws import AWS_ERRORS
    from safetynet.coverage.inventory import TableReadError

    ddb = clients.get("dynamodb")
    region = clients.region or ddb.meta.region_name
    try:
        return _judge(stack, cfg, bucket, clients, region=region, now=now, progress=progress)
    except TableReadError as exc:
        raise fail(COMMAND, _aws_error(exc.cause, region, detail=str(exc)), code=1) from None
    except AWS_ERRORS as exc:
        raise fail(COMMAND, _aws_error(exc, region), code=1) from None


def _judge(stack: str, cfg: Any, bucket: str, clients: Clients, *, region: str, now: datetime, progress: bool) -> Any:
    from handlers.watch import freshness
    from safetynet.commands.common import watch_context
    from safetynet.coverage.inventory import list_table_names
    from safetynet.coverage.report import StackTable, categorize

    ddb, s3 = clients.get("dynamodb"), clients.get("s3")
    live = _read_live_tables(ddb, list_table_names(ddb), progress=progress)
    # One listing first: a vault that cannot be read is a setup problem, not three degraded tables.
    s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
    ctx = watch_context(stack, cfg, vault_bucket=bucket, ddb=ddb, sts=clients.get("sts"), region=region)
    limit = ctx.schedule_hours + ctx.freshness_grace_hours
    reports, problems = {}, {}
    for table in ctx.tables:
        points, failed, record, read_problems = freshness.gather(ctx, table, ddb=ddb, s3=s3, now=now)
        reports[table.physical_name] = freshness.assess(table, points, failed, record, now=now, limit_hours=limit)
        problems[table.physical_name] = read_problems
    return categorize(
        stack=stack,
        region=region,
        live_tables=live,
        stack_tables=[StackTable(t.name, t.physical_name) for t in ctx.tables],
        freshness=reports,
        coverage=cfg.coverage,
        require_deletion_protection=cfg.is_prod,
        read_problems=problems,
    )


def _read_live_tables(ddb: Any, names: list[str], *, progress: bool) -> list[Any]:
    """Every listed table; one deleted between ListTables and DescribeTable is no longer in the
    account and is left out."""
    from safetynet.coverage.inventory import TableReadError, read_tables

    remaining = list(names)
    for _ in range(len(names) + 1):
        try:
            return _with_progress(ddb, remaining) if progress else read_tables(ddb, remaining)
        except TableReadError as exc:
            if aws_error_code(exc.cause) != "ResourceNotFoundException":
                raise
            remaining.remove(exc.table)
    return []


def _with_progress(ddb: Any, names: list[str]) -> list[Any]:
    """read_tables with a progress bar on stderr when it is a terminal."""
    from rich.progress import Progress

    from safetynet.coverage.inventory import read_tables

    err = Console(stderr=True)
    if not err.is_terminal or len(names) < 2:
        return read_tables(ddb, names)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("reading tables", total=len(names))
        return read_tables(ddb, names, on_done=lambda _name: bar.advance(task))


def _print(report: Any) -> None:
    """The report as a table that fits 80 columns, and a summary line."""
    out = Console()
    table = Table(title=f"coverage of stack {escape(report.stack)} in {escape(report.region)}", title_justify="left")
    table.add_column("table", overflow="fold", ratio=2)
    table.add_column("category", no_wrap=True)
    table.add_column("why", overflow="fold", ratio=3)
    for t in report.tables:
        why = escape("; ".join(t.reasons))
        if t.excluded_by:
            why += f" [dim]({escape(t.excluded_by)})[/]"
        table.add_row(escape(t.name), f"[{STYLES[t.category]}]{t.category}[/]", why)
    out.print(table)
    counts = report.counts
    parts = ", ".join(f"[{STYLES[c]}]{counts[c]} {c}[/]" for c in ("protected", "excluded", "degraded", "unprotected"))
    out.print(f"{counts['total']} table(s): {parts}")
    if not report.ok:
        out.print(
            "[red]not covered:[/] repair what is degraded; protect what is unprotected (safetynet:tables) "
            "or exclude it with a reason (safetynet:coverage.exclude)"
        )


def _aws_error(exc: BaseException, region: str | None, *, detail: str | None = None) -> str:
    return aws_error_text(
        exc, region, command="coverage", needs=READ_ACTIONS, unchanged="nothing was judged", detail=detail
    )

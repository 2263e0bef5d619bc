"""`safetynet replay -s <stack> --table NAME (--to T | --latest)`: bring a table restored from a
full export forward to a later time by applying the vault's chain of incremental exports.

The third step of every runbook: `restore-plan --at T` -> `pulumi up` (the table comes back from
the full export, the anchor) -> `replay --to T` (the windows after the anchor, in order). The
anchor is the export given with `--anchor` (restore-plan prints it), else the one the journal or
the table's import names, else the newest valid full export at or before T. Every window is
validated before the first write; the target table is checked first (`--force` lifts only the
provenance checks); the replay resumes where it stopped (journal: the table's `safetynet:replay`
tag). Exit codes: 0 replayed (or nothing to do), 1 refused or failed (nothing or only whole
windows written), 2 usage or config error, 130 interrupted (the message says how to resume).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from safetynet.commands.common import (
    Clients,
    ExitCode,
    JsonOption,
    ProjectDirOption,
    StackArgument,
    StackOption,
    VaultBucketOption,
    YesOption,
    command_line,
    confirm,
    emit_json,
    fail,
    load_config,
    resolve_stack,
    vault_bucket_or_fail,
)

COMMAND = "replay"
NEEDS = (
    "s3:ListBucket and s3:GetObject on the vault's exports/<table>/ prefix and kms:Decrypt on its key; "
    "dynamodb:DescribeTable, BatchWriteItem, ListTagsOfResource and TagResource on the target table; "
    "dynamodb:ListImports and DescribeImport (optional: the import check); sts:GetCallerIdentity"
)


def _parse_to(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise fail(COMMAND, f"--to {text!r} is not an ISO-8601 time; write e.g. 2026-11-27T08:15:00Z") from None
    if at.tzinfo is None:
        raise fail(COMMAND, f"--to {text!r} needs a time zone; write e.g. {text}Z")
    return at.astimezone(UTC)


@dataclass
class Prepared:
    """Everything decided before the first write."""

    plan: Any
    exports: Any
    facts: Any
    verdict: Any
    target: str
    vault_recovery_point: datetime | None
    notes: list[str] = field(default_factory=list)


def _expected_arn(cfg: Any, clients: Clients, physical: str) -> str:
    account = clients.get("sts").get_caller_identity()["Account"]
    dr = cfg.disaster_recovery
    if dr is not None:
        return str(dr.source_table_arn(physical, account))
    return f"arn:aws:dynamodb:{clients.get('dynamodb').meta.region_name}:{account}:table/{physical}"


def _resolve_anchor(given: Any, facts: Any, exports: Any, notes: list[str]) -> Any:
    """--anchor, else the export the journal names, else the one the table was imported from."""
    from handlers.exports.layout import FULL_EXPORT
    from safetynet.recovery.replay_target import creating_import

    if given is not None:
        return given
    fulls = {ref.export_id: ref for ref, s in exports if s.export_type == FULL_EXPORT}
    if facts.journal is not None and facts.journal.anchor_id in fulls:
        notes.append(f"anchor: {facts.journal.anchor_id}, named by the table's replay journal")
        return fulls[facts.journal.anchor_id]
    imp = creating_import(facts)
    if imp is not None:
        for export_id, ref in fulls.items():
            if f"AWSDynamoDB/{export_id}/" in imp.key_prefix:
                notes.append(f"anchor: {export_id}, the export the table was imported from")
                return ref
    return None


def _prepare(
    *,
    s3: Any,
    ddb: Any,
    bucket: str,
    prefix: str,
    target: str,
    expected_arn: str,
    key_schema: list[dict[str, str]],
    to: datetime | None,
    anchor: Any,
    force: bool,
    concurrency: int,
    err: Console,
) -> Prepared:
    from handlers.exports.chain import build_chain
    from safetynet.recovery.replay import (
        ReplayError,
        choose_anchor,
        list_vault,
        plan_replay,
        validate_windows,
    )
    from safetynet.recovery.replay_target import check_target, inspect_target

    facts = inspect_target(ddb, target)
    exports = list_vault(s3, bucket, prefix)
    notes = list(facts.notes)
    given = _resolve_anchor(anchor, facts, exports, notes)
    if given is None:
        err.print("no --anchor given: choosing the newest full export that validates (restore-plan's choice)")
    anchor_ref, anchor_summary, skipped = choose_anchor(
        s3, exports, to=to, expected_table_arn=expected_arn, anchor=given
    )
    plan = plan_replay(exports, anchor_ref, anchor_summary, to=to)
    plan.skipped_anchors = skipped
    verdict = check_target(facts, anchor=anchor_ref, anchor_summary=anchor_summary, key_schema=key_schema, to=plan.to)
    refusals = verdict.refusals(force=force)
    if refusals:
        lift = " (--force lifts the provenance checks)" if not verdict.hard and not force else ""
        raise ReplayError(f"refusing to write into {target}{lift}: " + "; ".join(refusals))
    if force and verdict.soft:
        notes += [f"forced past: {s}" for s in verdict.soft]
    notes += verdict.notes[len(facts.notes) :]
    if plan.pending(verdict.done):
        err.print(f"validating {len(plan.pending(verdict.done))} window(s) before writing anything ...")
    plan = validate_windows(s3, exports, plan, after=verdict.done, workers=concurrency)
    full = build_chain(exports, anchor=anchor_ref)
    return Prepared(plan, exports, facts, verdict, target, full.recovery_point, notes)


def _print_plan(out: Console, p: Prepared, table: str, stack: str) -> None:
    from handlers.exports.layout import format_time

    plan, done = p.plan, p.verdict.done
    pending = plan.pending(done)
    a = plan.anchor_summary
    out.print(f"[bold]replay[/] {escape(table)} -> table [bold]{escape(p.target)}[/] (stack {escape(stack)})")
    out.print(
        f"  anchor          {escape(plan.anchor.url)}  exported {format_time(a.export_time)}, {a.item_count} items"
    )
    if plan.windows:
        first, last = plan.windows[0], plan.windows[-1]
        counts = f"{len(plan.windows)} ({len(plan.windows) - len(pending)} done, {len(pending)} to apply)"
        out.print(
            f"  windows         {counts}: first {format_time(first.start)} .. {format_time(first.end)}, "
            f"last {format_time(last.start)} .. {format_time(last.end)}"
        )
    else:
        out.print("  windows         none: the requested time is the anchor's")
    out.print(f"  to              {format_time(plan.to)}")
    if p.vault_recovery_point is not None:
        out.print(f"  recovery point  {format_time(p.vault_recovery_point)} (the end of the vault's chain)")
    out.print(f"  changes         {sum(w.changes for w in pending):,} to apply (puts and deletes)")
    if plan.gap is not None:
        out.print(f"  [yellow]chain stops[/]     {escape(str(plan.gap))}")
    for url, reason in plan.skipped_anchors:
        out.print(f"  [yellow]skipped anchor[/]  {escape(url)}: {escape(reason)}")
    for url, problems in plan.replaced.items():
        out.print(f"  [yellow]replaced[/]        damaged {escape(url)} by a valid duplicate: {escape(problems[0])}")
    for note in p.notes:
        out.print(f"  [yellow]note:[/] {escape(note)}")


def replay(
    stack_arg: StackArgument = None,
    stack_opt: StackOption = None,
    table: Annotated[str | None, typer.Option("--table", "-t", help="Logical table name (safetynet:tables).")] = None,
    target_table: Annotated[
        str | None,
        typer.Option("--target-table", help="Physical table to write into (default: the table's own name)."),
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="ISO-8601 time to bring the table to: a window end (e.g. 08:15:00Z).")
    ] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Replay as far as the vault's chain goes.")] = False,
    anchor: Annotated[
        str | None,
        typer.Option("--anchor", help="s3://.../AWSDynamoDB/<ExportId>/: the full export the table was restored from."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Writer threads within a window.")
    ] = 8,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and validate; write nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Write although the table does not look restored from the anchor.")
    ] = False,
    vault_bucket: VaultBucketOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Apply the vault's incremental exports after the anchor to a restored table, up to --to."""
    from botocore.exceptions import BotoCoreError, ClientError

    from conventions.vault import export_prefix
    from handlers.exports.layout import ExportError, ExportRef, format_time
    from safetynet.paths import default_project_dir
    from safetynet.recovery.replay import ReplayError

    stack = resolve_stack(COMMAND, stack_arg, stack_opt)
    if table is None:
        raise fail(COMMAND, "which table? pass --table NAME (a logical name from safetynet:tables)")
    if (to is None) == (not latest):
        raise fail(COMMAND, "pass exactly one of --to T (a window end) and --latest")
    to_time = _parse_to(to) if to is not None else None
    try:
        anchor_ref = ExportRef.parse(anchor) if anchor else None
    except ValueError as exc:
        raise fail(COMMAND, f"--anchor: {exc}") from None
    cfg, region = load_config(COMMAND, project_dir or default_project_dir(), stack)
    specs = {t.name: t for t in cfg.tables}
    if table not in specs:
        raise fail(COMMAND, f"unknown table {table}; configured: {', '.join(specs) or 'none'}")
    physical = cfg.physical_name(specs[table])
    target = target_table or physical
    bucket = vault_bucket_or_fail(COMMAND, cfg, vault_bucket)
    clients = Clients(region)
    err = Console(stderr=True, soft_wrap=True)
    out = err if as_json else Console(soft_wrap=True)
    try:
        prepared = _prepare(
            s3=clients.get("s3"),
            ddb=clients.get("dynamodb"),
            bucket=bucket,
            prefix=export_prefix(physical),
            target=target,
            expected_arn=_expected_arn(cfg, clients, physical),
            key_schema=specs[table].key_schema(),
            to=to_time,
            anchor=anchor_ref,
            force=force,
            concurrency=concurrency,
            err=err,
        )
    except (ReplayError, ExportError) as exc:
        raise fail(COMMAND, f"{exc}; nothing was written", ExitCode.FAILED) from None
    except (ClientError, BotoCoreError) as exc:
        raise _aws_failure(exc, region, "nothing was written") from None
    _print_plan(out, prepared, table, stack)
    plan, done = prepared.plan, prepared.verdict.done
    doc: dict[str, Any] = {
        "stack": stack,
        "table": table,
        "targetTable": target,
        "dryRun": dry_run,
        "plan": plan.to_json(done),
        "vaultRecoveryPoint": format_time(prepared.vault_recovery_point) if prepared.vault_recovery_point else None,
        "notes": prepared.notes,
    }
    if not plan.pending(done):
        out.print(f"[green]nothing to do[/]: {escape(target)} is at {format_time(plan.to)} already")
        _finish(as_json, {**doc, "applied": []})
        return
    if dry_run:
        out.print("dry run: every window to apply is valid; nothing was written")
        _finish(as_json, {**doc, "applied": []})
        return
    confirm(COMMAND, f"Write {plan.changes:,} changes into {target}?", yes=yes, unchanged="nothing was written")
    resume = command_line(
        COMMAND,
        "-s",
        stack,
        "--table",
        table,
        "--target-table",
        target,
        "--to",
        format_time(plan.to),
        "--anchor",
        plan.anchor.url,
        "--concurrency",
        str(concurrency),
        *(("--vault-bucket", vault_bucket) if vault_bucket else ()),
        *(("--project-dir", str(project_dir)) if project_dir else ()),
        *(("--force",) if force else ()),
        "-y",
    )
    outcomes = _run(clients, prepared, concurrency=concurrency, region=region, resume=resume)
    _report(out, doc, outcomes, as_json=as_json)


def _report(out: Console, doc: dict[str, Any], outcomes: list[Any], *, as_json: bool) -> None:
    applied = [o for o in outcomes if o.result is not None]
    puts = sum(o.result.puts for o in applied)
    deletes = sum(o.result.deletes for o in applied)
    out.print(
        f"[green]replayed[/] {len(applied)} window(s) into {escape(doc['targetTable'])}: {puts:,} puts, "
        f"{deletes:,} deletes, every write confirmed; the table is at {doc['plan']['to']}"
    )
    doc["applied"] = [
        {"number": o.window.number, "export": o.window.ref.url, "puts": o.result.puts, "deletes": o.result.deletes}
        for o in applied
    ]
    _finish(as_json, doc)


def _finish(as_json: bool, doc: dict[str, Any]) -> None:
    if as_json:
        emit_json(doc)


def _aws_failure(exc: BaseException, region: str | None, unchanged: str) -> typer.Exit:
    from safetynet.commands.common import aws_error_text

    text = aws_error_text(exc, region, command=COMMAND, needs=NEEDS, unchanged=unchanged, writes=True)
    return fail(COMMAND, text, ExitCode.FAILED)


def _run(clients: Clients, p: Prepared, *, concurrency: int, region: str | None, resume: str) -> list[Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    from handlers.exports.batch_writer import DynamoDBSink
    from handlers.exports.layout import format_time
    from safetynet.recovery.replay import ReplayStopped, run_replay
    from safetynet.recovery.replay_target import TagJournal

    ddb = clients.get("dynamodb")
    plan = p.plan
    err = Console(stderr=True, soft_wrap=True)
    total = len(plan.windows)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        tasks: dict[int, Any] = {}

        def on_window(window: Any, outcome: Any) -> None:
            if outcome is None:
                tasks[window.number] = progress.add_task(escape(window.label(total)), total=window.changes)
            else:
                progress.update(tasks[window.number], completed=window.changes)

        def on_progress(n: int) -> None:
            if tasks:
                progress.advance(tasks[max(tasks)], n)

        try:
            return run_replay(
                plan,
                s3=clients.get("s3"),
                sink=DynamoDBSink(ddb, p.target),
                journal=TagJournal(ddb, p.facts.arn),
                done=p.verdict.done,
                concurrency=concurrency,
                on_window=on_window,
                on_progress=on_progress,
            )
        except ReplayStopped as stop:
            progress.stop()
            where = (
                f"windows up to {format_time(stop.done)} are applied and journaled on {p.target}"
                if stop.done > plan.anchor_summary.export_time
                else f"no window is complete yet ({p.target} is at its anchor)"
            )
            window = f"{stop.window.label(total)} ({stop.window.ref.url})"
            if stop.interrupted:
                err.print(
                    f"[yellow]interrupted[/] in {escape(window)}: {escape(where)}; that window is applied again "
                    f"on resume. Resume with: {escape(resume)}"
                )
                raise typer.Exit(ExitCode.INTERRUPTED) from None
            cause = stop.cause
            text = _aws_text(cause, region) if isinstance(cause, ClientError | BotoCoreError) else str(cause)
            err.print(
                f"[red]{COMMAND}:[/] {escape(window)} failed: {escape(text)}; {escape(where)}. "
                f"Resume with: {escape(resume)}"
            )
            raise typer.Exit(ExitCode.FAILED) from None


def _aws_text(exc: BaseException, region: str | None) -> str:
    from safetynet.commands.common import aws_error_text

    return aws_error_text(
        exc, region, command=COMMAND, needs=NEEDS, unchanged="the window was not completed", writes=True
    )

"""`safetynet status <stack>`: is every table protected and backed up, right now?

Per table: PITR on and its restore window, deletion protection, the newest export (age, items,
size), the last restore drill, and the stack's alarms in ALARM. Exit 0 when every table is
protected and fresh, 1 when any is unprotected or stale, 2 for usage/config errors. `--json`
prints the same facts for scripts.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from safetynet.commands.common import (
    Clients,
    ProjectDirOption,
    StackArgument,
    StackOption,
    VaultBucketOption,
    resolve_stack,
    watch_session,
)


@dataclass
class TableStatus:
    """Everything `status` says about one table."""

    table: str
    physical_name: str
    exists: bool
    pitr: dict[str, str] | None
    deletion_protection: bool | None
    freshness: dict[str, Any]
    drill: dict[str, Any] | None
    alarms: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Why the table counts as unprotected or stale (empty: all good)."""

    @property
    def ok(self) -> bool:
        return not self.problems


def table_status(
    ctx: Any, table: Any, *, ddb: Any, s3: Any, cw: Any, now: datetime, require_deletion_protection: bool
) -> TableStatus:
    """Gather and judge one table's protection and backups."""
    from conventions.watch import TABLE_ALARM_SUFFIXES, table_alarm_name
    from handlers.watch import freshness
    from handlers.watch.aws import AWS_ERRORS, alarms_in_alarm, deletion_protection, error_text, pitr_window

    problems: list[str] = []
    exists = True
    pitr = None
    protected = None
    try:
        protected = deletion_protection(ddb, table.physical_name)
        pitr = pitr_window(ddb, table.physical_name)
    except AWS_ERRORS as exc:
        text = error_text(exc)
        exists = "NotFound" not in text
        problems.append("table does not exist" if not exists else f"table unreadable: {text}")
    if pitr is not None and pitr.get("status") != "ENABLED":
        problems.append("point-in-time recovery is off")
    if protected is False and require_deletion_protection:
        problems.append("deletion protection is off")
    points, failed, record, read_problems = freshness.gather(ctx, table, ddb=ddb, s3=s3)
    report = freshness.assess(
        table, points, failed, record, now=now, limit_hours=ctx.schedule_hours + ctx.freshness_grace_hours
    )
    report.problems += read_problems
    if report.age_hours is None:
        problems.append("no complete export in the vault")
    elif report.stale:
        problems.append(f"newest export is {report.age_hours:.1f}h old (limit {report.limit_hours:g}h)")
    try:
        prefix = table_alarm_name(ctx.stack, table.physical_name, "")
        # The prefix of `orders` also matches `orders-archive`'s alarms: keep this table's own.
        alarms = [a for a in alarms_in_alarm(cw, prefix) if a["name"][len(prefix) :] in TABLE_ALARM_SUFFIXES]
    except AWS_ERRORS as exc:
        alarms = []
        report.problems.append(f"alarms unreadable: {error_text(exc)}")
    return TableStatus(
        table=table.name,
        physical_name=table.physical_name,
        exists=exists,
        pitr=pitr,
        deletion_protection=protected,
        freshness=report.to_json(),
        drill=record,
        alarms=alarms,
        problems=problems,
    )


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _yes(flag: bool | None, bad: str = "red") -> str:
    return "-" if flag is None else ("[green]on[/]" if flag else f"[{bad}]off[/]")


def _render(s: TableStatus) -> Table:
    verdict = "[green]OK[/]" if s.ok else "[red]NEEDS ATTENTION[/]"
    t = Table(
        title=f"{escape(s.table)} ({escape(s.physical_name)})  {verdict}",
        show_header=False,
        title_justify="left",
    )
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    pitr = s.pitr or {}
    window = f"{pitr.get('earliest', '?')} .. {pitr.get('latest', '?')}" if pitr.get("earliest") else ""
    t.add_row("PITR", f"{_yes(pitr.get('status') == 'ENABLED' if s.pitr else None)}  {escape(window)}")
    t.add_row("deletion protection", _yes(s.deletion_protection))
    f = s.freshness
    if f.get("last_export_id"):
        t.add_row(
            "last export",
            f"{f['age_hours']:.1f}h ago, {f['item_count']} items, {_size(f.get('size_bytes'))} "
            f"[dim]({escape(str(f['last_export_id']))})[/]",
        )
    else:
        t.add_row("last export", "[red]none[/]")
    if f.get("drop_ratio"):
        t.add_row("item drop", f"{f['drop_ratio']:.0%} fewer than the export before")
    if f.get("failed_exports"):
        t.add_row("failed exports", escape("; ".join(f["failed_exports"])))
    d = s.drill
    if d:
        result = "[green]passed[/]" if d.get("ok") else "[red]failed[/]"
        last_ok = f", last success {d['lastSuccessAt']}" if d.get("lastSuccessAt") and not d.get("ok") else ""
        t.add_row("last drill", f"{result} at {escape(str(d.get('ranAt')))}{escape(last_ok)}")
    else:
        t.add_row("last drill", "[yellow]never[/]")
    t.add_row("alarms", ", ".join(escape(a["name"]) for a in s.alarms) or "[green]none in ALARM[/]")
    for p in s.problems:
        t.add_row("[red]problem[/]", escape(p))
    for p in f.get("problems", []):
        t.add_row("[yellow]note[/]", escape(p))
    return t


def _stack_alarms(cw: Any, stack: str) -> list[dict[str, str]]:
    """DisasterWatch's own alarms in ALARM (alerts not delivered, classifier failing): the
    watch itself is impaired. Reported, not judged: they say nothing about a table's backups."""
    from conventions.watch import STACK_ALARM_SUFFIXES, table_alarm_name
    from handlers.watch.aws import AWS_ERRORS, alarms_in_alarm, error_text

    prefix = table_alarm_name(stack, "", "")[:-1]  # "safetynet-<stack>-"
    try:
        return [a for a in alarms_in_alarm(cw, prefix) if a["name"][len(prefix) :] in STACK_ALARM_SUFFIXES]
    except AWS_ERRORS as exc:
        return [{"name": "(alarms unreadable)", "reason": error_text(exc)}]


def status(
    stack_arg: StackArgument = None,
    stack_opt: StackOption = None,
    vault_bucket: VaultBucketOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Protection and backup health of every table: PITR, deletion protection, exports, drills, alarms."""
    stack = resolve_stack("status", stack_arg, stack_opt)
    session = watch_session("status", stack, project_dir, vault_bucket)
    cfg, bucket, clients, ctx = session.cfg, session.bucket, session.clients, session.ctx
    now = datetime.now(UTC)
    statuses = [
        table_status(
            ctx,
            t,
            ddb=clients.get("dynamodb"),
            s3=clients.get("s3"),
            cw=clients.get("cloudwatch"),
            now=now,
            require_deletion_protection=cfg.is_prod,
        )
        for t in ctx.tables
    ]
    ok = all(s.ok for s in statuses)
    # Stacks with backup.replica: is the out-of-region copy of the vault keeping up?
    from safetynet.recovery.replication_status import render as render_replica
    from safetynet.recovery.replication_status import vault_replication

    replica = vault_replication(
        cfg,
        vault_bucket=bucket,
        source_s3=clients.get("s3"),
        replica_s3_factory=lambda r: Clients(r).get("s3"),
        now=now,
    )
    ok = ok and (replica is None or replica.ok)
    stack_alarms = _stack_alarms(clients.get("cloudwatch"), stack)
    if as_json:
        doc = {
            "stack": stack,
            "ok": ok,
            "checkedAt": now.isoformat(),
            "tables": [{**s.__dict__, "ok": s.ok} for s in statuses],
            **({"vaultReplica": replica.to_json()} if replica is not None else {}),
            "stackAlarms": stack_alarms,
        }
        json.dump(doc, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        out = Console()
        for s in statuses:
            out.print(_render(s))
        for a in stack_alarms:
            out.print(f"[red]ALARM[/] {escape(a['name'])}: {escape(a['reason'])}")
        bad = [s.table for s in statuses if not s.ok]
        if bad:
            names = escape(", ".join(bad))
            out.print(f"[red]{len(bad)} of {len(statuses)} table(s) unprotected or stale:[/] {names}")
        else:
            out.print(f"[green]all {len(statuses)} table(s) protected and fresh[/]")
        if replica is not None:
            out.print(render_replica(replica))
            if not replica.ok:
                out.print("[red]the vault replica is behind or failing (see above)[/]")
    raise typer.Exit(0 if ok else 1)

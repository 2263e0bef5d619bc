"""`safetynet status -s <stack>`: is every table protected and backed up, right now?

Per table: PITR on and its restore window, deletion protection, the newest export (age, items,
size), the vault's recovery point (the end of the newest contiguous chain of incremental exports
after a full one; with a vault replica, the replica's too), the last restore drill, and the
stack's alarms in ALARM. Exit 0 when every table is protected and fresh, 1 when any is
unprotected or stale (or AWS cannot be read), 2 for usage/config errors. `--json` prints the
same facts for scripts (camelCase keys).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
    check_vault,
    emit_json,
    resolve_stack,
    watch_session,
)

NEEDS = (
    "dynamodb:DescribeTable, DescribeContinuousBackups, ListExports and DescribeExport; s3:ListBucket and "
    "s3:GetObject on the vault (and on its replica), kms:Decrypt on their keys; cloudwatch:DescribeAlarms"
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
    recovery_point: dict[str, Any] | None = None
    """The vault's recovery point (`recovery_point`); None when it could not be read."""
    replica_recovery_point: dict[str, Any] | None = None
    """The same in the vault's replica (stacks with backup.replica)."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """The table's entry of `status --json` (camelCased by emit_json)."""
        return {**asdict(self), "ok": self.ok}


def recovery_point(s3: Any, bucket: str, prefix: str, *, now: datetime) -> dict[str, Any]:
    """The newest time the vault can restore the table to: the end of the contiguous chain of
    incremental exports after the newest full export (`handlers.exports.chain`), or the full
    export's time when no window follows it; where the chain breaks, if it does."""
    from handlers.exports.chain import read_chain
    from handlers.watch.aws import AWS_ERRORS, error_text

    try:
        chain = read_chain(s3, bucket, prefix)
    except AWS_ERRORS as exc:
        return {"time": None, "problem": f"unreadable: {error_text(exc)}"}
    point = chain.recovery_point
    doc: dict[str, Any] = {
        "time": point.isoformat() if point else None,
        "age_hours": round((now - point).total_seconds() / 3600, 3) if point else None,
        "full_export_id": chain.anchor[0].export_id if chain.anchor else None,
        "incremental_exports": len(chain.links),
    }
    if chain.gap is not None:
        doc["gap"] = {
            "kind": chain.gap.kind,
            "after": chain.gap.after.isoformat(),
            "next_start": chain.gap.next_start.isoformat() if chain.gap.next_start else None,
        }
    return doc


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
    points, failed, record, read_problems = freshness.gather(ctx, table, ddb=ddb, s3=s3, now=now)
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


def _point(point: dict[str, Any] | None) -> str:
    """`2026-12-01T10:15:00+00:00 (0.3h ago; full export X + 12 incremental)`, and where the
    chain breaks."""
    if not point:
        return "-"
    if point.get("problem"):
        return f"[yellow]{escape(point['problem'])}[/]"
    if point.get("time") is None:
        return "[red]none[/] (no complete export)"
    text = (
        f"{escape(point['time'])} ({point['age_hours']:.1f}h ago; full export "
        f"{escape(str(point['full_export_id']))} + {point['incremental_exports']} incremental)"
    )
    gap = point.get("gap")
    if gap:
        text += f" [yellow]chain breaks after {escape(gap['after'])} ({escape(gap['kind'])})[/]"
    return text


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
    t.add_row("recovery point", _point(s.recovery_point))
    if s.replica_recovery_point is not None:
        t.add_row("in the replica", _point(s.replica_recovery_point))
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
    as_json: JsonOption = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Protection and backup health of every table: PITR, deletion protection, exports, drills, alarms."""
    stack = resolve_stack("status", stack_arg, stack_opt)
    session = watch_session("status", stack, project_dir, vault_bucket)
    cfg, bucket, clients, ctx = session.cfg, session.bucket, session.clients, session.ctx
    check_vault("status", clients, bucket, needs=NEEDS)
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
    from safetynet.local import emulated
    from safetynet.recovery.replication_status import render as render_replica
    from safetynet.recovery.replication_status import vault_replication

    # An emulator has no S3 replication: its replica would always look broken. Said, not checked.
    replica_unchecked = cfg.backup.replica is not None and emulated("s3")
    replica = (
        None
        if replica_unchecked
        else vault_replication(
            cfg,
            vault_bucket=bucket,
            source_s3=clients.get("s3"),
            replica_s3_factory=lambda r: Clients(r).get("s3"),
            now=now,
        )
    )
    ok = ok and (replica is None or replica.ok)
    _add_recovery_points(statuses, ctx, cfg, bucket, clients, replica, now=now)
    stack_alarms = _stack_alarms(clients.get("cloudwatch"), stack)
    rewinds = _recent_rewinds(clients.get("s3"), bucket)
    if as_json:
        doc = {
            "stack": stack,
            "ok": ok,
            "checked_at": now.isoformat(),
            "tables": [s.to_json() for s in statuses],
            **({"vault_replica": replica.to_json()} if replica is not None else {}),
            **({"vault_replica_note": REPLICA_NOT_EMULATED} if replica_unchecked else {}),
            "stack_alarms": stack_alarms,
            "recent_rewinds": rewinds,
        }
        # objectStatus maps object names (manifest-summary.json) to S3's replication status.
        emit_json(doc, keep=("objectStatus",))
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
        if replica_unchecked:
            out.print(f"vault replica: {REPLICA_NOT_EMULATED}", highlight=False)
        for line in _rewind_lines(rewinds):
            out.print(line, highlight=False)
    raise typer.Exit(0 if ok else 1)


RECENT_REWINDS = 5
REPLICA_NOT_EMULATED = (
    "not checked: the endpoint is an emulator, which has no S3 replication "
    "(on AWS, status compares the vault with its replica)"
)


def _recent_rewinds(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The newest rewind runs recorded in the vault (`safetynet rewind`'s audit trail); an
    unreadable trail is one entry saying why, not a failure of the status."""
    from handlers.rewind.audit import recent_rewinds
    from handlers.watch.aws import AWS_ERRORS, error_text

    try:
        return recent_rewinds(s3, bucket, limit=RECENT_REWINDS)
    except AWS_ERRORS as exc:
        return [{"status": "unreadable", "error": error_text(exc)}]


def _rewind_lines(rewinds: list[dict[str, Any]]) -> list[str]:
    if not rewinds:
        return []
    lines = [f"[bold]recent rewinds[/] (newest {len(rewinds)}):"]
    for r in rewinds:
        if r.get("status") == "unreadable":
            lines.append(f"  (rewind audit unreadable: {escape(str(r.get('error')))})")
            continue
        counts = r.get("byOutcome", {})
        window = r.get("window", {})
        lines.append(
            f"  {escape(str(r.get('physicalName', '?')))} "
            f"{escape(str(window.get('from', '?')))} .. {escape(str(window.get('to', '?')))}: "
            f"{escape(str(r.get('status')))}, {counts.get('reverted', 0)} reverted, "
            f"{counts.get('conflict', 0)} conflicts, {counts.get('failed', 0)} failed "
            f"({escape(str(r.get('auditUrl', '')))})"
        )
    return lines


def _add_recovery_points(
    statuses: list[TableStatus], ctx: Any, cfg: Any, bucket: str, clients: Clients, replica: Any, *, now: datetime
) -> None:
    """Each table's recovery point in the vault and, with a replica, in the replica bucket."""
    replica_s3 = None
    if replica is not None and replica.replica_bucket and cfg.backup.replica is not None:
        replica_s3 = Clients(cfg.backup.replica.region).get("s3")
    for s, table in zip(statuses, ctx.tables, strict=True):
        s.recovery_point = recovery_point(clients.get("s3"), bucket, table.export_prefix, now=now)
        if replica_s3 is not None:
            s.replica_recovery_point = recovery_point(replica_s3, replica.replica_bucket, table.export_prefix, now=now)

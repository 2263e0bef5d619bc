"""Restore planning: what each table could come back from, and the best choice.

Pure logic, over the facts `safetynet.recovery.inspection.inspect_table` reads from AWS:
- `plan_table` (over `TableFacts`): every candidate source with its time, age, items, size and
  the data at risk since then; the freshest usable one (or the one asked for) is chosen. Exports
  are validated lazily, newest first, through the `validate` callable, so only the exports that
  could be chosen are read in full; a corrupt export is skipped with its reason.
- `restore_entry` turns the choice into the `safetynet:restore.<table>` config entry.

No Pulumi imports: the CLI (`safetynet restore-plan`) drives this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from components.config.restore import DYNAMODB_BACKUP_ARN_RE
from handlers.exports.layout import ExportRef, ManifestSummary, human_age
from handlers.exports.validation import ValidationReport

SourceKind = Literal["export", "pitr", "backup"]
SOURCE_CHOICES = ("latest", "export", "pitr", "backup")


class PlanError(Exception):
    """A restore cannot be planned as asked; the message says what to do instead."""


# --- facts (what exists) -----------------------------------------------------------------------


@dataclass(frozen=True)
class BackupFact:
    """A DynamoDB backup of the table (ListBackups) or an AWS Backup recovery point."""

    arn: str
    name: str
    created: datetime
    backup_type: str
    """USER (on-demand), SYSTEM (kept 35 days after a PITR table is deleted), AWS_BACKUP."""
    status: str
    size_bytes: int | None = None
    item_count: int | None = None
    key_schema: list[dict[str, str]] | None = None
    """The backed-up table's KeySchema (DescribeBackup), when known."""
    table_name: str | None = None


@dataclass(frozen=True)
class PitrWindow:
    """DescribeContinuousBackups of a live table."""

    enabled: bool
    earliest: datetime | None = None
    latest: datetime | None = None


@dataclass
class TableFacts:
    """Everything found about one table."""

    logical: str
    physical: str
    table_arn: str
    has_lsis: bool
    exists: bool
    item_count: int | None = None
    size_bytes: int | None = None
    pitr: PitrWindow | None = None
    backups: list[BackupFact] = field(default_factory=list)
    exports: list[tuple[ExportRef, ManifestSummary]] = field(default_factory=list)
    unreadable_exports: list[tuple[ExportRef, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Gaps in what could be inspected (an API not available, access denied)."""
    export_table_arn: str | None = None
    """The source table ARN the exports must name, when not `table_arn` (a DR stack restoring
    another region's replicated exports)."""
    key_schema: list[dict[str, str]] | None = None
    """The configured primary key: a backup of a table with other keys cannot restore this one."""


# --- the plan ----------------------------------------------------------------------------------


@dataclass
class Candidate:
    """One source the table could be restored from."""

    kind: SourceKind
    label: str
    time: datetime | None
    item_count: int | None = None
    size_bytes: int | None = None
    entry: dict[str, Any] = field(default_factory=dict)
    """The `safetynet:restore.<table>` entry this candidate writes (camelCase keys)."""
    unusable: str | None = None
    """Why this candidate cannot be chosen (None: usable)."""
    validated: bool = False
    export_ref: ExportRef | None = None

    @property
    def usable(self) -> bool:
        return self.unusable is None


@dataclass
class TablePlan:
    """The candidates of one table, newest first, and the chosen one."""

    facts: TableFacts
    candidates: list[Candidate]
    chosen: Candidate | None
    reference_time: datetime
    """What `data at risk` is measured against: now, or the deletion time of a deleted table."""
    problem: str | None = None


@dataclass(frozen=True)
class PlanRequest:
    """What the operator asked for."""

    source: str | None = None
    """None (freshest usable), latest, export, pitr or backup."""
    at: datetime | None = None
    """Restore to this time (pitr), or the newest source at or before it (export, backup)."""
    target_suffix: str | None = None
    backup_arn: str | None = None
    """A specific backup (e.g. of a table restored beside the original)."""


def _system_backup_time(facts: TableFacts) -> datetime | None:
    system = [b.created for b in facts.backups if b.backup_type == "SYSTEM"]
    return max(system) if system else None


def _export_candidates(facts: TableFacts) -> list[Candidate]:
    out = []
    for ref, summary in facts.exports:
        c = Candidate(
            kind="export",
            label=f"export {ref.export_id}",
            time=summary.export_time,
            item_count=summary.item_count,
            size_bytes=summary.billed_size_bytes,
            entry={"export": ref.url},
            export_ref=ref,
        )
        if facts.has_lsis:
            c.unusable = "table has LSIs: ImportTable cannot create them (use pitr or backup)"
        elif summary.output_format != "DYNAMODB_JSON":
            c.unusable = f"{summary.output_format} export: restores import DYNAMODB_JSON exports"
        out.append(c)
    for ref, reason in facts.unreadable_exports:
        out.append(
            Candidate(
                kind="export",
                label=f"export {ref.export_id}",
                time=ref.approx_time(),
                entry={"export": ref.url},
                unusable=f"unreadable: {reason}",
                export_ref=ref,
            )
        )
    return out


def _backup_candidates(facts: TableFacts) -> list[Candidate]:
    out = []
    for b in facts.backups:
        kind_text = {"SYSTEM": "system backup", "USER": "on-demand backup", "AWS_BACKUP": "AWS Backup"}.get(
            b.backup_type, b.backup_type
        )
        c = Candidate(
            kind="backup",
            label=f"{kind_text} {b.name}",
            time=b.created,
            item_count=b.item_count,
            size_bytes=b.size_bytes,
            entry={"backupArn": b.arn},
        )
        if b.status != "AVAILABLE":
            c.unusable = f"backup status {b.status}"
        elif facts.key_schema and b.key_schema and b.key_schema != facts.key_schema:
            keys = ", ".join(f"{k['AttributeName']} {k['KeyType']}" for k in b.key_schema)
            c.unusable = f"backup of {b.table_name or 'a table'} with other keys ({keys})"
        elif not DYNAMODB_BACKUP_ARN_RE.match(b.arn):
            c.unusable = (
                "AWS Backup recovery point (advanced features): restore with aws backup "
                "start-restore-job, then adopt the table"
            )
        out.append(c)
    return out


def _pitr_candidates(facts: TableFacts, request: PlanRequest, now: datetime) -> list[Candidate]:
    if not facts.exists:
        return [
            Candidate(
                kind="pitr",
                label="point-in-time",
                time=None,
                unusable="table deleted: PITR reads a live table; its system backup holds the last state",
            )
        ]
    pitr = facts.pitr
    if pitr is None or not pitr.enabled:
        return [Candidate(kind="pitr", label="point-in-time", time=None, unusable="PITR is not enabled")]
    no_suffix = (
        None
        if request.target_suffix
        else "the table exists: restore beside it with --target-suffix (PITR cannot restore onto itself)"
    )
    if request.at is not None:
        c = Candidate(
            kind="pitr",
            label=f"point-in-time {_fmt(request.at)}",
            time=request.at,
            entry={"pointInTime": _iso(request.at)},
            unusable=no_suffix,
        )
        if pitr.earliest and request.at < pitr.earliest:
            c.unusable = f"before the earliest restorable time {_fmt(pitr.earliest)}"
        elif request.at > (pitr.latest or now):
            c.unusable = f"after the latest restorable time {_fmt(pitr.latest or now)}"
        return [c]
    return [
        Candidate(
            kind="pitr",
            label="point-in-time (latest restorable)",
            time=pitr.latest or now,
            entry={"latestRestorableTime": True},
            unusable=no_suffix,
        )
    ]


def _wanted(c: Candidate, request: PlanRequest) -> bool:
    kind = {"latest": "export", None: c.kind}.get(request.source, request.source)
    if c.kind != kind:
        return False
    if request.backup_arn is not None:
        return c.entry.get("backupArn") == request.backup_arn
    if request.at is not None and c.kind != "pitr":
        return c.time is not None and c.time <= request.at
    return True


def plan_table(
    facts: TableFacts,
    request: PlanRequest,
    validate: Callable[[ExportRef, str], ValidationReport],
    now: datetime | None = None,
) -> TablePlan:
    """Rank the candidates (newest first) and choose the freshest usable one the request allows.

    Exports are validated (`validate(ref, expected_table_arn)`) only when they would be chosen;
    a failing export gets the validator's first problem as its reason and the next one is tried.
    """
    now = now or datetime.now(UTC)
    if request.source is not None and request.source not in SOURCE_CHOICES:
        raise PlanError(f"--source {request.source}: choose one of {', '.join(SOURCE_CHOICES)}")
    candidates = _export_candidates(facts) + _backup_candidates(facts) + _pitr_candidates(facts, request, now)
    if request.backup_arn is not None and not any(c.entry.get("backupArn") == request.backup_arn for c in candidates):
        candidates.append(_explicit_backup(request.backup_arn))
    epoch = datetime.min.replace(tzinfo=UTC)
    candidates.sort(key=lambda c: c.time or epoch, reverse=True)
    reference = now if facts.exists else (_system_backup_time(facts) or now)
    chosen: Candidate | None = None
    for c in candidates:
        if not c.usable or not _wanted(c, request):
            continue
        if c.kind == "export" and c.export_ref is not None:
            report = validate(c.export_ref, facts.export_table_arn or facts.table_arn)
            if not report.ok:
                c.unusable = "corrupt: " + report.problems[0]
                continue
            c.validated = True
            c.item_count = report.item_count
        chosen = c
        break
    plan = TablePlan(facts=facts, candidates=candidates, chosen=chosen, reference_time=reference)
    if chosen is None:
        plan.problem = _nothing_usable(facts, request)
    return plan


def _explicit_backup(arn: str) -> Candidate:
    return Candidate(
        kind="backup",
        label="backup (given by --backup-arn)",
        time=None,
        entry={"backupArn": arn},
        unusable=None if DYNAMODB_BACKUP_ARN_RE.match(arn) else "not a DynamoDB backup ARN",
    )


def _nothing_usable(facts: TableFacts, request: PlanRequest) -> str:
    asked = request.source or "any source"
    when = f" at or before {_fmt(request.at)}" if request.at and request.source != "pitr" else ""
    return (
        f"{facts.logical}: no usable {asked}{when} (see the reasons above); try another --source, an "
        "earlier/later --at, or --target-suffix for a PITR restore beside the live table"
    )


def restore_entry(plan: TablePlan, target_suffix: str | None) -> dict[str, Any]:
    """The config entry for the chosen candidate (camelCase, as in Pulumi.<stack>.yaml)."""
    if plan.chosen is None:
        raise PlanError(plan.problem or f"{plan.facts.logical}: nothing chosen")
    entry = dict(plan.chosen.entry)
    if target_suffix:
        entry["targetSuffix"] = target_suffix
    return entry


# --- presentation helpers (pure) ---------------------------------------------------------------


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def data_at_risk(plan: TablePlan, c: Candidate) -> str:
    """Writes lost when restoring from `c`: the time between `c` and the reference (now, or the
    deletion), and the item difference when both counts are known."""
    if c.time is None:
        return "-"
    text = human_age((plan.reference_time - c.time).total_seconds()) + " of writes"
    ref_items = plan.facts.item_count
    if ref_items is None and not plan.facts.exists:
        system = [b for b in plan.facts.backups if b.backup_type == "SYSTEM" and b.item_count is not None]
        ref_items = system[0].item_count if system else None
    if ref_items is not None and c.item_count is not None and c.kind != "pitr":
        text += f", {c.item_count - ref_items:+d} items"
    return text

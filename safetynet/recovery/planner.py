"""Restore planning: what each table could come back from, and the best choice.

Pure logic, over the facts `safetynet.recovery.inspection.inspect_table` reads from AWS:
- `plan_table` (over `TableFacts`): every candidate source with its time, items, size and the
  data at risk since then; the freshest usable one (or the one asked for) is chosen. Exports and
  the vault's chain are validated lazily, newest first, through the `validate` callable, so only
  what could be chosen is read in full; a corrupt export is skipped with its reason. A source is
  "usable" only once it was validated (exports, the chain) or AWS reported it available (backups,
  the PITR window); everything else is "not checked".
- The vault's chain (a full export plus the contiguous incremental windows after it, replayed by
  `safetynet replay` after `pulumi up`) is one candidate: `safetynet.recovery.vault_chain`.
- `restore_entry` turns the choice into the `safetynet:restore.<table>` config entry; `hints`
  say what else could work, only what applies to the table's state.

No Pulumi imports: the CLI (`safetynet restore-plan`) drives this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from components.config.restore import DYNAMODB_BACKUP_ARN_RE
from handlers.exports.layout import FULL_EXPORT, ExportRef, human_age
from handlers.exports.validation import ValidationReport
from safetynet.recovery.facts import BackupFact, PitrWindow, TableFacts
from safetynet.recovery.sources import KIND_TEXT, SOURCE_CHOICES, Source

if TYPE_CHECKING:
    from safetynet.recovery.vault_chain import VaultChain

SourceKind = Literal["export", "vault", "pitr", "backup"]


Validate = Callable[[ExportRef, str, str], ValidationReport]
"""validate(ref, expected source table ARN, expected export type FULL_EXPORT|INCREMENTAL_EXPORT)."""


__all__ = [
    "SOURCE_CHOICES",
    "BackupFact",
    "Candidate",
    "PitrWindow",
    "PlanError",
    "PlanRequest",
    "Source",
    "TableFacts",
    "TablePlan",
    "plan_table",
    "restore_entry",
]


class PlanError(Exception):
    """A restore cannot be planned as asked; the message says what to do instead."""


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
    """Why this candidate cannot be chosen (None: not known to be unusable)."""
    validated: bool = False
    """Its data was read and checked in full (exports, the chain)."""
    export_ref: ExportRef | None = None
    chain: VaultChain | None = None
    """The vault's chain (kind `vault`), once resolved."""
    resolved: bool = False
    """For the vault candidate: its anchor and windows were validated and its time is what the
    chain really reaches (before: what the manifests promise)."""

    @property
    def usable(self) -> bool:
        return self.unusable is None

    @property
    def available(self) -> bool:
        """Reported available by AWS (backups with status AVAILABLE, a PITR time in the window):
        nothing of ours reads their data, AWS's status is the check."""
        return self.kind in ("backup", "pitr") and self.usable and self.time is not None


@dataclass
class TablePlan:
    """The candidates of one table, newest first, and the chosen one."""

    facts: TableFacts
    candidates: list[Candidate]
    chosen: Candidate | None
    reference_time: datetime
    """What `data at risk` is measured against: now, or the deletion time of a deleted table."""
    problem: str | None = None
    hints: list[str] = field(default_factory=list)
    """What else could work, for this table's state (only when nothing was chosen)."""

    def status(self, c: Candidate) -> str:
        """`chosen`, `valid`, `available`, `not usable` or `not checked` (see `Candidate`)."""
        if c is self.chosen:
            return "chosen"
        if not c.usable:
            return "not usable"
        if c.validated:
            return "valid"
        if c.available and c.kind == "backup":
            return "available"
        return "not checked"


@dataclass(frozen=True)
class PlanRequest:
    """What the operator asked for."""

    source: str | None = None
    """None (freshest usable), latest, export, vault, pitr or backup."""
    at: datetime | None = None
    """Restore to this time (pitr), or the newest source at or before it (export, backup, vault)."""
    target_suffix: str | None = None
    backup_arn: str | None = None
    """A specific backup (e.g. of a table restored beside the original)."""
    stack: str = "<stack>"
    """For the commands in hints."""


def _system_backup_time(facts: TableFacts) -> datetime | None:
    system = [b.created for b in facts.backups if b.backup_type == "SYSTEM"]
    return max(system) if system else None


LSI_REASON = "table has LSIs: ImportTable cannot create them"


def _export_candidates(facts: TableFacts) -> list[Candidate]:
    out = []
    for ref, summary in facts.full_exports:
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
            c.unusable = LSI_REASON
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


NO_SUFFIX = "the table exists: PITR cannot restore onto it (restore beside it with --target-suffix)"


def _pitr_candidates(facts: TableFacts, request: PlanRequest, now: datetime) -> list[Candidate]:
    if not facts.exists:
        return [
            Candidate(
                kind="pitr",
                label="point-in-time",
                time=None,
                unusable="table deleted: PITR reads a live table (its system backup, if listed, holds its last state)",
            )
        ]
    pitr = facts.pitr
    if pitr is None or not pitr.enabled:
        why = "PITR window unknown" if "PITR window" in facts.unavailable else "PITR is not enabled"
        return [Candidate(kind="pitr", label="point-in-time", time=None, unusable=why)]
    no_suffix = None if request.target_suffix else NO_SUFFIX
    if request.at is not None:
        c = Candidate(
            kind="pitr",
            label=f"point-in-time {fmt(request.at)}",
            time=request.at,
            entry={"pointInTime": iso(request.at)},
            unusable=no_suffix,
        )
        if pitr.earliest and request.at < pitr.earliest:
            c.unusable = f"before the earliest restorable time {fmt(pitr.earliest)}"
        elif request.at > (pitr.latest or now):
            c.unusable = f"after the latest restorable time {fmt(pitr.latest or now)}"
        return [c]
    return [
        Candidate(
            kind="pitr",
            label="point-in-time (latest)",
            time=pitr.latest or now,
            entry={"latestRestorableTime": True},
            unusable=no_suffix,
        )
    ]


_KINDS: dict[str | None, tuple[str, ...]] = {
    "latest": ("export",),
    "export": ("export",),
    # A chain without windows is its anchor: `--source vault` then takes the export itself.
    "vault": ("vault", "export"),
    "pitr": ("pitr",),
    "backup": ("backup",),
}


def _wanted(c: Candidate, request: PlanRequest) -> bool:
    if c.kind not in _KINDS.get(request.source, (c.kind,)):
        return False
    if request.backup_arn is not None:
        return c.entry.get("backupArn") == request.backup_arn
    if request.at is not None and c.kind != "pitr":
        return c.time is not None and c.time <= request.at
    return True


def invalid_reason(report: ValidationReport, expected_arn: str) -> str:
    """Why validation refused an export: `wrong table: ...` when it is another table's export,
    else `corrupt: ...` (the validator's first problem)."""
    other = report.summary is not None and report.summary.table_arn != expected_arn
    return ("wrong table: " if other else "corrupt: ") + report.problems[0]


class _Validations:
    """Each export validated at most once per plan (the chain and the export rows share it)."""

    def __init__(self, validate: Validate, table_arn: str) -> None:
        self._validate = validate
        self.table_arn = table_arn
        self.reports: dict[ExportRef, ValidationReport] = {}

    def __call__(self, ref: ExportRef, export_type: str = FULL_EXPORT) -> ValidationReport:
        if ref not in self.reports:
            self.reports[ref] = self._validate(ref, self.table_arn, export_type)
        return self.reports[ref]


def _by_time(candidates: list[Candidate]) -> list[Candidate]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(candidates, key=lambda c: c.time or epoch, reverse=True)


def plan_table(facts: TableFacts, request: PlanRequest, validate: Validate, now: datetime | None = None) -> TablePlan:
    """Rank the candidates (newest first) and choose the freshest usable one the request allows.

    Exports are validated only when they would be chosen; a failing export gets the validator's
    first problem as its reason and the next one is tried. The vault's chain is resolved when
    it would be chosen (anchor and windows validated): if it then reaches less far than its
    manifests promised, it takes its real place in the ranking."""
    from safetynet.recovery import vault_chain

    now = now or datetime.now(UTC)
    if request.source is not None and request.source not in SOURCE_CHOICES:
        raise PlanError(f"--source {request.source}: choose one of {', '.join(SOURCE_CHOICES)}")
    candidates = _export_candidates(facts) + _backup_candidates(facts) + _pitr_candidates(facts, request, now)
    vault = vault_chain.vault_candidate(facts, request)
    if vault is not None:
        candidates.append(vault)
    if request.backup_arn is not None and not any(c.entry.get("backupArn") == request.backup_arn for c in candidates):
        candidates.append(_explicit_backup(request.backup_arn))
    pending = _by_time(candidates)
    reference = now if facts.exists else (_system_backup_time(facts) or now)
    checks = _Validations(validate, facts.expected_arn)
    chosen: Candidate | None = None
    i = 0
    while i < len(pending):
        c = pending[i]
        if not c.usable or not _wanted(c, request):
            i += 1
            continue
        if c.kind == "vault" and not c.resolved:
            vault_chain.resolve(c, facts, request, checks)
            rest = _by_time(pending[i:])
            if rest[0] is not c:  # it reaches less far than promised: rank it again
                pending[i:] = rest
                continue
            if not c.usable:
                i += 1
                continue
        elif c.kind == "export" and c.export_ref is not None:
            report = checks(c.export_ref)
            if not report.ok:
                c.unusable = invalid_reason(report, facts.expected_arn)
                i += 1
                continue
            c.validated = True
            c.item_count = report.item_count
        chosen = c
        break
    _apply_checks(pending, checks)
    plan = TablePlan(facts=facts, candidates=pending, chosen=chosen, reference_time=reference)
    if chosen is None:
        plan.problem, plan.hints = _nothing_usable(facts, request, pending)
    return plan


def _apply_checks(candidates: list[Candidate], checks: _Validations) -> None:
    """Exports the chain validated show what was found, like the ones validated for themselves."""
    for c in candidates:
        if c.kind != "export" or c.export_ref is None or c.export_ref not in checks.reports or not c.usable:
            continue
        report = checks.reports[c.export_ref]
        if report.ok:
            c.validated = True
            c.item_count = report.item_count
        else:
            c.unusable = invalid_reason(report, checks.table_arn)


def _explicit_backup(arn: str) -> Candidate:
    return Candidate(
        kind="backup",
        label="backup (given by --backup-arn)",
        time=None,
        entry={"backupArn": arn},
        unusable=None if DYNAMODB_BACKUP_ARN_RE.match(arn) else "not a DynamoDB backup ARN",
    )


def _nothing_usable(facts: TableFacts, request: PlanRequest, candidates: list[Candidate]) -> tuple[str, list[str]]:
    """The problem, and hints that apply to this table's state: never a PITR suffix for a
    deleted table, never `--source X` when no X could be used either."""
    asked = KIND_TEXT.get(request.source or "", request.source) if request.source else "source"
    when = f" at or before {fmt(request.at)}" if request.at and request.source != "pitr" else ""
    problem = f"{facts.logical}: no usable {asked}{when}"
    hints: list[str] = []
    usable_elsewhere = [c for c in candidates if c.usable and c.time is not None and not _wanted(c, request)]
    other_kinds = sorted({c.kind for c in usable_elsewhere if c.kind not in _KINDS.get(request.source, ())})
    if request.source and other_kinds:
        hints.append("another --source: " + ", ".join(other_kinds) + " (listed above)")
    if request.at is not None:
        later = [c for c in usable_elsewhere if c.kind in _KINDS.get(request.source, (c.kind,))]
        if later and all(c.time is not None and c.time > request.at for c in later):
            oldest = min(c.time for c in later if c.time is not None)
            hints.append(f"a later --at: the oldest such source is from {fmt(oldest)}")
    pitr = facts.pitr
    pitr_on = facts.exists and pitr is not None and pitr.enabled
    if pitr_on and not request.target_suffix and request.source in (None, "pitr"):
        hints.append("restore beside the live table from PITR: --target-suffix -restored")
    if facts.has_lsis and any(c.unusable == LSI_REASON for c in candidates):
        hint = (
            f"tables with LSIs come back empty from `pulumi up -s {request.stack}` (no restore source), then "
            f"`safetynet refill -s {request.stack} --table {facts.logical}` loads the newest valid export"
        )
        if any(c.kind == "vault" for c in candidates):
            hint += f" and `safetynet replay -s {request.stack} --table {facts.logical} --latest` the windows after it"
        hints.append(hint)
    if not candidates or all(c.time is None for c in candidates):
        hints.append("nothing was found to restore from: no export, no backup, no PITR window")
    return problem, hints


def restore_entry(plan: TablePlan, target_suffix: str | None) -> dict[str, Any]:
    """The config entry for the chosen candidate (camelCase, as in Pulumi.<stack>.yaml)."""
    if plan.chosen is None:
        raise PlanError(plan.problem or f"{plan.facts.logical}: nothing chosen")
    entry = dict(plan.chosen.entry)
    if target_suffix:
        entry["targetSuffix"] = target_suffix
    return entry


# --- presentation helpers (pure) ---------------------------------------------------------------


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt(t: datetime) -> str:
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


def at_risk_seconds(plan: TablePlan, c: Candidate) -> float | None:
    """Seconds of writes lost when restoring from `c` (None: unknown)."""
    if c.time is None:
        return None
    return max(0.0, (plan.reference_time - c.time).total_seconds())


def item_difference(plan: TablePlan, c: Candidate) -> int | None:
    """Items in `c` minus items in the table now (or at its deletion), when both are known."""
    ref_items = plan.facts.item_count
    if ref_items is None and not plan.facts.exists:
        system = [b for b in plan.facts.backups if b.backup_type == "SYSTEM" and b.item_count is not None]
        ref_items = system[0].item_count if system else None
    if ref_items is None or c.item_count is None or c.kind in ("pitr", "vault"):
        return None
    return c.item_count - ref_items


def data_at_risk(plan: TablePlan, c: Candidate) -> str:
    """Writes lost when restoring from `c`: the time between `c` and the reference (now, or the
    deletion), and the item difference when both counts are known."""
    seconds = at_risk_seconds(plan, c)
    if seconds is None:
        return "-"
    text = human_age(seconds)
    diff = item_difference(plan, c)
    if diff is not None:
        text += f", {diff:+d} items"
    return text

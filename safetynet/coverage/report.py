"""Coverage of an account by one stack: every live table in exactly one category.

- **protected**: one of the stack's tables (its physical name), with point-in-time recovery on,
  deletion protection on (prod-like stacks: the program turns it on only there) and a complete
  export in the vault no older than the backup schedule's interval plus the freshness grace;
- **degraded**: one of the stack's tables where a check fails (each failed check is a reason),
  including a table the stack declares that does not exist;
- **excluded**: not the stack's, and its name matches a `safetynet:coverage.exclude` pattern
  (the reason is the one written there), or it is a restore drill's scratch table;
- **unprotected**: everything else.

`categorize` is pure: the live tables (`inventory.LiveTable`), the stack's tables and their
freshness reports (`handlers.watch.freshness`, what `safetynet status` and the freshness task
judge exports with) go in, a `CoverageReport` comes out. Reading AWS is the command's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from components.config.coverage import CoverageSpec, ExcludeRule
from conventions.chain import LEDGER_NAME_PREFIX
from conventions.watch import SCRATCH_PREFIX
from handlers.watch.freshness import FreshnessReport
from safetynet.coverage.inventory import LiveTable

Category = Literal["protected", "degraded", "excluded", "unprotected"]
CATEGORIES: tuple[Category, ...] = ("protected", "excluded", "degraded", "unprotected")
"""In the order the report lists them: what needs attention last, next to the summary."""

# Restore drills create and delete these; one left behind holds a copy, never the only one.
DRILL_SCRATCH_RULE = ExcludeRule(
    pattern=f"{SCRATCH_PREFIX}*",
    reason="a restore drill's scratch table (built-in: drills delete them when they end)",
)

# The chain of incremental exports keeps its state in a table of its own (components/backup/incremental.py).
CHAIN_LEDGER_RULE = ExcludeRule(
    pattern=f"{LEDGER_NAME_PREFIX}*",
    reason="safetynet's chain ledger (built-in: the incremental exports' schedule state, with its own nightly export)",
)
BUILT_IN_RULES = (DRILL_SCRATCH_RULE, CHAIN_LEDGER_RULE)


@dataclass(frozen=True)
class StackTable:
    """One table the stack declares."""

    name: str
    """Logical name (`safetynet:tables[i].name`)."""
    physical_name: str
    """Its name in AWS (`tableNamePattern`)."""


@dataclass(frozen=True)
class TableCoverage:
    """One table's category and why."""

    name: str
    """Physical table name."""
    category: Category
    reasons: list[str]
    """Degraded: each failed check; excluded: the configured reason; otherwise what decided it."""
    stack_table: str | None = None
    """The logical name when the table is the stack's."""
    excluded_by: str | None = None
    """The `coverage.exclude` pattern that matched."""
    exists: bool = True
    status: str | None = None
    """TableStatus (None for a table that does not exist)."""
    pitr: bool | None = None
    deletion_protection: bool | None = None
    last_export_id: str | None = None
    last_export_age_hours: float | None = None
    freshness_limit_hours: float | None = None
    notes: list[str] = field(default_factory=list)
    """What reading the vault or the exports met (unreadable drill record, failed exports): shown,
    never judged."""

    def to_json(self) -> dict[str, Any]:
        """camelCase, as the `--json` document prints it."""
        out: dict[str, Any] = {
            "name": self.name,
            "category": self.category,
            "reasons": list(self.reasons),
            "stackTable": self.stack_table,
            "excludedBy": self.excluded_by,
            "exists": self.exists,
            "status": self.status,
            "pitr": self.pitr,
            "deletionProtection": self.deletion_protection,
        }
        if self.stack_table is not None:
            out |= {
                "lastExportId": self.last_export_id,
                "lastExportAgeHours": self.last_export_age_hours,
                "freshnessLimitHours": self.freshness_limit_hours,
                "notes": list(self.notes),
            }
        return out


@dataclass(frozen=True)
class CoverageReport:
    """Every table of the account and region, each in one category."""

    stack: str
    region: str
    tables: list[TableCoverage]

    @property
    def counts(self) -> dict[str, int]:
        """Tables per category, and the total."""
        out: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
        for t in self.tables:
            out[t.category] += 1
        out["total"] = len(self.tables)
        return out

    @property
    def ok(self) -> bool:
        """No table is degraded or unprotected."""
        return not any(t.category in ("degraded", "unprotected") for t in self.tables)

    def of(self, category: Category) -> list[TableCoverage]:
        """The tables of one category, in report order."""
        return [t for t in self.tables if t.category == category]

    def to_json(self) -> dict[str, Any]:
        """The `safetynet coverage --json` document (without the time it was checked)."""
        return {
            "stack": self.stack,
            "region": self.region,
            "ok": self.ok,
            "counts": self.counts,
            "tables": [t.to_json() for t in self.tables],
        }


def export_problem(report: FreshnessReport) -> str | None:
    """Why the table's exports do not protect it (the wording of `safetynet status`), or None."""
    if report.age_hours is None:
        return "no complete export in the vault"
    if report.stale:
        return f"newest export is {report.age_hours:.1f}h old (limit {report.limit_hours:g}h)"
    return None


def judge_stack_table(
    table: StackTable,
    live: LiveTable | None,
    freshness: FreshnessReport,
    *,
    require_deletion_protection: bool,
    read_problems: Sequence[str] = (),
) -> TableCoverage:
    """Protected or degraded: one of the stack's tables (None: it does not exist)."""
    reasons: list[str] = []
    if live is None:
        reasons.append("table does not exist")
    else:
        if not live.pitr_enabled:
            reasons.append("point-in-time recovery is off")
        if require_deletion_protection and not live.deletion_protection:
            reasons.append("deletion protection is off")
    problem = export_problem(freshness)
    if problem:
        reasons.append(problem)
    category: Category = "degraded" if reasons else "protected"
    if not reasons:  # not stale, so there is an export and its age
        reasons.append(f"newest export {freshness.age_hours:.1f}h old (limit {freshness.limit_hours:g}h)")
    return TableCoverage(
        name=table.physical_name,
        category=category,
        reasons=reasons,
        stack_table=table.name,
        exists=live is not None,
        status=live.status if live else None,
        pitr=live.pitr_enabled if live else None,
        deletion_protection=live.deletion_protection if live else None,
        last_export_id=freshness.last_export_id,
        last_export_age_hours=freshness.age_hours,
        freshness_limit_hours=freshness.limit_hours,
        notes=[*read_problems, *(f"failed export: {f}" for f in freshness.failed_exports)],
    )


def judge_other_table(live: LiveTable, coverage: CoverageSpec, stack: str) -> TableCoverage:
    """Excluded or unprotected: a table that is not the stack's."""
    rule = next((r for r in BUILT_IN_RULES if r.matches(live.name)), None) or coverage.exclusion_for(live.name)
    if rule is not None:
        category: Category = "excluded"
        reasons = [rule.reason]
    else:
        category = "unprotected"
        reasons = [f"not a table of stack {stack}; no coverage.exclude pattern matches"]
    return TableCoverage(
        name=live.name,
        category=category,
        reasons=reasons,
        excluded_by=rule.pattern if rule else None,
        status=live.status,
        pitr=live.pitr_enabled,
        deletion_protection=live.deletion_protection,
    )


def categorize(
    *,
    stack: str,
    region: str,
    live_tables: Sequence[LiveTable],
    stack_tables: Sequence[StackTable],
    freshness: Mapping[str, FreshnessReport],
    coverage: CoverageSpec,
    require_deletion_protection: bool,
    read_problems: Mapping[str, Sequence[str]] | None = None,
) -> CoverageReport:
    """Every live table, and every stack table missing from the account, in exactly one category.

    `freshness` and `read_problems` are keyed by physical name and cover the stack's tables."""
    live_by_name = {t.name: t for t in live_tables}
    ours = {t.physical_name for t in stack_tables}
    problems = read_problems or {}
    judged = [
        judge_stack_table(
            t,
            live_by_name.get(t.physical_name),
            freshness[t.physical_name],
            require_deletion_protection=require_deletion_protection,
            read_problems=problems.get(t.physical_name, ()),
        )
        for t in stack_tables
    ]
    judged += [judge_other_table(t, coverage, stack) for t in live_tables if t.name not in ours]
    order = {c: i for i, c in enumerate(CATEGORIES)}
    judged.sort(key=lambda t: (order[t.category], t.name))
    return CoverageReport(stack=stack, region=region, tables=judged)

"""DisasterWatch's conventions: the context document its tasks read, metric and alarm names.

The DisasterWatch component writes the context (one JSON document shipped with every task's
code, `handlers/watch/watch_context.json`, so code and context always deploy together and no
environment size limit applies); the tasks read it (`handlers.watch.context`); the CLI builds
the same document from the stack's config and the vault bucket. Pure data, no AWS access.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from conventions.tags import NAMESPACE, STACK_TAG

WATCH_ENV = "SAFETYNET_WATCH"
CONTEXT_FILE = "watch_context.json"
# Where the context sits in the code archive, relative to handlers/: beside handlers/watch/context.py.
CONTEXT_ARCHIVE_PATH = f"watch/{CONTEXT_FILE}"
METRIC_NAMESPACE = NAMESPACE
# What CloudTrail events carry as detail-type when EventBridge delivers them.
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# The vault bucket changes DisasterWatch alerts on (its rule matches them, its classifier checks the
# bucket). S3 logs PutBucketLifecycleConfiguration as PutBucketLifecycle; both names are listed.
VAULT_BUCKET_EVENTS = [
    "DeleteBucket",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketLifecycle",
    "PutBucketLifecycleConfiguration",
    "DeleteBucketLifecycle",
    "PutObjectLockConfiguration",
]
# Restore drills create scratch tables named `<SCRATCH_PREFIX><table>-<run>`.
SCRATCH_PREFIX = f"{NAMESPACE}-drill-"
# DisasterWatch's per-table alarms are named `safetynet-<stack>-<table>-<suffix>`.
TABLE_ALARM_SUFFIXES = (
    "export-stale",
    "items-dropped",
    "export-failed",
    "restore-unverified",
    "drill-failed",
)
# ... and its stack-wide alarms `safetynet-<stack>-<suffix>`.
STACK_ALARM_SUFFIXES = ("alerts-undelivered", "classifier-errors", "unprotected-tables")
# Per-table metrics carry the dimension `Table`; the stack-wide ones (published by the freshness
# task, what the dashboard shows at any number of tables) the dimension `Stack` = the stack name.
TABLE_DIMENSION = "Table"
STACK_DIMENSION = "Stack"
# Tables of the account and region that are neither the stack's, nor excluded, nor drill scratch
# tables (`safetynet:coverage.exclude`); alarmed when above 0 for a day.
UNPROTECTED_TABLES_METRIC = "UnprotectedTables"
# The stack-wide aggregates of the per-table metrics, one number each whatever the table count.
STACK_METRICS = (
    "StaleExportTables",
    "OldestExportAgeHours",
    "FailedExports",
    "MaxItemDropRatio",
    "UnverifiedRestoreTables",
    "FailedDrillTables",
    UNPROTECTED_TABLES_METRIC,
)


def table_alarm_name(stack: str, table: str, suffix: str) -> str:
    """The name of one of a table's DisasterWatch alarms."""
    return f"{NAMESPACE}-{stack}-{table}-{suffix}"


class WatchConfigError(ValueError):
    """The task's environment is missing or malformed (a deployment problem, not an event)."""


@dataclass(frozen=True)
class WatchedTable:
    """One protected table."""

    name: str
    """Logical name (`safetynet:tables[i].name`): what `safetynet ... --table` takes."""
    physical_name: str
    """The table's name in AWS."""
    arn: str
    """The table's ARN."""
    export_prefix: str
    """The table's prefix in the vault (`exports/<table>`)."""
    key_schema: list[dict[str, str]] = field(default_factory=list)
    """The table's KeySchema (for drills: the scratch table's keys)."""
    attribute_definitions: list[dict[str, str]] = field(default_factory=list)
    """AttributeDefinitions of the key attributes."""
    schedule_name: str | None = None
    """The nightly export's scheduler schedule."""
    drill_schedule_name: str | None = None
    """The weekly restore drill's scheduler schedule."""


@dataclass(frozen=True)
class WatchContext:
    """The guarded stack: its name, tables, vault and alert settings."""

    stack: str
    tables: list[WatchedTable]
    vault_bucket: str
    kms_key_arn: str = ""
    topic_arn: str = ""
    deploy_principals: list[str] = field(default_factory=list)
    schedule_hours: float = 24.0
    """The export schedule's interval in hours (freshness limit = this + grace)."""
    freshness_grace_hours: float = 6.0
    max_item_drop_ratio: float = 0.2
    drill_max_age_days: int = 8
    drill_sample_size: int = 25
    stack_tag: str = ""
    """The stack's `safetynet:stack` tag value (`<project>/<stack>`): a table created with it is the
    stack's own, even before this context lists it."""
    coverage_exclude: list[str] = field(default_factory=list)
    """`safetynet:coverage.exclude` patterns (fnmatch, case-sensitive): tables knowingly left
    without safetynet."""
    owned_table_names: list[str] = field(default_factory=list)
    """Other tables the stack declares (restored copies beside their original)."""

    def coverage_of(self, table_name: str, tags: Iterable[tuple[str, str]] = ()) -> str | None:
        """Why a table of the account is no unprotected table (the stack's, a drill's scratch
        table, excluded by a pattern), or None when it is one. `tags` are the table's tags where
        known (a CreateTable request's), so a table the stack is creating counts as its own."""
        if table_name in self.stack_table_names() or (self.stack_tag and (STACK_TAG, self.stack_tag) in set(tags)):
            return f"a table of stack {self.stack}"
        if table_name.startswith(SCRATCH_PREFIX):
            return "a restore drill's scratch table"
        for pattern in self.coverage_exclude:
            if fnmatchcase(table_name, pattern):
                return f"excluded by safetynet:coverage.exclude pattern {pattern!r}"
        return None

    def stack_table_names(self) -> set[str]:
        """The physical names of every table the stack declares."""
        return {t.physical_name for t in self.tables} | set(self.owned_table_names)

    def table(self, name: str) -> WatchedTable:
        """A table by logical or physical name; raises WatchConfigError listing the known ones."""
        for t in self.tables:
            if name in (t.name, t.physical_name):
                return t
        known = ", ".join(t.name for t in self.tables) or "none"
        raise WatchConfigError(f"unknown table '{name}'; this stack protects: {known}")

    def to_json(self) -> str:
        """The `SAFETYNET_WATCH` document."""
        # Compact: the document travels in the Lambda environment (4 KB for all variables).
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> WatchContext:
        """Parse the `SAFETYNET_WATCH` document."""
        try:
            raw = json.loads(text)
            tables = [WatchedTable(**t) for t in raw.pop("tables")]
            return cls(tables=tables, **raw)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise WatchConfigError(f"{WATCH_ENV} is not a valid watch document: {exc}") from None


def adopt_command(stack: str, table: str) -> str:
    """The command that brings an existing table under the stack's protection."""
    return f"safetynet adopt -s {stack} --table {table}"


def schedule_interval_hours(expression: str) -> float:
    """Hours between runs of an EventBridge Scheduler expression (cron: daily unless the
    day-of-week field names specific days, then weekly); used for the freshness limit."""
    expr = expression.strip()
    if expr.startswith("rate("):
        value, unit = expr[5:-1].split()
        n = float(value)
        return n / 60 if unit.startswith("minute") else n if unit.startswith("hour") else n * 24
    if expr.startswith("cron("):
        fields = expr[5:-1].split()
        _minutes, hours, dom, _month, dow = fields[:5]
        if dow not in ("?", "*"):
            return 24.0 * 7 / max(1, len(dow.split(",")))
        if dom not in ("?", "*"):
            return 24.0 * 31
        if hours == "*" or "/" in hours:
            return 1.0 if "/" not in hours else float(hours.split("/")[1])
        return 24.0 / max(1, len(hours.split(",")))
    return 24.0 * 365  # at(): a one-off schedule


def as_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as a JSON-ready dict."""
    return asdict(obj)

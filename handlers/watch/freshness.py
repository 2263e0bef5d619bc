"""Export freshness and health: is there a recent, complete, plausible export of every table?

`assess` is pure: from a table's exports (newest first), the failed exports DynamoDB reports and
the last drill record it computes the numbers the CloudWatch alarms watch:

    ExportAgeHours              hours since the newest complete export's point in time
    ExportItemCount             its item count (the dashboard's items-over-time graph)
    ExportItemDropRatio         1 - newest/previous item count (0 when it grew)
    ExportFailed                FAILED exports started within the freshness limit
    LastVerifiedRestoreAgeHours hours since the last successful restore drill

`run` gathers the inputs with the access layer and publishes the metrics (dimension Table), and
the same numbers for the whole stack (dimension Stack, `stack_health`), one of each whatever the
number of tables (what the dashboard shows):

    StaleExportTables           tables without a complete export within the limit
    OldestExportAgeHours        the oldest of the tables' newest exports
    FailedExports               FAILED exports within the limit, all tables
    MaxItemDropRatio            the largest drop ratio
    UnverifiedRestoreTables     tables without a successful drill within drill.maxAgeDays
    FailedDrillTables           tables whose last drill failed
    UnprotectedTables           tables of the account and region that are neither the stack's, nor
                                excluded (safetynet:coverage.exclude), nor drill scratch tables
                                (ListTables only: names, never another table's settings)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from conventions.watch import STACK_DIMENSION, UNPROTECTED_TABLES_METRIC, WatchContext, WatchedTable
from handlers.exports.layout import parse_time
from handlers.watch.aws import (
    AWS_ERRORS,
    error_text,
    export_statuses,
    list_table_names,
    put_metrics,
    read_drill_record,
    vault_exports,
)


@dataclass(frozen=True)
class ExportPoint:
    """One complete export of a table."""

    export_id: str
    export_time: datetime
    item_count: int
    size_bytes: int | None = None


@dataclass(frozen=True)
class FailedExport:
    """A FAILED export from ListExports/DescribeExport."""

    arn: str
    start_time: datetime | None
    failure: str


@dataclass
class FreshnessReport:
    """The health of one table's backups."""

    table: str
    physical_name: str
    limit_hours: float
    """Schedule interval + grace: an export older than this is stale."""
    last_export_id: str | None = None
    last_export_time: str | None = None
    age_hours: float | None = None
    item_count: int | None = None
    size_bytes: int | None = None
    previous_item_count: int | None = None
    drop_ratio: float | None = None
    failed_exports: list[str] = field(default_factory=list)
    last_verified_restore: str | None = None
    restore_age_hours: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        """No complete export, or the newest is older than the limit."""
        return self.age_hours is None or self.age_hours > self.limit_hours

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (also used by `safetynet status --json`)."""
        return {**asdict(self), "stale": self.stale}


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 3)


def assess(
    table: WatchedTable,
    exports: Sequence[ExportPoint],
    failed: Sequence[FailedExport],
    drill_record: dict[str, Any] | None,
    *,
    now: datetime,
    limit_hours: float,
) -> FreshnessReport:
    """Pure: the freshness numbers of one table. `exports` newest first."""
    r = FreshnessReport(table=table.name, physical_name=table.physical_name, limit_hours=limit_hours)
    if exports:
        newest = exports[0]
        r.last_export_id = newest.export_id
        r.last_export_time = newest.export_time.isoformat()
        r.age_hours = max(0.0, _hours(now - newest.export_time))
        r.item_count = newest.item_count
        r.size_bytes = newest.size_bytes
        if len(exports) > 1:
            prev = exports[1].item_count
            r.previous_item_count = prev
            # A table that was empty before cannot "drop"; growth is not a drop either.
            r.drop_ratio = round(max(0.0, 1 - newest.item_count / prev), 4) if prev else 0.0
    window_start = now - timedelta(hours=limit_hours)
    r.failed_exports = [
        f"{f.arn} ({f.failure or 'no reason given'})"
        for f in failed
        if f.start_time is None or f.start_time >= window_start
    ]
    if drill_record and drill_record.get("lastSuccessAt"):
        at = parse_time(drill_record["lastSuccessAt"])
        if at is not None:
            r.last_verified_restore = at.isoformat()
            r.restore_age_hours = max(0.0, _hours(now - at))
    return r


def metric_data(r: FreshnessReport, now: datetime) -> list[dict[str, Any]]:
    """PutMetricData entries of a report. Unknown values are not published, so the alarms'
    treat-missing-data (breaching for age metrics) decides, never a made-up number."""
    dims = [{"Name": "Table", "Value": r.physical_name}]
    values: list[tuple[str, float | None, str]] = [
        ("ExportAgeHours", r.age_hours, "None"),
        ("ExportItemCount", float(r.item_count) if r.item_count is not None else None, "Count"),
        ("ExportItemDropRatio", r.drop_ratio, "None"),
        ("ExportFailed", float(len(r.failed_exports)), "Count"),
        ("LastVerifiedRestoreAgeHours", r.restore_age_hours, "None"),
    ]
    return [
        {"MetricName": name, "Dimensions": dims, "Timestamp": now, "Value": value, "Unit": unit}
        for name, value, unit in values
        if value is not None
    ]


def gather(
    ctx: WatchContext, table: WatchedTable, *, ddb: Any, s3: Any, now: datetime
) -> tuple[list[ExportPoint], list[FailedExport], dict[str, Any] | None, list[str]]:
    """The inputs of `assess` for one table, and the problems met while reading them (failed
    exports only from the freshness limit before `now`, the ones `assess` counts)."""
    problems: list[str] = []
    points: list[ExportPoint] = []
    try:
        for ref, summary in vault_exports(s3, ctx.vault_bucket, table.export_prefix):
            if summary.table_arn != table.arn:
                problems.append(f"{ref.url} is an export of {summary.table_arn}, not {table.arn}: ignored")
                continue
            points.append(
                ExportPoint(ref.export_id, summary.export_time, summary.item_count, summary.billed_size_bytes)
            )
    except AWS_ERRORS as exc:
        problems.append(f"vault listing failed: {error_text(exc)}")
    failed: list[FailedExport] = []
    try:
        since = now - timedelta(hours=ctx.schedule_hours + ctx.freshness_grace_hours)
        for e in export_statuses(ddb, table.arn, since=since):
            if e["status"] == "FAILED":
                start = e.get("startTime")
                failed.append(FailedExport(e["arn"], start if isinstance(start, datetime) else None, e["failure"]))
    except AWS_ERRORS as exc:
        problems.append(f"ListExports failed: {error_text(exc)}")
    record = None
    try:
        record = read_drill_record(s3, ctx.vault_bucket, table.physical_name)
    except AWS_ERRORS as exc:
        problems.append(f"drill record unreadable: {error_text(exc)}")
    return points, failed, record, problems


@dataclass
class StackHealth:
    """The stack-wide numbers of one freshness run (dimension Stack)."""

    stack: str
    stale_export_tables: int
    oldest_export_age_hours: float | None
    failed_exports: int
    max_item_drop_ratio: float | None
    unverified_restore_tables: int
    failed_drill_tables: int
    unprotected_tables: list[str] | None
    """Unprotected table names, or None when ListTables failed (then no count is published)."""
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def stack_health(
    ctx: WatchContext,
    reports: Sequence[FreshnessReport],
    drill_records: Sequence[dict[str, Any] | None],
    table_names: Sequence[str] | None,
) -> StackHealth:
    """Pure: the stack-wide numbers from every table's report and last drill record, and the
    account's table names (None when unreadable)."""
    ages = [r.age_hours for r in reports if r.age_hours is not None]
    drops = [r.drop_ratio for r in reports if r.drop_ratio is not None]
    drill_limit = ctx.drill_max_age_days * 24.0
    return StackHealth(
        stack=ctx.stack,
        stale_export_tables=sum(1 for r in reports if r.stale),
        oldest_export_age_hours=max(ages) if ages else None,
        failed_exports=sum(len(r.failed_exports) for r in reports),
        max_item_drop_ratio=max(drops) if drops else None,
        unverified_restore_tables=sum(
            1 for r in reports if r.restore_age_hours is None or r.restore_age_hours > drill_limit
        ),
        failed_drill_tables=sum(1 for d in drill_records if d is not None and d.get("ok") is False),
        unprotected_tables=(
            None if table_names is None else sorted(n for n in table_names if ctx.coverage_of(n) is None)
        ),
    )


def stack_metric_data(h: StackHealth, now: datetime) -> list[dict[str, Any]]:
    """PutMetricData entries of the stack-wide numbers; unknown values are not published."""
    dims = [{"Name": STACK_DIMENSION, "Value": h.stack}]
    unprotected = float(len(h.unprotected_tables)) if h.unprotected_tables is not None else None
    values: list[tuple[str, float | None, str]] = [
        ("StaleExportTables", float(h.stale_export_tables), "Count"),
        ("OldestExportAgeHours", h.oldest_export_age_hours, "None"),
        ("FailedExports", float(h.failed_exports), "Count"),
        ("MaxItemDropRatio", h.max_item_drop_ratio, "None"),
        ("UnverifiedRestoreTables", float(h.unverified_restore_tables), "Count"),
        ("FailedDrillTables", float(h.failed_drill_tables), "Count"),
        (UNPROTECTED_TABLES_METRIC, unprotected, "Count"),
    ]
    return [
        {"MetricName": name, "Dimensions": dims, "Timestamp": now, "Value": value, "Unit": unit}
        for name, value, unit in values
        if value is not None
    ]


@dataclass
class FreshnessRun:
    """What one run of the freshness task measured."""

    reports: list[FreshnessReport]
    stack: StackHealth


def run_all(ctx: WatchContext, *, ddb: Any, s3: Any, cw: Any, now: datetime) -> FreshnessRun:
    """Assess every table and the stack, count the account's unprotected tables, publish it all."""
    limit = ctx.schedule_hours + ctx.freshness_grace_hours
    reports: list[FreshnessReport] = []
    records: list[dict[str, Any] | None] = []
    data: list[dict[str, Any]] = []
    for table in ctx.tables:
        points, failed, record, problems = gather(ctx, table, ddb=ddb, s3=s3, now=now)
        report = assess(table, points, failed, record, now=now, limit_hours=limit)
        report.problems += problems
        reports.append(report)
        records.append(record)
        data += metric_data(report, now)
    names: list[str] | None = None
    problems = []
    try:
        names = list_table_names(ddb)
    except AWS_ERRORS as exc:
        problems.append(f"ListTables failed, unprotected tables not counted: {error_text(exc)}")
    health = stack_health(ctx, reports, records, names)
    health.problems += problems
    put_metrics(cw, data + stack_metric_data(health, now))
    return FreshnessRun(reports=reports, stack=health)


def run(ctx: WatchContext, *, ddb: Any, s3: Any, cw: Any, now: datetime) -> list[FreshnessReport]:
    """Assess every table and publish the metrics (and the stack's, see `run_all`)."""
    return run_all(ctx, ddb=ddb, s3=s3, cw=cw, now=now).reports

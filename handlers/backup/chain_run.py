"""One run of the chain task over every table of the stack: observe, step, record, start.

For each table, in parallel (bounded threads), oldest chain first:

    1. DescribeExport of each export the ledger has running (the current and the closing chain's).
    2. The newest full export in the vault, when one is due (the nightly schedule's interval has
       passed since the anchor), when the table has no chain yet, or when its chain is in trouble;
       for a table without a chain, the windows already in the vault from that export on.
    3. `chain_step.step`: the record after these observations.
    4. The record is written (conditionally on the version read) BEFORE any export starts: the
       PLANNED windows are the intent. A run that dies after it starts them again with the same
       ClientTokens, so DynamoDB returns the exports already running instead of starting twins.
    5. Each PLANNED window is started; the record is written again with the exports' ARNs.

Nothing waits: an export runs for minutes to hours, and the next run (the schedule's rate) reads
its state. When the account's concurrent exports are all in use, the remaining windows wait for
the next run (counted as deferred, not failed), which exports that time as fewer, longer
windows. The run publishes stack-wide metrics and returns a
report per table; an AWS error on one table is that table's failure, not the run's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from conventions.chain import (
    COMPLETED_METRIC,
    DEFERRED_METRIC,
    FAILED_WINDOWS_METRIC,
    GAPS_METRIC,
    LAG_METRIC,
    LATE_TABLES_METRIC,
    STARTED_METRIC,
    WAITING_METRIC,
    ChainContext,
    ChainTable,
    late_limit_seconds,
)
from handlers.backup.aws import AWS_ERRORS, ExportLimitExceeded, ExportStartFailed, LedgerConflict
from handlers.backup.chain_ledger import FAILED, IN_PROGRESS, ChainRecord, WindowRun, new_record, replace_window
from handlers.backup.chain_step import CLOSING, CURRENT, Anchor, ExportStatus, StepOutcome, resume_point, step
from handlers.backup.chain_windows import Window, iso, utc

WORKERS = 8
"""Tables stepped at once: each step is a few short AWS calls, so 1,000 tables take seconds."""
RESERVE_SECONDS = 30.0
"""Stop starting work when the invocation has less than this left (the rest waits a run)."""


class ChainAccess(Protocol):
    """What a run needs of AWS (handlers.backup.aws.ChainAws, or a fake in tests)."""

    def load_records(self) -> tuple[dict[str, ChainRecord], dict[str, str]]: ...
    def save(self, record: ChainRecord, *, now: datetime) -> ChainRecord: ...
    def describe_export(self, export_arn: str) -> ExportStatus: ...
    def start_export(self, table: ChainTable, run: WindowRun) -> str: ...
    def newest_full_export(self, table: ChainTable) -> Anchor | None: ...
    def vault_windows(self, table: ChainTable, since: datetime) -> list[Window]: ...
    def put_metrics(self, values: dict[str, float], *, now: datetime) -> None: ...


@dataclass
class TableResult:
    """What one run did for one table."""

    table: str
    state: str = "ok"
    """ok, waiting (no full export yet), late, broken, failed, conflict, skipped, error."""
    chain_end: datetime | None = None
    lag_minutes: float | None = None
    completed: int = 0
    started: int = 0
    deferred: int = 0
    failed: int = 0
    gaps: int = 0
    """Chains given up in this run (see the ledger item's gaps)."""
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "state": self.state,
            "chainEnd": iso(self.chain_end) if self.chain_end else None,
            "lagMinutes": self.lag_minutes,
            "completed": self.completed,
            "started": self.started,
            "deferred": self.deferred,
            "failed": self.failed,
            "gaps": self.gaps,
            "problems": self.problems,
        }


@dataclass
class RunReport:
    """Every table's result and the stack-wide numbers published as metrics."""

    now: datetime
    tables: list[TableResult] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        lags = [t.lag_minutes for t in self.tables if t.lag_minutes is not None]
        return {
            FAILED_WINDOWS_METRIC: sum(t.failed for t in self.tables),
            LATE_TABLES_METRIC: sum(1 for t in self.tables if t.state == "late"),
            LAG_METRIC: max(lags, default=0.0),
            STARTED_METRIC: sum(t.started for t in self.tables),
            COMPLETED_METRIC: sum(t.completed for t in self.tables),
            DEFERRED_METRIC: sum(t.deferred for t in self.tables),
            GAPS_METRIC: sum(t.gaps for t in self.tables),
            WAITING_METRIC: sum(1 for t in self.tables if t.state == "waiting"),
        }

    def to_json(self) -> dict[str, Any]:
        return {"now": iso(self.now), "metrics": self.metrics(), "tables": [t.to_json() for t in self.tables]}


def anchor_due(record: ChainRecord, table: ChainTable, ctx: ChainContext, now: datetime) -> bool:
    """Whether this run looks for a newer full export in the vault: no chain or no anchor yet, the
    nightly schedule's interval has passed since the anchor, or the chain is in trouble (a window
    failed, or its oldest open window nears the edge of the PITR period)."""
    if record.chain_end is None or record.anchor is None:
        return True
    if now - record.anchor >= timedelta(hours=ctx.anchor_interval_hours):
        return True
    if any(w.state == FAILED for w in (*record.windows, *record.closing)):
        return True
    oldest = record.windows[0].window.start if record.windows else record.chain_end
    return oldest < now - timedelta(days=table.pitr_days) + timedelta(days=1)


class _Run:
    def __init__(self, ctx: ChainContext, access: ChainAccess, now: datetime, time_left: Callable[[], float]):
        self.ctx = ctx
        self.access = access
        self.now = utc(now)
        self.time_left = time_left
        self.limit_hit = threading.Event()

    def table(self, table: ChainTable, record: ChainRecord) -> TableResult:
        """Observe, step, record and start for one table (safe to call from several threads)."""
        result = TableResult(table.physical_name, chain_end=record.chain_end)
        if self.time_left() < RESERVE_SECONDS:
            result.state = "skipped"
            result.problems.append("not reached in this run (time): next run")
            return result
        try:
            outcome = self._observe_and_step(table, record)
            saved = record if outcome.record == record else self.access.save(outcome.record, now=self.now)
            saved = self._start(table, saved, outcome, result)
        except LedgerConflict as exc:
            result.state = "conflict"
            result.problems.append(str(exc))
            return result
        except AWS_ERRORS as exc:
            result.state, result.failed = "error", result.failed + 1
            result.problems.append(f"AWS error: {exc}")
            return result
        self._judge(table, saved, outcome, result)
        return result

    def _observe_and_step(self, table: ChainTable, record: ChainRecord) -> StepOutcome:
        statuses = {
            w.export_arn: self.access.describe_export(w.export_arn)
            for w in (*record.closing, *record.windows)
            if w.state == IN_PROGRESS and w.export_arn
        }
        anchor = self.access.newest_full_export(table) if anchor_due(record, table, self.ctx, self.now) else None
        vault_end = None
        if record.chain_end is None and anchor is not None:
            vault_end = resume_point(anchor.time, self.access.vault_windows(table, since=anchor.time))
        return step(
            record,
            table,
            now=self.now,
            safety_lag_seconds=self.ctx.safety_lag_seconds,
            anchor=anchor,
            statuses=statuses,
            vault_end=vault_end,
        )

    def _start(self, table: ChainTable, record: ChainRecord, outcome: StepOutcome, result: TableResult) -> ChainRecord:
        chains = {CURRENT: record.windows, CLOSING: record.closing}
        deferred: set[int] = set()
        for which, index, run in outcome.to_start():
            if self.limit_hit.is_set() or self.time_left() < RESERVE_SECONDS:
                result.deferred += 1
                if which == CURRENT:
                    deferred.add(index)
                continue
            try:
                arn = self.access.start_export(table, run)
            except ExportLimitExceeded:
                self.limit_hit.set()
                result.deferred += 1
                if which == CURRENT:
                    deferred.add(index)
                continue
            except ExportStartFailed as exc:
                failed = replace(run, state=FAILED, error=str(exc), error_code=exc.code)
                chains[which] = replace_window(chains[which], index, failed)
                result.failed += 1
                result.problems.append(f"window {run.window} (attempt {run.attempt}) did not start: {exc}")
                continue
            chains[which] = replace_window(chains[which], index, replace(run, state=IN_PROGRESS, export_arn=arn))
            result.started += 1
        windows = _without_deferred_tail(chains[CURRENT], deferred, set(outcome.planned))
        if (windows, chains[CLOSING]) == (record.windows, record.closing):
            return record
        return self.access.save(record.with_changes(windows=windows, closing=chains[CLOSING]), now=self.now)

    def _judge(self, table: ChainTable, record: ChainRecord, outcome: StepOutcome, result: TableResult) -> None:
        result.chain_end = record.chain_end
        result.completed = len(outcome.completed)
        result.failed += len(outcome.failed)
        result.gaps = len(outcome.gaps)
        result.problems += [f"window {w.window} (attempt {w.attempt}) failed: {w.error}" for w in outcome.failed]
        result.problems += outcome.notes
        result.problems += [f"gap from {iso(g.start)} to {iso(g.end)} given up: {g.reason}" for g in outcome.gaps]
        if record.chain_end is None:
            result.state = "waiting"
            return
        lag = (self.now - record.chain_end).total_seconds()
        result.lag_minutes = round(lag / 60, 1)
        if outcome.broken is not None:
            result.state, result.failed = "broken", result.failed + 1
            result.problems.append(outcome.broken)
        elif result.failed:
            result.state = "failed"
        elif lag > late_limit_seconds(table.every_seconds, self.ctx.safety_lag_seconds):
            result.state = "late"


def _without_deferred_tail(
    windows: tuple[WindowRun, ...], deferred: set[int], planned_now: set[Window]
) -> tuple[WindowRun, ...]:
    """The windows without the trailing ones this run planned and could not start (the account's
    exports all running, or no time left): no start call created them, so the next run plans
    that time again as fewer, longer windows instead of a growing queue of short ones. A PLANNED
    window from an earlier run stays: a run that died may have started it (its ClientToken then
    returns that export)."""
    end = len(windows)
    while end and end - 1 in deferred and windows[end - 1].window in planned_now:
        end -= 1
    return windows[:end]


def run(
    ctx: ChainContext,
    access: ChainAccess,
    *,
    now: datetime,
    time_left: Callable[[], float] | None = None,
    workers: int = WORKERS,
) -> RunReport:
    """Step every table of the context once; publish the metrics; return the report."""
    records, unreadable = access.load_records()
    clock = time_left or (lambda: float("inf"))

    def oldest_first(t: ChainTable) -> tuple[bool, datetime]:
        end = records.get(t.physical_name, new_record(t.physical_name)).chain_end
        return (end is not None, end or utc(now))

    tables = sorted(ctx.tables, key=oldest_first)
    report = RunReport(now=utc(now))
    for t in tables:
        if t.physical_name in unreadable:
            bad = TableResult(t.physical_name, state="error", failed=1)
            bad.problems.append(f"ledger item unreadable, left as it is: {unreadable[t.physical_name]}")
            report.tables.append(bad)
    readable = [t for t in tables if t.physical_name not in unreadable]
    stepper = _Run(ctx, access, now, clock)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        report.tables += pool.map(
            lambda t: stepper.table(t, records.get(t.physical_name) or new_record(t.physical_name)), readable
        )
    access.put_metrics(report.metrics(), now=report.now)
    return report

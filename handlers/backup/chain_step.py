"""One run's step for one table: what its chain becomes, given what DynamoDB and the vault say.

Pure: the ledger record, the table's settings, the time, the newest full export found in the
vault and the state of each export the record has started go in; the new record (and what
happened, for the run's metrics and logs) comes out. The run (`chain_run`) then writes the record
and starts the windows it left PLANNED.

A chain belongs to one anchor: its first window starts exactly at the anchor's ExportTime (to the
second). A window that straddles a full export cannot be replayed on it (incremental exports are
compacted: an item in the full export and deleted later in the same window has no line in it; see
handlers/exports/chain.py), so each newer full export starts a new chain at its own ExportTime,
and the previous chain closes: its windows that start before the new anchor still complete (a
restore to a time between the two full exports replays them), the later ones are dropped.

    1. Each started export: COMPLETED or FAILED, as DescribeExport says (IN_PROGRESS stays).
    2. Each chain's end moves over its leading COMPLETED windows, in order: a completed window
       after an unfinished one waits, so an end never skips one.
    3. A newer full export in the vault becomes the anchor: a new chain starts at its ExportTime
       (keeping the windows already planned from exactly there), the current one closes. A table
       without a chain starts one at its newest full export (continuing the windows already in
       the vault from there).
    4. A window that can no longer be exported (older than the table's PITR period, or refused
       as outside it) ends its chain: a closing chain is given up (the gap recorded); the current
       chain is broken (reported) until a newer full export starts the next one.
    5. FAILED windows are planned again, same bounds, next attempt (a new ClientToken).
    6. New windows: for a closing chain, until one reaches the new anchor (it may straddle it);
       for the current chain, after its last one up to now minus the safety lag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from conventions.chain import ChainTable
from handlers.backup.chain_ledger import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PLANNED,
    ChainRecord,
    Gap,
    WindowRun,
)
from handlers.backup.chain_windows import Window, chain_start, export_target, iso, next_window, plan_windows, utc

MAX_OPEN_WINDOWS = 40
"""Windows a table may have open (planned, running or completed after an unfinished one): 35 days
of 24-hour catch-up windows fit, and a runaway cannot grow the ledger item."""
PITR_MARGIN = timedelta(hours=1)
"""A window that starts less than this inside the PITR period is treated as already outside it:
by the time its export starts and runs, it may be."""
TOO_RECENT = timedelta(hours=1)
"""An export refused as outside the PITR period for a window that ended less than this ago may
just be ahead of PITR's latest restorable time: it is retried, not a reason to give up."""
INVALID_TIME = "InvalidExportTimeException"
CURRENT = "windows"
CLOSING = "closing"


@dataclass(frozen=True)
class Anchor:
    """A full export in the vault: the chain's possible starting point."""

    export_id: str
    time: datetime
    """Its ExportTime (the snapshot's instant)."""


@dataclass(frozen=True)
class ExportStatus:
    """What DescribeExport says of an export."""

    state: str
    """IN_PROGRESS, COMPLETED or FAILED."""
    failure: str | None = None
    failure_code: str | None = None


@dataclass(frozen=True)
class StepOutcome:
    """The table's new record and what this step observed."""

    record: ChainRecord
    completed: tuple[Window, ...] = ()
    """Windows whose export was seen COMPLETED in this step."""
    failed: tuple[WindowRun, ...] = ()
    """Windows whose export was seen FAILED in this step (each planned again)."""
    planned: tuple[Window, ...] = ()
    """New windows planned in this step (of the current chain)."""
    gaps: tuple[Gap, ...] = ()
    """Chains given up in this step (a closing chain that cannot reach its anchor)."""
    broken: str | None = None
    """Why the current chain cannot continue (until a newer full export), or None."""
    notes: list[str] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        """No chain yet: no full export of the table found."""
        return self.record.chain_end is None

    def to_start(self) -> list[tuple[str, int, WindowRun]]:
        """(which chain, index, window) of the windows the run must start now: the closing
        chain's first (the older time), then the current chain's, each in order."""
        return [
            (which, i, w)
            for which in (CLOSING, CURRENT)
            for i, w in enumerate(getattr(self.record, which))
            if w.state == PLANNED
        ]


def resume_point(anchor_time: datetime, windows: Sequence[Window]) -> datetime | None:
    """Where a chain anchored at `anchor_time` ends if it continues through `windows` (windows
    already in the vault): the end of the longest contiguous run from a window that starts exactly
    at the anchor's second, or None when none does."""
    by_start: dict[datetime, datetime] = {}
    for w in windows:
        by_start[w.start] = max(by_start.get(w.start, w.end), w.end)
    end = by_start.get(chain_start(anchor_time))
    if end is None:
        return None
    seen = {end}
    while end in by_start:
        end = by_start[end]
        if end in seen:  # cannot happen with start < end; a guard against a malformed listing
            break
        seen.add(end)
    return end


def _apply_statuses(
    windows: list[WindowRun], statuses: Mapping[str, ExportStatus]
) -> tuple[list[Window], list[WindowRun]]:
    completed: list[Window] = []
    failed: list[WindowRun] = []
    for i, run in enumerate(windows):
        status = statuses.get(run.export_arn or "") if run.state == IN_PROGRESS else None
        if status is None or status.state == IN_PROGRESS:
            continue
        if status.state == COMPLETED:
            windows[i] = replace(run, state=COMPLETED, error=None, error_code=None)
            completed.append(run.window)
        else:
            windows[i] = replace(
                run, state=FAILED, error=status.failure or status.state, error_code=status.failure_code
            )
            failed.append(windows[i])
    return completed, failed


def _fold(end: datetime | None, windows: list[WindowRun]) -> datetime | None:
    """Move `end` over the leading completed windows (removed from `windows`)."""
    while windows and windows[0].state == COMPLETED:
        end = windows.pop(0).window.end
    return end


def _unexportable(windows: list[WindowRun], end: datetime | None, horizon: datetime, now: datetime) -> str | None:
    """Why a chain's next export cannot happen (it starts before the PITR period, or DynamoDB
    refused it as outside it), or None."""
    pending = [w for w in windows if w.state in (PLANNED, FAILED)]
    first = pending[0].window.start if pending else (end if not windows else None)
    if first is not None and first < horizon:
        return f"the next window starts at {iso(first)}, outside the table's PITR period (from {iso(horizon)})"
    for w in pending:
        if w.error_code == INVALID_TIME and w.window.end < now - TOO_RECENT:
            return f"DynamoDB refused window {w.window} as outside the PITR period: {w.error}"
    return None


def _retry(windows: list[WindowRun]) -> list[WindowRun]:
    return [
        replace(w, state=PLANNED, attempt=w.attempt + 1, export_arn=None) if w.state == FAILED else w for w in windows
    ]


@dataclass
class _Chains:
    """The record's two chains while a step changes them."""

    chain_start: datetime | None
    chain_end: datetime | None
    windows: list[WindowRun]
    closing_end: datetime | None
    closing_until: datetime | None
    closing: list[WindowRun]

    def close_done(self) -> None:
        if self.closing_end is not None and self.closing_until is not None and self.closing_end >= self.closing_until:
            self.closing, self.closing_end, self.closing_until = [], None, None

    def switch(self, anchor: Anchor, notes: list[str]) -> Gap | None:
        """A new chain at the newer `anchor`; the current one closes (see the module docstring).
        Returns the gap of a previous closing chain that never reached its anchor."""
        assert self.chain_end is not None
        gap = None
        if self.closing_end is not None and self.closing_until is not None:
            gap = Gap(self.closing_end, self.closing_until, "a newer full export came before its windows completed")
        new_start = chain_start(anchor.time)
        before = [w for w in self.windows if w.window.start < new_start]
        after = self.windows[len(before) :]
        if self.chain_end < new_start:
            self.closing, self.closing_end, self.closing_until = before, self.chain_end, new_start
        else:
            self.closing, self.closing_end, self.closing_until = [], None, None
        if after and after[0].window.start == new_start:
            self.windows = after  # windows already planned from exactly there: the new chain's
        else:
            dropped = [w for w in after if w.state in (IN_PROGRESS, COMPLETED)]
            if dropped:
                notes.append(f"{len(dropped)} window(s) of the previous chain after the new anchor left out")
            self.windows = []
        self.chain_start = self.chain_end = new_start
        return gap


def step(
    record: ChainRecord,
    table: ChainTable,
    *,
    now: datetime,
    safety_lag_seconds: int,
    anchor: Anchor | None = None,
    statuses: Mapping[str, ExportStatus] | None = None,
    vault_end: datetime | None = None,
    max_open_windows: int = MAX_OPEN_WINDOWS,
) -> StepOutcome:
    """The table's chains after this run's observations (see the module's docstring).

    `anchor` is the newest full export found in the vault (None: not looked for, or none);
    `statuses` what DescribeExport said of the record's started exports, by ARN; `vault_end`,
    for a table without a chain, where windows already in the vault from `anchor` reach."""
    now = utc(now)
    statuses = statuses or {}
    c = _Chains(
        record.chain_start,
        record.chain_end,
        list(record.windows),
        record.closing_end,
        record.closing_until,
        list(record.closing),
    )
    completed, failed = _apply_statuses(c.windows, statuses)
    closing_completed, closing_failed = _apply_statuses(c.closing, statuses)
    completed, failed = closing_completed + completed, closing_failed + failed
    c.chain_end = _fold(c.chain_end, c.windows)
    c.closing_end = _fold(c.closing_end, c.closing)
    c.close_done()

    newest, anchor_id = record.anchor, record.anchor_export_id
    notes: list[str] = []
    gaps = list(record.gaps)
    newer = anchor is not None and (newest is None or utc(anchor.time) > newest)
    if anchor is not None and newer:
        newest, anchor_id = utc(anchor.time), anchor.export_id
        if c.chain_end is None:
            c.chain_start = chain_start(anchor.time)
            c.chain_end = vault_end if vault_end is not None and vault_end > c.chain_start else c.chain_start
            if c.chain_end != c.chain_start:
                notes.append(f"continues the vault's windows from the full export, to {iso(c.chain_end)}")
        else:
            gap = c.switch(anchor, notes)
            if gap is not None:
                gaps.append(gap)

    def out(planned: Sequence[Window] = (), broken: str | None = None) -> StepOutcome:
        rec = record.with_changes(
            anchor=newest,
            anchor_export_id=anchor_id,
            chain_start=c.chain_start,
            chain_end=c.chain_end,
            windows=tuple(c.windows),
            closing=tuple(c.closing),
            closing_end=c.closing_end,
            closing_until=c.closing_until,
            gaps=tuple(gaps),
        )
        return StepOutcome(
            record=rec,
            completed=tuple(completed),
            failed=tuple(failed),
            planned=tuple(planned),
            gaps=tuple(gaps[len(record.gaps) :]),
            broken=broken,
            notes=notes,
        )

    if c.chain_end is None:
        notes.append("no full export yet")
        return out()

    horizon = now - timedelta(days=table.pitr_days) + PITR_MARGIN
    if c.closing_end is not None and (problem := _unexportable(c.closing, c.closing_end, horizon, now)):
        assert c.closing_until is not None
        gaps.append(Gap(c.closing_end, c.closing_until, problem))
        c.closing, c.closing_end, c.closing_until = [], None, None
    c.closing = _retry(c.closing)
    problem = _unexportable(c.windows, c.chain_end, horizon, now)
    if problem is not None:
        return out(broken=f"{problem}; no newer full export to start the next chain at yet")

    c.windows = _retry(c.windows)
    target = export_target(now, safety_lag_seconds)
    # The previous chain still plans windows until one reaches its successor's anchor (that last
    # one may straddle it: only the new chain may not begin with such a window).
    closing_new: list[Window] = []
    if c.closing_end is not None and c.closing_until is not None:
        cursor = c.closing[-1].window.end if c.closing else c.closing_end
        while cursor < c.closing_until and (w := next_window(cursor, target, table.every_seconds)) is not None:
            closing_new.append(w)
            cursor = w.end
        c.closing += [WindowRun(window=w) for w in closing_new]
    planned_end = c.windows[-1].window.end if c.windows else c.chain_end
    room = max(0, max_open_windows - len(c.windows) - len(c.closing))
    new = plan_windows(planned_end, target, table.every_seconds, limit=room)
    c.windows += [WindowRun(window=w) for w in new]
    return out(planned=new)

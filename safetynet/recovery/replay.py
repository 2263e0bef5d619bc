"""Replay: bring a table restored from a full export (the anchor) forward to a later time, from
the vault alone, by applying the chain of incremental exports after the anchor.

    plan_replay       which windows reach the requested time (`--to T`, or `--latest`)
    validate_windows  every window read in full before anything is written
    run_replay        the windows applied in order, each in parallel, journaled on the table

Guarantees:
- **Exact time or refusal.** A table reaches a window's end exactly: each window holds every
  changed item's final state in it. A window cannot be applied in part (it is compacted: one
  line per item, its state at the window's end and before its start, nothing in between), so a
  `--to` inside a window is refused with the two times that are possible.
- **Nothing written before everything is proven**: every window to apply is validated in full
  (`handlers.exports.apply.validate_window`: manifests, every data file's MD5 and line count,
  every line's fields and the values replay writes) before the first write; a
  damaged window is replaced by a valid duplicate of the same [from, to) when the vault holds
  one (a retried export), and otherwise stops the replay naming it. A gap stops the plan there.
- **Strictly ordered, parallel within**: window k+1 starts only after every write of window k
  was confirmed; inside a window the writes go out on `concurrency` threads (no two lines of a
  window touch the same item). Every window's puts and deletes are counted against its manifests.
- **Resumable**: the table's journal (`replay_target.TagJournal`) records the last fully applied
  window; a rerun skips the windows done and applies the interrupted one again (puts of final
  states and deletes are idempotent).

No Pulumi imports: `safetynet replay` drives this module; `handlers.exports.apply` applies one
window and could run in a Lambda as is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers.exports.apply import WindowResult, apply_window, validate_window
from handlers.exports.batch_writer import Sink
from handlers.exports.chain import Chain, ChainGap, build_chain
from handlers.exports.layout import (
    FULL_EXPORT,
    INCREMENTAL_EXPORT,
    ExportRef,
    ManifestSummary,
    format_time,
)
from handlers.exports.listing import scan_exports
from handlers.exports.validation import validate_export
from safetynet.recovery.replay_target import JournalEntry, TagJournal

logger = logging.getLogger(__name__)

Exports = Sequence[tuple[ExportRef, ManifestSummary]]


class ReplayError(Exception):
    """The replay cannot run as asked; the message says why and what to do instead."""


class NotOnWindowBoundary(ReplayError):
    """`--to` falls inside a window: only its start or its end can be reached exactly."""

    def __init__(self, to: datetime, before: datetime, after: datetime) -> None:
        super().__init__(
            f"{format_time(to)} falls inside the window {format_time(before)} .. {format_time(after)}: a "
            "window holds each item's state at its end only, so the table can be brought to its start "
            f"or its end, not in between. Choose --to {format_time(before)} (the last window end before) "
            f"or --to {format_time(after)} (the window's end after)"
        )
        self.to, self.before, self.after = to, before, after


class ChainBroken(ReplayError):
    """The chain does not reach the requested time: it stops at a gap (or ends) before it."""

    def __init__(self, to: datetime, recovery_point: datetime, gap: ChainGap | None) -> None:
        where = str(gap) if gap is not None else f"no window after {format_time(recovery_point)}"
        super().__init__(
            f"the vault's chain does not reach {format_time(to)}: {where}. Its recovery point is "
            f"{format_time(recovery_point)}: replay to it with --to {format_time(recovery_point)} (or --latest)"
        )
        self.to, self.recovery_point, self.gap = to, recovery_point, gap


class WindowsCorrupt(ReplayError):
    """Windows failed validation and no valid duplicate replaces them; nothing was written."""

    def __init__(self, problems: dict[str, list[str]], usable_until: datetime) -> None:
        lines = "; ".join(f"{url}: {' / '.join(p[:2])}" for url, p in problems.items())
        super().__init__(
            f"{len(problems)} window(s) of the chain are damaged, nothing was written: {lines}. Without them "
            f"the chain reaches {format_time(usable_until)} (--to {format_time(usable_until)}); re-export "
            "the damaged window(s) while the source table's PITR still covers them"
        )
        self.problems, self.usable_until = problems, usable_until


@dataclass(frozen=True)
class Window:
    """One incremental export of the plan: applying it brings the table from `start` to `end`."""

    number: int
    """1-based position after the anchor."""
    ref: ExportRef
    start: datetime
    end: datetime
    view: str
    summary: ManifestSummary

    @property
    def changes(self) -> int:
        return self.summary.item_count

    def label(self, total: int) -> str:
        return f"window {self.number}/{total} {format_time(self.start)} .. {format_time(self.end)}"


@dataclass
class ReplayPlan:
    """The anchor, the windows after it up to `to`, and what the vault's chain looks like."""

    anchor: ExportRef
    anchor_summary: ManifestSummary
    windows: list[Window]
    to: datetime
    """The time the table reaches: the last window's end, or the anchor's time without windows."""
    requested: datetime | None
    """--to T, or None for --latest."""
    gap: ChainGap | None = None
    """Where the vault's chain stops short (--latest: what the table cannot reach)."""
    skipped_anchors: list[tuple[str, str]] = field(default_factory=list)
    """Newer full exports passed over for the anchor, with why."""
    replaced: dict[str, list[str]] = field(default_factory=dict)
    """Damaged windows a valid duplicate replaced, with their problems."""

    @property
    def changes(self) -> int:
        return sum(w.changes for w in self.windows)

    def pending(self, done: datetime | None) -> list[Window]:
        """The windows still to apply when the table is at `done` (None: at the anchor)."""
        return [w for w in self.windows if done is None or w.end > done]

    def to_json(self, done: datetime | None = None) -> dict[str, Any]:
        pending = {w.number for w in self.pending(done)}
        return {
            "anchor": {
                "export": self.anchor.url,
                "exportTime": format_time(self.anchor_summary.export_time),
                "itemCount": self.anchor_summary.item_count,
            },
            "to": format_time(self.to),
            "requested": format_time(self.requested) if self.requested else None,
            "changes": self.changes,
            "windows": [
                {
                    "number": w.number,
                    "export": w.ref.url,
                    "from": format_time(w.start),
                    "to": format_time(w.end),
                    "changes": w.changes,
                    "done": w.number not in pending,
                }
                for w in self.windows
            ],
            "gap": None if self.gap is None else {"kind": self.gap.kind, "text": str(self.gap)},
            "skippedAnchors": [{"export": u, "reason": r} for u, r in self.skipped_anchors],
            "replacedWindows": [{"export": u, "problems": p} for u, p in self.replaced.items()],
        }


# --- planning ------------------------------------------------------------------------------------


def list_vault(s3: Any, bucket: str, prefix: str) -> list[tuple[ExportRef, ManifestSummary]]:
    """Every export (full and incremental) under a table's vault prefix, with its summary."""
    return scan_exports(s3, bucket, prefix, export_type=None).exports


def choose_anchor(
    s3: Any,
    exports: Exports,
    *,
    to: datetime | None,
    expected_table_arn: str | None,
    anchor: ExportRef | None = None,
    validate: Callable[[ExportRef], list[str]] | None = None,
) -> tuple[ExportRef, ManifestSummary, list[tuple[str, str]]]:
    """The anchor: the given export, or the newest full export at or before `to` that validates
    completely (restore-plan's choice), and the newer ones skipped with why."""

    def check(ref: ExportRef) -> list[str]:
        if validate is not None:
            return validate(ref)
        report = validate_export(s3, ref, expected_table_arn=expected_table_arn, workers=4)
        return report.problems

    fulls = [(r, s) for r, s in exports if s.export_type == FULL_EXPORT]
    if anchor is not None:
        found = next(((r, s) for r, s in fulls if r == anchor), None)
        if found is None:
            raise ReplayError(f"--anchor {anchor.url} is not a full export in the vault under this table's prefix")
        if expected_table_arn and found[1].table_arn != expected_table_arn:
            raise ReplayError(f"--anchor {anchor.url} is an export of {found[1].table_arn}, not {expected_table_arn}")
        if to is not None and found[1].export_time > to:
            raise ReplayError(
                f"--anchor {anchor.url} was exported at {format_time(found[1].export_time)}, after "
                f"{format_time(to)}: a replay only moves forward from its anchor"
            )
        return found[0], found[1], []
    skipped: list[tuple[str, str]] = []
    candidates = sorted(
        (
            (r, s)
            for r, s in fulls
            if (not expected_table_arn or s.table_arn == expected_table_arn) and (to is None or s.export_time <= to)
        ),
        key=lambda pair: (pair[1].export_time, pair[0].export_id),
        reverse=True,
    )
    for ref, summary in candidates:
        problems = check(ref)
        if not problems:
            return ref, summary, skipped
        skipped.append((ref.url, problems[0]))
    when = f" at or before {format_time(to)}" if to is not None else ""
    why = "; ".join(f"{u}: {r}" for u, r in skipped) or "none found"
    raise ReplayError(f"no valid full export{when} to start from ({why})")


def _straddling_end(exports: Exports, table_arn: str, at: datetime) -> datetime | None:
    """The earliest end of a window of the table that starts at or before `at` and ends after it."""
    ends = [
        s.export_to_time
        for _, s in exports
        if s.export_type == INCREMENTAL_EXPORT
        and s.table_arn == table_arn
        and s.export_from_time is not None
        and s.export_to_time is not None
        and s.export_from_time <= at < s.export_to_time
    ]
    return min(ends, default=None)


def _windows(chain: Chain) -> list[Window]:
    windows = []
    for number, link in enumerate(chain.links, start=1):
        assert link.summary is not None  # build_chain keeps every link's summary
        windows.append(Window(number, link.ref, link.start, link.end, link.view, link.summary))
    return windows


def plan_replay(
    exports: Exports,
    anchor: ExportRef,
    anchor_summary: ManifestSummary,
    *,
    to: datetime | None,
    exclude: Collection[ExportRef] = (),
) -> ReplayPlan:
    """The windows after `anchor` that bring the table exactly to `to` (None: as far as the chain
    goes). Pure: reads no data file. Raises NotOnWindowBoundary, ChainBroken or ReplayError."""
    anchor_time = anchor_summary.export_time
    if to is not None and to < anchor_time:
        raise ReplayError(
            f"the anchor {anchor.url} was exported at {format_time(anchor_time)}, after {format_time(to)}: "
            "choose an anchor at or before that time (restore-plan --at picks it)"
        )
    chain = build_chain(exports, until=to, anchor=anchor, exclude=exclude)
    assert chain.recovery_point is not None
    reached = chain.recovery_point
    if to is not None and reached < to:
        after = None if chain.gap is not None else _straddling_end(exports, anchor_summary.table_arn, reached)
        if after is not None and after > to:
            raise NotOnWindowBoundary(to, reached, after)
        raise ChainBroken(to, reached, chain.gap)
    gap = chain.gap if to is None else None
    return ReplayPlan(anchor, anchor_summary, _windows(chain), reached, to, gap)


def validate_windows(
    s3: Any,
    exports: Exports,
    plan: ReplayPlan,
    *,
    after: datetime | None = None,
    workers: int = 4,
) -> ReplayPlan:
    """Read every window the plan still has to apply (those ending after `after`) in full. A
    damaged window is left out and the plan made again, so that a valid duplicate of it (the
    same [from, to), exported twice) takes its place; returns the plan of valid windows (with
    `replaced` filled), or raises WindowsCorrupt when the damaged ones cannot be replaced."""
    table_arn = plan.anchor_summary.table_arn
    valid: set[ExportRef] = set()
    damaged: dict[ExportRef, list[str]] = {}

    def check(window: Window) -> tuple[Window, list[str]]:
        report = validate_window(s3, window.ref, expected_table_arn=table_arn)
        return window, report.problems

    current = plan
    while todo := [w for w in current.pending(after) if w.ref not in valid]:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="validate-window") as pool:
            results = list(pool.map(check, todo))
        for window, problems in results:
            if problems:
                damaged[window.ref] = problems
            else:
                valid.add(window.ref)
        if not damaged:
            break
        # Made again without the damaged windows: reaching the same time means duplicates replaced them.
        problems_by_url = {r.url: p for r, p in damaged.items()}
        try:
            current = plan_replay(exports, plan.anchor, plan.anchor_summary, to=plan.requested, exclude=damaged)
        except ReplayError:
            reach = plan_replay(exports, plan.anchor, plan.anchor_summary, to=None, exclude=damaged).to
            raise WindowsCorrupt(problems_by_url, min(reach, plan.to)) from None
        if current.to < plan.to:
            raise WindowsCorrupt(problems_by_url, current.to)
    current.skipped_anchors = plan.skipped_anchors
    current.replaced = {r.url: p for r, p in damaged.items()}
    return current


# --- running -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowOutcome:
    """One window of a run: applied (with its counts) or skipped (the journal had it done)."""

    window: Window
    result: WindowResult | None
    seconds: float = 0.0

    @property
    def skipped(self) -> bool:
        return self.result is None


class ReplayStopped(Exception):
    """The run stopped inside a window (interrupted, or a write/read failed); the windows before
    it are applied and journaled, and the same command resumes at `window`."""

    def __init__(self, window: Window, done: datetime, outcomes: list[WindowOutcome], cause: BaseException) -> None:
        super().__init__(f"{window.ref.url}: {cause}")
        self.window, self.done, self.outcomes, self.cause = window, done, outcomes, cause

    @property
    def interrupted(self) -> bool:
        return isinstance(self.cause, KeyboardInterrupt)


def run_replay(
    plan: ReplayPlan,
    *,
    s3: Any,
    sink: Sink,
    journal: TagJournal,
    done: datetime | None = None,
    concurrency: int = 4,
    on_window: Callable[[Window, WindowOutcome | None], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[WindowOutcome]:
    """Apply the plan's windows after `done` (the journal's point; None: the anchor's), in order.

    Before a window's first write the journal names it (`applying`), after its last confirmed
    write the next entry moves `done` past it. `on_window(window, None)` is called when a window
    starts, `on_window(window, outcome)` when it is done. Raises ReplayStopped (with the cause:
    KeyboardInterrupt, WriteIncomplete, WindowIncomplete, an AWS error) at the first window that
    does not complete."""
    anchor_id = plan.anchor.export_id
    position = done if done is not None else plan.anchor_summary.export_time
    outcomes: list[WindowOutcome] = []
    for window in plan.windows:
        if window.end <= position:
            outcomes.append(WindowOutcome(window, None))
            continue
        try:
            journal.write(JournalEntry(anchor_id, position, applying=window.end))
            if on_window:
                on_window(window, None)
            started = time.perf_counter()
            result = apply_window(
                s3, sink, window.ref, window.summary, concurrency=concurrency, on_progress=on_progress, sleep=sleep
            )
        except (Exception, KeyboardInterrupt) as exc:
            raise ReplayStopped(window, position, outcomes, exc) from exc
        outcome = WindowOutcome(window, result, time.perf_counter() - started)
        outcomes.append(outcome)
        position = window.end
        if on_window:
            on_window(window, outcome)
        logger.info("window replayed", extra={"export": window.ref.url, "puts": result.puts, "deletes": result.deletes})
    applied = [o for o in outcomes if not o.skipped]
    if applied:
        last = applied[-1].window
        try:
            journal.write(JournalEntry(anchor_id, position))
        except (Exception, KeyboardInterrupt) as exc:
            raise ReplayStopped(last, position, outcomes, exc) from exc
    return outcomes

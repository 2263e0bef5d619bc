"""The window arithmetic of a table's chain of incremental exports: pure functions over UTC times.

AWS exports an incremental window [ExportFromTime, ExportToTime) of 15 minutes to 24 hours inside
the table's PITR period (DynamoDB developer guide, "Requesting a table export"). The chain's rules:

- **Start**: a chain starts at its anchor, a full export's ExportTime floored to the second
  (windows are whole seconds; the chain reader accepts a first window that starts within the
  ExportTime's second). Each newer full export starts a new chain (handlers/backup/chain_step.py).
- **Contiguous**: each window starts exactly where the previous one ended. Never a gap, never an
  overlap, whatever runs were late, failed or ran twice.
- **On the grid**: windows end on multiples of the table's `every` since midnight UTC (every
  allowed length divides a day), so a 15-minute chain's windows end at :00, :15, :30, :45 whatever
  minute a run starts, and two runs planning from the same end plan the same windows.
- **In the past**: a window ends at least the safety lag before now (PITR's latest restorable
  time trails now by about 5 minutes).
- **Catching up**: when behind, as many windows as fit, each as long as the grid allows up to 24
  hours; the last partial one waits for the next run rather than being shorter than 15 minutes.
  Where 24 hours end too close to the grid (a 24-hour chain that started at 23:55), the window
  ends on the 15-minute grid instead, and the next one realigns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MIN_WINDOW = timedelta(minutes=15)
MAX_WINDOW = timedelta(hours=24)
FINEST_GRID_SECONDS = 900
"""The 15-minute grid: every allowed window length is a multiple of it."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class WindowError(ValueError):
    """A window that AWS would refuse or that breaks the chain's rules."""


def utc(t: datetime) -> datetime:
    """An aware datetime in UTC (a naive one is a programming error: times here are instants)."""
    if t.tzinfo is None:
        raise WindowError(f"naive datetime {t.isoformat()}: chain times must be timezone-aware")
    return t.astimezone(UTC)


def floor_second(t: datetime) -> datetime:
    """`t` without its fraction of a second."""
    return utc(t).replace(microsecond=0)


def floor_to_grid(t: datetime, every_seconds: int) -> datetime:
    """The latest multiple of `every_seconds` since the epoch (midnight UTC) at or before `t`."""
    if every_seconds <= 0 or 86400 % every_seconds:
        raise WindowError(f"a grid of {every_seconds} s does not divide a day")
    seconds = int((utc(t) - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % every_seconds)


def export_target(now: datetime, safety_lag_seconds: int) -> datetime:
    """The latest instant a window may end at: now minus the safety lag, to the second."""
    return floor_second(now - timedelta(seconds=safety_lag_seconds))


def chain_start(anchor_time: datetime) -> datetime:
    """Where a chain anchored on a full export taken at `anchor_time` begins."""
    return floor_second(anchor_time)


@dataclass(frozen=True, order=True)
class Window:
    """One incremental export window: [start, end), whole seconds, 15 minutes to 24 hours."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start, end = utc(self.start), utc(self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if start.microsecond or end.microsecond:
            raise WindowError(f"{self}: window bounds are whole seconds")
        if not MIN_WINDOW <= end - start <= MAX_WINDOW:
            raise WindowError(f"{self}: a window is 15 minutes to 24 hours long, this one {end - start}")

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def __str__(self) -> str:
        return f"[{iso(self.start)}, {iso(self.end)})"


def iso(t: datetime) -> str:
    """`2026-11-30T03:15:00Z`: how the ledger and the logs write an instant."""
    return utc(t).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """The inverse of `iso` (any ISO-8601 instant with an offset or `Z`)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return utc(parsed)


def next_window(start: datetime, target: datetime, every_seconds: int) -> Window | None:
    """The window that starts at `start`, or None while it is not due (its end on the grid would
    be less than 15 minutes after `start`, or after `target`)."""
    start = utc(start)
    if start.microsecond:
        raise WindowError(f"a window starts on a whole second, not {iso(start)}")
    limit = start + MAX_WINDOW
    cap = min(limit, utc(target))
    end = floor_to_grid(cap, every_seconds)
    if end - start >= MIN_WINDOW:
        return Window(start, end)
    if limit <= target:
        # 24 hours bind and end too close to the table's grid: the 15-minute grid, to realign.
        return Window(start, floor_to_grid(limit, FINEST_GRID_SECONDS))
    return None


def plan_windows(end: datetime, target: datetime, every_seconds: int, *, limit: int | None = None) -> list[Window]:
    """The windows due after a chain that ends at `end`, up to `target`: contiguous, each on the
    grid, 15 minutes to 24 hours; at most `limit` of them."""
    out: list[Window] = []
    start = utc(end)
    while limit is None or len(out) < limit:
        window = next_window(start, target, every_seconds)
        if window is None:
            break
        out.append(window)
        start = window.end
    return out


def client_token(table_arn: str, window: Window, view: str, attempt: int) -> str:
    """ExportTableToPointInTime's ClientToken for one attempt at one window: the same for a retried
    call of the same attempt (DynamoDB then returns the export it already started, for 8 hours),
    new for the next attempt after a failed export (the same token would return the failed one)."""
    digest = hashlib.sha256(f"{table_arn}|{view}".encode()).hexdigest()[:12]
    return f"chain-{int(window.start.timestamp())}-{int(window.end.timestamp())}-{attempt}-{digest}"

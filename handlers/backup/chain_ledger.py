"""A table's chain as the ledger keeps it: one DynamoDB item per table.

    table          the table's physical name (the key)
    anchor         ExportTime of the newest full export found in the vault (and its ExportId)
    chainStart     where the current chain began: its anchor's ExportTime, floored to the second
    chainEnd       end of the last window whose export COMPLETED, with every window before it
    windows        the windows after chainEnd, contiguous and in order, each with its attempt,
                   the export's ARN once started, and its state:
                     PLANNED      written before the start call (an intent: a run that dies between
                                  the two starts it again with the same ClientToken)
                     IN_PROGRESS  started; the next run asks DescribeExport
                     COMPLETED    done, waiting for the windows before it to complete
                     FAILED       the export failed or could not start; retried as the same window
    closing        the previous chain's windows still to complete (contiguous from closingEnd):
                   when a newer full export becomes the anchor, a new chain starts at its
                   ExportTime, and the previous one still needs to reach it (closingUntil) so that
                   a restore to any time between the two full exports has its windows
    gaps           chains given up (their windows could no longer be exported), newest last, at
                   most 20
    version        optimistic lock: every write expects the version it read

The item is small (a window is ~200 bytes; a 35-day catch-up is ~35 windows of 24 hours), far
below DynamoDB's 400 KB. Plain data and its DynamoDB JSON codec; no AWS calls here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from handlers.backup.chain_windows import Window, iso, parse_iso

PLANNED = "PLANNED"
IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
STATES = (PLANNED, IN_PROGRESS, COMPLETED, FAILED)
MAX_GAPS = 20


class LedgerError(ValueError):
    """A ledger item that is not a chain record (hand-edited, or another program's)."""


@dataclass(frozen=True)
class WindowRun:
    """One window of the chain and where its export stands."""

    window: Window
    attempt: int = 0
    """0 for the first export of the window, +1 after each failed one."""
    state: str = PLANNED
    export_arn: str | None = None
    error: str | None = None
    """The last failure (DescribeExport's FailureCode: FailureMessage, or the start call's error)."""
    error_code: str | None = None

    def to_item(self) -> dict[str, Any]:
        m: dict[str, Any] = {
            "from": {"S": iso(self.window.start)},
            "to": {"S": iso(self.window.end)},
            "attempt": {"N": str(self.attempt)},
            "state": {"S": self.state},
        }
        for name, value in (("exportArn", self.export_arn), ("error", self.error), ("errorCode", self.error_code)):
            if value:
                m[name] = {"S": value}
        return {"M": m}

    @classmethod
    def from_item(cls, value: dict[str, Any]) -> WindowRun:
        m = value["M"]
        state = m["state"]["S"]
        if state not in STATES:
            raise LedgerError(f"window state {state!r} is not one of {', '.join(STATES)}")
        return cls(
            window=Window(parse_iso(m["from"]["S"]), parse_iso(m["to"]["S"])),
            attempt=int(m["attempt"]["N"]),
            state=state,
            export_arn=m.get("exportArn", {}).get("S"),
            error=m.get("error", {}).get("S"),
            error_code=m.get("errorCode", {}).get("S"),
        )


@dataclass(frozen=True)
class Gap:
    """A stretch the chain could not export: the old chain ended at `start`, the new one began at
    `end` (a newer full export). A restore to a time inside it starts from an earlier anchor and
    stops at `start`."""

    start: datetime
    end: datetime
    reason: str

    def to_item(self) -> dict[str, Any]:
        return {"M": {"from": {"S": iso(self.start)}, "to": {"S": iso(self.end)}, "reason": {"S": self.reason}}}

    @classmethod
    def from_item(cls, value: dict[str, Any]) -> Gap:
        m = value["M"]
        return cls(parse_iso(m["from"]["S"]), parse_iso(m["to"]["S"]), m["reason"]["S"])


@dataclass(frozen=True)
class ChainRecord:
    """One table's ledger item."""

    table: str
    anchor: datetime | None = None
    anchor_export_id: str | None = None
    chain_start: datetime | None = None
    chain_end: datetime | None = None
    windows: tuple[WindowRun, ...] = ()
    closing: tuple[WindowRun, ...] = ()
    """The previous chain's open windows (it must reach `closing_until`)."""
    closing_end: datetime | None = None
    closing_until: datetime | None = None
    gaps: tuple[Gap, ...] = ()
    version: int = 0
    """The version read (0: no item yet)."""
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        # The chains' invariant, checked wherever a record is built: contiguous from their ends.
        for end, windows in ((self.chain_end, self.windows), (self.closing_end, self.closing)):
            previous = end
            for run in windows:
                if previous is None or run.window.start != previous:
                    raise LedgerError(
                        f"{self.table}: window {run.window} does not start where the chain ends "
                        f"({iso(previous) if previous else 'no chain'})"
                    )
                previous = run.window.end
        if self.closing and (self.closing_until is None or self.closing[-1].window.start >= self.closing_until):
            raise LedgerError(f"{self.table}: the previous chain's windows must start before the new anchor")

    @property
    def planned_end(self) -> datetime | None:
        """Where the next window starts: the end of the last window started or planned, else the
        end of the completed chain."""
        return self.windows[-1].window.end if self.windows else self.chain_end

    def with_changes(self, **changes: Any) -> ChainRecord:
        """A copy with some fields changed (the invariant checked again)."""
        return replace(self, **changes)

    def to_item(self, *, version: int, updated_at: datetime) -> dict[str, Any]:
        """The DynamoDB item (low-level format) of this record at `version`."""
        item: dict[str, Any] = {
            "table": {"S": self.table},
            "windows": {"L": [w.to_item() for w in self.windows]},
            "closing": {"L": [w.to_item() for w in self.closing]},
            "gaps": {"L": [g.to_item() for g in self.gaps[-MAX_GAPS:]]},
            "version": {"N": str(version)},
            "updatedAt": {"S": iso(updated_at)},
        }
        times = (
            ("anchor", self.anchor),
            ("chainStart", self.chain_start),
            ("chainEnd", self.chain_end),
            ("closingEnd", self.closing_end),
            ("closingUntil", self.closing_until),
        )
        for name, value in times:
            if value is not None:
                item[name] = {"S": iso(value)}
        if self.anchor_export_id:
            item["anchorExportId"] = {"S": self.anchor_export_id}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ChainRecord:
        """Parse a ledger item; LedgerError names what is wrong."""
        try:

            def time(name: str) -> datetime | None:
                return parse_iso(item[name]["S"]) if name in item else None

            return cls(
                table=item["table"]["S"],
                anchor=time("anchor"),
                anchor_export_id=item.get("anchorExportId", {}).get("S"),
                chain_start=time("chainStart"),
                chain_end=time("chainEnd"),
                windows=tuple(WindowRun.from_item(w) for w in item.get("windows", {}).get("L", [])),
                closing=tuple(WindowRun.from_item(w) for w in item.get("closing", {}).get("L", [])),
                closing_end=time("closingEnd"),
                closing_until=time("closingUntil"),
                gaps=tuple(Gap.from_item(g) for g in item.get("gaps", {}).get("L", [])),
                version=int(item.get("version", {}).get("N", "0")),
                updated_at=time("updatedAt"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, LedgerError):
                raise
            raise LedgerError(f"not a chain record: {exc!r}") from None


def new_record(table: str) -> ChainRecord:
    """The record of a table the ledger does not know yet."""
    return ChainRecord(table=table)


def windows_summary(windows: tuple[WindowRun, ...]) -> dict[str, int]:
    """How many windows are in each state."""
    counts = dict.fromkeys(STATES, 0)
    for w in windows:
        counts[w.state] += 1
    return counts


def replace_window(windows: tuple[WindowRun, ...], index: int, run: WindowRun) -> tuple[WindowRun, ...]:
    """`windows` with the window at `index` replaced by `run` (same bounds)."""
    if run.window != windows[index].window:
        raise LedgerError(f"window {windows[index].window} cannot become {run.window}")
    return (*windows[:index], run, *windows[index + 1 :])


__all__ = [
    "COMPLETED",
    "FAILED",
    "IN_PROGRESS",
    "PLANNED",
    "ChainRecord",
    "Gap",
    "LedgerError",
    "WindowRun",
    "new_record",
    "replace_window",
    "windows_summary",
]

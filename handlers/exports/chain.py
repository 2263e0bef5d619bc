"""Chains of exports: a full export (the anchor) and the contiguous incremental windows after it.

A table's vault prefix holds full exports and incremental exports (windows [from, to)). The
chain is what a restore replays: a usable full export at or before `until` (or the given
`anchor`), then windows each starting exactly where the previous one ended, the first exactly
at the anchor's ExportTime, so that every write after the anchor is in exactly one replayed
window. Its recovery point is the end of the last contiguous window (the anchor's ExportTime
without windows).

Rules (`build_chain`):
- Only exports of the anchor's table count, and only usable ones (DYNAMODB_JSON, not failed);
  `exclude` drops exports found damaged, so a duplicate can take their place.
- The first window starts exactly at the anchor's ExportTime. A window that straddles it
  (starts before, ends after) is not replayable on that anchor: incremental exports are
  compacted, so an item created before the ExportTime (it is in the full export) and deleted
  after it, both inside the window, has no line in that window (AWS exports nothing for an item
  absent at both ends of a window); replaying the window would leave the deleted item in the
  table. A straddling window breaks the chain as an `overlap` with the anchor. One tolerance:
  an ExportTime inside a second (AWS's own full exports: `10:18:50.622`) may be followed by a
  window starting at its whole second (windows are whole seconds); the chain's `lead` says by how
  much, and the hazard above remains for that fraction of a second only. Full exports taken at
  whole seconds (ExportTime = the schedule's time) leave none.
- Every later window starts exactly at the previous end (start inclusive, end exclusive): no
  gap, no overlap. Duplicate windows (the same [from, to) exported twice, e.g. a retried run)
  are one window: the first by ExportId is used. When several windows continue the chain, the
  path reaching furthest (then with the fewest windows) is used; windows off that path are not
  replayed.
- The anchor: the usable full export (at or before `until`) whose chain reaches furthest, the
  newest of those. With windows started at each full export's ExportTime that is the newest full
  export; when the newest has no window starting at its ExportTime yet, an older anchor whose
  chain runs past it keeps the recovery point where it is instead of dropping back.
- With `until`, windows must end at or before it (a window cannot be replayed in part), and
  the anchor must be at or before it.
- Where the chain stops, the first break is named: `gap` (the next window starts later),
  `overlap` (a window starts before the chain's end and ends after it, with none starting
  exactly there), or `missing` (nothing after it although `until` is later).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from handlers.exports.layout import (
    FULL_EXPORT,
    INCREMENTAL_EXPORT,
    ExportError,
    ExportRef,
    ManifestSummary,
    format_time,
    human_age,
)
from handlers.exports.listing import scan_exports
from handlers.exports.reader import check_supported


class ChainError(ExportError):
    """The chain cannot be built as asked (e.g. the given anchor is not a usable full export)."""


@dataclass(frozen=True)
class ChainLink:
    """One incremental export of the chain: it covers [start, end)."""

    ref: ExportRef
    start: datetime
    end: datetime
    view: str
    summary: ManifestSummary | None = field(default=None, compare=False, repr=False)
    """The export's manifest summary (what `iter_changes` reads), when the chain was built from summaries."""


@dataclass(frozen=True)
class ChainGap:
    """Where the chain stops: after `after` (its recovery point), the next window starts at
    `next_start` (None: there is none). `kind`: "gap" | "overlap" | "missing"."""

    after: datetime
    next_start: datetime | None
    kind: str
    until: datetime | None = None

    def __str__(self) -> str:
        after = format_time(self.after)
        if self.kind == "gap" and self.next_start is not None:
            span = human_age((self.next_start - self.after).total_seconds())
            return f"gap: no window covers {after} .. {format_time(self.next_start)} ({span} of writes not exported)"
        if self.kind == "overlap" and self.next_start is not None:
            return (
                f"overlap: no window starts at {after}; the next one starts earlier, at "
                f"{format_time(self.next_start)}, and overlaps the chain"
            )
        target = f" up to {format_time(self.until)}" if self.until else ""
        return f"missing: no window starts at {after}{target}"


@dataclass(frozen=True)
class Chain:
    """The anchor (newest usable full export at or before `until`), its contiguous windows, the
    recovery point (end of the last contiguous window, else the anchor's ExportTime), and the
    first break after it. No anchor: nothing to restore from (`anchor` and `recovery_point` None)."""

    anchor: tuple[ExportRef, ManifestSummary] | None
    links: tuple[ChainLink, ...]
    recovery_point: datetime | None
    gap: ChainGap | None
    lead: timedelta = timedelta(0)
    """How long before the anchor's ExportTime the first window starts: zero, or under a second
    when the ExportTime has a fraction of a second and the first window starts at its whole
    second (see the module docstring: a warning, not a break)."""

    @property
    def complete(self) -> bool:
        """An anchor and no break: the chain reaches its newest window (or `until`)."""
        return self.anchor is not None and self.gap is None

    def to_json(self) -> dict[str, Any]:
        """The chain as a JSON-ready dict (camelCase keys, AWS's time format)."""
        anchor = None
        if self.anchor is not None:
            ref, summary = self.anchor
            anchor = {"export": ref.url, "exportTime": format_time(summary.export_time)}
        return {
            "anchor": anchor,
            "windows": [
                {
                    "export": link.ref.url,
                    "from": format_time(link.start),
                    "to": format_time(link.end),
                    "view": link.view,
                }
                for link in self.links
            ],
            "recoveryPoint": format_time(self.recovery_point) if self.recovery_point else None,
            "firstWindowLeadSeconds": self.lead.total_seconds(),
            "gap": None
            if self.gap is None
            else {
                "kind": self.gap.kind,
                "after": format_time(self.gap.after),
                "nextStart": format_time(self.gap.next_start) if self.gap.next_start else None,
                "text": str(self.gap),
            },
        }


def _usable(summary: ManifestSummary, export_type: str) -> bool:
    return summary.export_type == export_type and not check_supported(summary, export_type)


def _full_exports(
    exports: Sequence[tuple[ExportRef, ManifestSummary]], until: datetime | None, anchor: ExportRef | None
) -> list[tuple[ExportRef, ManifestSummary]]:
    """The candidate anchors: the given one (checked), else every usable full export up to `until`."""
    if anchor is not None:
        for ref, summary in exports:
            if ref == anchor:
                if not _usable(summary, FULL_EXPORT):
                    raise ChainError(f"{ref.url} cannot anchor a chain: it is not a usable full export")
                if until is not None and summary.export_time > until:
                    raise ChainError(f"{ref.url} cannot anchor a chain up to {format_time(until)}: it is later")
                return [(ref, summary)]
        raise ChainError(f"{anchor.url} is not among the exports found")
    return [(ref, s) for ref, s in exports if _usable(s, FULL_EXPORT) and (until is None or s.export_time <= until)]


def _windows(
    exports: Sequence[tuple[ExportRef, ManifestSummary]], table_arn: str, after: datetime
) -> dict[tuple[datetime, datetime], ChainLink]:
    """The usable windows of the table that end after `after`, one per distinct [from, to)."""
    windows: dict[tuple[datetime, datetime], ChainLink] = {}
    for ref, summary in sorted(exports, key=lambda pair: pair[0].export_id):
        if summary.table_arn != table_arn or not _usable(summary, INCREMENTAL_EXPORT):
            continue
        start, end = summary.export_from_time, summary.export_to_time
        assert start is not None and end is not None and summary.output_view is not None
        if end > after and (start, end) not in windows:
            windows[start, end] = ChainLink(ref, start, end, summary.output_view, summary)
    return windows


def _best_paths(windows: Collection[ChainLink], until: datetime | None) -> dict[datetime, tuple[ChainLink, ...]]:
    """For every window start: the contiguous path from it reaching furthest (then the fewest
    windows), windows ending after `until` left out."""
    by_start: dict[datetime, list[ChainLink]] = defaultdict(list)
    for link in windows:
        if until is None or link.end <= until:
            by_start[link.start].append(link)
    best: dict[datetime, tuple[ChainLink, ...]] = {}
    # Latest start first: a path's continuation is always already known.
    for start in sorted(by_start, reverse=True):
        options = []
        for link in by_start[start]:
            path = (link, *best.get(link.end, ()))
            options.append((path[-1].end, -len(path), -link.end.timestamp(), path))
        best[start] = max(options, key=lambda option: option[:3])[3]
    return best


def _first_break(
    windows: Collection[ChainLink], cursor: datetime, until: datetime | None, starts: Sequence[datetime]
) -> ChainGap | None:
    """The first break after `cursor`, the chain's end (`starts`: where the next window may start)."""
    later = [w for w in windows if w.end > cursor and (until is None or w.start < until)]
    if until is not None and any(w.start in starts for w in later):
        return None  # a window continues the chain; it just cannot be cut at `until`
    overlapping = [w.start for w in later if w.start < cursor and w.start not in starts]
    if overlapping:
        return ChainGap(cursor, min(overlapping), "overlap", until)
    starts = [w.start for w in later if w.start > cursor]
    if starts:
        return ChainGap(cursor, min(starts), "gap", until)
    if until is not None and cursor < until:
        return ChainGap(cursor, None, "missing", until)
    return None


def build_chain(
    exports: Sequence[tuple[ExportRef, ManifestSummary]],
    *,
    until: datetime | None = None,
    anchor: ExportRef | None = None,
    exclude: Collection[ExportRef] = (),
) -> Chain:
    """The chain of the exports found under a table's prefix (full and incremental, any order):
    see the module docstring for the rules. Pure: reads nothing, validates no data file."""
    usable = [(ref, summary) for ref, summary in exports if ref not in exclude]
    candidates = _full_exports(usable, until, anchor)
    if not candidates:
        return Chain(None, (), None, None)

    def chain_from(picked: tuple[ExportRef, ManifestSummary]) -> Chain:
        anchor_time = picked[1].export_time
        # A window starts exactly at the ExportTime, or (an ExportTime inside a second) at its second.
        starts = (anchor_time, anchor_time.replace(microsecond=0))
        windows = _windows(usable, picked[1].table_arn, anchor_time).values()
        best = _best_paths(windows, until)
        links = next((best[start] for start in starts if start in best), ())
        recovery_point = links[-1].end if links else anchor_time
        lead = anchor_time - links[0].start if links else timedelta(0)
        gap = _first_break(windows, recovery_point, until, starts if not links else (recovery_point,))
        return Chain(picked, links, recovery_point, gap, lead)

    def rank(chain: Chain) -> tuple[datetime, datetime, str]:
        # Furthest reach, then the newest anchor (the least to replay).
        assert chain.anchor is not None and chain.recovery_point is not None
        return chain.recovery_point, chain.anchor[1].export_time, chain.anchor[0].export_id

    return max((chain_from(picked) for picked in candidates), key=rank)


def read_chain(
    s3: Any,
    bucket: str,
    prefix: str,
    *,
    until: datetime | None = None,
    anchor: ExportRef | None = None,
    exclude: Collection[ExportRef] = (),
) -> Chain:
    """List every export under `s3://bucket/prefix/` (a table's vault prefix) and build its
    chain. Reads the manifest summaries only: validate the links before replaying them."""
    listing = scan_exports(s3, bucket, prefix, export_type=None)
    return build_chain(listing.exports, until=until, anchor=anchor, exclude=exclude)


@dataclass
class ChainReport:
    """What `verify_chain` found: the chain built from the exports that passed validation, and
    the exports it validated and found damaged (each dropped, so a duplicate or an older
    anchor could take its place)."""

    chain: Chain
    validated: int = 0
    damaged: dict[ExportRef, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """An anchor, no break, and nothing damaged on the way."""
        return self.chain.complete and not self.damaged

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            **self.chain.to_json(),
            "validated": self.validated,
            "damaged": [{"export": ref.url, "problems": problems} for ref, problems in self.damaged.items()],
        }


def verify_chain(
    s3: Any,
    bucket: str,
    prefix: str,
    *,
    until: datetime | None = None,
    expected_table_arn: str | None = None,
    workers: int = 1,
) -> ChainReport:
    """Build the chain under `s3://bucket/prefix/` and validate its anchor and every window
    completely (manifests and data files, `validate_export`). A damaged export is dropped and the
    chain built again without it, until every export on it is valid: the report's chain is one
    that can be replayed, and `damaged` says what was dropped and why."""
    from handlers.exports.validation import validate_export

    exports = scan_exports(s3, bucket, prefix, export_type=None).exports
    report = ChainReport(Chain(None, (), None, None))
    good: set[ExportRef] = set()
    while True:
        chain = build_chain(exports, until=until, exclude=report.damaged.keys())
        report.chain = chain
        if chain.anchor is None:
            return report
        path = [(chain.anchor[0], FULL_EXPORT), *((link.ref, INCREMENTAL_EXPORT) for link in chain.links)]
        for ref, export_type in path:
            if ref in good:
                continue
            result = validate_export(
                s3, ref, expected_table_arn=expected_table_arn, workers=workers, expected_type=export_type
            )
            report.validated += 1
            if not result.ok:
                report.damaged[ref] = result.problems
                break
            good.add(ref)
        else:
            return report

"""The vault as one restore source: a full export (the anchor) plus the contiguous incremental
windows after it, up to `--at` or as far as they go.

`pulumi up` creates the table from the anchor (ImportTable, as for any export); `safetynet replay`
then applies the windows in order up to the recovery point. Planning it (pure, over the exports
`inspection` listed, through `handlers.exports.chain.build_chain`):

- `vault_candidate`: the candidate as the manifests describe it (not yet validated); its time is
  the chain's recovery point, so it ranks against backups and PITR by what it would reach.
- `resolve`: validates the anchor and every window in order (through the plan's validator); a
  damaged anchor or window is excluded and the chain built again, so a duplicate window (or an
  older anchor) takes its place where one exists, and otherwise the chain stops before it.
- `explain`: what the plan says about the point reached: the window `--at` falls in, the gap
  the chain stops at, the minute reachable instead.
- `replay_command`: the exact command that follows `pulumi up`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from handlers.exports.chain import Chain, ChainGap, ChainLink, build_chain
from handlers.exports.layout import INCREMENTAL_EXPORT, ExportRef, human_age

if TYPE_CHECKING:
    from safetynet.recovery.facts import TableFacts
    from safetynet.recovery.planner import Candidate, PlanRequest, _Validations


@dataclass
class VaultChain:
    """The anchor and windows a restore from the vault uses, and what they reach."""

    anchor: ExportRef
    anchor_time: datetime
    links: tuple[ChainLink, ...]
    recovery_point: datetime
    """End of the last contiguous window (the anchor's ExportTime without windows)."""
    gap: ChainGap | None
    at: datetime | None = None
    next_window: ChainLink | None = None
    """The window that would continue the chain but ends after `at` (a window is never cut)."""
    excluded: list[tuple[ExportRef, str]] = field(default_factory=list)
    """Anchors and windows left out because they failed validation, with the first problem."""

    @property
    def interval_seconds(self) -> float | None:
        """The chain's window length (its newest window's), None without windows."""
        if not self.links:
            return None
        return (self.links[-1].end - self.links[-1].start).total_seconds()

    def to_json(self) -> dict[str, Any]:
        from handlers.exports.layout import format_time

        return {
            "anchor": self.anchor.url,
            "anchorTime": format_time(self.anchor_time),
            "windows": len(self.links),
            "firstWindowStart": format_time(self.links[0].start) if self.links else None,
            "recoveryPoint": format_time(self.recovery_point),
            "at": format_time(self.at) if self.at else None,
            "gap": str(self.gap) if self.gap else None,
            "nextWindowEnd": format_time(self.next_window.end) if self.next_window else None,
            "excluded": [{"export": ref.url, "problem": why} for ref, why in self.excluded],
        }


def _chain(facts: TableFacts, at: datetime | None, exclude: set[ExportRef]) -> Chain:
    return build_chain(facts.exports, until=at, exclude=exclude)


def _from(chain: Chain, facts: TableFacts, at: datetime | None, exclude: set[ExportRef]) -> VaultChain | None:
    if chain.anchor is None or chain.recovery_point is None:
        return None
    ref, summary = chain.anchor
    vc = VaultChain(ref, summary.export_time, chain.links, chain.recovery_point, chain.gap, at=at)
    if at is not None:
        # A window that starts where the chain ends (or straddles the anchor) but ends after `at`.
        nxt = [
            link for link in _windows(facts, exclude) if link.start <= vc.recovery_point < link.end and link.end > at
        ]
        vc.next_window = min(nxt, key=lambda link: link.end, default=None)
    return vc


def _windows(facts: TableFacts, exclude: set[ExportRef]) -> list[ChainLink]:
    out = []
    for ref, s in facts.exports:
        if s.export_type == INCREMENTAL_EXPORT and ref not in exclude and s.table_arn == facts.expected_arn:
            assert s.export_from_time is not None and s.export_to_time is not None
            out.append(ChainLink(ref, s.export_from_time, s.export_to_time, s.output_view or "", s))
    return out


def _label(vc: VaultChain) -> str:
    return f"export + {len(vc.links)} window{'s' if len(vc.links) != 1 else ''}"


def vault_candidate(facts: TableFacts, request: PlanRequest) -> Candidate | None:
    """The vault's chain as a candidate, when the vault holds windows after a full export (else
    the export candidates are the vault's offer). Not validated yet: `resolve` does that."""
    from safetynet.recovery.planner import LSI_REASON, Candidate

    if not any(s.export_type == INCREMENTAL_EXPORT for _, s in facts.exports):
        return None
    vc = _from(_chain(facts, request.at, set()), facts, request.at, set())
    if vc is None or not vc.links:
        return None
    c = Candidate(kind="vault", label=_label(vc), time=vc.recovery_point, entry={"export": vc.anchor.url}, chain=vc)
    c.export_ref = vc.anchor
    if facts.has_lsis:
        c.unusable = LSI_REASON
    return c


def resolve(c: Candidate, facts: TableFacts, request: PlanRequest, checks: _Validations) -> None:
    """Validate the anchor and each window in order; rebuild the chain without what failed until
    everything in it is valid. Sets the candidate's chain, time and entry (or `unusable`)."""
    c.resolved = True
    exclude: set[ExportRef] = set()
    excluded: list[tuple[ExportRef, str]] = []
    while True:
        vc = _from(_chain(facts, request.at, exclude), facts, request.at, exclude)
        if vc is None:
            c.unusable = "no valid full export to anchor the chain" + (
                f" at or before {request.at:%Y-%m-%d %H:%MZ}" if request.at else ""
            )
            c.chain = None
            return
        bad = _first_invalid(vc, checks)
        if bad is None:
            break
        exclude.add(bad[0])
        excluded.append(bad)
    vc.excluded = excluded
    c.chain, c.time, c.label = vc, vc.recovery_point, _label(vc)
    c.entry = {"export": vc.anchor.url}
    c.export_ref = vc.anchor
    c.validated = True  # its item count is the anchor's plus what the windows change: not shown
    if not vc.links:
        c.unusable = "no valid window after the anchor: the export alone is this source"


def _first_invalid(vc: VaultChain, checks: _Validations) -> tuple[ExportRef, str] | None:
    from safetynet.recovery.planner import invalid_reason

    report = checks(vc.anchor)
    if not report.ok:
        return vc.anchor, "anchor " + invalid_reason(report, checks.table_arn)
    for link in vc.links:
        report = checks(link.ref, INCREMENTAL_EXPORT)
        if not report.ok:
            return link.ref, "window " + invalid_reason(report, checks.table_arn)
    return None


def _hm(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M}Z" if t.second == 0 else f"{t:%Y-%m-%d %H:%M:%S}Z"


def explain(vc: VaultChain) -> list[str]:
    """Sentences on the point the chain reaches: the recovery point, the window `--at` falls in,
    the gap it stops at, what was excluded, and which minute is reachable instead."""
    n = len(vc.links)
    lines = [
        f"recovery point {_hm(vc.recovery_point)}: export of {_hm(vc.anchor_time)} + {n} window"
        + ("s" if n != 1 else "")
        + (f" ({_hm(vc.links[0].start)} .. {_hm(vc.links[-1].end)})" if n else "")
    ]
    for ref, why in vc.excluded:
        lines.append(f"left out {ref.export_id}: {why}")
    reached = _hm(vc.recovery_point)
    if vc.at is not None and vc.recovery_point < vc.at:
        short = human_age((vc.at - vc.recovery_point).total_seconds())
        if vc.next_window is not None:
            w = vc.next_window
            lines.append(
                f"--at {_hm(vc.at)} falls inside the window {_hm(w.start)} .. {_hm(w.end)}, which is replayed "
                f"whole or not at all: reachable are {_hm(vc.recovery_point)} ({short} before --at, planned) "
                f"or {_hm(w.end)} (--at {w.end:%Y-%m-%dT%H:%M:%SZ}, writes after --at included)"
            )
        elif vc.gap is not None and vc.gap.kind != "missing":
            lines.append(f"--at {_hm(vc.at)} is beyond a break in the chain ({vc.gap}): the vault reaches {reached}")
        else:
            lines.append(f"no window covers {reached} .. {_hm(vc.at)} yet: the vault reaches {reached}")
    elif vc.gap is not None and vc.gap.kind != "missing":
        lines.append(f"the chain stops at a break ({vc.gap}): later windows cannot be replayed")
    return lines


def replay_command(stack: str, logical: str, vc: VaultChain, target_table: str | None = None) -> str:
    """The command that applies the windows after `pulumi up` created the table from the anchor
    (the vault named explicitly: on a DR stack it is the replica)."""
    target = f" --target-table {target_table}" if target_table else ""
    to = vc.recovery_point.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"safetynet replay -s {stack} --table {logical}{target} --vault-bucket {vc.anchor.bucket} "
        f"--anchor {vc.anchor.url} --to {to}"
    )

"""What `safetynet restore-plan` prints: one table of candidates per table that fits 80 columns
(long reasons as numbered notes under it, never squeezed into a column), the vault chain's
recovery point, region-down data at risk on a DR stack, one line per source kind that could not
be read, and the same as one JSON document (camelCase) for scripts."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from handlers.exports.layout import human_age
from safetynet.recovery.dr_risk import RegionDownRisk
from safetynet.recovery.planner import (
    Candidate,
    TablePlan,
    at_risk_seconds,
    data_at_risk,
    fmt,
    human_size,
    iso,
)
from safetynet.recovery.vault_chain import explain

STATUS_STYLE = {
    "chosen": "bold green",
    "valid": "green",
    "available": "green",
    "not usable": "red",
    "not checked": "dim",
}


def _when(t: datetime | None, now: datetime) -> str:
    """`Nov 30 05:11` (the year only when it is not this one): the table stays narrow."""
    if t is None:
        return "-"
    t = t.astimezone(UTC)
    return t.strftime("%b %d %H:%M") if t.year == now.year else t.strftime("%Y %b %d %H:%M")


_EXPORT_ID = re.compile(r"^export \d{13,14}-([0-9a-f]{8})$")


WIDE = 110
"""From this terminal width on, labels are not shortened (whole ExportIds, to search for)."""


def _label(c: Candidate, plan: TablePlan, width: int) -> str:
    """Short labels below WIDE columns: an ExportId's time part is the time column; a system
    backup's name is always `<table>$DeletedTableBackup`."""
    if width >= WIDE:
        return c.label
    m = _EXPORT_ID.match(c.label)
    if m:
        return f"export {m.group(1)}"
    if c.label == f"system backup {plan.facts.physical}$DeletedTableBackup":
        return "system backup"
    if c.label.startswith("on-demand backup "):
        return "backup " + c.label.removeprefix("on-demand backup ")
    if c.label.startswith("point-in-time"):
        return "PITR (latest)" if c.label.endswith("(latest)") else "PITR"
    return c.label


def _note(c: Candidate) -> str:
    """The reason, with the export's own URL left out of it (the row names the export)."""
    text = c.unusable or ""
    if c.export_ref is not None:
        text = text.replace(f"s3://{c.export_ref.bucket}/{c.export_ref.prefix}", "")
    return text


def _status_text(plan: TablePlan, c: Candidate, note: int | None) -> Text:
    status = plan.status(c)
    label = status
    if status == "chosen" and c.validated:
        label = "chosen, valid"
    elif status == "not usable" and (c.unusable or "").startswith(("corrupt", "wrong table")):
        label = (c.unusable or "").split(":", 1)[0]  # what validation found, named in the row
    if note is not None:
        label += f" [{note}]"
    return Text(label, style=STATUS_STYLE[status])


def candidate_table(plan: TablePlan, now: datetime | None = None, width: int = 80) -> RenderableType:
    """The candidates of one table (newest first), then the numbered reasons of the unusable ones.
    At 80 columns every row is one line: reasons are notes under the table, not a column."""
    now = now or datetime.now(UTC)
    f = plan.facts
    state = "live" if f.exists else "deleted"
    name = escape(f.logical) if f.logical == f.physical else f"{escape(f.logical)} ({escape(f.physical)})"
    t = Table(
        title=f"[bold]{name}[/]: {state}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
    )
    t.add_column("", no_wrap=True, width=2)
    t.add_column("source", overflow="ellipsis", no_wrap=True, max_width=None if width >= WIDE else 24)
    t.add_column("time (UTC)", no_wrap=True)
    t.add_column("items", justify="right", no_wrap=True)
    t.add_column("at risk", no_wrap=True)
    t.add_column("status", no_wrap=True)
    notes: list[str] = []
    for c in plan.candidates:
        note = None
        if c.unusable:
            notes.append(_note(c))
            note = len(notes)
        seconds = at_risk_seconds(plan, c)
        t.add_row(
            "[green]>>[/]" if c is plan.chosen else "",
            escape(_label(c, plan, width)),
            _when(c.time, now),
            "-" if c.item_count is None else f"{c.item_count:,}",
            "-" if seconds is None else human_age(seconds),
            _status_text(plan, c, note),
        )
    if not notes:
        return t
    reasons = Table.grid(padding=(0, 1))
    reasons.add_column(no_wrap=True, style="dim")
    reasons.add_column(style="dim")
    for i, text in enumerate(notes, start=1):
        reasons.add_row(f"  [{i}]", escape(text))
    return Group(t, reasons)


def chain_lines(plan: TablePlan) -> list[str]:
    """What the vault's chain reaches, for a plan that chose it or tried to."""
    vault = next((c for c in plan.candidates if c.kind == "vault" and c.chain is not None), None)
    if vault is None or (plan.chosen is not vault and not vault.resolved):
        return []
    return explain(vault.chain) if vault.chain else []


def unavailable_lines(plans: Sequence[TablePlan]) -> list[str]:
    """One line per source kind that could not be read (naming the tables when not all)."""
    by_reason: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in plans:
        for kind, why in p.facts.unavailable.items():
            by_reason[kind, why].append(p.facts.logical)
    lines = []
    for (kind, why), tables in sorted(by_reason.items()):
        which = "" if len(tables) == len(plans) else f" (for {', '.join(tables)})"
        lines.append(f"{kind}: {why}{which}; not considered")
    return lines


def render(
    plans: Sequence[TablePlan],
    risks: dict[str, RegionDownRisk],
    *,
    vault_bucket: str | None,
    width: int = 80,
) -> list[RenderableType]:
    """Everything the plan prints before the question, in order (`width`: the terminal's)."""
    out: list[RenderableType] = []
    if not vault_bucket:
        out.append("[yellow]note:[/] no --vault-bucket: exports in the vault were not considered")
    for p in plans:
        out.append(candidate_table(p, width=width))
        lines = [("vault:", line, "cyan") for line in chain_lines(p)]
        if p.facts.logical in risks:
            lines.append(("region down:", risks[p.facts.logical].text(), "yellow"))
        lines += [("note:", note, "yellow") for note in p.facts.notes]
        if p.chosen is None:
            lines.append(("not planned:", p.problem or "", "red"))
            lines += [("try:", hint, "") for hint in p.hints]
        if lines:
            out.append(_labelled(lines))
        out.append("")
    for line in unavailable_lines(plans):
        out.append(f"[yellow]{escape(line)}[/]")
    return out


def _labelled(lines: list[tuple[str, str, str]]) -> RenderableType:
    """`label text` lines whose text wraps under itself (a hanging indent), not under the label."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for label, text, style in lines:
        grid.add_row(f"  [{style}]{label}[/]" if style else f"  {label}", escape(text))
    return grid


# --- JSON ----------------------------------------------------------------------------------------


def candidate_json(plan: TablePlan, c: Candidate) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "label": c.label,
        "time": iso(c.time) if c.time else None,
        "itemCount": c.item_count,
        "sizeBytes": c.size_bytes,
        "size": human_size(c.size_bytes),
        "dataAtRiskSeconds": at_risk_seconds(plan, c),
        "dataAtRisk": data_at_risk(plan, c),
        "status": plan.status(c),
        "reason": c.unusable,
        "validated": c.validated,
        "entry": c.entry or None,
    }


def plan_json(
    plan: TablePlan, *, entry: dict[str, Any] | None, replay: str | None, risk: RegionDownRisk | None
) -> dict[str, Any]:
    f = plan.facts
    chosen = plan.chosen
    return {
        "table": f.logical,
        "physicalName": f.physical,
        "state": "live" if f.exists else "deleted",
        "itemCount": f.item_count,
        "chosen": candidate_json(plan, chosen) if chosen else None,
        "entry": entry,
        "chain": chosen.chain.to_json() if chosen is not None and chosen.chain is not None else None,
        "chainNotes": chain_lines(plan),
        "replayCommand": replay,
        "regionDownRisk": risk.to_json() if risk else None,
        "problem": plan.problem,
        "hints": list(plan.hints),
        "unavailable": dict(f.unavailable),
        "notes": list(f.notes),
        "candidates": [candidate_json(plan, c) for c in plan.candidates],
    }


def comment(plan: TablePlan, now: datetime) -> str:
    """The comment written above a table's restore entry."""
    c = plan.chosen
    assert c is not None
    when = fmt(c.time) if c.time else "given"
    extra = ", validated" if c.validated else ""
    items = f", {c.item_count} items" if c.item_count is not None else ""
    if c.chain is not None and c.kind == "vault":
        windows = f"{len(c.chain.links)} windows to {when} (replay after pulumi up)"
        what = f"export {c.chain.anchor.export_id}{items}{extra} + {windows}"
        return f"restore-plan {now.strftime('%Y-%m-%d %H:%M:%SZ')}: vault {what}"
    return f"restore-plan {now.strftime('%Y-%m-%d %H:%M:%SZ')}: {c.label} of {when}{items}{extra}"

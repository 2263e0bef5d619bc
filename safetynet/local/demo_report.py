"""The demo's figures: one result per step, the report `safetynet demo` prints as its summary
and writes with `--json-summary` (scripts and tests read it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table


@dataclass
class StepResult:
    """One row of the summary."""

    name: str
    seconds: float = 0.0
    items: int = 0
    ok: bool = True
    detail: str = ""

    @property
    def throughput(self) -> float | None:
        """Items per second, when the step moved items."""
        return self.items / self.seconds if self.items and self.seconds else None


@dataclass
class DemoReport:
    """The figures the summary prints (and `--json-summary` writes for scripts and tests)."""

    items_loaded: int = 0
    items_backed_up: int = 0
    items_staged: int = 0
    masked_attributes: int = 0
    items_restored: int = 0
    mismatches: int = 0
    alert_classification: str = ""
    steps: list[StepResult] = field(default_factory=list)
    failure: str = ""
    extra_figures: dict[str, int | str] = field(default_factory=dict)
    """Figures of the steps after Recovery (chain restore, rewind), in the order they ran."""

    @property
    def ok(self) -> bool:
        """No mismatch and no failed step."""
        return not self.failure and self.mismatches == 0 and all(s.ok for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        """Machine-readable summary."""
        return {
            "ok": self.ok,
            "itemsLoaded": self.items_loaded,
            "itemsBackedUp": self.items_backed_up,
            "itemsStaged": self.items_staged,
            "maskedAttributes": self.masked_attributes,
            "itemsRestored": self.items_restored,
            "mismatches": self.mismatches,
            "alertClassification": self.alert_classification,
            "failure": self.failure,
            "figures": dict(self.extra_figures),
            "steps": [
                {
                    "name": s.name,
                    "seconds": round(s.seconds, 3),
                    "items": s.items,
                    "ok": s.ok,
                    "detail": s.detail,
                }
                for s in self.steps
            ],
        }


def summary_table(report: DemoReport) -> Table:
    """The closing summary: figures, then time and throughput per step (fits 80 columns)."""
    figures = Table(title="safetynet demo: summary", show_header=False, box=box.SIMPLE, title_justify="left")
    figures.add_column("figure")
    figures.add_column("value", justify="right", no_wrap=True)
    for label, value in (
        ("items loaded into prod", report.items_loaded),
        ("items backed up (validated exports)", report.items_backed_up),
        ("items staged into test", report.items_staged),
        ("masked attributes (rules applied)", report.masked_attributes),
        ("alert classification", report.alert_classification or "-"),
        ("items restored", report.items_restored),
        *report.extra_figures.items(),
        ("mismatches", report.mismatches),
    ):
        figures.add_row(escape(label), f"{value:,}" if isinstance(value, int) else escape(str(value)))
    steps = Table(box=box.SIMPLE_HEAD)
    steps.add_column("step", no_wrap=True)
    steps.add_column("result")
    steps.add_column("time", justify="right", no_wrap=True)
    steps.add_column("items", justify="right", no_wrap=True)
    steps.add_column("items/s", justify="right", no_wrap=True)
    for s in report.steps:
        steps.add_row(
            s.name,
            "[green]ok[/]" if s.ok else f"[red]failed[/] {escape(s.detail)}",
            f"{s.seconds:.1f} s",
            f"{s.items:,}" if s.items else "-",
            f"{s.throughput:,.0f}" if s.throughput else "-",
        )
    outer = Table.grid()
    outer.add_row(figures)
    outer.add_row(steps)
    return outer


# -- the story's tables and panels (each fits 80 columns) -----------------------------------------


def backup_table(rows: list[tuple[str, str, int, int]], vault: str) -> RenderableType:
    """The validated exports: table, ExportId, data files, items (the vault named once above)."""
    t = Table(box=box.SIMPLE_HEAD, title=f"exports in s3://{escape(vault)}/exports/<table>/AWSDynamoDB/")
    t.add_column("table", no_wrap=True)
    t.add_column("ExportId", no_wrap=True)
    t.add_column("files", justify="right", no_wrap=True)
    t.add_column("items", justify="right", no_wrap=True)
    t.add_column("valid", no_wrap=True)
    for table, export_id, files, items in rows:
        t.add_row(escape(table), export_id, str(files), f"{items:,}", "[green]yes[/]")
    return t


def plain_value(av: Any) -> str:
    """A DynamoDB attribute value as a person reads it (`{"S": "x"}` -> `x`)."""
    if not isinstance(av, dict) or len(av) != 1:
        return str(av)
    ((kind, value),) = av.items()
    if kind in ("S", "N"):
        return str(value)
    if kind == "BOOL":
        return "true" if value else "false"
    if kind == "NULL":
        return "null"
    if kind in ("M", "L"):
        return json.dumps(value, ensure_ascii=False, default=str)[:60]
    return str(value)[:60]


def _at_path(item: dict[str, Any], path: str) -> str:
    """The value at a mask rule's path (`address.street`, `orders[*].email`: the first element)."""
    node: Any = {"M": item}
    for part in path.split("."):
        name, star = (part[:-3], True) if part.endswith("[*]") else (part, False)
        node = (node.get("M") or {}).get(name) if isinstance(node, dict) else None
        if node is None:
            return "(dropped)"
        if star:
            elements = node.get("L") or []
            if not elements:
                return "(none)"
            node = elements[0]
    return plain_value(node)


def masking_table(rules: list[dict[str, Any]], original: dict[str, Any], masked: dict[str, Any], logical: str) -> Table:
    """One item before and after masking, one row per rule: the path, its action, both values."""
    t = Table(box=box.SIMPLE_HEAD, title=f"one {escape(logical)} item before and after masking")
    t.add_column("attribute", no_wrap=True)
    t.add_column("rule", no_wrap=True)
    t.add_column("prod", overflow="ellipsis", no_wrap=True, max_width=22)
    t.add_column("test (masked)", overflow="ellipsis", no_wrap=True, max_width=22)
    for rule in rules:
        path = str(rule["path"])
        t.add_row(
            escape(path), str(rule.get("action", "")), escape(_at_path(original, path)), escape(_at_path(masked, path))
        )
    return t


def alert_panel(body: str, log_path: str | None) -> Panel:
    """The SNS alert as a person reads it: what, who, why, what to do; the JSON message itself
    and the classifier's structured log stay in files (`log_path`, when it is kept)."""
    msg = json.loads(body)
    event, who = msg.get("event") or {}, msg.get("who") or {}
    principal = str(who.get("principal") or "")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("what", escape(f"{event.get('name')} on {event.get('resource')} ({event.get('region')})"))
    grid.add_row("who", escape(principal or "-"))
    grid.add_row("why", escape(str(msg.get("reason") or "-")))
    for step in msg.get("next") or []:
        grid.add_row("next", escape(str(step)))
    where = escape(log_path) if log_path else "in the demo's work dir (kept with --keep)"
    note = f"[dim]{len(body):,} bytes of JSON in the on-call queue; the classifier's JSON log: {where}[/]"
    style = "red" if msg.get("classification") == "unexpected" else "yellow"
    title = f"SNS alert: {msg.get('classification', '?').upper()}, {msg.get('severity', '?')} severity"
    return Panel(Group(grid, note), title=title, border_style=style)

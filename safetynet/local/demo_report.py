"""The demo's figures: one result per step, the report `safetynet demo` prints as its summary
and writes with `--json-summary` (scripts and tests read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    """The closing summary: figures, then time and throughput per step."""
    figures = Table(title="safetynet demo: summary", show_header=False)
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    for label, value in (
        ("items loaded into prod", report.items_loaded),
        ("items backed up (validated exports)", report.items_backed_up),
        ("items staged into test", report.items_staged),
        ("masked attributes (rules applied)", report.masked_attributes),
        ("alert classification", report.alert_classification or "-"),
        ("items restored", report.items_restored),
        ("mismatches", report.mismatches),
    ):
        figures.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    steps = Table("step", "result", "time", "items", "throughput")
    for s in report.steps:
        steps.add_row(
            s.name,
            "[green]ok[/]" if s.ok else f"[red]failed[/] {s.detail}",
            f"{s.seconds:.1f} s",
            f"{s.items:,}" if s.items else "-",
            f"{s.throughput:,.0f} items/s" if s.throughput else "-",
        )
    outer = Table.grid()
    outer.add_row(figures)
    outer.add_row(steps)
    return outer

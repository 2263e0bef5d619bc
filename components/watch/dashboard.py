"""The per-stack CloudWatch dashboard body, a pure function.

The picture an on-call engineer opens first: which alarms are firing, how old each table's newest
export is (against its limit), item counts over time (a cliff is a mass deletion), and whether
the weekly restore drill passes.
"""

from __future__ import annotations

from typing import Any

from conventions.watch import METRIC_NAMESPACE

WIDTH = 24  # the dashboard grid is 24 units wide


def _metric(name: str, table: str, label: str, stat: str = "Maximum") -> list[Any]:
    return [METRIC_NAMESPACE, name, "Table", table, {"label": label, "stat": stat}]


def _graph(
    title: str, metrics: list[list[Any]], region: str, *, x: int, y: int, w: int = 8, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": w,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "period": 3600,
            "metrics": metrics,
            **extra,
        },
    }


def dashboard_body(
    *,
    stack: str,
    region: str,
    tables: list[str],
    alarm_arns: list[str],
    export_limit_hours: float,
    drill_limit_hours: float,
) -> dict[str, Any]:
    """The dashboard of one stack: alarms first, then one row per table (export age, item
    count, drill)."""
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": WIDTH,
            "height": 2,
            "properties": {
                "markdown": f"# safetynet {stack}\n"
                f"`safetynet status {stack}` for the same picture in a terminal; "
                f"`safetynet restore-plan {stack} --table <table>` to plan a restore; "
                f"`safetynet drill {stack} --table <table>` to prove an export restorable now."
            },
        },
        {
            "type": "alarm",
            "x": 0,
            "y": 2,
            "width": WIDTH,
            "height": 4,
            "properties": {
                "title": "Alarms",
                "alarms": sorted(alarm_arns),
                "sortBy": "stateUpdatedTimestamp",
            },
        },
    ]
    y = 6
    for table in tables:
        widgets += [
            _graph(
                f"{table}: newest export age (hours)",
                [_metric("ExportAgeHours", table, "age")],
                region,
                x=0,
                y=y,
                annotations={"horizontal": [{"label": "stale", "value": export_limit_hours}]},
                yAxis={"left": {"min": 0}},
            ),
            _graph(
                f"{table}: items per export",
                [
                    _metric("ExportItemCount", table, "items"),
                    _metric("ExportItemDropRatio", table, "drop ratio"),
                ],
                region,
                x=8,
                y=y,
                period=86400,
            ),
            _graph(
                f"{table}: restore drill",
                [
                    _metric("DrillSucceeded", table, "passed (1) / failed (0)", "Minimum"),
                    [
                        *_metric("LastVerifiedRestoreAgeHours", table, "hours since verified")[:-1],
                        {"label": "hours since verified", "stat": "Maximum", "yAxis": "right"},
                    ],
                ],
                region,
                x=16,
                y=y,
                annotations={"horizontal": [{"label": "drill too old", "value": drill_limit_hours, "yAxis": "right"}]},
            ),
        ]
        y += 6
    return {"widgets": widgets}

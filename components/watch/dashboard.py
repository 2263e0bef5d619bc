"""The per-stack CloudWatch dashboard body, a pure function.

The picture an on-call engineer opens first, the same size for 3 tables or 1,000 (CloudWatch
allows 500 widgets per dashboard and 100 alarms per alarm widget): the stack-wide alarms; the
stack-wide numbers the freshness task publishes (dimension Stack: tables with a stale export, an
unverified or failed restore drill, unprotected tables; the oldest export, the largest item drop);
and the ten worst tables of each per-table metric, ranked by a Metrics Insights query
(`ORDER BY ... LIMIT`), never one widget or one line per table. Each table's own alarms are found
by their name prefix (`safetynet-<stack>-`) and `safetynet status`.
"""

from __future__ import annotations

from typing import Any, Literal

from conventions.watch import METRIC_NAMESPACE, STACK_DIMENSION, TABLE_DIMENSION, UNPROTECTED_TABLES_METRIC

WIDTH = 24  # the dashboard grid is 24 units wide
TOP = 10  # tables shown per ranking
MAX_ALARMS_PER_WIDGET = 100  # CloudWatch's limit for an alarm status widget


def _stack_metric(name: str, stack: str, label: str, **extra: Any) -> list[Any]:
    return [METRIC_NAMESPACE, name, STACK_DIMENSION, stack, {"label": label, "stat": "Maximum", **extra}]


def top_tables_query(
    metric: str, *, worst: Literal["MAX", "MIN"] = "MAX", order: Literal["DESC", "ASC"] = "DESC", limit: int = TOP
) -> str:
    """A Metrics Insights query ranking the tables' `metric` (dimension Table only), worst first.
    It sorts every matching metric before the limit applies, so at any table count the ten shown
    are the ten worst (one SEARCH expression would stop at 500 series, in no particular order).
    Identifiers are quoted: `Table` is a reserved word of the query language."""
    # Built from this module's constants only, never from config or input (hence S608).
    source = f'SCHEMA("{METRIC_NAMESPACE}", "{TABLE_DIMENSION}")'
    ranking = f'GROUP BY "{TABLE_DIMENSION}" ORDER BY {worst}() {order} LIMIT {limit}'
    return f'SELECT {worst}("{metric}") FROM {source} {ranking}'  # noqa: S608


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


def _ranking(title: str, query: str, region: str, *, x: int, y: int, **extra: Any) -> dict[str, Any]:
    return _graph(title, [[{"expression": query, "id": "ranked", "label": ""}]], region, x=x, y=y, **extra)


def _line(label: str, value: float, **extra: Any) -> dict[str, Any]:
    return {"horizontal": [{"label": label, "value": value, **extra}]}


def dashboard_body(
    *,
    stack: str,
    region: str,
    alarm_arns: list[str],
    export_limit_hours: float,
    drill_limit_hours: float,
    max_item_drop_ratio: float,
) -> dict[str, Any]:
    """The dashboard of one stack: its stack-wide alarms, the stack's numbers, the worst tables."""
    if len(alarm_arns) > MAX_ALARMS_PER_WIDGET:
        raise ValueError(f"an alarm widget shows at most {MAX_ALARMS_PER_WIDGET} alarms, got {len(alarm_arns)}")
    prefix = f"safetynet-{stack}-"
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": WIDTH,
            "height": 3,
            "properties": {
                "markdown": f"# safetynet {stack}\n"
                f"`safetynet status {stack}` for each table in a terminal; "
                f"`safetynet coverage -s {stack}` for the tables no stack protects; "
                f"`safetynet restore-plan {stack} --table <table>` to plan a restore; "
                f"`safetynet drill {stack} --table <table>` to prove an export restorable now.\n\n"
                f"Each table's alarms are named `{prefix}<table>-<check>`: "
                f"`aws cloudwatch describe-alarms --alarm-name-prefix {prefix} --state-value ALARM`."
            },
        },
        {
            "type": "alarm",
            "x": 0,
            "y": 3,
            "width": WIDTH,
            "height": 3,
            "properties": {
                "title": "Stack-wide alarms",
                "alarms": sorted(alarm_arns),
                "sortBy": "stateUpdatedTimestamp",
            },
        },
        _graph(
            "Tables needing attention",
            [
                _stack_metric("StaleExportTables", stack, "no export within the limit"),
                _stack_metric("UnverifiedRestoreTables", stack, "no verified restore within the limit"),
                _stack_metric("FailedDrillTables", stack, "last drill failed"),
                _stack_metric("FailedExports", stack, "failed exports"),
                _stack_metric(UNPROTECTED_TABLES_METRIC, stack, "unprotected tables in the account"),
            ],
            region,
            x=0,
            y=6,
            yAxis={"left": {"min": 0}},
        ),
        _graph(
            "Oldest newest export (hours)",
            [_stack_metric("OldestExportAgeHours", stack, "oldest")],
            region,
            x=8,
            y=6,
            annotations=_line("stale", export_limit_hours),
            yAxis={"left": {"min": 0}},
        ),
        _graph(
            "Largest item drop between exports",
            [_stack_metric("MaxItemDropRatio", stack, "largest drop ratio")],
            region,
            x=16,
            y=6,
            annotations=_line("alarm", max_item_drop_ratio),
            yAxis={"left": {"min": 0, "max": 1}},
        ),
        _ranking(
            f"Newest export age (hours): the {TOP} oldest tables",
            top_tables_query("ExportAgeHours"),
            region,
            x=0,
            y=12,
            annotations=_line("stale", export_limit_hours),
        ),
        _ranking(
            f"Item drop ratio: the {TOP} largest",
            top_tables_query("ExportItemDropRatio"),
            region,
            x=8,
            y=12,
            annotations=_line("alarm", max_item_drop_ratio),
        ),
        _ranking(
            f"Hours since a verified restore: the {TOP} oldest tables",
            top_tables_query("LastVerifiedRestoreAgeHours"),
            region,
            x=16,
            y=12,
            annotations=_line("drill too old", drill_limit_hours),
        ),
    ]
    return {"widgets": widgets}

"""The dashboard body: the same eight widgets at any number of tables, the stack's numbers by the
Stack dimension, the worst tables ranked by Metrics Insights queries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.watch.dashboard import MAX_ALARMS_PER_WIDGET, dashboard_body, top_tables_query

ALARMS = [f"arn:aws:cloudwatch:eu-central-1:123456789012:alarm:safetynet-prod-{n}" for n in ("b", "a", "c")]


def _body(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "stack": "prod",
        "region": "eu-central-1",
        "alarm_arns": ALARMS,
        "export_limit_hours": 30,
        "drill_limit_hours": 192,
        "max_item_drop_ratio": 0.2,
    }
    return dashboard_body(**{**args, **changes})


def test_eight_widgets_on_the_grid() -> None:
    body = _body()
    assert [w["type"] for w in body["widgets"]] == ["text", "alarm"] + ["metric"] * 6
    assert all(w["x"] + w["width"] <= 24 for w in body["widgets"])
    # Widgets of a row do not overlap
    cells = {(w["y"], x) for w in body["widgets"] for x in range(w["x"], w["x"] + w["width"])}
    assert len(cells) == sum(w["width"] for w in body["widgets"])
    assert len(json.dumps(body)) < 8_000


def test_the_alarm_widget_shows_the_stack_wide_alarms() -> None:
    [widget] = [w for w in _body()["widgets"] if w["type"] == "alarm"]
    assert widget["properties"]["alarms"] == sorted(ALARMS)
    with pytest.raises(ValueError, match="at most 100 alarms"):
        _body(alarm_arns=[f"arn:aws:cloudwatch:r:1:alarm:a{i}" for i in range(MAX_ALARMS_PER_WIDGET + 1)])


def test_the_stacks_numbers_use_the_stack_dimension() -> None:
    graphs = {w["properties"]["title"]: w["properties"] for w in _body()["widgets"] if w["type"] == "metric"}
    attention = graphs["Tables needing attention"]["metrics"]
    assert [m[:4] for m in attention] == [
        ["safetynet", name, "Stack", "prod"]
        for name in (
            "StaleExportTables",
            "UnverifiedRestoreTables",
            "FailedDrillTables",
            "FailedExports",
            "UnprotectedTables",
        )
    ]
    oldest = graphs["Oldest newest export (hours)"]
    assert oldest["metrics"][0][:4] == ["safetynet", "OldestExportAgeHours", "Stack", "prod"]
    assert oldest["annotations"]["horizontal"][0]["value"] == 30


def test_the_worst_tables_are_ranked_by_metrics_insights() -> None:
    graphs = {w["properties"]["title"]: w["properties"] for w in _body()["widgets"] if w["type"] == "metric"}
    [[query]] = graphs["Newest export age (hours): the 10 oldest tables"]["metrics"]
    assert query == {
        "expression": 'SELECT MAX("ExportAgeHours") FROM SCHEMA("safetynet", "Table") '
        'GROUP BY "Table" ORDER BY MAX() DESC LIMIT 10',
        "id": "ranked",
        "label": "",
    }
    [[restore]] = graphs["Hours since a verified restore: the 10 oldest tables"]["metrics"]
    assert restore["expression"] == top_tables_query("LastVerifiedRestoreAgeHours")
    assert (
        graphs["Hours since a verified restore: the 10 oldest tables"]["annotations"]["horizontal"][0]["value"] == 192
    )

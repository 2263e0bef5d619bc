"""WatchDashboard, built alone under Pulumi's mocks."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from components.watch.dashboard import dashboard_body
from components.watch.overview import WatchDashboard, WatchDashboardArgs
from tests.components.watch.minimal import STACK
from tests.support.pulumi_mocks import REGION, RecordingMocks

ALARMS = [f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:a{i}" for i in range(3)]


def test_one_dashboard_whose_body_shows_the_given_alarms(pulumi_mocks: RecordingMocks) -> None:
    exposed: dict[str, Any] = {}

    @pulumi.runtime.test
    def check() -> Any:
        board = WatchDashboard(
            "watch",
            WatchDashboardArgs(
                stack=STACK,
                alarm_arns=[pulumi.Output.from_input(a) for a in ALARMS],
                export_limit_hours=30,
                drill_limit_hours=192,
                max_item_drop_ratio=0.2,
                region=REGION,
            ),
        )
        return board.dashboard_name.apply(lambda name: exposed.update(dashboard_name=name))

    check()

    [dashboard] = [r for r in pulumi_mocks.registrations if r.custom]
    assert (dashboard.typ, dashboard.name) == ("aws:cloudwatch/dashboard:Dashboard", "watch-dashboard")
    assert exposed["dashboard_name"] == dashboard.inputs["dashboardName"] == "safetynet-unit"
    assert json.loads(dashboard.inputs["dashboardBody"]) == dashboard_body(
        stack=STACK,
        region=REGION,
        alarm_arns=ALARMS,
        export_limit_hours=30,
        drill_limit_hours=192,
        max_item_drop_ratio=0.2,
    )

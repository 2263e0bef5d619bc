"""WatchDashboard: the stack's CloudWatch dashboard, the picture an on-call engineer opens first,
the same size at any number of tables (its body is the pure function in
components/watch/dashboard.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.watch.dashboard import dashboard_body
from components.watch.parts import Children


@dataclass(frozen=True)
class WatchDashboardArgs:
    """Inputs of a WatchDashboard."""

    stack: str
    """The stack name (the dashboard is `safetynet-<stack>`)."""
    alarm_arns: Sequence[pulumi.Input[str]]
    """The stack-wide alarms the dashboard shows (at most 100; each table's are found by name)."""
    export_limit_hours: float
    """The export age limit (a line on the export age graphs)."""
    drill_limit_hours: float
    """The verified restore age limit (a line on the drill graph)."""
    max_item_drop_ratio: float
    """The item drop alarm's threshold (a line on the drop graphs)."""
    region: pulumi.Input[str]
    """This region (the widgets' metrics)."""


class WatchDashboard(pulumi.ComponentResource):
    """The CloudWatch dashboard of one stack's DisasterWatch."""

    dashboard_name: pulumi.Output[str]
    """The dashboard's name."""

    def __init__(self, name: str, args: WatchDashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:watch:WatchDashboard", name, None, opts)
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"safetynet-{args.stack}",
            dashboard_body=pulumi.Output.all(region=args.region, alarm_arns=pulumi.Output.all(*args.alarm_arns)).apply(
                lambda a: json.dumps(
                    dashboard_body(
                        stack=args.stack,
                        region=a["region"],
                        alarm_arns=list(a["alarm_arns"]),
                        export_limit_hours=args.export_limit_hours,
                        drill_limit_hours=args.drill_limit_hours,
                        max_item_drop_ratio=args.max_item_drop_ratio,
                    )
                )
            ),
            opts=Children(self, opts).opts(),
        )
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"dashboardName": dashboard.dashboard_name})

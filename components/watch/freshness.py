"""ExportFreshness: an hourly task publishes how old each table's newest export and newest
verified restore are (per table, and for the whole stack); five alarms per table notify the alert
topic when either is too old or something failed. The same task counts the account's tables that
no stack protects and nobody excluded (`UnprotectedTables`); one alarm fires when that count stays
above 0 for a day."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.watch.parts import TaskChildren, WatchTaskArgs
from components.watch.policies import freshness_policy
from conventions.watch import STACK_DIMENSION, UNPROTECTED_TABLES_METRIC

FRESHNESS_SCHEDULE = "rate(1 hour)"
# The coverage alarm: unprotected tables in each of the last 24 hourly counts.
COVERAGE_PERIODS = 24


@dataclass(frozen=True, kw_only=True)
class ExportFreshnessArgs(WatchTaskArgs):
    """Inputs of an ExportFreshness (besides every task part's, see WatchTaskArgs)."""

    export_limit_hours: float
    """The newest export may be this old (the export schedule's interval + `freshnessGraceHours`)."""
    max_item_drop_ratio: float
    """`safetynet:alerts.maxItemDropRatio`: the newest export may have this share fewer items."""
    drill_limit_hours: float
    """The newest verified restore may be this old (`safetynet:drill.maxAgeDays` in hours)."""


class ExportFreshness(pulumi.ComponentResource):
    """The freshness task, its hourly schedule and the per-table alarms on what it measures."""

    alarm_arns: list[pulumi.Output[str]]
    """Each table's alarms (export-stale, items-dropped, export-failed, restore-unverified,
    drill-failed), table after table."""
    coverage_alarm_arn: pulumi.Output[str]
    """The stack-wide alarm `unprotected-tables`."""

    def __init__(self, name: str, args: ExportFreshnessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:watch:ExportFreshness", name, None, opts)
        tasks = TaskChildren(self, name, args, opts)
        logs = tasks.log_group("freshness")
        policy = pulumi.Output.all(
            bucket_arn=args.bucket_arn,
            kms_key_arn=args.kms_key_arn,
            region=args.region,
            account_id=args.account_id,
            log_group_arn=tasks.log_group_arn(logs),
        ).apply(lambda a: json.dumps(freshness_policy(**a, stack_tag=args.stack_tag)))
        fn = tasks.function(
            "freshness",
            handler="handlers.watch.entrypoints.freshness_handler",
            role=tasks.role("freshness", "lambda.amazonaws.com", policy),
            logs=logs,
            timeout=300,
        )
        tasks.on_schedule("freshness", fn, FRESHNESS_SCHEDULE)
        alarms = [alarm for t in args.tables for alarm in _table_alarms(tasks, t.physical_name, args)]
        coverage = tasks.alarm(
            "unprotected-tables",
            f"Tables of this account and region that no stack protects and safetynet:coverage.exclude "
            f"does not name, for {COVERAGE_PERIODS} hours (safetynet coverage -s {args.stack} lists them)",
            metric=UNPROTECTED_TABLES_METRIC,
            dimensions={STACK_DIMENSION: args.stack},
            threshold=0,
            # A missing count (the task failed) breaks the streak: the export-stale alarms, which
            # treat missing data as breaching, report a task that stopped.
            missing="notBreaching",
            evaluation_periods=COVERAGE_PERIODS,
            datapoints_to_alarm=COVERAGE_PERIODS,
        )
        self.alarm_arns = [a.arn for a in alarms]
        self.coverage_alarm_arn = coverage.arn
        self.register_outputs({"alarmArns": self.alarm_arns, "coverageAlarmArn": coverage.arn})


def _table_alarms(tasks: TaskChildren, table: str, args: ExportFreshnessArgs) -> list[aws.cloudwatch.MetricAlarm]:
    dims: dict[str, pulumi.Input[str]] = {"Table": table}
    export_limit, drill_limit, drop = args.export_limit_hours, args.drill_limit_hours, args.max_item_drop_ratio
    return [
        tasks.alarm(
            f"{table}-export-stale",
            f"No complete export of {table} within {export_limit:g} hours (schedule + grace)",
            metric="ExportAgeHours",
            dimensions=dims,
            threshold=export_limit,
            missing="breaching",
        ),
        tasks.alarm(
            f"{table}-items-dropped",
            f"The newest export of {table} has more than {drop:.0%} fewer items than the previous one "
            "(mass deletion or corruption?)",
            metric="ExportItemDropRatio",
            dimensions=dims,
            threshold=drop,
            missing="notBreaching",
        ),
        tasks.alarm(
            f"{table}-export-failed",
            f"An export of {table} FAILED (ListExports/DescribeExport)",
            metric="ExportFailed",
            dimensions=dims,
            threshold=0,
            missing="notBreaching",
        ),
        tasks.alarm(
            f"{table}-restore-unverified",
            f"No successful restore drill of {table} within {drill_limit / 24:g} days",
            metric="LastVerifiedRestoreAgeHours",
            dimensions=dims,
            threshold=drill_limit,
            missing="breaching",
        ),
        tasks.alarm(
            f"{table}-drill-failed",
            f"A restore drill of {table} failed in the last 7 days",
            metric="DrillSucceeded",
            dimensions=dims,
            threshold=1,
            missing="notBreaching",
            statistic="Minimum",
            comparison="LessThanThreshold",
            period=86400,
            evaluation_periods=7,
        ),
    ]

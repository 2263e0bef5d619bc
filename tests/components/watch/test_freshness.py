"""ExportFreshness, built alone under Pulumi's mocks."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pulumi

from components.watch.freshness import FRESHNESS_SCHEDULE, ExportFreshness, ExportFreshnessArgs
from conventions.watch import TABLE_ALARM_SUFFIXES
from tests.components.watch.minimal import (
    BUCKET_ARN,
    DEPENDENCY_LAYER,
    POWERTOOLS_LAYER,
    STACK_TAG_VALUE,
    TABLES,
    TOPIC_ARN,
    code,
    task_fields,
)
from tests.support.pulumi_mocks import REGION, RecordingMocks

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _build(mocks: RecordingMocks, **fields: Any) -> list[str]:
    """Builds it; returns the per-table alarms' ARNs, then the coverage alarm's."""
    alarm_arns: list[str] = []

    @pulumi.runtime.test
    def check() -> Any:
        freshness = ExportFreshness(
            "watch",
            ExportFreshnessArgs(
                **task_fields(**fields), export_limit_hours=30, max_item_drop_ratio=0.2, drill_limit_hours=192
            ),
        )
        return pulumi.Output.all(*freshness.alarm_arns, freshness.coverage_alarm_arn).apply(alarm_arns.extend)

    check()
    return alarm_arns


def test_it_declares_one_hourly_task_five_alarms_per_table_and_one_coverage_alarm(
    pulumi_mocks: RecordingMocks,
) -> None:
    _build(pulumi_mocks)

    assert Counter(r.typ for r in pulumi_mocks.registrations if r.custom) == {
        "aws:cloudwatch/logGroup:LogGroup": 1,
        "aws:iam/role:Role": 1,
        "aws:iam/rolePolicy:RolePolicy": 1,
        "aws:lambda/function:Function": 1,
        "aws:cloudwatch/eventRule:EventRule": 1,
        "aws:cloudwatch/eventTarget:EventTarget": 1,
        "aws:lambda/permission:Permission": 1,
        ALARM: 5 * len(TABLES) + 1,
    }
    rule = pulumi_mocks.one("aws:cloudwatch/eventRule:EventRule", "watch-freshness-schedule").inputs
    assert rule["scheduleExpression"] == FRESHNESS_SCHEDULE == "rate(1 hour)"
    target = pulumi_mocks.one("aws:cloudwatch/eventTarget:EventTarget", "watch-freshness-schedule-target").inputs
    assert target["arn"].endswith(":watch-freshness")


def test_the_task_runs_the_given_code_with_both_layers(pulumi_mocks: RecordingMocks) -> None:
    archive = code()
    _build(pulumi_mocks, code=archive)

    fn = pulumi_mocks.one("aws:lambda/function:Function", "watch-freshness").inputs
    assert fn["handler"] == "handlers.watch.entrypoints.freshness_handler" and fn["timeout"] == 300
    assert fn["layers"] == [POWERTOOLS_LAYER, DEPENDENCY_LAYER]
    assert set(fn["code"].assets) == set(archive.assets)
    assert fn["loggingConfig"] == {"logFormat": "JSON", "logGroup": "/safetynet/unit/freshness"}


def test_the_task_reads_the_stacks_tables_exports_and_drill_records_and_lists_table_names(
    pulumi_mocks: RecordingMocks,
) -> None:
    _build(pulumi_mocks)

    policy = json.loads(pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy", "watch-freshness-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    tables = f"arn:aws:dynamodb:{REGION}:123456789012:table/*"
    assert by_sid["ListTableExports"]["Resource"] == [tables]
    assert by_sid["ListTableExports"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/safetynet:stack": STACK_TAG_VALUE}
    }
    assert by_sid["DescribeTableExports"]["Resource"] == [f"{tables}/export/*"]
    assert (by_sid["CountTables"]["Action"], by_sid["CountTables"]["Resource"]) == (["dynamodb:ListTables"], "*")
    assert by_sid["ReadVault"]["Resource"] == [f"{BUCKET_ARN}/exports/*", f"{BUCKET_ARN}/drills/*"]
    assert by_sid["WriteOwnLogs"]["Resource"] == [
        f"arn:aws:logs:{REGION}:123456789012:log-group:/safetynet/unit/freshness:log-stream:*"
    ]


def test_the_coverage_alarm_fires_after_a_day_of_unprotected_tables(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks)

    alarm = {r.inputs["name"]: r.inputs for r in pulumi_mocks.of_type(ALARM)}["safetynet-unit-unprotected-tables"]
    assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == (
        "safetynet",
        "UnprotectedTables",
        {"Stack": "unit"},
    )
    assert (alarm["comparisonOperator"], alarm["threshold"], alarm["statistic"]) == (
        "GreaterThanThreshold",
        0,
        "Maximum",
    )
    # 24 hourly counts, every one above 0: more than a day
    assert (alarm["period"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (3600, 24, 24)
    assert alarm["treatMissingData"] == "notBreaching"
    assert alarm["alarmActions"] == alarm["okActions"] == [TOPIC_ARN]


def test_nothing_but_the_per_table_alarms_grows_with_the_tables(pulumi_mocks: RecordingMocks) -> None:
    def declared() -> dict[str, dict[str, Any]]:
        # The code archive is the same stand-in for both (it holds the context, not this part).
        return {
            r.name: {k: v for k, v in r.inputs.items() if k != "code"}
            for r in pulumi_mocks.registrations
            if r.custom and r.typ != ALARM
        }

    _build(pulumi_mocks, tables=TABLES[:1])
    one = declared()
    pulumi_mocks.registrations.clear()
    _build(pulumi_mocks)
    assert declared() == one


def test_alarm_limits_come_from_the_args_and_notify_the_topic(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks)

    alarms = {r.inputs["name"]: r.inputs for r in pulumi_mocks.of_type(ALARM)}
    stale = alarms["safetynet-unit-unit-orders-export-stale"]
    assert (stale["metricName"], stale["threshold"], stale["treatMissingData"]) == ("ExportAgeHours", 30, "breaching")
    assert stale["dimensions"] == {"Table": "unit-orders"}
    assert alarms["safetynet-unit-unit-customers-items-dropped"]["threshold"] == 0.2
    unverified = alarms["safetynet-unit-unit-orders-restore-unverified"]
    assert (unverified["threshold"], unverified["alarmDescription"]) == (
        192,
        "No successful restore drill of unit-orders within 8 days",
    )
    assert all(a["alarmActions"] == a["okActions"] == [TOPIC_ARN] for a in alarms.values())


def test_it_exposes_each_tables_alarms_then_the_coverage_alarm(pulumi_mocks: RecordingMocks) -> None:
    alarm_arns = _build(pulumi_mocks)

    assert [arn.rsplit(":", 1)[-1] for arn in alarm_arns] == [
        *(f"watch-{t.physical_name}-{suffix}" for t in TABLES for suffix in TABLE_ALARM_SUFFIXES),
        "watch-unprotected-tables",
    ]

"""AlertRouting, built alone under Pulumi's mocks."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pulumi

from components.watch.alerts import AlertRouting, AlertRoutingArgs
from components.watch.patterns import RULE_NAMES
from tests.components.watch.minimal import BUCKET, KEY_ARN, STACK_TAG_VALUE, TABLES, TOPIC_ARN, task_fields
from tests.support.pulumi_mocks import REGION, RecordingMocks

TOPIC_KEY_ARN = f"arn:aws:kms:{REGION}:123456789012:key/topic-key"
RULE = "aws:cloudwatch/eventRule:EventRule"


def _routing(**fields: Any) -> AlertRouting:
    return AlertRouting(
        "watch", AlertRoutingArgs(**task_fields(**fields), bucket_name=BUCKET, topic_key_arn=TOPIC_KEY_ARN)
    )


def _build(mocks: RecordingMocks, **fields: Any) -> list[str]:
    alarm_arns: list[str] = []

    @pulumi.runtime.test
    def check() -> Any:
        return pulumi.Output.all(*_routing(**fields).alarm_arns).apply(alarm_arns.extend)

    check()
    return alarm_arns


def test_it_declares_one_rule_target_and_permission_per_danger_and_one_classifier(
    pulumi_mocks: RecordingMocks,
) -> None:
    _build(pulumi_mocks)

    n = len(RULE_NAMES)
    assert Counter(r.typ for r in pulumi_mocks.registrations if r.custom) == {
        "aws:sqs/queue:Queue": 1,
        "aws:cloudwatch/logGroup:LogGroup": 1,
        "aws:iam/role:Role": 1,
        "aws:iam/rolePolicy:RolePolicy": 1,
        "aws:lambda/function:Function": 1,
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": 1,
        RULE: n,
        "aws:cloudwatch/eventTarget:EventTarget": n,
        "aws:lambda/permission:Permission": n,
        "aws:sqs/queuePolicy:QueuePolicy": 1,
        "aws:cloudwatch/metricAlarm:MetricAlarm": 2,
    }
    assert sorted(r.name for r in pulumi_mocks.of_type(RULE)) == sorted(f"watch-{n}" for n in RULE_NAMES)


def test_rules_name_the_vault_and_no_table(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks)

    def pattern(rule: str) -> dict[str, Any]:
        return dict(json.loads(pulumi_mocks.one(RULE, f"watch-{rule}").inputs["eventPattern"]))

    assert pattern("vault-changed")["detail"]["requestParameters"]["bucketName"] == [BUCKET]
    assert KEY_ARN in pattern("vault-key-disabled")["detail"]["requestParameters"]["keyId"]
    assert pattern("table-deleted")["detail"] == {
        "eventSource": ["dynamodb.amazonaws.com"],
        "eventName": ["DeleteTable"],
    }
    assert pattern("table-created")["detail"]["eventName"] == ["CreateTable"]
    every = " ".join(r.inputs["eventPattern"] for r in pulumi_mocks.of_type(RULE))
    assert not any(t.physical_name in every or t.arn in every for t in TABLES)


def test_the_rules_are_the_same_for_one_table_or_many(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks, tables=TABLES[:1])
    one = {r.name: r.inputs["eventPattern"] for r in pulumi_mocks.of_type(RULE)}
    pulumi_mocks.registrations.clear()
    _build(pulumi_mocks, tables=TABLES * 50)
    assert {r.name: r.inputs["eventPattern"] for r in pulumi_mocks.of_type(RULE)} == one


def test_events_reach_the_classifier_retried_then_dead_lettered(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks)

    queue_arn = "arn:aws:sqs:eu-central-1:123456789012:watch-undelivered-"
    classifier = pulumi_mocks.one("aws:lambda/function:Function", "watch-classifier").inputs
    assert classifier["handler"] == "handlers.watch.entrypoints.classify_handler" and classifier["timeout"] == 60
    for target in pulumi_mocks.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        assert target.inputs["arn"].endswith(":watch-classifier")
        assert target.inputs["deadLetterConfig"]["arn"].startswith(queue_arn)
    failures = pulumi_mocks.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    assert failures["maximumRetryAttempts"] == 2
    assert failures["destinationConfig"]["onFailure"]["destination"].startswith(queue_arn)
    # Only this routing's rules may send to the dead-letter queue
    queue_policy = json.loads(pulumi_mocks.one("aws:sqs/queuePolicy:QueuePolicy").inputs["policy"])
    allowed = queue_policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
    rule_arns = [f"arn:aws:cloudwatch:{REGION}:123456789012:watch-{n}" for n in RULE_NAMES]  # the mocks' rule ARNs
    assert sorted(allowed) == sorted(rule_arns)


def test_the_classifier_may_publish_to_the_topic_and_dead_letter_only(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks)

    policy = json.loads(pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy", "watch-classifier-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["PublishAlerts"]["Resource"] == [TOPIC_ARN]
    assert by_sid["EncryptAlerts"]["Resource"] == [TOPIC_KEY_ARN]
    assert by_sid["ReadPitrWindows"]["Resource"] == [f"arn:aws:dynamodb:{REGION}:123456789012:table/*"]
    assert by_sid["ReadPitrWindows"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/safetynet:stack": STACK_TAG_VALUE}
    }
    assert by_sid["DeadLetterFailedEvents"]["Resource"][0].startswith("arn:aws:sqs:")


def test_it_exposes_its_two_alarms_which_notify_the_topic(pulumi_mocks: RecordingMocks) -> None:
    alarm_arns = _build(pulumi_mocks)

    assert [arn.rsplit(":", 1)[-1] for arn in alarm_arns] == ["watch-alerts-undelivered", "watch-classifier-errors"]
    alarms = {r.name: r.inputs for r in pulumi_mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms["watch-alerts-undelivered"]["name"] == "safetynet-unit-alerts-undelivered"
    undelivered = alarms["watch-alerts-undelivered"]
    assert (undelivered["namespace"], undelivered["metricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarms["watch-classifier-errors"]["dimensions"]["FunctionName"].startswith("watch-classifier-")
    assert all(a["alarmActions"] == a["okActions"] == [TOPIC_ARN] for a in alarms.values())

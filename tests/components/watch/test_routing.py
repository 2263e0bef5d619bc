"""The prod stack's rules and classifier together: realistic CloudTrail events routed through
moto's EventBridge with exactly the patterns the stack declares, and every delivered event
classified with the context the stack ships in the classifier's code. What the rules cannot tell
(whose table, schedule or backup) the classifier does; together they alert exactly on the
stack's own resources and on tables nobody protects."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from conventions.watch import CONTEXT_ARCHIVE_PATH, WatchContext
from handlers.watch.alert import classify_and_publish
from tests.support import cloudtrail_samples as ct


@pytest.fixture(scope="module")
def declared(prod_synth: Any) -> tuple[dict[str, str], WatchContext]:
    """The stack's patterns by rule (JSON text as declared) and the classifier's context."""
    patterns = {
        r["name"].removeprefix("watch-"): r["inputs"]["eventPattern"]
        for r in prod_synth.of_type("aws:cloudwatch/eventRule:EventRule")
        if "eventPattern" in r["inputs"] and r["name"].startswith("watch-")
    }
    classifier = prod_synth.one("aws:lambda/function:Function", "watch-classifier")
    ctx = WatchContext.from_json(classifier["inputs"]["code"]["archive"][f"handlers/{CONTEXT_ARCHIVE_PATH}"]["text"])
    return patterns, ctx


def _events(ctx: WatchContext) -> dict[str, tuple[dict[str, Any], bool]]:
    """Events by label, each with whether it must be published (False: dropped by the rules or by
    the classifier)."""
    orders, customers = ctx.tables[0], ctx.tables[1]
    others = ct.other_stack_samples()
    harmless = ct.harmless_samples()
    return {
        "our table deleted": (ct.with_request(ct.sample("DeleteTable"), tableName=orders.physical_name), True),
        "our table deleted, by ARN": (ct.with_request(ct.sample("DeleteTable"), tableName=orders.arn), True),
        "protection off on ours": (ct.with_request(ct.sample("UpdateTable"), tableName=customers.arn), True),
        "PITR off on ours": (ct.with_request(ct.sample("UpdateContinuousBackups"), tableName="inventory"), True),
        "backup of ours deleted": (
            ct.with_request(ct.sample("DeleteBackup"), backupArn=f"{orders.arn}/backup/01732699123456-a1b2c3d4"),
            True,
        ),
        "vault policy replaced": (ct.with_request(ct.sample("PutBucketPolicy"), bucketName=ctx.vault_bucket), True),
        "vault key disabled": (ct.with_request(ct.sample("DisableKey"), keyId=ctx.kms_key_arn), True),
        "export schedule deleted": (ct.with_request(ct.sample("DeleteSchedule"), name=orders.schedule_name), True),
        "drill schedule disabled": (
            ct.with_request(ct.sample("UpdateSchedule"), name=customers.drill_schedule_name),
            True,
        ),
        "unprotected table created": (ct.created_table("reports"), True),
        "another stack's table deleted": (others["DeleteTable other table"], False),
        "another stack's backup deleted": (others["DeleteBackup other table"], False),
        "a drill's scratch table deleted": (others["DeleteTable drill scratch table"], False),
        "another schedule disabled": (others["Other schedule disabled"], False),
        "the stack's table created": (ct.created_table("inventory"), False),
        "capacity change on ours": (
            ct.with_request(harmless["UpdateTable capacity"], tableName=orders.physical_name),
            False,
        ),
        "another bucket's policy": (harmless["Policy on other bucket"], False),
    }


@pytest.mark.usefixtures("aws")
def test_rules_and_classifier_alert_on_the_stacks_resources_and_unprotected_tables(
    declared: tuple[dict[str, str], WatchContext],
) -> None:
    # Given the stack's rules on moto's bus and a topic for the classifier
    patterns, ctx = declared
    events = _events(ctx)
    sns = boto3.client("sns", region_name=ct.REGION)
    ctx = replace(ctx, topic_arn=sns.create_topic(Name="alerts")["TopicArn"])
    # When every event is put on the bus, and each one a rule delivered is classified
    routed = ct.route([e for e, _ in events.values()], patterns)
    published = {}
    for label, (event, _) in events.items():
        rules = routed[event["detail"]["eventID"]]
        assert len(rules) <= 1, (label, rules)
        _, message_id = (
            classify_and_publish(
                event,
                ctx,
                ddb=boto3.client("dynamodb", region_name=ct.REGION),
                s3=boto3.client("s3", region_name=ct.REGION),
                sns=sns,
                now=datetime(2026, 11, 27, 12, tzinfo=UTC),
            )
            if rules
            else (None, None)
        )
        published[label] = message_id is not None
    # Then exactly the stack's own dangers and the unprotected table were published
    assert published == {label: expected for label, (_, expected) in events.items()}

"""The classifier: intended / unexpected / unknown by principal, and the enriched SNS alert."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from conventions.watch import WatchContext
from handlers.watch.alert import classify_and_publish
from handlers.watch.classifier import build_alert, classify
from tests.support import cloudtrail_samples as ct
from tests.support.watch_fixtures import NOW, REGION, add_export, item, make_account

ACCT = ct.ACCOUNT
CI_ROLE = f"arn:aws:iam::{ACCT}:role/ci-deploy"
CI_SESSIONS = f"arn:aws:sts::{ACCT}:assumed-role/ci-deploy/*"


# -- classification by principal ---------------------------------------------------------------


def test_role_session_matching_a_session_pattern_is_intended() -> None:
    event = ct.sample("DeleteTable", ct.assumed_role("ci-deploy", "gh-actions-1234"))
    verdict = classify(event, [CI_SESSIONS])
    assert verdict.label == "intended"
    assert verdict.matched_pattern == CI_SESSIONS
    assert verdict.severity == "INFO"


def test_assumed_role_matches_by_its_session_issuer_role_arn() -> None:
    # Given a pattern naming the role itself (not the session), as most people write it
    event = ct.sample("UpdateContinuousBackups", ct.assumed_role("ci-deploy", "run-77"))
    # Then the session issuer's role ARN is what matches
    verdict = classify(event, [f"arn:aws:iam::{ACCT}:role/ci-*"])
    assert verdict.label == "intended"
    assert f"arn:aws:iam::{ACCT}:role/ci-deploy" in verdict.reason


def test_role_with_a_path_matches_a_pattern_with_that_path() -> None:
    event = ct.sample("DeleteTable", ct.assumed_role("deployer", "s", path="/pipelines/"))
    assert classify(event, [f"arn:aws:iam::{ACCT}:role/pipelines/*"]).label == "intended"
    assert classify(event, [f"arn:aws:iam::{ACCT}:role/deployer"]).label == "unexpected"


def test_other_role_session_is_unexpected_and_high() -> None:
    event = ct.sample("DeleteTable", ct.assumed_role("developer", "alice"))
    verdict = classify(event, [CI_ROLE, CI_SESSIONS])
    assert verdict.label == "unexpected"
    assert verdict.severity == "HIGH"
    assert "developer/alice" in verdict.reason


def test_patterns_are_case_sensitive() -> None:
    # IAM role names are case-sensitive in ARNs; CI-deploy is another role.
    event = ct.sample("DeleteTable", ct.assumed_role("ci-deploy"))
    assert classify(event, [f"arn:aws:iam::{ACCT}:role/CI-*"]).label == "unexpected"


def test_iam_user_listed_is_intended_and_unlisted_is_unexpected() -> None:
    event = ct.sample("PutBucketPolicy", ct.iam_user("deploy-bot"))
    assert classify(event, [f"arn:aws:iam::{ACCT}:user/deploy-bot"]).label == "intended"
    assert classify(event, [CI_ROLE]).label == "unexpected"


def test_root_is_unexpected_with_its_own_reason() -> None:
    verdict = classify(ct.sample("ScheduleKeyDeletion", ct.root()), [CI_ROLE, CI_SESSIONS])
    assert verdict.label == "unexpected"
    assert verdict.reason == "the account root user made the call"
    assert verdict.caller is not None and verdict.caller.arn == f"arn:aws:iam::{ACCT}:root"


def test_no_deploy_principals_makes_everything_unexpected() -> None:
    assert classify(ct.sample("DeleteTable", ct.assumed_role("ci-deploy")), []).label == "unexpected"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("not an event", "not an EventBridge event object"),
        (["a", "list"], "not an EventBridge event object"),
        ({"detail-type": "Scheduled Event", "detail": {}}, "not a CloudTrail API call event"),
        ({"detail-type": "AWS API Call via CloudTrail", "detail": "text"}, "not a CloudTrail API call event"),
        ({"detail-type": "AWS API Call via CloudTrail", "detail": {"userIdentity": {}}}, "without eventName"),
        (
            {"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "PutItem"}},
            "PutItem is not a watched call",
        ),
        (
            {"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "DeleteTable"}},
            "without a readable userIdentity",
        ),
        (
            {
                "detail-type": "AWS API Call via CloudTrail",
                "detail": {"eventName": "DeleteTable", "userIdentity": {"type": "IAMUser"}},
            },
            "without a readable userIdentity",
        ),
    ],
)
def test_unreadable_events_are_unknown(event: Any, reason: str) -> None:
    verdict = classify(event, [CI_ROLE])
    assert verdict.label == "unknown"
    assert reason in verdict.reason
    assert verdict.severity == "MEDIUM"


def test_subject_fits_sns_limits() -> None:
    ctx = WatchContext(stack="prod-" + "x" * 200, tables=[], vault_bucket="b")
    event = ct.sample("DeleteTable")
    alert = build_alert(event, classify(event, []), ctx, [])
    assert len(alert.subject) <= 100
    assert alert.subject.startswith("[HIGH] safetynet prod-")


# -- the published alert (moto SNS -> SQS) -----------------------------------------------------


def _subscribe_queue(topic_arn: str) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", region_name=REGION).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def _received(url: str) -> list[dict[str, Any]]:
    msgs = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in msgs.get("Messages", [])]


def _publish(ctx: WatchContext, event: Any) -> Any:
    return classify_and_publish(
        event,
        ctx,
        ddb=boto3.client("dynamodb", region_name=REGION),
        s3=boto3.client("s3", region_name=REGION),
        sns=boto3.client("sns", region_name=REGION),
        now=NOW,
    )


@pytest.fixture
def account(aws: None) -> tuple[WatchContext, str]:
    ctx = make_account(deploy_principals=[CI_ROLE])
    return ctx, _subscribe_queue(ctx.topic_arn)


def test_unexpected_delete_table_alert_carries_the_enrichment(account: tuple[WatchContext, str]) -> None:
    # Given a table with a nightly export in the vault and PITR on
    ctx, inbox = account
    ref = add_export(ctx.tables[0], [item(i) for i in range(9)], age_hours=7)
    # When a developer's session deletes it
    event = ct.sample("DeleteTable", ct.assumed_role("developer", "alice"))
    event["detail"]["requestParameters"]["tableName"] = ctx.tables[0].physical_name
    verdict, _ = _publish(ctx, event)
    # Then one HIGH alert is published with who/where/when, the last export, PITR and the command
    [note] = _received(inbox)
    assert verdict.label == "unexpected"
    assert note["Subject"].startswith("[HIGH] safetynet prod: unexpected: table deleted (orders)")
    assert note["MessageAttributes"]["severity"] == {"Type": "String", "Value": "HIGH"}
    assert note["MessageAttributes"]["classification"]["Value"] == "unexpected"
    body = json.loads(note["Message"])
    assert body["who"] == {
        "principal": f"arn:aws:sts::{ACCT}:assumed-role/developer/alice",
        "sessionIssuer": f"arn:aws:iam::{ACCT}:role/developer",
        "identityType": "AssumedRole",
        "invokedBy": None,
        "sourceIp": "203.0.113.17",
        "userAgent": event["detail"]["userAgent"],
    }
    assert body["event"]["time"] == "2026-11-27T10:02:03Z"
    assert body["event"]["resource"] == "orders"
    [facts] = body["tables"]
    assert facts["last_export"]["export_id"] == ref.export_id
    assert facts["last_export"]["item_count"] == 9
    assert facts["last_export"]["age_hours"] == 7.0
    assert facts["pitr"]["status"] == "ENABLED"
    assert {"earliest", "latest"} <= set(facts["pitr"])
    command = "safetynet restore-plan prod --table orders --vault-bucket vault-bucket-test"
    assert facts["restore_plan"] == command
    assert body["next"] == [command]


def test_intended_change_is_published_as_info(account: tuple[WatchContext, str]) -> None:
    ctx, inbox = account
    event = ct.sample("UpdateContinuousBackups", ct.assumed_role("ci-deploy", "run-1"))
    event["detail"]["requestParameters"]["tableName"] = ctx.tables[0].arn
    _publish(ctx, event)
    [note] = _received(inbox)
    assert note["MessageAttributes"]["severity"]["Value"] == "INFO"
    assert note["Subject"].startswith("[INFO] safetynet prod: intended: point-in-time recovery turned off")
    assert json.loads(note["Message"])["tables"][0]["table"] == "orders"


def test_unknown_event_is_published_with_the_raw_event(account: tuple[WatchContext, str]) -> None:
    # Given an event the classifier cannot read
    ctx, inbox = account
    event = {
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {"eventName": "DeleteTable"},
        "id": "e-1",
    }
    # When processed / Then it is published (never dropped), MEDIUM, with the raw event attached
    verdict, message_id = _publish(ctx, event)
    [note] = _received(inbox)
    assert verdict.label == "unknown" and message_id
    assert note["MessageAttributes"]["classification"]["Value"] == "unknown"
    assert json.loads(note["Message"])["raw"] == event


def test_vault_key_event_lists_every_table(account: tuple[WatchContext, str]) -> None:
    ctx, inbox = account
    _publish(ctx, ct.sample("DisableKey", ct.iam_user("mallory")))
    body = json.loads(_received(inbox)[0]["Message"])
    assert [t["table"] for t in body["tables"]] == ["orders", "customers"]
    assert all(t["last_export"] is None for t in body["tables"])


def test_unreadable_facts_do_not_stop_the_alert(account: tuple[WatchContext, str]) -> None:
    # Given the table is already gone (DeleteTable succeeded), so PITR cannot be described
    ctx, inbox = account
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.update_table(TableName="customers", DeletionProtectionEnabled=False)
    ddb.delete_table(TableName="customers")
    event = ct.sample("DeleteTable", ct.root())
    event["detail"]["requestParameters"]["tableName"] = "customers"
    # When processed
    _publish(ctx, event)
    # Then the alert is still published and says what could not be read
    body = json.loads(_received(inbox)[0]["Message"])
    [facts] = body["tables"]
    assert facts["pitr"] is None
    assert len(facts["problems"]) == 1, facts
    assert facts["problems"][0].startswith("PITR window unreadable: TableNotFoundException")


def test_schedule_event_names_the_export_schedules_table(account: tuple[WatchContext, str]) -> None:
    ctx, inbox = account
    event = ct.sample("UpdateSchedule")
    event["detail"]["requestParameters"] = {"Name": ctx.tables[1].schedule_name, "State": "DISABLED"}
    _publish(ctx, event)
    body = json.loads(_received(inbox)[0]["Message"])
    assert [t["table"] for t in body["tables"]] == ["customers"]
    assert body["summary"].startswith("UNEXPECTED: nightly export schedule disabled on customers-export-schedule")


def test_refused_attempt_says_so(account: tuple[WatchContext, str]) -> None:
    ctx, inbox = account
    event = ct.sample("DeleteTable")
    event["detail"]["errorCode"] = "ValidationException"
    _publish(ctx, event)
    note = _received(inbox)[0]
    assert note["Subject"].endswith("- attempt refused")
    assert "the call failed: ValidationException" in json.loads(note["Message"])["summary"]


# -- what is not this stack's business, and coverage ---------------------------------------------


def test_dangerous_calls_on_other_stacks_are_not_published(account: tuple[WatchContext, str]) -> None:
    # Given the rules delivered a DeleteTable and a DeleteBackup of another stack's table
    ctx, inbox = account
    others = ct.other_stack_samples()
    for label in ("DeleteTable other table", "DeleteBackup other table", "Other schedule deleted"):
        # When classified / Then nothing is published
        verdict, message_id = _publish(ctx, others[label])
        assert message_id is None, label
        assert verdict.label == "unexpected"
    assert _received(inbox) == []


def test_unprotected_table_alert_names_who_and_the_adopt_command(account: tuple[WatchContext, str]) -> None:
    # Given a developer creates a table that no stack protects (the Developer Guide's record)
    ctx, inbox = account
    event = ct.created_table("reports", identity=ct.assumed_role("developer", "alice"))
    # When classified
    verdict, message_id = _publish(ctx, event)
    # Then one MEDIUM alert says who created which table and how to adopt it
    [note] = _received(inbox)
    assert message_id and verdict.label == "unexpected"
    assert note["Subject"] == "[MEDIUM] safetynet prod: unexpected: unprotected table created (reports)"
    assert note["MessageAttributes"]["eventName"]["Value"] == "CreateTable"
    body = json.loads(note["Message"])
    assert body["next"] == ["safetynet adopt -s prod --table reports"]
    assert body["summary"] == (
        f"UNEXPECTED: unprotected table created: reports by arn:aws:sts::{ACCT}:assumed-role/developer/alice "
        f"(role arn:aws:iam::{ACCT}:role/developer); it has no export, no alarm and no drill: adopt it "
        "(safetynet adopt -s prod --table reports) or exclude it in safetynet:coverage.exclude"
    )
    assert body["who"]["principal"] == f"arn:aws:sts::{ACCT}:assumed-role/developer/alice"
    assert body["who"]["sessionIssuer"] == f"arn:aws:iam::{ACCT}:role/developer"
    assert body["tables"] == []


def test_a_deploy_principal_creating_an_unprotected_table_is_info(account: tuple[WatchContext, str]) -> None:
    ctx, inbox = account
    _publish(ctx, ct.created_table("reports", identity=ct.assumed_role("ci-deploy", "run-9")))
    [note] = _received(inbox)
    assert note["Subject"].startswith("[INFO] safetynet prod: intended: unprotected table created (reports)")


def test_creating_the_stacks_own_table_is_not_published(account: tuple[WatchContext, str]) -> None:
    ctx, inbox = account
    _, message_id = _publish(ctx, ct.created_table("customers"))
    assert message_id is None and _received(inbox) == []


def test_a_drill_schedule_alert_says_it_is_the_drills(account: tuple[WatchContext, str]) -> None:
    ctx, inbox = account
    event = ct.with_request(ct.sample("DeleteSchedule"), name=ctx.tables[0].drill_schedule_name)
    _publish(ctx, event)
    body = json.loads(_received(inbox)[0]["Message"])
    assert body["summary"].startswith("UNEXPECTED: restore drill schedule deleted on watch-drill-orders-")
    assert [t["table"] for t in body["tables"]] == ["orders"]

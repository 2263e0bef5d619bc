"""DisasterWatch's EventBridge patterns, routed through moto's EventBridge with realistic
CloudTrail samples: every watched call reaches exactly its rule, benign calls reach none."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from components.watch.patterns import RULE_NAMES, WatchedResources, key_id, watch_patterns
from tests.support import cloudtrail_samples as ct

RESOURCES = WatchedResources(
    table_names=[ct.TABLE, "customers"],
    table_arns=[ct.TABLE_ARN, f"arn:aws:dynamodb:{ct.REGION}:{ct.ACCOUNT}:table/customers"],
    bucket_name=ct.BUCKET,
    kms_key_arn=ct.KEY_ARN,
    schedule_names=[ct.SCHEDULE],
)


def _route(events: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Put every event on moto's default bus with one rule (-> its own queue) per pattern;
    return, per event id, the rules whose queue received it."""
    events_client = boto3.client("events", region_name=ct.REGION)
    sqs = boto3.client("sqs", region_name=ct.REGION)
    queues = {}
    for name, pattern in watch_patterns(RESOURCES).items():
        url = sqs.create_queue(QueueName=f"watch-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events_client.put_rule(Name=f"watch-{name}", EventPattern=json.dumps(pattern))
        events_client.put_targets(Rule=f"watch-{name}", Targets=[{"Id": "q", "Arn": arn}])
        queues[name] = url
    ids = []
    for event in events:
        event["detail"]["eventID"] = str(uuid.uuid4())
        ids.append(event["detail"]["eventID"])
    for i in range(0, len(events), 10):
        resp = events_client.put_events(Entries=[ct.put_events_entry(e) for e in events[i : i + 10]])
        assert resp["FailedEntryCount"] == 0
    routed: dict[str, set[str]] = {i: set() for i in ids}
    for name, url in queues.items():
        while True:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                routed[json.loads(m["Body"])["detail"]["eventID"]].add(name)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return routed


@pytest.mark.usefixtures("aws")
def test_every_watched_call_reaches_exactly_its_rule() -> None:
    # Given one realistic CloudTrail event per watched API call on this stack's resources
    names = ct.watched_event_names()
    events = [ct.sample(n) for n in names]
    # When they are put on the bus with DisasterWatch's rules
    routed = _route(events)
    # Then each event reached its intended rule and no other
    got = {n: routed[e["detail"]["eventID"]] for n, e in zip(names, events, strict=True)}
    assert got == {n: {ct.EXPECTED_RULE[n]} for n in names}


@pytest.mark.usefixtures("aws")
def test_benign_calls_reach_no_rule() -> None:
    # Given calls that do not endanger anything (or touch other resources)
    benign = ct.benign_samples()
    # When routed
    routed = _route(list(benign.values()))
    # Then no rule matched any of them
    got = {label: routed[e["detail"]["eventID"]] for label, e in benign.items()}
    assert got == {label: set() for label in benign}


@pytest.mark.usefixtures("aws")
def test_table_referenced_by_arn_is_matched() -> None:
    # Given DeleteTable called with the table's ARN as TableName (DynamoDB accepts both)
    event = ct.with_request(ct.sample("DeleteTable"), tableName=ct.TABLE_ARN)
    # When routed / Then the table-deleted rule matches
    assert _route([event]) == {event["detail"]["eventID"]: {"table-deleted"}}


@pytest.mark.usefixtures("aws")
def test_failed_attempt_is_still_matched() -> None:
    # Given a DeleteTable that deletion protection refused (CloudTrail records the errorCode)
    event = ct.sample("DeleteTable")
    event["detail"]["errorCode"] = "ValidationException"
    event["detail"]["errorMessage"] = "Resource cannot be deleted as it is currently protected against deletion."
    # When routed / Then it still alerts: someone tried
    assert _route([event]) == {event["detail"]["eventID"]: {"table-deleted"}}


@pytest.mark.usefixtures("aws")
def test_scheduler_calls_match_in_either_casing() -> None:
    # Given the scheduler calls with SDK-cased request members (Name, State)
    deleted = ct.sample("DeleteSchedule")
    deleted["detail"]["requestParameters"] = {"Name": ct.SCHEDULE, "GroupName": "default"}
    disabled = ct.sample("UpdateSchedule")
    disabled["detail"]["requestParameters"] = {"Name": ct.SCHEDULE, "State": "DISABLED"}
    enabled = ct.sample("UpdateSchedule")
    enabled["detail"]["requestParameters"] = {"Name": ct.SCHEDULE, "State": "ENABLED"}
    # When routed / Then they reach their rules (and enabling stays benign)
    routed = _route([deleted, disabled, enabled])
    assert [routed[e["detail"]["eventID"]] for e in (deleted, disabled, enabled)] == [
        {"schedule-deleted"},
        {"schedule-disabled"},
        set(),
    ]


def test_rule_names_cover_every_pattern() -> None:
    assert list(watch_patterns(RESOURCES)) == RULE_NAMES


def test_scheduler_rules_are_left_out_without_schedules() -> None:
    # EventBridge rejects an empty list as a pattern value.
    r = WatchedResources(RESOURCES.table_names, RESOURCES.table_arns, ct.BUCKET, ct.KEY_ARN, [])
    assert "schedule-deleted" not in watch_patterns(r)
    assert all(v != [] for p in watch_patterns(r).values() for v in p["detail"]["requestParameters"].values())


def test_key_id_from_arn() -> None:
    assert key_id(ct.KEY_ARN) == ct.KEY_ID

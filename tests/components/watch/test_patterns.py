"""DisasterWatch's EventBridge patterns, routed through moto's EventBridge with realistic
CloudTrail samples: every watched call reaches exactly its rule, harmless calls reach none, and
the patterns name no table, so their size does not depend on the stack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.watch.patterns import RULE_NAMES, VaultResources, key_id, watch_patterns
from tests.support import cloudtrail_samples as ct

RESOURCES = VaultResources(bucket_name=ct.BUCKET, kms_key_arn=ct.KEY_ARN)
# EventBridge's default quota for one event pattern (L-664C5505).
PATTERN_QUOTA = 2048


def route(events: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Routed through moto's EventBridge with this module's patterns."""
    return ct.route(events, {name: json.dumps(p) for name, p in watch_patterns(RESOURCES).items()})


@pytest.mark.usefixtures("aws")
def test_every_watched_call_reaches_exactly_its_rule() -> None:
    # Given one realistic CloudTrail event per watched API call (CreateTable included)
    names = ct.watched_event_names()
    events = [ct.sample(n) for n in names]
    # When they are put on the bus with DisasterWatch's rules
    routed = route(events)
    # Then each event reached its intended rule and no other
    got = {n: routed[e["detail"]["eventID"]] for n, e in zip(names, events, strict=True)}
    assert got == {n: {ct.EXPECTED_RULE[n]} for n in names}
    assert set(ct.EXPECTED_RULE.values()) == set(RULE_NAMES)


@pytest.mark.usefixtures("aws")
def test_harmless_calls_reach_no_rule() -> None:
    # Given calls that do not do the dangerous thing (capacity, protection or PITR turned on,
    # versioning enabled, a schedule enabled) or touch another vault
    harmless = ct.harmless_samples()
    # When routed
    routed = route(list(harmless.values()))
    # Then no rule matched any of them
    got = {label: routed[e["detail"]["eventID"]] for label, e in harmless.items()}
    assert got == {label: set() for label in harmless}


@pytest.mark.usefixtures("aws")
def test_dangerous_calls_on_other_stacks_reach_the_classifier() -> None:
    # Given dangerous calls on tables, backups and schedules that are not this stack's
    others = ct.other_stack_samples()
    # When routed
    routed = route(list(others.values()))
    # Then the rules match them by name (no table is named in a pattern); the classifier decides
    # (tests/handlers/watch/test_scope.py)
    got = {label: routed[e["detail"]["eventID"]] for label, e in others.items()}
    assert got == {label: {ct.EXPECTED_RULE[e["detail"]["eventName"]]} for label, e in others.items()}


@pytest.mark.usefixtures("aws")
def test_table_referenced_by_arn_is_matched() -> None:
    # Given DeleteTable called with the table's ARN as TableName (DynamoDB accepts both)
    event = ct.with_request(ct.sample("DeleteTable"), tableName=ct.TABLE_ARN)
    # When routed / Then the table-deleted rule matches
    assert route([event]) == {event["detail"]["eventID"]: {"table-deleted"}}


@pytest.mark.usefixtures("aws")
def test_failed_attempt_is_still_matched() -> None:
    # Given a DeleteTable that deletion protection refused (CloudTrail records the errorCode)
    event = ct.sample("DeleteTable")
    event["detail"]["errorCode"] = "ValidationException"
    event["detail"]["errorMessage"] = "Resource cannot be deleted as it is currently protected against deletion."
    # When routed / Then it still alerts: someone tried
    assert route([event]) == {event["detail"]["eventID"]: {"table-deleted"}}


@pytest.mark.usefixtures("aws")
def test_scheduler_calls_match_in_either_casing() -> None:
    # Given the scheduler calls with SDK-cased request members (Name, State)
    deleted = ct.sample("DeleteSchedule")
    deleted["detail"]["requestParameters"] = {"Name": ct.SCHEDULE, "GroupName": "default"}
    disabled = ct.sample("UpdateSchedule")
    disabled["detail"]["requestParameters"] = {"Name": ct.SCHEDULE, "State": "DISABLED"}
    enabled = ct.sample("UpdateSchedule")
    enabled["detail"]["requestParameters"] = {"Name": ct.SCHEDULE, "State": "ENABLED"}
    # When routed / Then they reach their rules (and enabling stays harmless)
    routed = route([deleted, disabled, enabled])
    assert [routed[e["detail"]["eventID"]] for e in (deleted, disabled, enabled)] == [
        {"schedule-deleted"},
        {"schedule-disabled"},
        set(),
    ]


def test_rule_names_cover_every_pattern() -> None:
    assert list(watch_patterns(RESOURCES)) == RULE_NAMES


def test_patterns_name_no_table_and_stay_far_under_the_quota() -> None:
    # Only the vault bucket and key (one each per stack) are named; no pattern value is empty
    # (EventBridge rejects an empty list).
    patterns = watch_patterns(RESOURCES)
    text = json.dumps(patterns)
    assert ct.TABLE not in text and ct.SCHEDULE not in text
    for name, pattern in patterns.items():
        size = len(json.dumps(pattern))
        assert size <= PATTERN_QUOTA // 4, (name, size)
    assert all(v != [] for p in patterns.values() for v in p["detail"].get("requestParameters", {}).values())


def test_key_id_from_arn() -> None:
    assert key_id(ct.KEY_ARN) == ct.KEY_ID

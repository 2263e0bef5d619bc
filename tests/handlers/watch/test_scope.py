"""Which events are this stack's business: the rules match by event name and dangerous request
parameters, the classifier decides from its context which resources are the stack's, and is at
least as precise about the request as the patterns (so it can be trusted alone)."""

from __future__ import annotations

from typing import Any

import pytest

from conventions.tags import STACK_TAG
from handlers.watch.scope import affected_tables, ignore_reason
from tests.support import cloudtrail_samples as ct

CTX = ct.stack_context()


@pytest.mark.parametrize("name", ct.watched_event_names())
def test_every_watched_call_on_the_stacks_resources_alerts(name: str) -> None:
    # Given the dangerous call on this stack's table, backup, schedule, vault or key (CreateTable:
    # of a table nobody protects) / Then the classifier keeps it
    assert ignore_reason(ct.sample(name), CTX) is None


@pytest.mark.parametrize(("label", "event"), list(ct.harmless_samples().items()))
def test_harmless_calls_are_ignored_even_if_delivered(label: str, event: dict[str, Any]) -> None:
    # The rules do not deliver these; handed one anyway, the classifier alone stays quiet.
    assert ignore_reason(event, CTX) is not None, label


@pytest.mark.parametrize(("label", "event"), list(ct.other_stack_samples().items()))
def test_dangerous_calls_on_other_stacks_are_ignored(label: str, event: dict[str, Any]) -> None:
    reason = ignore_reason(event, CTX)
    assert reason is not None and "is not stack prod's" in reason, (label, reason)


def test_the_reason_names_what_made_a_call_harmless() -> None:
    harmless = ct.harmless_samples()
    assert ignore_reason(harmless["UpdateTable capacity"], CTX) == "UpdateTable does not turn deletion protection off"
    assert ignore_reason(harmless["PITR on"], CTX) == (
        "UpdateContinuousBackups does not turn point-in-time recovery off"
    )
    assert ignore_reason(harmless["Versioning enabled"], CTX) == "PutBucketVersioning does not suspend versioning"
    assert ignore_reason(harmless["Policy on other bucket"], CTX) == (
        "vault bucket someone-elses-bucket is not stack prod's"
    )


def test_a_table_named_by_its_arn_is_the_stacks() -> None:
    event = ct.with_request(ct.sample("DeleteTable"), tableName=ct.TABLE_ARN)
    assert ignore_reason(event, CTX) is None
    assert [t.name for t in affected_tables(event, CTX)] == [ct.TABLE]


def test_drill_schedules_are_the_stacks_too() -> None:
    event = ct.with_request(ct.sample("DeleteSchedule"), name=ct.DRILL_SCHEDULE)
    assert ignore_reason(event, CTX) is None
    assert [t.name for t in affected_tables(event, CTX)] == [ct.TABLE]


def test_a_dangerous_call_naming_no_resource_is_never_dropped() -> None:
    # Given protection turned off by a request that names no table (it cannot be told whose)
    event = ct.sample("UpdateTable")
    del event["detail"]["requestParameters"]["tableName"]
    # Then it is published rather than guessed away
    assert ignore_reason(event, CTX) is None


def test_unreadable_events_are_never_ignored() -> None:
    assert ignore_reason("not an event", CTX) is None
    assert ignore_reason({"detail-type": "Scheduled Event", "detail": {}}, CTX) is None
    assert ignore_reason({"detail-type": "AWS API Call via CloudTrail", "detail": {"x": 1}}, CTX) is None


# -- CreateTable: coverage -----------------------------------------------------------------------


def test_a_new_table_nobody_protects_alerts() -> None:
    event = ct.created_table("reports")
    assert ignore_reason(event, CTX) is None
    assert affected_tables(event, CTX) == []


def test_a_new_table_named_by_arn_is_judged_by_its_name() -> None:
    arn = f"arn:aws:dynamodb:{ct.REGION}:{ct.ACCOUNT}:table/etl-scratch-7"
    assert ignore_reason(ct.created_table(arn), CTX) == "excluded by safetynet:coverage.exclude pattern 'etl-scratch-*'"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (ct.created_table(ct.TABLE), "a table of stack prod"),
        # Created by `pulumi up` before the classifier's new context is deployed: its stack tag says so.
        (
            ct.created_table("invoices", tags={STACK_TAG: ct.STACK_TAG_VALUE, "team": "billing"}),
            "a table of stack prod",
        ),
        (ct.created_table("etl-scratch-2026-11-27"), "excluded by safetynet:coverage.exclude pattern 'etl-scratch-*'"),
        (ct.created_table("safetynet-drill-orders-0179-abc-20261127T050000"), "a restore drill's scratch table"),
    ],
    ids=["stack's table", "stack-tagged table", "excluded", "drill scratch table"],
)
def test_covered_new_tables_are_ignored(event: dict[str, Any], reason: str) -> None:
    assert ignore_reason(event, CTX) == reason


def test_another_stacks_tag_does_not_cover_a_new_table() -> None:
    event = ct.created_table("invoices", tags={STACK_TAG: "safetynet/staging"})
    assert ignore_reason(event, CTX) is None


def test_exclusions_are_case_sensitive_like_table_names() -> None:
    assert ignore_reason(ct.created_table("ETL-scratch-1"), CTX) is None


def test_a_refused_create_table_created_nothing() -> None:
    event = ct.created_table("reports")
    event["detail"]["errorCode"] = "AccessDenied"
    event["detail"]["responseElements"] = None
    assert ignore_reason(event, CTX) == "CreateTable failed (AccessDenied): no table was created"

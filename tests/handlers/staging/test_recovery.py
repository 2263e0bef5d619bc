"""Recovering a test table after a replace failed past its delete (handlers/staging/recovery.py):
what it deletes (only this run's leftover, never a prod table or another stack's target), and
what it recreates the table from (the last good export when usable, else an empty export or
CreateTable), with the note the failure then carries."""

from __future__ import annotations

from typing import Any

import pytest

from conventions.tags import STAGING_TARGET_TAG
from handlers.staging.exceptions import NotAStagingTarget
from handlers.staging.recovery import (
    LastGood,
    clear_leftover,
    create_request,
    recovery_note,
    start_recreate,
    write_empty_export,
)
from tests.support.staging_fixtures import (
    MASK_BUCKET,
    STACK,
    create_test_table,
    customer_items,
    prod_spec,
    target_for,
    write_prod_export,
)

TARGET = target_for(prod_spec("customers"), mode="replace")


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s: nothing here waits")


def test_nothing_there_is_gone(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    assert clear_leftover(ddb, TARGET, sleep=no_sleep) == "gone"


def test_an_untagged_leftover_is_marked_as_the_stacks_then_deleted(clients: tuple[Any, Any]) -> None:
    # Given the table a failed ImportTable left: the schema, no tags
    _, ddb = clients
    create_test_table(ddb, TARGET, tags={})
    # When it is cleared
    state = clear_leftover(ddb, TARGET, sleep=no_sleep)
    # Then it was tagged as this stack's target (what the delete's IAM condition needs) and deleted
    assert state == "deleting"
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.describe_table(TableName=TARGET.name)


@pytest.mark.parametrize(
    "tags",
    [{"safetynet:environment": "prod"}, {STAGING_TARGET_TAG: "someone/else"}],
    ids=["prod table", "another stack's target"],
)
def test_a_table_that_is_not_the_stacks_is_never_deleted(clients: tuple[Any, Any], tags: dict[str, str]) -> None:
    _, ddb = clients
    create_test_table(ddb, TARGET, tags=tags)
    with pytest.raises(NotAStagingTarget):
        clear_leftover(ddb, TARGET, sleep=no_sleep)
    assert ddb.describe_table(TableName=TARGET.name)["Table"]["TableStatus"] == "ACTIVE"


def test_the_table_is_imported_from_the_last_good_export_when_it_is_still_there(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    ref = write_prod_export(s3, customer_items(4, big=False))
    good = LastGood.now(ref.export_id, ref.url, ref.url, "DYNAMODB_JSON")
    result = start_recreate(ddb, s3, TARGET, good)
    assert result["importArn"] and result["from"] == good.to_json()
    note = recovery_note("import failed: x", TARGET, result)
    assert (
        note == f"import failed: x; customers-test was recreated and refilled from {ref.url} (staged {good.staged_at})"
    )


def test_a_last_good_export_that_is_gone_falls_back_to_an_empty_table_saying_why(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    gone = LastGood(
        "01-x",
        "s3://prod-vault/exports/customers/AWSDynamoDB/01-x/",
        f"s3://{MASK_BUCKET}/masked/customers/AWSDynamoDB/01-x/",
        "DYNAMODB_JSON",
        "t",
    )
    result = start_recreate(ddb, s3, TARGET, gone)  # no empty export given: CreateTable (the CLI)
    assert result["importArn"] is None and "cannot be used" in result["why"]
    desc = ddb.describe_table(TableName=TARGET.name)["Table"]
    assert desc["KeySchema"] == TARGET.schema["KeySchema"]
    assert [g["IndexName"] for g in desc["GlobalSecondaryIndexes"]] == ["by-email"]
    assert "recreated empty with its configuration and tags" in recovery_note("r", TARGET, result)


def test_the_state_machine_recreates_an_empty_table_from_an_empty_export(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    empty = write_empty_export(s3, MASK_BUCKET, "masked/customers/recovery", TARGET, kms_key_id=None)
    result = start_recreate(ddb, s3, TARGET, None, empty_export=lambda: empty)
    assert result["importArn"] and result["from"] is None
    assert result["why"] == "no export was staged into it successfully before"


def test_create_table_carries_the_schema_and_tags_and_leaves_the_stream_to_finish() -> None:
    target = target_for(prod_spec("orders"), mode="replace")
    req = create_request(target)
    assert "StreamSpecification" not in req and req["TableName"] == "orders-test"
    assert {t["Key"]: t["Value"] for t in req["Tags"]} == dict(target.tags)
    assert req["LocalSecondaryIndexes"] == target.schema["LocalSecondaryIndexes"]
    assert {t["Key"] for t in req["Tags"]} >= {STAGING_TARGET_TAG} and dict(target.tags)[STAGING_TARGET_TAG] == STACK

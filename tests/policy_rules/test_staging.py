"""Rule `staging-writes-only-staging-targets` (policy_rules/staging.py): what makes a table a
staging target, which statements count as writes, and the pipeline's own bookkeeping table."""

from __future__ import annotations

import json

import pytest

from conventions.tags import ENVIRONMENT_TAG, STAGING_TARGET_TAG
from policy_rules.model import TABLE
from tests.policy_rules.crafted import staging_writes_prod_table
from tests.policy_rules.records import TABLE_ARN, Records, add_resource, add_staging_policy, find, messages

RULE = "staging-writes-only-staging-targets"


def _tag_orders_as_staging_target(recs: Records, value: str = "safetynet/prod") -> None:
    tags = find(recs, TABLE, "orders")["inputs"]["tags"]
    tags[ENVIRONMENT_TAG] = "test"
    tags[STAGING_TARGET_TAG] = value


# -- staging targets ----------------------------------------------------------------------------------


def test_staging_may_write_tables_tagged_as_targets_of_their_stack(prod_records: Records) -> None:
    _tag_orders_as_staging_target(prod_records)
    staging_writes_prod_table(prod_records)
    assert messages(RULE, prod_records) == []


def test_staging_target_of_another_stack_is_not_a_target(prod_records: Records) -> None:
    _tag_orders_as_staging_target(prod_records, value="safetynet/other")
    staging_writes_prod_table(prod_records)
    assert messages(RULE, prod_records)


def test_prod_table_is_never_a_staging_target_even_if_tagged(prod_records: Records) -> None:
    find(prod_records, TABLE, "orders")["inputs"]["tags"][STAGING_TARGET_TAG] = "true"
    staging_writes_prod_table(prod_records)
    assert messages(RULE, prod_records)


# -- which statements count -----------------------------------------------------------------------------


def test_staging_statement_gated_on_the_tag_is_allowed(prod_records: Records) -> None:
    add_staging_policy(
        prod_records,
        {
            "Effect": "Allow",
            "Action": ["dynamodb:DeleteTable"],
            "Resource": [TABLE_ARN + "orders-test"],
            "Condition": {"StringEquals": {f"aws:ResourceTag/{STAGING_TARGET_TAG}": "safetynet/test"}},
        },
    )
    assert messages(RULE, prod_records) == []


@pytest.mark.parametrize(
    ("resource", "why"),
    [
        (TABLE_ARN + "*", "a table name pattern"),
        (TABLE_ARN + "elsewhere", "a table not declared in this stack"),
        ("*", "resources beyond named tables"),
    ],
)
def test_staging_write_beyond_declared_targets_is_reported(prod_records: Records, resource: str, why: str) -> None:
    add_staging_policy(prod_records, {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": resource})
    found = messages(RULE, prod_records)
    assert len(found) == 1 and why in found[0]


def test_staging_reads_are_not_writes(prod_records: Records) -> None:
    add_staging_policy(
        prod_records, {"Effect": "Allow", "Action": ["dynamodb:DescribeTable"], "Resource": TABLE_ARN + "orders"}
    )
    assert messages(RULE, prod_records) == []


# -- the pipeline's own bookkeeping table ---------------------------------------------------------------


def _add_pipeline_state_table(recs: Records, env: str = "test") -> None:
    add_resource(recs, "safetynet:staging:StagingPipeline", "staging", {})
    add_resource(
        recs,
        TABLE,
        "staging-ledger",
        {"name": "ledger", "tags": {ENVIRONMENT_TAG: env}},
        parent="safetynet:staging:StagingPipeline::staging",
    )
    add_resource(
        recs,
        "aws:iam/rolePolicy:RolePolicy",
        "staging-task-policy",
        {"policy": "{}"},
        parent="safetynet:staging:StagingPipeline::staging",
    )


def _set_task_statement(recs: Records, actions: list[str]) -> None:
    doc = {"Statement": [{"Sid": "Ledger", "Effect": "Allow", "Action": actions, "Resource": TABLE_ARN + "ledger"}]}
    find(recs, "aws:iam/rolePolicy:RolePolicy", "staging-task")["inputs"]["policy"] = json.dumps(doc)


def test_staging_may_write_items_of_its_own_bookkeeping_table(prod_records: Records) -> None:
    _add_pipeline_state_table(prod_records)
    _set_task_statement(prod_records, ["dynamodb:PutItem", "dynamodb:UpdateItem"])
    assert messages(RULE, prod_records) == []


def test_staging_may_not_delete_its_bookkeeping_table(prod_records: Records) -> None:
    _add_pipeline_state_table(prod_records)
    _set_task_statement(prod_records, ["dynamodb:PutItem", "dynamodb:DeleteTable"])
    found = messages(RULE, prod_records)
    assert len(found) == 1 and "dynamodb:DeleteTable" in found[0] and "table 'ledger'" in found[0]


def test_prod_table_under_a_staging_component_gets_no_exception(prod_records: Records) -> None:
    _add_pipeline_state_table(prod_records, env="prod")
    _set_task_statement(prod_records, ["dynamodb:PutItem"])
    assert messages(RULE, prod_records)


# -- create-only actions on a name pattern ----------------------------------------------------------


def test_import_on_a_pattern_of_staging_targets_is_allowed(prod_records: Records) -> None:
    # ImportTable only creates a table: no tag condition can hold for it, a name pattern scopes it.
    _tag_orders_as_staging_target(prod_records)
    add_staging_policy(
        prod_records, {"Effect": "Allow", "Action": "dynamodb:ImportTable", "Resource": TABLE_ARN + "ord*"}
    )
    assert messages(RULE, prod_records) == []


@pytest.mark.parametrize(
    ("action", "pattern"),
    [
        ("dynamodb:ImportTable", "*"),  # no fixed part: any table of the account
        ("dynamodb:ImportTable", "cust*"),  # matches a prod table
        ("dynamodb:ImportTable", "zzz*"),  # matches no staging target
        ("dynamodb:DeleteTable", "ord*"),  # not create-only: needs the tag condition
    ],
)
def test_other_patterns_or_actions_are_still_reported(prod_records: Records, action: str, pattern: str) -> None:
    _tag_orders_as_staging_target(prod_records)
    add_staging_policy(prod_records, {"Effect": "Allow", "Action": action, "Resource": TABLE_ARN + pattern})
    assert len(messages(RULE, prod_records)) == 1

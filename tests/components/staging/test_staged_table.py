"""StagedTable, declared alone from minimal arguments under Pulumi's mocks: the test table with
prod's schema and its trigger on prod's completed exports."""

from __future__ import annotations

import json
from typing import Any

from components.config.staging import StagingSpec
from components.config.tables import TableSpec
from components.staging.component import StagedTable, StagedTableArgs, summary_event_pattern
from conventions.tags import STAGING_TARGET_TAG
from tests.support.pulumi_mocks import REGION, RecordingMocks
from tests.support.pulumi_run import declared, resolved

ACCOUNT = "123456789012"
STACK = "safetynet/test"
SPEC = TableSpec.model_validate(
    {"name": "orders", "hashKey": {"name": "id", "type": "S"}, "ttlAttribute": "expiresAt", "tags": {"app": "shop"}}
)
PROD_TABLE: dict[str, Any] = {
    "name": "orders",
    "arn": f"arn:aws:dynamodb:{REGION}:111111111111:table/orders",
    "exportPrefix": "exports/orders",
    "schema": SPEC.create_table_request("orders"),
}
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:safetynet-staging-test"
EVENTS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/staging-events-role"
TABLE = "aws:dynamodb/table:Table"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"


def declare(staging: StagingSpec | None = None) -> dict[str, Any]:
    """Declare the test table `orders-test` and resolve what it exposes."""

    def build() -> dict[str, Any]:
        staged = StagedTable(
            "orders",
            StagedTableArgs(
                spec=SPEC,
                physical_name="orders-test",
                stack=STACK,
                staging=staging or StagingSpec.model_validate({"from": "acme/safetynet/prod"}),
                tags={"safetynet:environment": "test"},
                prod_table=PROD_TABLE,
                vault_bucket_name="prod-vault",
                state_machine_arn=MACHINE,
                events_role_arn=EVENTS_ROLE,
            ),
        )
        return {"table_name": staged.table_name, "table_arn": staged.table_arn, "rule_arn": staged.rule_arn}

    return resolved(build)


def test_a_staged_table_is_the_test_table_and_its_trigger(pulumi_mocks: RecordingMocks) -> None:
    declare()
    assert declared(pulumi_mocks) == sorted(
        [
            ("safetynet:staging:StagedTable", "orders"),
            (TABLE, "orders-table"),
            (RULE, "orders-trigger"),
            (TARGET, "orders-start"),
        ]
    )


def test_what_it_exposes_resolves(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    assert out["table_name"] == "orders-test"
    assert out["table_arn"] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders-test"
    assert out["rule_arn"].startswith(f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:orders-trigger")


def test_the_test_table_has_prods_schema_pitr_no_deletion_protection_and_the_target_tag(
    pulumi_mocks: RecordingMocks,
) -> None:
    declare()
    table = pulumi_mocks.one(TABLE, "orders-table").inputs
    assert (table["name"], table["hashKey"], table["attributes"]) == (
        "orders-test",
        "id",
        [{"name": "id", "type": "S"}],
    )
    assert table["ttl"] == {"enabled": True, "attributeName": "expiresAt"}
    assert table["pointInTimeRecovery"]["enabled"] is True
    assert table["deletionProtectionEnabled"] is False
    assert table["tags"] == {
        "safetynet:environment": "test",
        "app": "shop",
        "safetynet:table": "orders",
        STAGING_TARGET_TAG: STACK,
    }


def test_the_trigger_matches_the_summary_of_prods_export_of_this_table(pulumi_mocks: RecordingMocks) -> None:
    declare()
    rule = pulumi_mocks.one(RULE, "orders-trigger").inputs
    assert json.loads(rule["eventPattern"]) == summary_event_pattern("prod-vault", "exports/orders")


def test_the_trigger_starts_the_state_machine_with_this_tables_target(pulumi_mocks: RecordingMocks) -> None:
    # Given a staging spec that refills orders and masks one attribute
    staging = StagingSpec.model_validate(
        {"from": "acme/safetynet/prod", "tables": {"orders": {"mode": "refill"}}, "mask": {"orders": {"note": "drop"}}}
    )
    declare(staging)
    target = pulumi_mocks.one(TARGET, "orders-start").inputs
    assert (target["arn"], target["roleArn"]) == (MACHINE, EVENTS_ROLE)
    assert target["retryPolicy"] == {"maximumRetryAttempts": 185, "maximumEventAgeInSeconds": 86400}
    transformer = target["inputTransformer"]
    assert transformer["inputPaths"] == {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"}
    # The template is JSON once EventBridge substitutes the event's (quoted) bucket and key.
    template = transformer["inputTemplate"].replace("<bucket>", '"prod-vault"').replace("<key>", '"k"')
    document = json.loads(template)
    assert (document["bucket"], document["key"]) == ("prod-vault", "k")
    assert document["target"] == {
        "name": "orders-test",
        "logicalName": "orders",
        "stack": STACK,
        "schema": {**PROD_TABLE["schema"], "TableName": "orders-test"},
        "sourceTableArn": PROD_TABLE["arn"],
        "mode": "refill",
        "ttlAttribute": "expiresAt",
        "pointInTimeRecoveryDays": 35,
        "deletionProtection": False,
        "tags": {
            "safetynet:environment": "test",
            "app": "shop",
            "safetynet:table": "orders",
            STAGING_TARGET_TAG: STACK,
        },
        "mask": [{"path": "note", "action": "drop"}],
    }

"""StagedTable, declared alone from minimal arguments under Pulumi's mocks: the test table with
prod's schema and its staging target, registered in the pipeline's ledger."""

from __future__ import annotations

import json
from typing import Any

from components.config.staging import StagingSpec
from components.config.tables import TableSpec
from components.staging.component import StagedTable, StagedTableArgs
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
LEDGER = "safetynet-staging-ledger-test"
TABLE = "aws:dynamodb/table:Table"
ITEM = "aws:dynamodb/tableItem:TableItem"


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
                ledger_table_name=LEDGER,
            ),
        )
        return {"table_name": staged.table_name, "table_arn": staged.table_arn, "export_prefix": staged.export_prefix}

    return resolved(build)


def test_a_staged_table_is_the_test_table_and_its_target(pulumi_mocks: RecordingMocks) -> None:
    # No rule of its own: the pipeline's one trigger serves every table.
    declare()
    assert declared(pulumi_mocks) == sorted(
        [
            ("safetynet:staging:StagedTable", "orders"),
            (TABLE, "orders-table"),
            (ITEM, "orders-target"),
        ]
    )


def test_what_it_exposes_resolves(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    assert out["table_name"] == "orders-test"
    assert out["table_arn"] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders-test"
    assert out["export_prefix"] == "exports/orders"


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


def test_the_target_is_an_item_of_the_ledger_keyed_by_prods_export_prefix(pulumi_mocks: RecordingMocks) -> None:
    # Given a staging spec that refills orders and masks one attribute
    staging = StagingSpec.model_validate(
        {"from": "acme/safetynet/prod", "tables": {"orders": {"mode": "refill"}}, "mask": {"orders": {"note": "drop"}}}
    )
    declare(staging)
    item = pulumi_mocks.one(ITEM, "orders-target").inputs
    assert (item["tableName"], item["hashKey"]) == (LEDGER, "table")
    doc = json.loads(item["item"])
    assert set(doc) == {"table", "target"} and doc["table"] == {"S": "exports/orders"}
    assert json.loads(doc["target"]["S"]) == {
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


def test_the_target_item_fits_dynamodbs_item_size(pulumi_mocks: RecordingMocks) -> None:
    # Per table, whatever the number of tables; DynamoDB's item limit is 400 KB.
    declare()
    assert len(pulumi_mocks.one(ITEM, "orders-target").inputs["item"].encode()) < 4_000

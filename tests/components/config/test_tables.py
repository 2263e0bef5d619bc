"""`safetynet:tables` (components/config/tables.py): every invalid table fails before any resource is
declared, naming its config path and what to write instead; the schema in AWS's shape."""

from __future__ import annotations

import pytest

from components.config.loading import parse_stack_config
from tests.support.config import config_error, minimal_config


def test_bad_hash_key_type_lists_allowed_values() -> None:
    msg = config_error(minimal_config(hashKey={"name": "id", "type": "STRING"}))
    assert "safetynet:tables[0].hashKey.type" in msg
    assert "'S', 'N' or 'B'" in msg


def test_key_attribute_with_two_types_is_rejected() -> None:
    msg = config_error(
        minimal_config(globalSecondaryIndexes=[{"name": "by-order", "hashKey": {"name": "orderId", "type": "N"}}])
    )
    assert "safetynet:tables[0]" in msg
    assert "key attribute 'orderId' is type S in rangeKey but N in index by-order hashKey" in msg


def test_lsi_without_range_key_is_rejected() -> None:
    raw = minimal_config()
    del raw["tables"][0]["rangeKey"]
    raw["tables"][0]["localSecondaryIndexes"] = [{"name": "by-date", "rangeKey": {"name": "d", "type": "N"}}]
    assert "localSecondaryIndexes need a table with a rangeKey" in config_error(raw)


def test_more_than_20_gsis_is_rejected() -> None:
    gsis = [{"name": f"gsi-{i:02d}", "hashKey": {"name": f"a{i}", "type": "S"}} for i in range(21)]
    assert "21 globalSecondaryIndexes: DynamoDB allows at most 20" in config_error(
        minimal_config(globalSecondaryIndexes=gsis)
    )


def test_more_than_5_lsis_is_rejected() -> None:
    lsis = [{"name": f"lsi-{i}", "rangeKey": {"name": f"r{i}", "type": "S"}} for i in range(6)]
    assert "6 localSecondaryIndexes: DynamoDB allows at most 5" in config_error(
        minimal_config(localSecondaryIndexes=lsis)
    )


def test_provisioned_without_capacities_is_rejected() -> None:
    msg = config_error(minimal_config(billingMode="PROVISIONED"))
    assert "billingMode PROVISIONED needs readCapacity and writeCapacity" in msg


def test_provisioned_gsi_without_capacities_is_rejected() -> None:
    msg = config_error(
        minimal_config(
            billingMode="PROVISIONED",
            readCapacity=5,
            writeCapacity=5,
            globalSecondaryIndexes=[{"name": "by-x", "hashKey": {"name": "x", "type": "S"}}],
        )
    )
    assert "globalSecondaryIndexes 'by-x': a PROVISIONED table needs readCapacity and writeCapacity" in msg


def test_capacities_without_provisioned_are_rejected() -> None:
    assert "only valid with billingMode: PROVISIONED" in config_error(minimal_config(readCapacity=5))


@pytest.mark.parametrize("days", [0, 36])
def test_pitr_days_outside_1_to_35_are_rejected(days: int) -> None:
    assert "safetynet:tables[0].pointInTimeRecoveryDays" in config_error(minimal_config(pointInTimeRecoveryDays=days))


def test_unknown_key_in_table_is_rejected() -> None:
    msg = config_error(minimal_config(pointInTimeRecovery=True))
    assert "safetynet:tables[0].pointInTimeRecovery: Extra inputs are not permitted" in msg
    assert "unknown key" in msg


def test_create_table_request_is_the_aws_schema() -> None:
    raw = minimal_config(
        billingMode="PROVISIONED",
        readCapacity=3,
        writeCapacity=4,
        streamViewType="NEW_IMAGE",
        globalSecondaryIndexes=[
            {
                "name": "by-x",
                "hashKey": {"name": "x", "type": "N"},
                "projection": "INCLUDE",
                "nonKeyAttributes": ["y"],
                "readCapacity": 1,
                "writeCapacity": 2,
            }
        ],
        localSecondaryIndexes=[{"name": "by-d", "rangeKey": {"name": "d", "type": "S"}, "projection": "KEYS_ONLY"}],
    )
    req = parse_stack_config(raw).tables[0].create_table_request("orders")
    assert req["KeySchema"] == [
        {"AttributeName": "customerId", "KeyType": "HASH"},
        {"AttributeName": "orderId", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in req["AttributeDefinitions"]} == {
        "customerId": "S",
        "orderId": "S",
        "x": "N",
        "d": "S",
    }
    assert req["ProvisionedThroughput"] == {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}
    assert req["GlobalSecondaryIndexes"][0]["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["y"],
    }
    assert req["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"] == {
        "ReadCapacityUnits": 1,
        "WriteCapacityUnits": 2,
    }
    assert req["LocalSecondaryIndexes"][0]["KeySchema"][0] == {
        "AttributeName": "customerId",
        "KeyType": "HASH",
    }
    assert req["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}


def test_create_table_request_is_accepted_by_moto(aws: None) -> None:
    import boto3

    cfg = parse_stack_config(
        minimal_config(globalSecondaryIndexes=[{"name": "by-x", "hashKey": {"name": "x", "type": "N"}}])
    )
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(**cfg.tables[0].create_table_request("orders"))
    desc = client.describe_table(TableName="orders")["Table"]
    assert desc["KeySchema"][0]["AttributeName"] == "customerId"
    assert desc["GlobalSecondaryIndexes"][0]["IndexName"] == "by-x"

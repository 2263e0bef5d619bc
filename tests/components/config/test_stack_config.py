"""Stack config validation: every invalid case fails before any resource is declared, with a
message naming the config path and what to write instead."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.config.stack import (
    ConfigError,
    decode_pulumi_config,
    parse_stack_config,
    validate_schedule_expression,
)


def base() -> dict[str, Any]:
    return {
        "environment": "prod",
        "tables": [
            {
                "name": "orders",
                "hashKey": {"name": "customerId", "type": "S"},
                "rangeKey": {"name": "orderId", "type": "S"},
            }
        ],
        "backup": {},
    }


def error_of(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(raw)
    return str(exc.value)


def with_table(**changes: Any) -> dict[str, Any]:
    raw = base()
    raw["tables"][0].update(changes)
    return raw


def test_valid_config_gets_documented_defaults() -> None:
    cfg = parse_stack_config(base())
    table = cfg.tables[0]
    assert table.billing_mode == "PAY_PER_REQUEST"
    assert table.point_in_time_recovery_days == 35
    assert table.adopt is False
    assert cfg.backup.schedule == "cron(0 3 * * ? *)"
    assert cfg.backup.timezone == "UTC"
    assert cfg.backup.retention_days == 90
    assert cfg.backup.object_lock == "off"


def test_missing_hash_key_names_the_path_and_the_fix() -> None:
    raw = base()
    del raw["tables"][0]["hashKey"]
    msg = error_of(raw)
    assert "safetynet:tables[0].hashKey: is required" in msg
    assert "hashKey: {name: id, type: S}" in msg


def test_bad_hash_key_type_lists_allowed_values() -> None:
    msg = error_of(with_table(hashKey={"name": "id", "type": "STRING"}))
    assert "safetynet:tables[0].hashKey.type" in msg
    assert "'S', 'N' or 'B'" in msg


def test_key_attribute_with_two_types_is_rejected() -> None:
    msg = error_of(
        with_table(globalSecondaryIndexes=[{"name": "by-order", "hashKey": {"name": "orderId", "type": "N"}}])
    )
    assert "safetynet:tables[0]" in msg
    assert "key attribute 'orderId' is type S in rangeKey but N in index by-order hashKey" in msg


def test_lsi_without_range_key_is_rejected() -> None:
    raw = base()
    del raw["tables"][0]["rangeKey"]
    raw["tables"][0]["localSecondaryIndexes"] = [{"name": "by-date", "rangeKey": {"name": "d", "type": "N"}}]
    assert "localSecondaryIndexes need a table with a rangeKey" in error_of(raw)


def test_more_than_20_gsis_is_rejected() -> None:
    gsis = [{"name": f"gsi-{i:02d}", "hashKey": {"name": f"a{i}", "type": "S"}} for i in range(21)]
    assert "21 globalSecondaryIndexes: DynamoDB allows at most 20" in error_of(with_table(globalSecondaryIndexes=gsis))


def test_more_than_5_lsis_is_rejected() -> None:
    lsis = [{"name": f"lsi-{i}", "rangeKey": {"name": f"r{i}", "type": "S"}} for i in range(6)]
    assert "6 localSecondaryIndexes: DynamoDB allows at most 5" in error_of(with_table(localSecondaryIndexes=lsis))


def test_duplicate_table_names_are_rejected() -> None:
    raw = base()
    raw["tables"].append(copy.deepcopy(raw["tables"][0]))
    assert "duplicate table names: orders" in error_of(raw)


def test_provisioned_without_capacities_is_rejected() -> None:
    msg = error_of(with_table(billingMode="PROVISIONED"))
    assert "billingMode PROVISIONED needs readCapacity and writeCapacity" in msg


def test_provisioned_gsi_without_capacities_is_rejected() -> None:
    msg = error_of(
        with_table(
            billingMode="PROVISIONED",
            readCapacity=5,
            writeCapacity=5,
            globalSecondaryIndexes=[{"name": "by-x", "hashKey": {"name": "x", "type": "S"}}],
        )
    )
    assert "globalSecondaryIndexes 'by-x': a PROVISIONED table needs readCapacity and writeCapacity" in msg


def test_capacities_without_provisioned_are_rejected() -> None:
    assert "only valid with billingMode: PROVISIONED" in error_of(with_table(readCapacity=5))


@pytest.mark.parametrize(
    "expr",
    [
        "cron(0 3 * * *)",
        "cron(0 3 * * 1 *)",
        "daily",
        "rate(0 days)",
        "rate(1 days)",
        "rate(2 day)",
        "cron()",
    ],
)
def test_malformed_schedule_is_rejected(expr: str) -> None:
    raw = base()
    raw["backup"] = {"schedule": expr}
    assert "safetynet:backup.schedule" in error_of(raw)


@pytest.mark.parametrize(
    "expr",
    [
        "cron(0 3 * * ? *)",
        "cron(15 2 ? * MON-FRI *)",
        "rate(12 hours)",
        "rate(1 day)",
        "at(2030-01-01T03:00:00)",
    ],
)
def test_valid_schedules_are_accepted(expr: str) -> None:
    assert validate_schedule_expression(expr) == expr


def test_unknown_timezone_is_rejected() -> None:
    raw = base()
    raw["backup"] = {"timezone": "Mars/Olympus"}
    assert "unknown time zone 'Mars/Olympus'" in error_of(raw)


def test_retention_below_one_day_is_rejected() -> None:
    raw = base()
    raw["backup"] = {"retentionDays": 0}
    assert "safetynet:backup.retentionDays: Input should be greater than or equal to 1" in error_of(raw)


@pytest.mark.parametrize("days", [0, 36])
def test_pitr_days_outside_1_to_35_are_rejected(days: int) -> None:
    assert "safetynet:tables[0].pointInTimeRecoveryDays" in error_of(with_table(pointInTimeRecoveryDays=days))


def test_object_lock_without_days_is_rejected() -> None:
    raw = base()
    raw["backup"] = {"objectLock": "governance"}
    assert "objectLock governance needs objectLockDays" in error_of(raw)


def test_object_lock_longer_than_retention_is_rejected() -> None:
    raw = base()
    raw["backup"] = {"objectLock": "compliance", "objectLockDays": 120, "retentionDays": 90}
    assert "objectLockDays 120 is longer than retentionDays 90" in error_of(raw)


def test_cold_storage_after_retention_is_rejected() -> None:
    raw = base()
    raw["backup"] = {"coldStorageAfterDays": 90, "retentionDays": 90}
    assert "coldStorageAfterDays 90 must be below retentionDays 90" in error_of(raw)


def test_unknown_key_in_table_is_rejected() -> None:
    msg = error_of(with_table(pointInTimeRecovery=True))
    assert "safetynet:tables[0].pointInTimeRecovery: Extra inputs are not permitted" in msg
    assert "unknown key" in msg


def test_unknown_top_level_key_is_rejected() -> None:
    raw = base()
    raw["bakup"] = {}
    assert "safetynet:bakup" in error_of(raw)


def test_every_problem_is_reported_at_once() -> None:
    raw = base()
    raw["tables"][0]["billingMode"] = "PROVISIONED"
    raw["backup"] = {"retentionDays": 0}
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(raw)
    assert len(exc.value.problems) == 2


def test_physical_names_follow_environment_convention() -> None:
    prod = parse_stack_config(base())
    assert prod.physical_name(prod.tables[0]) == "orders"
    test = parse_stack_config({**base(), "environment": "test"})
    assert test.physical_name(test.tables[0]) == "orders-test"
    custom = parse_stack_config({**base(), "environment": "dev", "tableNamePattern": "{environment}.{name}"})
    assert custom.physical_name(custom.tables[0]) == "dev.orders"


def test_name_pattern_without_name_is_rejected() -> None:
    assert "tableNamePattern must contain {name}" in error_of({**base(), "tableNamePattern": "{environment}"})


def test_pulumi_config_decoding_reads_json_and_ignores_other_namespaces() -> None:
    decoded = decode_pulumi_config(
        {"safetynet:tables": json.dumps(base()["tables"]), "safetynet:environment": "prod", "aws:region": "x"}
    )
    assert decoded["environment"] == "prod"
    assert decoded["tables"][0]["name"] == "orders"
    assert "region" not in decoded


def test_broken_structured_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match="safetynet:tables: not valid structured config"):
        decode_pulumi_config({"safetynet:tables": "[{"})


def test_create_table_request_is_the_aws_schema() -> None:
    raw = with_table(
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
        with_table(globalSecondaryIndexes=[{"name": "by-x", "hashKey": {"name": "x", "type": "N"}}])
    )
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(**cfg.tables[0].create_table_request("orders"))
    desc = client.describe_table(TableName="orders")["Table"]
    assert desc["KeySchema"][0]["AttributeName"] == "customerId"
    assert desc["GlobalSecondaryIndexes"][0]["IndexName"] == "by-x"

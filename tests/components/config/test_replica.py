"""`safetynet:backup.replica` and `tables[i].replicaRegions`: valid settings parse with their
defaults; every invalid one fails with its config path and what to write instead."""

from __future__ import annotations

from typing import Any

from components.config.loading import parse_stack_config
from tests.support.config import config_error

OTHER_KEY = "arn:aws:kms:eu-west-1:210987654321:key/11111111-2222-3333-4444-555555555555"


def raw(replica: dict[str, Any] | None = None, **table: Any) -> dict[str, Any]:
    backup: dict[str, Any] = {"retentionDays": 90}
    if replica is not None:
        backup["replica"] = replica
    return {
        "environment": "prod",
        "tables": [{"name": "orders", "hashKey": {"name": "id", "type": "S"}, **table}],
        "backup": backup,
    }


def test_replica_defaults_to_same_account_without_lock_or_rtc() -> None:
    replica = parse_stack_config(raw({"region": "eu-west-1"})).backup.replica
    assert replica is not None
    assert replica.region == "eu-west-1"
    assert replica.cross_account is False
    assert replica.object_lock == "off"
    assert replica.replication_time_control is False


def test_no_replica_by_default() -> None:
    assert parse_stack_config(raw()).backup.replica is None


def test_replica_region_must_be_a_region_code() -> None:
    msg = config_error(raw({"region": "Ireland"}))
    assert "safetynet:backup.replica" in msg
    assert "write e.g. eu-west-1" in msg


def test_replica_region_is_required() -> None:
    assert "safetynet:backup.replica.region: is required" in config_error(raw({"objectLock": "off"}))


def test_cross_account_needs_the_other_accounts_bucket_and_key() -> None:
    msg = config_error(raw({"region": "eu-west-1", "accountId": "210987654321"}))
    assert "add bucketName and kmsKeyArn" in msg


def test_cross_account_key_must_be_in_the_replica_region_and_account() -> None:
    wrong_region = OTHER_KEY.replace("eu-west-1", "us-east-1")
    msg = config_error(
        raw(
            {
                "region": "eu-west-1",
                "accountId": "210987654321",
                "bucketName": "dr-vault",
                "kmsKeyArn": wrong_region,
            }
        )
    )
    assert "kmsKeyArn must be a key of account 210987654321 in eu-west-1" in msg


def test_cross_account_replica_parses() -> None:
    replica = parse_stack_config(
        raw(
            {
                "region": "eu-west-1",
                "accountId": "210987654321",
                "bucketName": "dr-vault",
                "kmsKeyArn": OTHER_KEY,
            }
        )
    ).backup.replica
    assert replica is not None and replica.cross_account


def test_bucket_name_without_account_is_rejected() -> None:
    msg = config_error(raw({"region": "eu-west-1", "bucketName": "dr-vault"}))
    assert "set accountId too" in msg


def test_object_lock_belongs_to_the_other_account_when_cross_account() -> None:
    msg = config_error(
        raw(
            {
                "region": "eu-west-1",
                "accountId": "210987654321",
                "bucketName": "dr-vault",
                "kmsKeyArn": OTHER_KEY,
                "objectLock": "compliance",
                "objectLockDays": 10,
            }
        )
    )
    assert "remove objectLock/objectLockDays" in msg


def test_replica_object_lock_needs_days() -> None:
    assert "needs objectLockDays" in config_error(raw({"region": "eu-west-1", "objectLock": "governance"}))


def test_replica_lock_longer_than_retention_is_rejected() -> None:
    msg = config_error(raw({"region": "eu-west-1", "objectLock": "governance", "objectLockDays": 120}))
    assert "safetynet:backup" in msg
    assert "replica.objectLockDays 120 is longer than retentionDays 90" in msg


def test_unknown_replica_key_is_rejected() -> None:
    msg = config_error(raw({"region": "eu-west-1", "rtc": True}))
    assert "safetynet:backup.replica.rtc" in msg


def test_replica_regions_turn_on_new_and_old_image_streams() -> None:
    table = parse_stack_config(raw(replicaRegions=["eu-west-1"])).tables[0]
    assert table.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert table.create_table_request("orders")["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }


def test_replica_regions_with_another_stream_view_is_rejected() -> None:
    msg = config_error(raw(replicaRegions=["eu-west-1"], streamViewType="KEYS_ONLY"))
    assert "safetynet:tables[0]" in msg
    assert "write streamViewType: NEW_AND_OLD_IMAGES" in msg


def test_replica_regions_must_be_region_codes_listed_once() -> None:
    msg = config_error(raw(replicaRegions=["eu-west-1", "eu-west-1", "mars-1"]))
    assert "'mars-1' is not an AWS region code" in msg
    assert "lists eu-west-1 more than once" in msg


def test_tables_without_replica_regions_keep_streams_off() -> None:
    table = parse_stack_config(raw()).tables[0]
    assert table.replica_regions == []
    assert table.stream_view_type is None


def dr_raw(**recovery: Any) -> dict[str, Any]:
    config = raw()
    config["environment"] = "dr"
    config["disasterRecovery"] = {
        "replicaBucket": "vault-replica-abc",
        "sourceRegion": "eu-central-1",
        **recovery,
    }
    return config


def test_dr_stack_names_its_source_and_is_protected_like_prod() -> None:
    cfg = parse_stack_config(dr_raw())
    recovery = cfg.disaster_recovery
    assert recovery is not None
    assert recovery.source_stack == "prod"
    assert cfg.is_prod  # deletion protection, Pulumi protect
    assert cfg.physical_name(cfg.tables[0]) == "orders"  # prod's table names
    assert recovery.source_table_arn("orders", "123456789012") == (
        "arn:aws:dynamodb:eu-central-1:123456789012:table/orders"
    )


def test_dr_source_account_changes_the_expected_table_arn() -> None:
    recovery = parse_stack_config(dr_raw(sourceAccountId="210987654321")).disaster_recovery
    assert recovery is not None
    assert recovery.source_table_arn("orders", "123456789012").startswith("arn:aws:dynamodb:eu-central-1:210987654321:")


def test_dr_source_region_must_be_a_region_code() -> None:
    msg = config_error(dr_raw(sourceRegion="frankfurt"))
    assert "safetynet:disasterRecovery" in msg
    assert "sourceRegion 'frankfurt' is not an AWS region code" in msg


def test_dr_replica_bucket_is_required() -> None:
    config = dr_raw()
    del config["disasterRecovery"]["replicaBucket"]
    assert "safetynet:disasterRecovery.replicaBucket: is required" in config_error(config)

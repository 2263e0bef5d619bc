"""BackedUpTable and its NightlyExport, declared from minimal arguments under Pulumi's mocks (beside
the stack's NightlyExports, whose role and dead-letter queue every table's schedule uses)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.backup.exports import EXPORT_TARGET_ARN, NightlyExports, NightlyExportsArgs, VaultRef
from components.backup.table import BackedUpTable, BackedUpTableArgs, table_tags
from components.config.backup import BackupSpec
from components.config.restore import TableRestore
from components.config.tables import TableSpec
from tests.support.pulumi_mocks import REGION, RecordingMocks
from tests.support.pulumi_run import declared, resolved

ACCOUNT = "123456789012"
VAULT_ARN = "arn:aws:s3:::vault-1"
VAULT_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000vault"
VAULT = VaultRef(bucket_name="vault-1", bucket_arn=VAULT_ARN, kms_key_arn=VAULT_KEY)
ORDERS = TableSpec.model_validate({"name": "orders", "hashKey": {"name": "id", "type": "S"}, "tags": {"app": "shop"}})
ORDERS_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
TABLE = "aws:dynamodb/table:Table"
SCHEDULE = "aws:scheduler/schedule:Schedule"


STACK_TAGS = {"safetynet:environment": "prod", "safetynet:stack": "safetynet/prod"}


def args(**changes: Any) -> dict[str, Any]:
    """BackedUpTableArgs fields but `exports`, which `declare` builds (with `backup`) in the program."""
    base: dict[str, Any] = {
        "spec": ORDERS,
        "physical_name": "orders",
        "protect": True,
        "tags": STACK_TAGS,
        "export_prefix": "exports/orders",
    }
    return {**base, **changes}


def declare(table_args: dict[str, Any], backup: BackupSpec | None = None) -> dict[str, Any]:
    """Declare the stack's NightlyExports and the table `orders`; resolve everything they expose."""

    def build() -> dict[str, Any]:
        exports = NightlyExports(
            "nightly-exports",
            NightlyExportsArgs(
                backup=backup or BackupSpec(),
                vault=VAULT,
                stack_tag="safetynet/prod",
                tags=STACK_TAGS,
                account_id=ACCOUNT,
                region=REGION,
            ),
        )
        table = BackedUpTable("orders", BackedUpTableArgs(exports=exports, **table_args))
        return {
            "role_arn": exports.role_arn,
            "table_name": table.table_name,
            "table_arn": table.table_arn,
            "stream_arn": table.stream_arn,
            "schedule_arn": table.export.schedule_arn,
            "dead_letter_queue_arn": table.export.dead_letter_queue_arn,
            "restored_table_name": table.restored_table_name,
        }

    return resolved(build)


def test_a_backed_up_table_is_its_table_and_its_schedule_and_nothing_else(pulumi_mocks: RecordingMocks) -> None:
    declare(args())
    table_and_children = [r for r in declared(pulumi_mocks) if r[1].startswith("orders")]
    assert table_and_children == sorted(
        [
            ("safetynet:dynamodb:BackedUpTable", "orders"),
            (TABLE, "orders-table"),
            ("safetynet:backup:NightlyExport", "orders-export"),
            (SCHEDULE, "orders-export-schedule"),
        ]
    )
    # Two AWS resources per table: the role, its policy and the dead-letter queue are the stack's.
    assert len([r for r in pulumi_mocks.registrations if r.custom and r.name.startswith("orders")]) == 2


def test_what_it_exposes_resolves(pulumi_mocks: RecordingMocks) -> None:
    out = declare(args())
    assert out["table_name"] == "orders"
    assert out["table_arn"] == ORDERS_ARN
    assert out["stream_arn"] is None  # streams are off for this table
    assert out["schedule_arn"].startswith(f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/orders-export-")
    assert out["dead_letter_queue_arn"].startswith(f"arn:aws:sqs:{REGION}:{ACCOUNT}:nightly-exports-dlq-")
    assert out["restored_table_name"] is None


def test_the_stream_arn_resolves_when_streams_are_on(pulumi_mocks: RecordingMocks) -> None:
    spec = ORDERS.model_copy(update={"stream_view_type": "NEW_AND_OLD_IMAGES"})
    assert declare(args(spec=spec))["stream_arn"].startswith(f"{ORDERS_ARN}/stream/")


@pytest.mark.parametrize("protect", [True, False], ids=["prod", "non-prod"])
def test_the_table_has_pitr_and_encryption_and_deletion_protection_when_protected(
    pulumi_mocks: RecordingMocks, protect: bool
) -> None:
    declare(args(protect=protect))
    table = pulumi_mocks.one(TABLE, "orders-table").inputs
    assert table["name"] == "orders"
    assert table["pointInTimeRecovery"] == {"enabled": True, "recoveryPeriodInDays": 35}
    assert table["serverSideEncryption"] == {"enabled": True}
    assert table["deletionProtectionEnabled"] is protect
    assert table["tags"] == {**STACK_TAGS, "app": "shop", "safetynet:table": "orders"}


def test_the_schedule_asks_dynamodb_to_export_the_table_into_the_vault(pulumi_mocks: RecordingMocks) -> None:
    out = declare(args())
    schedule = pulumi_mocks.one(SCHEDULE, "orders-export-schedule").inputs
    assert schedule["scheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert target["arn"] == EXPORT_TARGET_ARN
    assert target["roleArn"] == out["role_arn"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 5, "maximumEventAgeInSeconds": 3600}
    assert target["deadLetterConfig"] == {"arn": out["dead_letter_queue_arn"]}
    assert json.loads(target["input"]) == {
        "TableArn": ORDERS_ARN,
        "S3Bucket": "vault-1",
        "S3BucketOwner": ACCOUNT,
        "S3Prefix": "exports/orders",
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "FULL_EXPORT",
        "S3SseAlgorithm": "KMS",
        "S3SseKmsKeyId": VAULT_KEY,
        "ClientToken": "<aws.scheduler.execution-id>",
    }


def test_the_schedule_follows_the_backup_settings(pulumi_mocks: RecordingMocks) -> None:
    backup = BackupSpec(schedule="rate(12 hours)", timezone="Europe/Berlin", flexible_window_minutes=30)
    declare(args(), backup=backup)
    schedule = pulumi_mocks.one(SCHEDULE, "orders-export-schedule").inputs
    assert schedule["scheduleExpression"] == "rate(12 hours)"
    assert schedule["scheduleExpressionTimezone"] == "Europe/Berlin"
    assert schedule["flexibleTimeWindow"] == {"mode": "FLEXIBLE", "maximumWindowInMinutes": 30}


def test_the_table_carries_the_stack_tag_the_export_role_is_scoped_by(pulumi_mocks: RecordingMocks) -> None:
    declare(args())
    assert pulumi_mocks.one(TABLE, "orders-table").inputs["tags"]["safetynet:stack"] == "safetynet/prod"


@pytest.mark.parametrize("key", ["safetynet:stack", "safetynet:environment", "safetynet:table"])
def test_a_table_tag_may_not_override_a_tag_safetynet_sets(key: str) -> None:
    spec = ORDERS.model_copy(update={"tags": {key: "something-else"}})
    with pytest.raises(ValueError, match=rf"safetynet:tables 'orders'\.tags: {key} is set by safetynet"):
        table_tags(spec, STACK_TAGS)
    # The same value is harmless (nothing changes).
    same = ORDERS.model_copy(update={"tags": {key: {**STACK_TAGS, "safetynet:table": "orders"}[key]}})
    assert table_tags(same, STACK_TAGS)[key] == {**STACK_TAGS, "safetynet:table": "orders"}[key]


def test_a_restore_beside_the_table_adds_a_second_table_with_its_own_export(pulumi_mocks: RecordingMocks) -> None:
    # Given a PITR restore of orders into `orders-restored`, beside the live table
    restore = TableRestore.model_validate({"latestRestorableTime": True, "targetSuffix": "-restored"})
    # When the table is declared
    out = declare(args(restore=restore))
    # Then the original keeps its inputs, without any restore source
    original = pulumi_mocks.one(TABLE, "orders-table").inputs
    assert not {"restoreSourceName", "restoreToLatestTime"} & set(original)
    # and a second table restores from it, exported nightly under its own prefix
    beside = pulumi_mocks.one(TABLE, "orders-restored").inputs
    assert (beside["name"], beside["restoreSourceName"], beside["restoreToLatestTime"]) == (
        "orders-restored",
        "orders",
        True,
    )
    assert beside["tags"]["safetynet:restored-from"] == "pitr"
    assert out["restored_table_name"] == "orders-restored"
    export = json.loads(pulumi_mocks.one(SCHEDULE, "orders-restored-export-schedule").inputs["target"]["input"])
    assert export["S3Prefix"] == "exports/orders-restored"
    assert export["TableArn"] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders-restored"
    # through the stack's role and dead-letter queue, like the original's
    beside_target = pulumi_mocks.one(SCHEDULE, "orders-restored-export-schedule").inputs["target"]
    assert (beside_target["roleArn"], beside_target["deadLetterConfig"]["arn"]) == (
        out["role_arn"],
        out["dead_letter_queue_arn"],
    )

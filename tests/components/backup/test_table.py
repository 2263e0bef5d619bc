"""BackedUpTable and its NightlyExport, declared alone from minimal arguments under Pulumi's mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.backup.policies import export_job_policy
from components.backup.table import EXPORT_TARGET_ARN, BackedUpTable, BackedUpTableArgs, VaultRef
from components.common.policies import assume_role_policy
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


def args(**changes: Any) -> BackedUpTableArgs:
    base: dict[str, Any] = {
        "spec": ORDERS,
        "physical_name": "orders",
        "protect": True,
        "tags": {"safetynet:environment": "prod"},
        "backup": BackupSpec(),
        "vault": VAULT,
        "export_prefix": "exports/orders",
        "account_id": ACCOUNT,
    }
    return BackedUpTableArgs(**{**base, **changes})


def declare(table_args: BackedUpTableArgs) -> dict[str, Any]:
    """Declare the table `orders` and resolve everything it exposes."""

    def build() -> dict[str, Any]:
        table = BackedUpTable("orders", table_args)
        return {
            "table_name": table.table_name,
            "table_arn": table.table_arn,
            "stream_arn": table.stream_arn,
            "schedule_arn": table.export.schedule_arn,
            "dead_letter_queue_arn": table.export.dead_letter_queue_arn,
            "restored_table_name": table.restored_table_name,
        }

    return resolved(build)


def test_a_backed_up_table_is_its_table_and_one_nightly_export(pulumi_mocks: RecordingMocks) -> None:
    declare(args())
    assert declared(pulumi_mocks) == sorted(
        [
            ("safetynet:dynamodb:BackedUpTable", "orders"),
            (TABLE, "orders-table"),
            ("safetynet:backup:NightlyExport", "orders-export"),
            ("aws:sqs/queue:Queue", "orders-export-dlq"),
            ("aws:iam/role:Role", "orders-export-role"),
            ("aws:iam/rolePolicy:RolePolicy", "orders-export-policy"),
            (SCHEDULE, "orders-export-schedule"),
        ]
    )


def test_what_it_exposes_resolves(pulumi_mocks: RecordingMocks) -> None:
    out = declare(args())
    assert out["table_name"] == "orders"
    assert out["table_arn"] == ORDERS_ARN
    assert out["stream_arn"] is None  # streams are off for this table
    assert out["schedule_arn"].startswith(f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/orders-export-")
    assert out["dead_letter_queue_arn"].startswith(f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-export-dlq-")
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
    assert table["tags"] == {"safetynet:environment": "prod", "app": "shop", "safetynet:table": "orders"}


def test_the_schedule_asks_dynamodb_to_export_the_table_into_the_vault(pulumi_mocks: RecordingMocks) -> None:
    out = declare(args())
    schedule = pulumi_mocks.one(SCHEDULE, "orders-export-schedule").inputs
    assert schedule["scheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert target["arn"] == EXPORT_TARGET_ARN
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
    declare(args(backup=backup))
    schedule = pulumi_mocks.one(SCHEDULE, "orders-export-schedule").inputs
    assert schedule["scheduleExpression"] == "rate(12 hours)"
    assert schedule["scheduleExpressionTimezone"] == "Europe/Berlin"
    assert schedule["flexibleTimeWindow"] == {"mode": "FLEXIBLE", "maximumWindowInMinutes": 30}


def test_the_export_role_is_the_schedulers_and_may_export_only_this_table(pulumi_mocks: RecordingMocks) -> None:
    out = declare(args())
    trust = json.loads(pulumi_mocks.one("aws:iam/role:Role", "orders-export-role").inputs["assumeRolePolicy"])
    assert trust == assume_role_policy("scheduler.amazonaws.com", ACCOUNT)
    policy = json.loads(pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy", "orders-export-policy").inputs["policy"])
    assert policy == export_job_policy(
        table_arn=ORDERS_ARN,
        bucket_arn=VAULT_ARN,
        export_prefix="exports/orders",
        kms_key_arn=VAULT_KEY,
        dlq_arn=out["dead_letter_queue_arn"],
    )


def test_failed_invocations_dead_letter_into_an_encrypted_queue(pulumi_mocks: RecordingMocks) -> None:
    declare(args())
    assert pulumi_mocks.one("aws:sqs/queue:Queue", "orders-export-dlq").inputs["sqsManagedSseEnabled"] is True


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

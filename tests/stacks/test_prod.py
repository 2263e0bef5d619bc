"""The prod stack under Pulumi's mocks: every property the safety net promises, on the declared
resources, for prod and for a non-prod environment."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest

from components.backup.exports import EXPORT_TARGET_ARN
from components.backup.table import RESTORE_INPUTS
from safetynet.synth import SYNTH_ACCOUNT_ID, SynthResult
from tests.support.iam_eval import allows, resource_tags
from tests.support.iam_lint import assert_clean
from tests.support.policies import role_policy
from tests.support.stacks import synth_stack

TABLE = "aws:dynamodb/table:Table"
SCHEDULE = "aws:scheduler/schedule:Schedule"


@pytest.fixture(scope="module")
def dev() -> SynthResult:
    """The prod program as a non-prod environment with the default backup settings."""
    return synth_stack("prod", config_overrides={"environment": "dev", "backup": {}})


def table(result: SynthResult, name: str) -> dict[str, Any]:
    return result.one(TABLE, f"{name}-table")


def test_every_configured_table_is_declared_once_with_its_physical_name(
    prod_synth: SynthResult, dev: SynthResult
) -> None:
    configured = [t for t in prod_synth.of_type(TABLE) if t["parent"].startswith("safetynet:dynamodb:BackedUpTable::")]
    assert sorted(t["inputs"]["name"] for t in configured) == ["customers", "inventory", "orders"]
    # the one other table is the chain's ledger (components/backup/incremental.py)
    others = [t["inputs"]["name"] for t in prod_synth.of_type(TABLE) if t not in configured]
    assert others == ["safetynet-chain-ledger-prod"]
    assert sorted(t["inputs"]["name"] for t in dev.of_type(TABLE)) == [
        "customers-dev",
        "inventory-dev",
        "orders-dev",
    ]


def test_prod_tables_have_pitr_deletion_protection_encryption(prod_synth: SynthResult) -> None:
    for t in prod_synth.of_type(TABLE):
        i = t["inputs"]
        assert i["pointInTimeRecovery"] == {"enabled": True, "recoveryPeriodInDays": 35}
        assert i["deletionProtectionEnabled"] is True
        assert i["serverSideEncryption"] == {"enabled": True}


def test_prod_tables_are_pulumi_protected_and_retained(prod_synth: SynthResult) -> None:
    for t in prod_synth.of_type(TABLE):
        assert t["options"]["protect"] is True
        assert t["options"]["retainOnDelete"] is True


def test_restore_inputs_are_ignored_on_update(prod_synth: SynthResult, dev: SynthResult) -> None:
    for result in (prod_synth, dev):
        for t in result.of_type(TABLE):
            assert set(RESTORE_INPUTS) <= set(t["options"]["ignoreChanges"])


def test_non_prod_tables_have_no_protect_and_no_deletion_protection(dev: SynthResult) -> None:
    for t in dev.of_type(TABLE):
        assert t["options"]["protect"] is False
        assert t["options"]["retainOnDelete"] is False
        assert t["inputs"]["deletionProtectionEnabled"] is False
        # The safety net itself (PITR, encryption) is not a prod privilege.
        assert t["inputs"]["pointInTimeRecovery"]["enabled"] is True
        assert t["inputs"]["serverSideEncryption"] == {"enabled": True}


def test_table_schema_ttl_streams_and_indexes_follow_config(prod_synth: SynthResult) -> None:
    orders = table(prod_synth, "orders")["inputs"]
    assert orders["hashKey"] == "customerId"
    assert orders["rangeKey"] == "orderId"
    assert orders["ttl"] == {"enabled": True, "attributeName": "expiresAt"}
    assert orders["streamEnabled"] is True
    assert orders["streamViewType"] == "NEW_AND_OLD_IMAGES"
    assert {a["name"]: a["type"] for a in orders["attributes"]} == {
        "customerId": "S",
        "orderId": "S",
        "status": "S",
        "createdAt": "N",
    }
    assert orders["globalSecondaryIndexes"] == [
        {
            "name": "by-status",
            "hashKey": "status",
            "rangeKey": "createdAt",
            "projectionType": "INCLUDE",
            "nonKeyAttributes": ["total"],
        }
    ]
    assert orders["localSecondaryIndexes"] == [
        {"name": "by-created", "rangeKey": "createdAt", "projectionType": "KEYS_ONLY"}
    ]
    inventory = table(prod_synth, "inventory")["inputs"]
    assert inventory["billingMode"] == "PROVISIONED"
    assert (inventory["readCapacity"], inventory["writeCapacity"]) == (10, 5)
    assert inventory["tableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert "ttl" not in inventory and "streamEnabled" not in inventory


def test_tables_are_tagged_with_environment_stack_and_their_own_tags(prod_synth: SynthResult) -> None:
    tags = table(prod_synth, "customers")["inputs"]["tags"]
    assert tags["safetynet:environment"] == "prod"
    assert tags["safetynet:stack"] == "safetynet/prod"
    assert tags["safetynet:table"] == "customers"
    assert tags["data-classification"] == "personal"


def test_pitr_period_comes_from_config() -> None:
    result = synth_stack(
        "prod",
        config_overrides={
            "tables": [{"name": "short", "hashKey": {"name": "id", "type": "S"}, "pointInTimeRecoveryDays": 7}]
        },
    )
    assert table(result, "short")["inputs"]["pointInTimeRecovery"]["recoveryPeriodInDays"] == 7


def test_adopt_imports_the_existing_table_by_name() -> None:
    result = synth_stack(
        "prod",
        config_overrides={
            "tables": [
                {"name": "legacy", "hashKey": {"name": "id", "type": "S"}, "adopt": True},
                {"name": "fresh", "hashKey": {"name": "id", "type": "S"}},
            ]
        },
    )
    assert table(result, "legacy")["options"]["importId"] == "legacy"
    assert table(result, "fresh")["options"]["importId"] is None


def test_tables_are_children_of_their_backed_up_table_component(prod_synth: SynthResult) -> None:
    for name in ("orders", "customers", "inventory"):
        assert table(prod_synth, name)["parent"] == f"safetynet:dynamodb:BackedUpTable::{name}"
        export = prod_synth.one("safetynet:backup:NightlyExport", f"{name}-export")
        assert export["parent"] == f"safetynet:dynamodb:BackedUpTable::{name}"
        assert (
            prod_synth.one(SCHEDULE, f"{name}-export-schedule")["parent"]
            == f"safetynet:backup:NightlyExport::{name}-export"
        )


# -- the vault ---------------------------------------------------------------------------------


def vault_child(result: SynthResult, typ: str) -> dict[str, Any]:
    [res] = [r for r in result.of_type(typ) if r["parent"] == "safetynet:backup:BackupVault::vault"]
    return res


def test_vault_bucket_is_protected_in_prod_only(prod_synth: SynthResult, dev: SynthResult) -> None:
    assert prod_synth.one("aws:s3/bucket:Bucket", "vault-bucket")["options"]["protect"] is True
    assert prod_synth.one("aws:kms/key:Key", "vault-key")["options"]["retainOnDelete"] is True
    assert dev.one("aws:s3/bucket:Bucket", "vault-bucket")["options"]["protect"] is False


def test_vault_blocks_all_public_access_and_enforces_bucket_owner(prod_synth: SynthResult) -> None:
    pab = vault_child(prod_synth, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["inputs"]
    assert all(
        pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    own = vault_child(prod_synth, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")["inputs"]
    assert own["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_vault_is_versioned_and_kms_encrypted_with_bucket_key(prod_synth: SynthResult) -> None:
    ver = vault_child(prod_synth, "aws:s3/bucketVersioning:BucketVersioning")["inputs"]
    assert ver["versioningConfiguration"] == {"status": "Enabled"}
    enc = vault_child(
        prod_synth, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    [rule] = enc["inputs"]["rules"]
    assert rule["bucketKeyEnabled"] is True
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == prod_synth.outputs["kmsKeyArn"]


def test_created_vault_key_rotates(prod_synth: SynthResult) -> None:
    key = prod_synth.one("aws:kms/key:Key", "vault-key")["inputs"]
    assert key["enableKeyRotation"] is True


def test_configured_kms_key_is_used_and_none_is_created() -> None:
    arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    result = synth_stack("prod", config_overrides={"backup": {"kmsKeyArn": arn}})
    # No vault key is created (DisasterWatch's alert topic has its own key, not the vault's).
    assert [k for k in result.of_type("aws:kms/key:Key") if k["parent"] != "safetynet:watch:AlertTopic::watch"] == []
    assert result.outputs["kmsKeyArn"] == arn
    schedule_input = json.loads(result.of_type(SCHEDULE)[0]["inputs"]["target"]["input"])
    assert schedule_input["S3SseKmsKeyId"] == arn


def test_vault_policy_denies_plain_http_and_object_deletion(prod_synth: SynthResult) -> None:
    policy = json.loads(vault_child(prod_synth, "aws:s3/bucketPolicy:BucketPolicy")["inputs"]["policy"])
    bucket_arn = prod_synth.outputs["vaultBucketArn"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    tls = by_sid["DenyInsecureTransport"]
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(tls["Resource"]) == {bucket_arn, f"{bucket_arn}/*"}
    delete = by_sid["DenyDeletingBackups"]
    assert delete["Effect"] == "Deny" and delete["Principal"] == "*"
    assert set(delete["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion"}
    assert delete["Resource"] == [f"{bucket_arn}/*"]
    assert_clean(policy, resource_policy=True)


def test_vault_lifecycle_transitions_expires_and_cleans_up(prod_synth: SynthResult) -> None:
    rules = {
        r["id"]: r
        for r in vault_child(prod_synth, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["inputs"][
            "rules"
        ]
    }
    exports = rules["exports-retention"]
    assert exports["status"] == "Enabled"
    assert exports["filter"] == {"prefix": "exports/"}
    assert exports["expiration"] == {"days": 90}
    assert exports["transitions"] == [{"days": 30, "storageClass": "GLACIER_IR"}]
    assert exports["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rules["housekeeping"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_object_lock_default_retention_when_configured(prod_synth: SynthResult, dev: SynthResult) -> None:
    assert prod_synth.one("aws:s3/bucket:Bucket", "vault-bucket")["inputs"]["objectLockEnabled"] is True
    lock = vault_child(prod_synth, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")["inputs"]
    assert lock["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 30}}
    # dev uses the default backup settings: no Object Lock.
    assert dev.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration") == []
    assert "objectLockEnabled" not in dev.one("aws:s3/bucket:Bucket", "vault-bucket")["inputs"]


def test_vault_sends_s3_events_to_eventbridge(prod_synth: SynthResult) -> None:
    assert vault_child(prod_synth, "aws:s3/bucketNotification:BucketNotification")["inputs"]["eventbridge"] is True


# -- the nightly export ------------------------------------------------------------------------


def schedule_input(result: SynthResult, name: str) -> dict[str, Any]:
    return json.loads(result.one(SCHEDULE, f"{name}-export-schedule")["inputs"]["target"]["input"])


def test_each_table_has_a_nightly_export_through_the_universal_target(prod_synth: SynthResult) -> None:
    # (DisasterWatch adds one restore-drill schedule per table beside these.)
    assert len([s for s in prod_synth.of_type(SCHEDULE) if s["name"].endswith("-export-schedule")]) == 3
    for name in ("orders", "customers", "inventory"):
        sched = prod_synth.one(SCHEDULE, f"{name}-export-schedule")["inputs"]
        assert sched["scheduleExpression"] == "cron(0 3 * * ? *)"
        assert sched["scheduleExpressionTimezone"] == "UTC"
        assert sched["state"] == "ENABLED"
        assert sched["target"]["arn"] == EXPORT_TARGET_ARN
        assert sched["target"]["retryPolicy"] == {"maximumRetryAttempts": 5, "maximumEventAgeInSeconds": 3600}
        body = schedule_input(prod_synth, name)
        assert body == {
            "TableArn": prod_synth.outputs["tables"][name]["arn"],
            "S3Bucket": prod_synth.outputs["vaultBucketName"],
            "S3BucketOwner": SYNTH_ACCOUNT_ID,
            "S3Prefix": f"exports/{name}",
            "ExportFormat": "DYNAMODB_JSON",
            "ExportType": "FULL_EXPORT",
            "S3SseAlgorithm": "KMS",
            "S3SseKmsKeyId": prod_synth.outputs["kmsKeyArn"],
            "ClientToken": "<aws.scheduler.execution-id>",
        }


def _model_problems(value: Any, shape: Any, path: str = "") -> list[str]:
    """Check a value against a botocore shape: required members, types, patterns, enums, lengths."""
    problems: list[str] = []
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        problems += [f"{path}.{m}: required" for m in shape.required_members if m not in value]
        for key, member_value in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
                continue
            problems += _model_problems(member_value, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string"]
        meta = shape.metadata
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not in {shape.enum}")
        if "pattern" in meta and not re.search(meta["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {meta['pattern']}")
        if not meta.get("min", 0) <= len(value) <= meta.get("max", 10**9):
            problems.append(f"{path}: length {len(value)} outside {meta.get('min')}..{meta.get('max')}")
    elif shape.type_name == "timestamp" and not isinstance(value, str | int | float):
        problems.append(f"{path}: expected a timestamp")
    return problems


def test_scheduler_input_is_a_valid_export_request_per_botocore(prod_synth: SynthResult) -> None:
    shape = (
        botocore.session.get_session()
        .get_service_model("dynamodb")
        .operation_model("ExportTableToPointInTime")
        .input_shape
    )
    for name in ("orders", "customers", "inventory"):
        body = schedule_input(prod_synth, name)
        assert _model_problems(body, shape) == []
        # The scheduler substitutes its execution id for the placeholder; that must fit too.
        body["ClientToken"] = "e2f7c4d0-6b1a-4b8e-9d8b-5a3c1f0e9a11"
        assert _model_problems(body, shape) == []


def test_model_check_catches_bad_requests() -> None:
    shape = (
        botocore.session.get_session()
        .get_service_model("dynamodb")
        .operation_model("ExportTableToPointInTime")
        .input_shape
    )
    bad = {"S3Bucket": "-bad-", "ExportFormat": "CSV", "ClientToken": "$x", "Extra": 1}
    problems = "\n".join(_model_problems(bad, shape))
    for expected in (
        ".TableArn: required",
        ".S3Bucket: '-bad-' does not match",
        ".ExportFormat: 'CSV' not in",
        ".ClientToken: '$x' does not match",
        ".Extra: not a member",
    ):
        assert expected in problems


def test_export_failures_of_every_table_dead_letter_into_the_stacks_encrypted_queue(prod_synth: SynthResult) -> None:
    dlq = prod_synth.one("aws:sqs/queue:Queue", "nightly-exports-dlq")
    assert dlq["inputs"]["sqsManagedSseEnabled"] is True
    assert dlq["parent"] == "safetynet:backup:NightlyExports::nightly-exports"
    dlq_arn = prod_synth.outputs["nightlyExports"]["deadLetterQueueArn"]
    assert ":nightly-exports-dlq-" in dlq_arn
    for name in ("orders", "customers", "inventory"):
        sched = prod_synth.one(SCHEDULE, f"{name}-export-schedule")["inputs"]
        assert sched["target"]["deadLetterConfig"]["arn"] == dlq_arn
        assert sched["target"]["roleArn"] == prod_synth.outputs["nightlyExports"]["roleArn"]


def test_no_table_has_an_export_role_or_queue_of_its_own(prod_synth: SynthResult) -> None:
    roles = [r["name"] for r in prod_synth.of_type("aws:iam/role:Role") if "export" in r["name"]]
    queues = [r["name"] for r in prod_synth.of_type("aws:sqs/queue:Queue") if "export" in r["name"]]
    assert (roles, queues) == (["nightly-exports-role"], ["nightly-exports-dlq"])


def test_export_role_is_assumable_only_by_the_scheduler_of_this_account(prod_synth: SynthResult) -> None:
    trust = json.loads(prod_synth.one("aws:iam/role:Role", "nightly-exports-role")["inputs"]["assumeRolePolicy"])
    [stmt] = trust["Statement"]
    assert stmt["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert stmt["Action"] == "sts:AssumeRole"
    assert stmt["Condition"] == {"StringEquals": {"aws:SourceAccount": SYNTH_ACCOUNT_ID}}


def test_export_role_may_export_this_stacks_tables_into_the_exports_prefix_and_nothing_else(
    prod_synth: SynthResult,
) -> None:
    policy = role_policy(prod_synth, "nightly-exports-policy")
    grants = {s["Sid"]: (s["Action"], s["Resource"], s.get("Condition")) for s in policy["Statement"]}
    vault = prod_synth.outputs["vaultBucketArn"]
    assert grants == {
        "ExportThisStacksTables": (
            ["dynamodb:ExportTableToPointInTime"],
            [f"arn:aws:dynamodb:eu-central-1:{SYNTH_ACCOUNT_ID}:table/*"],
            {"StringEquals": {"aws:ResourceTag/safetynet:stack": "safetynet/prod"}},
        ),
        "WriteExports": (["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"], [f"{vault}/exports/*"], None),
        "EncryptWithVaultKey": (["kms:Decrypt", "kms:GenerateDataKey"], [prod_synth.outputs["kmsKeyArn"]], None),
        "DeadLetterFailedInvocations": (
            ["sqs:SendMessage"],
            [prod_synth.outputs["nightlyExports"]["deadLetterQueueArn"]],
            None,
        ),
    }
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    assert_clean(policy)
    # Every declared table carries the tag the grant is scoped by, and each schedule writes inside the grant.
    for name in ("orders", "customers", "inventory"):
        table = prod_synth.one(TABLE, f"{name}-table")["inputs"]
        body = schedule_input(prod_synth, name)
        assert allows(policy, "dynamodb:ExportTableToPointInTime", body["TableArn"], resource_tags(table["tags"]))
        assert allows(policy, "s3:PutObject", f"{vault}/{body['S3Prefix']}/AWSDynamoDB/01700000000000-abc/data/x.gz")


def test_export_role_policy_is_the_same_for_one_table_or_many() -> None:
    def policy_for(n: int) -> tuple[str, int]:
        tables = [{"name": f"t{i:03d}", "hashKey": {"name": "id", "type": "S"}} for i in range(n)]
        result = synth_stack("prod", config_overrides={"tables": tables, "backup": {}})
        doc = json.loads(result.one("aws:iam/rolePolicy:RolePolicy", "nightly-exports-policy")["inputs"]["policy"])
        return json.dumps(doc, separators=(",", ":")), len(result.of_type("aws:iam/role:Role"))

    (one, roles_one), (many, roles_many) = policy_for(1), policy_for(12)
    assert one == many
    assert roles_one == roles_many  # and no table brings a role of its own
    assert len(one) < 1024  # of IAM's 10,240 characters for a role's inline policies


def test_every_iam_policy_in_the_stack_passes_the_linter(prod_synth: SynthResult) -> None:
    policies = [json.loads(r["inputs"]["policy"]) for r in prod_synth.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert policies, "the prod stack declares role policies"
    for policy in policies:
        assert_clean(policy)


def test_schedule_settings_follow_config() -> None:
    result = synth_stack(
        "prod",
        config_overrides={
            "backup": {
                "schedule": "rate(12 hours)",
                "timezone": "Europe/Berlin",
                "flexibleWindowMinutes": 30,
                "maxRetryAttempts": 3,
            }
        },
    )
    sched = result.of_type(SCHEDULE)[0]["inputs"]
    assert sched["scheduleExpression"] == "rate(12 hours)"
    assert sched["scheduleExpressionTimezone"] == "Europe/Berlin"
    assert sched["flexibleTimeWindow"] == {"mode": "FLEXIBLE", "maximumWindowInMinutes": 30}
    assert sched["target"]["retryPolicy"]["maximumRetryAttempts"] == 3


# -- stack outputs -----------------------------------------------------------------------------


def test_outputs_give_the_test_stack_everything_it_needs(prod_synth: SynthResult) -> None:
    out = prod_synth.outputs
    assert out["region"] == "eu-central-1"
    assert out["vaultBucketArn"] == f"arn:aws:s3:::{out['vaultBucketName']}"
    assert out["kmsKeyArn"].startswith("arn:aws:kms:eu-central-1:")
    orders = out["tables"]["orders"]
    assert orders["name"] == "orders"
    assert orders["arn"] == "arn:aws:dynamodb:eu-central-1:123456789012:table/orders"
    assert orders["exportPrefix"] == "exports/orders"
    assert orders["schema"]["TableName"] == "orders"
    assert orders["schema"]["KeySchema"] == [
        {"AttributeName": "customerId", "KeyType": "HASH"},
        {"AttributeName": "orderId", "KeyType": "RANGE"},
    ]
    assert orders["schema"]["LocalSecondaryIndexes"][0]["IndexName"] == "by-created"
    assert out["tables"]["inventory"]["schema"]["ProvisionedThroughput"] == {
        "ReadCapacityUnits": 10,
        "WriteCapacityUnits": 5,
    }


def test_invalid_config_declares_no_resource() -> None:
    from safetynet.synth import SynthError

    with pytest.raises(SynthError, match=r"safetynet:tables\[0\]\.hashKey: is required") as exc:
        synth_stack("prod", config_overrides={"tables": [{"name": "broken"}]})
    assert "Traceback" not in str(exc.value)

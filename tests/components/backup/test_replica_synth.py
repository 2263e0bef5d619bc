"""The program with `safetynet:backup.replica` and `replicaRegions`, under Pulumi's mocks:
replication of the vault's exports, the replica bucket's hardening (the vault's own rules), the
replication role's scope, the failure alarm, the cross-account outputs and global tables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.backup.replica import REPLICATION_RULE_ID
from safetynet.synth import SynthResult, read_stack_config
from tests.support.iam_lint import assert_clean
from tests.support.policies import role_policy, statement
from tests.support.stacks import PROJECT_DIR, synth_stack

REPLICA = "safetynet:backup:VaultReplica"
BUCKET = "aws:s3/bucket:Bucket"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
OTHER_KEY = "arn:aws:kms:us-west-2:210987654321:key/11111111-2222-3333-4444-555555555555"
# Pulumi.prod.yaml's vault: governance lock for 30 days, 90 days retention.
LOCKED_BACKUP = {
    "retentionDays": 90,
    "coldStorageAfterDays": 30,
    "objectLock": "governance",
    "objectLockDays": 30,
}


def _with_replica(replica: dict[str, Any], **backup: Any) -> SynthResult:
    return synth_stack("prod", config_overrides={"backup": {**LOCKED_BACKUP, **backup, "replica": replica}})


@pytest.fixture(scope="module")
def same_account() -> SynthResult:
    return _with_replica({"region": "eu-west-1", "replicationTimeControl": True})


@pytest.fixture(scope="module")
def cross_account() -> SynthResult:
    return _with_replica(
        {"region": "us-west-2", "accountId": "210987654321", "bucketName": "dr-vault", "kmsKeyArn": OTHER_KEY}
    )


def _rule(result: SynthResult) -> dict[str, Any]:
    rules = result.one(REPLICATION)["inputs"]["rules"]
    assert len(rules) == 1
    return rules[0]


def _children(result: SynthResult, parent: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in result.resources if r["parent"] == parent}


def test_without_a_replica_nothing_is_replicated() -> None:
    flat, _ = read_stack_config(PROJECT_DIR, "prod")
    backup = {k: v for k, v in json.loads(flat["safetynet:backup"]).items() if k != "replica"}
    result = synth_stack("prod", config_overrides={"backup": backup})
    assert result.of_type(REPLICA) == []
    assert result.of_type(REPLICATION) == []
    assert "vaultReplica" not in result.outputs


def test_vault_replicates_only_exports_with_delete_markers_kept_home(same_account: SynthResult) -> None:
    rule = _rule(same_account)
    assert rule["id"] == REPLICATION_RULE_ID
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": "exports/"}
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}


def test_replication_source_is_the_vault_and_role_is_the_replication_role(same_account: SynthResult) -> None:
    config = same_account.one(REPLICATION)["inputs"]
    vault_bucket = same_account.one(BUCKET, "vault-bucket")["inputs"]
    assert config["bucket"].startswith(vault_bucket["bucketPrefix"])
    assert config["role"] == same_account.outputs["vaultReplica"]["roleArn"]


def test_replicas_are_encrypted_with_the_replica_regions_key(same_account: SynthResult) -> None:
    rule = _rule(same_account)
    out = same_account.outputs["vaultReplica"]
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert rule["destination"]["bucket"] == out["bucketArn"]
    assert rule["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": out["kmsKeyArn"]}
    assert ":kms:eu-west-1:" in out["kmsKeyArn"]


def test_replication_time_control_comes_with_metrics(same_account: SynthResult) -> None:
    destination = _rule(same_account)["destination"]
    assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert destination["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}


def test_without_rtc_metrics_stay_on_for_the_alarm() -> None:
    destination = _rule(_with_replica({"region": "eu-west-1"}))["destination"]
    assert "replicationTime" not in destination
    assert destination["metrics"] == {"status": "Enabled"}


def test_same_account_replicas_keep_their_owner(same_account: SynthResult) -> None:
    destination = _rule(same_account)["destination"]
    assert "accessControlTranslation" not in destination
    assert "account" not in destination


def test_replica_bucket_and_key_live_in_the_replica_region_through_their_own_provider(
    same_account: SynthResult,
) -> None:
    provider = same_account.one("pulumi:providers:aws", "vault-replica-provider")
    assert provider["inputs"]["region"] == "eu-west-1"
    assert provider["parent"] == f"{REPLICA}::vault-replica"
    children = _children(same_account, f"{REPLICA}::vault-replica")
    regional = [n for n, r in children.items() if r["options"]["provider"] == "vault-replica-provider"]
    assert {
        "vault-replica-bucket",
        "vault-replica-key",
        "vault-replica-versioning",
        "vault-replica-policy",
    } <= set(regional)
    # Replication config, role and alarm belong to the vault's region (the default provider).
    for name in ("vault-replica-replication", "vault-replica-role", "vault-replica-failed-replication"):
        assert children[name]["options"]["provider"] is None


def test_replica_key_rotates_and_bucket_and_key_are_protected_in_prod(same_account: SynthResult) -> None:
    key = same_account.one("aws:kms/key:Key", "vault-replica-key")
    bucket = same_account.one(BUCKET, "vault-replica-bucket")
    assert key["inputs"]["enableKeyRotation"] is True
    for r in (key, bucket):
        assert r["options"]["protect"] and r["options"]["retainOnDelete"]
    assert bucket["inputs"]["forceDestroy"] is False


@pytest.mark.parametrize(
    "purpose",
    ["public-access", "ownership", "versioning", "lifecycle"],
)
def test_replica_bucket_has_the_vaults_hardening(same_account: SynthResult, purpose: str) -> None:
    vault = {r["name"]: r for r in same_account.resources if r["parent"] == "safetynet:backup:BackupVault::vault"}
    replica = _children(same_account, f"{REPLICA}::vault-replica")
    theirs = dict(vault[f"vault-{purpose}"]["inputs"])
    ours = dict(replica[f"vault-replica-{purpose}"]["inputs"])
    theirs.pop("bucket")
    ours.pop("bucket")
    assert ours == theirs
    assert ours  # the comparison is about real settings


def test_replica_bucket_is_sse_kms_with_its_own_key(same_account: SynthResult) -> None:
    enc = same_account.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "vault-replica-encryption",
    )["inputs"]["rules"][0]
    assert enc["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": same_account.outputs["vaultReplica"]["kmsKeyArn"],
    }
    assert enc["bucketKeyEnabled"] is True


def test_replica_bucket_policy_is_tls_only_and_denies_deletes(same_account: SynthResult) -> None:
    policy = json.loads(
        same_account.one("aws:s3/bucketPolicy:BucketPolicy", "vault-replica-policy")["inputs"]["policy"]
    )
    arn = same_account.outputs["vaultReplica"]["bucketArn"]
    tls = statement(policy, "DenyInsecureTransport")
    deny_delete = statement(policy, "DenyDeletingBackups")
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls["Resource"] == [arn, f"{arn}/*"]
    assert deny_delete["Effect"] == "Deny"
    assert set(deny_delete["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion"}


def test_locked_vault_gets_a_lock_enabled_replica(same_account: SynthResult) -> None:
    bucket = same_account.one(BUCKET, "vault-replica-bucket")
    assert bucket["inputs"]["objectLockEnabled"] is True
    # No default retention of its own: the replicas carry the vault's retention.
    assert not [r for r in same_account.resources if r["name"] == "vault-replica-object-lock"]


def test_replica_object_lock_sets_its_own_default_retention() -> None:
    result = _with_replica(
        {"region": "eu-west-1", "objectLock": "compliance", "objectLockDays": 14},
        objectLock="off",
        objectLockDays=None,
    )
    lock = result.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "vault-replica-object-lock")
    assert lock["inputs"]["rule"] == {"defaultRetention": {"mode": "COMPLIANCE", "days": 14}}
    assert result.one(BUCKET, "vault-replica-bucket")["inputs"]["objectLockEnabled"] is True


def test_unlocked_vault_and_replica_leave_object_lock_off() -> None:
    result = _with_replica({"region": "eu-west-1"}, objectLock="off", objectLockDays=None)
    assert "objectLockEnabled" not in result.one(BUCKET, "vault-replica-bucket")["inputs"]


def test_replication_role_is_trusted_by_s3_for_this_vault_and_lint_clean(same_account: SynthResult) -> None:
    role = same_account.one("aws:iam/role:Role", "vault-replica-role")["inputs"]
    trust = json.loads(role["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == same_account.outputs["vaultBucketArn"]
    policy = role_policy(same_account, "vault-replica-role-policy")
    assert_clean(policy)


def test_replication_role_is_scoped_to_both_buckets_and_keys(same_account: SynthResult) -> None:
    policy = role_policy(same_account, "vault-replica-role-policy")
    out = same_account.outputs
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert resources == {
        out["vaultBucketArn"],
        f"{out['vaultBucketArn']}/exports/*",
        f"{out['vaultReplica']['bucketArn']}/exports/*",
        out["kmsKeyArn"],
        out["vaultReplica"]["kmsKeyArn"],
    }
    # The prod vault is locked: replication copies its retention, so it may read it.
    read = statement(policy, "ReadExportVersions")
    assert "s3:GetObjectRetention" in read["Action"]


def test_failed_replication_alarm_watches_the_rule(same_account: SynthResult) -> None:
    alarm = same_account.one("aws:cloudwatch/metricAlarm:MetricAlarm", "vault-replica-failed-replication")["inputs"]
    out = same_account.outputs
    assert alarm["namespace"] == "AWS/S3"
    assert alarm["metricName"] == "OperationsFailedReplication"
    assert alarm["dimensions"] == {
        "SourceBucket": out["vaultBucketName"],
        "DestinationBucket": out["vaultReplica"]["bucketName"],
        "RuleId": REPLICATION_RULE_ID,
    }
    assert alarm["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm["threshold"] == 0
    assert alarm["treatMissingData"] == "notBreaching"


def test_replication_waits_for_both_versionings_and_the_role_policy(same_account: SynthResult) -> None:
    waits_for = same_account.one(REPLICATION)["options"]["dependsOn"]
    assert {"vault-versioning", "vault-replica-versioning", "vault-replica-role-policy"} <= set(waits_for)


def test_cross_account_creates_no_bucket_and_overrides_ownership(cross_account: SynthResult) -> None:
    assert [r["name"] for r in cross_account.of_type(BUCKET)] == ["vault-bucket"]
    assert cross_account.of_type("pulumi:providers:aws") == []
    destination = _rule(cross_account)["destination"]
    assert destination["bucket"] == "arn:aws:s3:::dr-vault"
    assert destination["account"] == "210987654321"
    assert destination["accessControlTranslation"] == {"owner": "Destination"}
    assert destination["encryptionConfiguration"] == {"replicaKmsKeyId": OTHER_KEY}


def test_cross_account_emits_the_policies_the_other_account_applies(cross_account: SynthResult) -> None:
    out = cross_account.outputs["vaultReplica"]
    bucket_policy = out["destinationPolicies"]["bucketPolicy"]
    key_stmt = out["destinationPolicies"]["keyPolicyStatement"]
    assert_clean(bucket_policy, resource_policy=True)
    allow = statement(bucket_policy, "AllowReplicationFromSafetynetVault")
    assert allow["Principal"] == {"AWS": out["roleArn"]}
    assert allow["Resource"] == ["arn:aws:s3:::dr-vault/exports/*"]
    assert key_stmt["Principal"] == {"AWS": out["roleArn"]}
    assert key_stmt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-west-2.amazonaws.com"}
    assert out["accountId"] == "210987654321"


def test_cross_account_role_may_override_ownership(cross_account: SynthResult) -> None:
    policy = role_policy(cross_account, "vault-replica-role-policy")
    write = statement(policy, "WriteReplicas")
    assert "s3:ObjectOwnerOverrideToBucketOwner" in write["Action"]
    assert write["Resource"] == ["arn:aws:s3:::dr-vault/exports/*"]


# -- global tables -----------------------------------------------------------------------------


def _tables_with(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    flat, _ = read_stack_config(PROJECT_DIR, "prod")
    tables: list[dict[str, Any]] = json.loads(flat["safetynet:tables"])
    for t in tables:
        t.update(changes.get(t["name"], {}))
    return tables


def test_replica_regions_make_a_global_table_with_pitr_and_protection_per_replica() -> None:
    result = synth_stack("prod", config_overrides={"tables": _tables_with(customers={"replicaRegions": ["eu-west-1"]})})
    table = result.one("aws:dynamodb/table:Table", "customers-table")["inputs"]
    assert table["replicas"] == [
        {
            "regionName": "eu-west-1",
            "pointInTimeRecovery": True,
            "deletionProtectionEnabled": True,
            "propagateTags": True,
        }
    ]
    assert table["streamEnabled"] is True
    assert table["streamViewType"] == "NEW_AND_OLD_IMAGES"


def test_replicas_of_a_non_prod_table_are_not_deletion_protected() -> None:
    tables = _tables_with(orders={"replicaRegions": ["eu-west-1"]})
    result = synth_stack("prod", config_overrides={"environment": "dev", "tables": tables})
    replicas = result.one("aws:dynamodb/table:Table", "orders-table")["inputs"]["replicas"]
    assert replicas[0]["deletionProtectionEnabled"] is False
    assert replicas[0]["pointInTimeRecovery"] is True


def test_tables_without_replica_regions_stay_regional(prod_synth: SynthResult) -> None:
    assert all("replicas" not in t["inputs"] for t in prod_synth.of_type("aws:dynamodb/table:Table"))


def test_failed_replication_alarm_notifies_the_watch_topic(same_account: SynthResult) -> None:
    alarm = same_account.one("aws:cloudwatch/metricAlarm:MetricAlarm", "vault-replica-failed-replication")["inputs"]
    assert alarm["alarmActions"] == [same_account.outputs["watch"]["topicArn"]]


def test_without_a_watch_the_alarm_has_no_actions() -> None:
    # A dev stack has no DisasterWatch (prod only), so nothing to notify.
    backup = {**LOCKED_BACKUP, "replica": {"region": "eu-west-1"}}
    result = synth_stack("prod", config_overrides={"environment": "dev", "backup": backup})
    alarm = result.one("aws:cloudwatch/metricAlarm:MetricAlarm", "vault-replica-failed-replication")["inputs"]
    assert "watch" not in result.outputs
    assert "alarmActions" not in alarm
    # ... and a dev replica is not protected (prod and dr are)
    assert result.one(BUCKET, "vault-replica-bucket")["options"]["protect"] is False

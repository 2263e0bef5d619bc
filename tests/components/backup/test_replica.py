"""VaultReplica, declared alone from minimal arguments under Pulumi's mocks: a replica bucket of its
own in another region, or another account's bucket."""

from __future__ import annotations

import json
from typing import Any

import pulumi_aws as aws

from components.backup.policies import (
    replica_destination_bucket_policy,
    replica_destination_key_statement,
    replication_role_policy,
    vault_bucket_policy,
)
from components.backup.replica import REPLICATION_RULE_ID, VaultReplica, VaultReplicaArgs
from components.common.policies import assume_role_policy
from components.config.backup import BackupSpec
from components.config.replica import ReplicaSpec
from tests.support.pulumi_mocks import REGION, RecordingMocks
from tests.support.pulumi_run import declared, resolved

ACCOUNT = "123456789012"
VAULT = "vault-1"
VAULT_ARN = f"arn:aws:s3:::{VAULT}"
VAULT_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000vault"
ALARM_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
DR_ACCOUNT = "210987654321"
DR_KEY = f"arn:aws:kms:us-west-2:{DR_ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
SAME_ACCOUNT = ReplicaSpec(region="eu-west-1", replication_time_control=True)
CROSS_ACCOUNT = ReplicaSpec(region="us-west-2", account_id=DR_ACCOUNT, bucket_name="dr-vault", kms_key_arn=DR_KEY)
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"


def declare(spec: ReplicaSpec) -> dict[str, Any]:
    """Declare the replica `vault-replica` of an unlocked vault and resolve what it exposes."""

    def build() -> dict[str, Any]:
        # The vault's versioning: replication must wait for it.
        versioning = aws.s3.BucketVersioning(
            "vault-versioning", bucket=VAULT, versioning_configuration={"status": "Enabled"}
        )
        replica = VaultReplica(
            "vault-replica",
            VaultReplicaArgs(
                spec=spec,
                backup=BackupSpec(),
                tags={"team": "unit"},
                protect=True,
                source_bucket_name=VAULT,
                source_bucket_arn=VAULT_ARN,
                source_kms_key_arn=VAULT_KEY,
                source_versioning=versioning,
                source_region=REGION,
                account_id=ACCOUNT,
                alarm_actions=[ALARM_TOPIC],
            ),
        )
        return {
            "bucket_name": replica.bucket_name,
            "bucket_arn": replica.bucket_arn,
            "kms_key_arn": replica.kms_key_arn,
            "region": replica.region,
            "role_arn": replica.role_arn,
            "alarm_arn": replica.alarm_arn,
            "destination_policies": replica.destination_policies,
        }

    return resolved(build)


def replication_rule(mocks: RecordingMocks) -> dict[str, Any]:
    (rule,) = mocks.one(REPLICATION, "vault-replica-replication").inputs["rules"]
    return dict(rule)


def test_a_same_account_replica_creates_a_hardened_bucket_and_key_in_its_region(pulumi_mocks: RecordingMocks) -> None:
    declare(SAME_ACCOUNT)
    assert declared(pulumi_mocks) == sorted(
        [
            ("aws:s3/bucketVersioning:BucketVersioning", "vault-versioning"),
            ("safetynet:backup:VaultReplica", "vault-replica"),
            ("pulumi:providers:aws", "vault-replica-provider"),
            ("aws:kms/key:Key", "vault-replica-key"),
            ("aws:kms/alias:Alias", "vault-replica-key-alias"),
            ("aws:s3/bucket:Bucket", "vault-replica-bucket"),
            ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "vault-replica-public-access"),
            ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "vault-replica-ownership"),
            ("aws:s3/bucketVersioning:BucketVersioning", "vault-replica-versioning"),
            (
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                "vault-replica-encryption",
            ),
            ("aws:s3/bucketPolicy:BucketPolicy", "vault-replica-policy"),
            ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "vault-replica-lifecycle"),
            ("aws:iam/role:Role", "vault-replica-role"),
            ("aws:iam/rolePolicy:RolePolicy", "vault-replica-role-policy"),
            (REPLICATION, "vault-replica-replication"),
            ("aws:cloudwatch/metricAlarm:MetricAlarm", "vault-replica-failed-replication"),
        ]
    )
    assert pulumi_mocks.one("pulumi:providers:aws", "vault-replica-provider").inputs["region"] == "eu-west-1"
    assert pulumi_mocks.one("aws:kms/key:Key").inputs["enableKeyRotation"] is True


def test_what_a_same_account_replica_exposes_resolves(pulumi_mocks: RecordingMocks) -> None:
    out = declare(SAME_ACCOUNT)
    assert out["region"] == "eu-west-1"
    assert out["bucket_name"].startswith("vault-replica-")
    assert out["bucket_arn"] == f"arn:aws:s3:::{out['bucket_name']}"
    assert ":kms:" in out["kms_key_arn"]
    assert ":role/vault-replica-role-" in out["role_arn"]
    assert out["alarm_arn"]
    assert out["destination_policies"] is None


def test_the_replica_bucket_gets_the_vaults_policy(pulumi_mocks: RecordingMocks) -> None:
    out = declare(SAME_ACCOUNT)
    policy = pulumi_mocks.one("aws:s3/bucketPolicy:BucketPolicy", "vault-replica-policy").inputs["policy"]
    assert json.loads(policy) == vault_bucket_policy(out["bucket_arn"])


def test_the_vault_replicates_its_exports_into_the_replica_with_the_replica_key(pulumi_mocks: RecordingMocks) -> None:
    out = declare(SAME_ACCOUNT)
    config = pulumi_mocks.one(REPLICATION, "vault-replica-replication").inputs
    assert (config["bucket"], config["role"]) == (VAULT, out["role_arn"])
    rule = replication_rule(pulumi_mocks)
    assert rule["id"] == REPLICATION_RULE_ID
    assert rule["filter"] == {"prefix": "exports/"}
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
    destination = rule["destination"]
    assert destination["bucket"] == out["bucket_arn"]
    assert destination["encryptionConfiguration"] == {"replicaKmsKeyId": out["kms_key_arn"]}
    assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert "account" not in destination


def test_the_replication_role_is_s3s_for_this_vault_scoped_to_both_buckets(pulumi_mocks: RecordingMocks) -> None:
    out = declare(SAME_ACCOUNT)
    trust = pulumi_mocks.one("aws:iam/role:Role", "vault-replica-role").inputs["assumeRolePolicy"]
    assert json.loads(trust) == assume_role_policy("s3.amazonaws.com", ACCOUNT, source_arn=VAULT_ARN)
    policy = pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy", "vault-replica-role-policy").inputs["policy"]
    assert json.loads(policy) == replication_role_policy(
        source_bucket_arn=VAULT_ARN,
        source_key_arn=VAULT_KEY,
        source_region=REGION,
        replica_bucket_arn=out["bucket_arn"],
        replica_key_arn=out["kms_key_arn"],
        replica_region="eu-west-1",
        prefix="exports",
        source_locked=False,
        owner_override=False,
    )


def test_the_alarm_watches_this_rule_and_notifies_the_given_actions(pulumi_mocks: RecordingMocks) -> None:
    out = declare(SAME_ACCOUNT)
    alarm = pulumi_mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm").inputs
    assert alarm["metricName"] == "OperationsFailedReplication"
    assert alarm["dimensions"] == {
        "SourceBucket": VAULT,
        "DestinationBucket": out["bucket_name"],
        "RuleId": REPLICATION_RULE_ID,
    }
    assert alarm["alarmActions"] == [ALARM_TOPIC]


def test_a_cross_account_replica_creates_nothing_in_the_other_account(pulumi_mocks: RecordingMocks) -> None:
    out = declare(CROSS_ACCOUNT)
    assert pulumi_mocks.of_type("aws:s3/bucket:Bucket") == []
    assert pulumi_mocks.of_type("aws:kms/key:Key") == []
    assert pulumi_mocks.of_type("pulumi:providers:aws") == []
    assert (out["bucket_name"], out["bucket_arn"], out["kms_key_arn"]) == ("dr-vault", "arn:aws:s3:::dr-vault", DR_KEY)
    destination = replication_rule(pulumi_mocks)["destination"]
    assert destination["account"] == DR_ACCOUNT
    assert destination["accessControlTranslation"] == {"owner": "Destination"}


def test_a_cross_account_replica_exposes_the_policies_the_other_account_applies(pulumi_mocks: RecordingMocks) -> None:
    out = declare(CROSS_ACCOUNT)
    assert out["destination_policies"] == {
        "bucketPolicy": replica_destination_bucket_policy(
            replica_bucket_arn="arn:aws:s3:::dr-vault", role_arn=out["role_arn"], prefix="exports"
        ),
        "keyPolicyStatement": replica_destination_key_statement(
            role_arn=out["role_arn"], replica_region="us-west-2", replica_bucket_arn="arn:aws:s3:::dr-vault"
        ),
    }

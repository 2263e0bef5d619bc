"""VaultReplica: the vault's exports, replicated out of the region (and optionally the account).

A region outage, or one compromised or mistaken admin of the prod account, must not take the
backups down with the tables. S3 replication copies every new object under `exports/` to a
replica bucket in another region, encrypted with a key of that region. Delete markers are not
replicated, and the replica bucket gets the vault's own hardening (no deletes, TLS only, Object
Lock when the vault has it), so nothing done to the vault reaches the copies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup.policies import (
    replica_destination_bucket_policy,
    replica_destination_key_statement,
    replication_role_policy,
)
from components.backup.vault import harden_bucket, vault_bucket, vault_key
from components.common.policies import assume_role_policy
from components.config.backup import BackupSpec
from components.config.replica import ReplicaSpec
from conventions.vault import EXPORTS_ROOT

REPLICATION_RULE_ID = "exports-to-replica"
# S3 Replication Time Control's only threshold, also the latency behind its "missed" events.
RTC_MINUTES = 15


def replication_rule(
    *,
    replica_bucket_arn: str,
    replica_key_arn: str,
    replication_time_control: bool,
    owner_account_id: str | None,
) -> dict[str, Any]:
    """The one replication rule of the vault (snake_case, as aws.s3.BucketReplicationConfig takes it).

    Only `exports/`; delete markers stay in the vault (a delete there must not reach the copy);
    SSE-KMS objects opted in (S3 skips them otherwise) and re-encrypted with the replica key;
    metrics always on (the failure alarm reads them); RTC optional; with another owner account,
    the replicas become that account's objects.
    """
    destination: dict[str, Any] = {
        "bucket": replica_bucket_arn,
        "encryption_configuration": {"replica_kms_key_id": replica_key_arn},
        "metrics": {"status": "Enabled"},
    }
    if replication_time_control:
        destination["metrics"]["event_threshold"] = {"minutes": RTC_MINUTES}
        destination["replication_time"] = {"status": "Enabled", "time": {"minutes": RTC_MINUTES}}
    if owner_account_id:
        destination["account"] = owner_account_id
        destination["access_control_translation"] = {"owner": "Destination"}
    return {
        "id": REPLICATION_RULE_ID,
        "status": "Enabled",
        "priority": 1,
        "filter": {"prefix": f"{EXPORTS_ROOT}/"},
        "delete_marker_replication": {"status": "Disabled"},
        "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
        "destination": destination,
    }


def failed_replication_dimensions(*, source_bucket: str, replica_bucket: str) -> dict[str, str]:
    """The dimensions S3 publishes replication metrics with (per source, destination and rule)."""
    return {"SourceBucket": source_bucket, "DestinationBucket": replica_bucket, "RuleId": REPLICATION_RULE_ID}


# The CloudWatch alarm on S3's OperationsFailedReplication metric for the replication rule
# (published in the source region once the rule's replication metrics are on).
FAILED_REPLICATION_ALARM: dict[str, Any] = {
    "namespace": "AWS/S3",
    "metric_name": "OperationsFailedReplication",
    "statistic": "Sum",
    "period": 300,
    "evaluation_periods": 1,
    "threshold": 0,
    "comparison_operator": "GreaterThanThreshold",
    # No replication traffic (most of the day) is not a failure.
    "treat_missing_data": "notBreaching",
}


@dataclass(frozen=True)
class VaultReplicaArgs:
    """Inputs of a VaultReplica."""

    spec: ReplicaSpec
    """`safetynet:backup.replica`."""
    backup: BackupSpec
    """The vault's settings: the replica gets the same lifecycle; a locked vault needs a locked replica."""
    tags: dict[str, str]
    """Stack-wide tags."""
    protect: bool
    """Pulumi protect + retain_on_delete on the replica bucket and key (prod)."""
    source_bucket_name: pulumi.Input[str]
    """The vault bucket."""
    source_bucket_arn: pulumi.Input[str]
    """The vault bucket's ARN."""
    source_kms_key_arn: pulumi.Input[str]
    """The key that encrypts the vault's exports."""
    source_versioning: pulumi.Resource
    """The vault's versioning: S3 refuses a replication configuration before it."""
    source_region: pulumi.Input[str]
    """The stack's region (the vault's)."""
    account_id: pulumi.Input[str]
    """The stack's account."""
    alarm_actions: list[pulumi.Input[str]] = field(default_factory=list)
    """Where the failed-replication alarm notifies (e.g. DisasterWatch's topic)."""


class VaultReplica(pulumi.ComponentResource):
    """Replication of the vault's `exports/` to a hardened bucket in another region (created here
    through its own provider) or to another account's bucket (whose policies are emitted), with a
    least-privilege replication role and an alarm on failed replication."""

    bucket_name: pulumi.Output[str]
    """The replica bucket."""
    bucket_arn: pulumi.Output[str]
    """The replica bucket's ARN."""
    kms_key_arn: pulumi.Output[str]
    """The key that encrypts the replicas (in the replica region)."""
    region: str
    """The replica region."""
    role_arn: pulumi.Output[str]
    """The replication role (the other account's bucket and key policies name it)."""
    alarm_arn: pulumi.Output[str]
    """The failed-replication alarm."""
    destination_policies: pulumi.Output[dict[str, Any]] | None
    """Cross-account only: `{bucketPolicy, keyPolicyStatement}` the other account must apply."""

    def __init__(self, name: str, args: VaultReplicaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:backup:VaultReplica", name, None, opts)
        spec, b = args.spec, args.backup
        child = pulumi.ResourceOptions(parent=self)
        self.region = spec.region
        self.destination_policies = None

        if spec.cross_account:
            # The other account owns bucket and key; this stack only points replication at them.
            assert spec.bucket_name and spec.kms_key_arn  # guaranteed by ReplicaSpec
            self.bucket_name = pulumi.Output.from_input(spec.bucket_name)
            self.bucket_arn = pulumi.Output.from_input(f"arn:aws:s3:::{spec.bucket_name}")
            self.kms_key_arn = pulumi.Output.from_input(spec.kms_key_arn)
            replica_ready: list[pulumi.Resource] = []
        else:
            replica_ready = [self._replica_bucket(name, args)]

        role = aws.iam.Role(
            f"{name}-role",
            description="S3 replication of the safetynet vault's exports to the replica bucket",
            assume_role_policy=pulumi.Output.all(account_id=args.account_id, source_arn=args.source_bucket_arn).apply(
                lambda a: json.dumps(assume_role_policy("s3.amazonaws.com", **a))
            ),
            tags=args.tags,
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=pulumi.Output.all(
                source_bucket_arn=args.source_bucket_arn,
                source_key_arn=args.source_kms_key_arn,
                source_region=args.source_region,
                replica_bucket_arn=self.bucket_arn,
                replica_key_arn=self.kms_key_arn,
            ).apply(
                lambda a: json.dumps(
                    replication_role_policy(
                        **a,
                        replica_region=spec.region,
                        prefix=EXPORTS_ROOT,
                        source_locked=b.object_lock != "off",
                        owner_override=spec.cross_account,
                    )
                )
            ),
            opts=child,
        )

        def rule_for(a: dict[str, Any]) -> Any:
            return replication_rule(
                **a,
                replication_time_control=spec.replication_time_control,
                owner_account_id=spec.account_id,
            )

        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=args.source_bucket_name,
            role=role.arn,
            rules=[
                pulumi.Output.all(replica_bucket_arn=self.bucket_arn, replica_key_arn=self.kms_key_arn).apply(rule_for)
            ],
            # S3 checks versioning on both buckets and may test the role when the rule is put.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.source_versioning, role_policy, *replica_ready]),
        )
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-failed-replication",
            alarm_description=(
                f"S3 could not replicate vault exports to {spec.region}: the out-of-region copy is falling "
                "behind. Check the replication role, the replica key policy and the replica bucket."
            ),
            alarm_actions=args.alarm_actions or None,
            tags=args.tags,
            dimensions=pulumi.Output.all(source_bucket=args.source_bucket_name, replica_bucket=self.bucket_name).apply(
                lambda a: failed_replication_dimensions(**a)
            ),
            opts=child,
            **FAILED_REPLICATION_ALARM,
        )
        self.role_arn = role.arn
        self.alarm_arn = alarm.arn
        outputs: dict[str, Any] = {
            "bucketName": self.bucket_name,
            "bucketArn": self.bucket_arn,
            "kmsKeyArn": self.kms_key_arn,
            "region": spec.region,
            "roleArn": role.arn,
            "failedReplicationAlarmArn": alarm.arn,
        }
        if spec.cross_account:
            self.destination_policies = pulumi.Output.all(role_arn=role.arn, replica_bucket_arn=self.bucket_arn).apply(
                lambda a: {
                    "bucketPolicy": replica_destination_bucket_policy(**a, prefix=EXPORTS_ROOT),
                    "keyPolicyStatement": replica_destination_key_statement(**a, replica_region=spec.region),
                }
            )
            outputs["destinationPolicies"] = self.destination_policies
        self.register_outputs(outputs)

    def _replica_bucket(self, name: str, args: VaultReplicaArgs) -> pulumi.Resource:
        """Provider, key, bucket and hardening in the replica region. Returns the bucket's
        versioning, which replication waits for."""
        spec, b = args.spec, args.backup
        provider = aws.Provider(f"{name}-provider", region=spec.region, opts=pulumi.ResourceOptions(parent=self))
        here = pulumi.ResourceOptions(parent=self, provider=provider)
        keep = pulumi.ResourceOptions(
            parent=self, provider=provider, protect=args.protect, retain_on_delete=args.protect
        )
        key = vault_key(
            name, description=f"safetynet vault replica {name} ({spec.region})", tags=args.tags, keep=keep, opts=here
        )
        # S3 replicates a locked vault's objects only into a bucket with Object Lock enabled; the
        # replicas keep their source retention, and `replica.objectLock` adds a default of its own.
        lock_enabled = b.object_lock != "off" or spec.object_lock != "off"
        bucket = vault_bucket(name, object_lock=lock_enabled, tags=args.tags, keep=keep)
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.kms_key_arn = key.arn
        return harden_bucket(
            name,
            bucket=bucket,
            kms_key_arn=key.arn,
            backup=b,
            default_lock=(spec.object_lock, spec.object_lock_days) if spec.object_lock != "off" else None,
            opts=here,
        )


def build_vault_replica(
    *,
    backup: BackupSpec,
    vault: Any,
    tags: dict[str, str],
    protect: bool,
    region: pulumi.Input[str],
    account_id: pulumi.Input[str],
    alarm_actions: list[pulumi.Input[str]] | None = None,
) -> dict[str, Any] | None:
    """The stack's VaultReplica when `safetynet:backup.replica` is set; returns the
    `vaultReplica` stack output (None without a replica). `vault` is the stack's BackupVault."""
    if backup.replica is None:
        return None
    replica = VaultReplica(
        "vault-replica",
        VaultReplicaArgs(
            spec=backup.replica,
            backup=backup,
            tags=tags,
            protect=protect,
            source_bucket_name=vault.bucket_name,
            source_bucket_arn=vault.bucket_arn,
            source_kms_key_arn=vault.kms_key_arn,
            source_versioning=vault.versioning,
            source_region=region,
            account_id=account_id,
            alarm_actions=list(alarm_actions or []),
        ),
    )
    out: dict[str, Any] = {
        "bucketName": replica.bucket_name,
        "bucketArn": replica.bucket_arn,
        "kmsKeyArn": replica.kms_key_arn,
        "region": replica.region,
        "accountId": backup.replica.account_id or account_id,
        "roleArn": replica.role_arn,
        "failedReplicationAlarmArn": replica.alarm_arn,
    }
    if replica.destination_policies is not None:
        out["destinationPolicies"] = replica.destination_policies
    return out

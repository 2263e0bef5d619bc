"""BackupVault: the hardened S3 bucket that keeps every table's native exports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from components.backup.policies import vault_bucket_policy
from components.config.backup import BackupSpec
from components.config.readers import same_account_problem
from components.staging.policies import StagingReader, staging_reader_grants, vault_key_policy
from conventions.vault import EXPORTS_ROOT


@dataclass(frozen=True)
class BackupVaultArgs:
    """Inputs of a BackupVault."""

    backup: BackupSpec
    """Retention, cold storage, Object Lock and key settings (`safetynet:backup`)."""
    tags: dict[str, str]
    """Tags for every taggable child (environment, stack, managed-by)."""
    protect: bool
    """Pulumi `protect` and `retain_on_delete` on the bucket and key (prod)."""
    staging_readers: Sequence[StagingReader] = ()
    """Test stacks in other accounts granted read access to their tables' export prefixes
    (`safetynet:stagingReaders`): bucket policy statements and, on the stack's own key, a key policy."""
    account_id: pulumi.Input[str] | None = None
    """The stack's account: the key policy's owner, and no reader may be in it (needed with readers)."""


class BackupVault(pulumi.ComponentResource):
    """S3 bucket for exports: versioned, KMS-encrypted with a bucket key, all public access
    blocked, bucket-owner-enforced, TLS-only, object deletion denied, lifecycle-managed,
    optional Object Lock, S3 events to EventBridge (the staging pipeline's trigger)."""

    bucket_name: pulumi.Output[str]
    """Physical bucket name."""
    bucket_arn: pulumi.Output[str]
    """Bucket ARN."""
    kms_key_arn: pulumi.Output[str]
    """ARN of the key that encrypts the vault (configured or created here)."""
    versioning: aws.s3.BucketVersioning
    """The bucket's versioning: replication of the vault must wait for it."""
    reader_key_statements: pulumi.Output[list[dict[str, Any]]] | None
    """With staging readers and a configured `kmsKeyArn` (a key this stack does not manage): the
    key policy statements that key's owners must add. None otherwise."""

    def __init__(self, name: str, args: BackupVaultArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:backup:BackupVault", name, None, opts)
        b = args.backup
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)

        key: aws.kms.Key | None = None
        if b.kms_key_arn:
            self.kms_key_arn = pulumi.Output.from_input(b.kms_key_arn)
        else:
            key = vault_key(name, description=f"safetynet backup vault {name}", tags=args.tags, keep=keep, opts=child)
            self.kms_key_arn = key.arn

        locked = b.object_lock != "off"
        bucket = vault_bucket(name, object_lock=locked, tags=args.tags, keep=keep)
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn

        grants = self._reader_grants(args, bucket.arn) if args.staging_readers else None
        self.versioning = harden_bucket(
            name,
            bucket=bucket,
            kms_key_arn=self.kms_key_arn,
            backup=b,
            default_lock=(b.object_lock, b.object_lock_days) if locked else None,
            opts=child,
            extra_statements=grants.apply(lambda g: g["bucketPolicy"]) if grants else None,
        )
        self.reader_key_statements = None
        if grants is not None and key is not None:
            # A policy of its own (not the key's `policy` input): removing the readers deletes it,
            # and the provider then restores KMS's default policy, revoking the grant.
            aws.kms.KeyPolicy(
                f"{name}-key-policy",
                key_id=key.key_id,
                policy=pulumi.Output.all(account_id=args.account_id, grants=grants).apply(
                    lambda a: json.dumps(
                        vault_key_policy(account_id=a["account_id"], statements=a["grants"]["keyPolicy"])
                    )
                ),
                opts=child,
            )
        elif grants is not None:
            self.reader_key_statements = grants.apply(lambda g: g["keyPolicy"])
        aws.s3.BucketNotification(f"{name}-events", bucket=bucket.id, eventbridge=True, opts=child)

        self.register_outputs(
            {"bucketName": self.bucket_name, "bucketArn": self.bucket_arn, "kmsKeyArn": self.kms_key_arn}
        )

    def _reader_grants(
        self, args: BackupVaultArgs, bucket_arn: pulumi.Output[str]
    ) -> pulumi.Output[dict[str, list[dict[str, Any]]]]:
        """The readers' bucket and key policy statements; fails the program when a reader is in this
        stack's own account (known only from the provider, at preview and update)."""
        if args.account_id is None:
            raise ValueError("BackupVault: staging_readers need account_id")
        readers = list(args.staging_readers)

        def build(a: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
            problems = [p for r in readers if (p := same_account_problem(r.where, r.account, a["account"]))]
            if problems:
                raise ValueError("; ".join(problems))
            return staging_reader_grants(bucket_arn=a["bucket_arn"], key_arn=a["key_arn"], readers=readers)

        return pulumi.Output.all(bucket_arn=bucket_arn, key_arn=self.kms_key_arn, account=args.account_id).apply(build)


def vault_key(
    name: str, *, description: str, tags: dict[str, str], keep: pulumi.ResourceOptions, opts: pulumi.ResourceOptions
) -> aws.kms.Key:
    """A bucket's own KMS key (rotation on, 30-day deletion window) and its alias
    `alias/safetynet/<name>`. `keep` carries protect/retain for the key, `opts` the alias's."""
    key = aws.kms.Key(
        f"{name}-key",
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        tags=tags,
        opts=keep,
    )
    aws.kms.Alias(f"{name}-key-alias", name=f"alias/safetynet/{name}", target_key_id=key.key_id, opts=opts)
    return key


def vault_bucket(name: str, *, object_lock: bool, tags: dict[str, str], keep: pulumi.ResourceOptions) -> aws.s3.Bucket:
    """The bucket of a vault (or its replica): named from `name`, never force-destroyed, with
    Object Lock enabled when asked (it can only be turned on at creation)."""
    return aws.s3.Bucket(
        f"{name}-bucket",
        bucket_prefix=f"{name}-"[:37],
        object_lock_enabled=object_lock or None,
        force_destroy=False,
        tags=tags,
        opts=keep,
    )


def secure_bucket(
    name: str,
    *,
    bucket: aws.s3.Bucket,
    kms_key_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    extra_statements: pulumi.Input[Sequence[dict[str, Any]]] | None = None,
) -> aws.s3.BucketVersioning:
    """The baseline of every bucket that holds table data (the vault, its replica, staging's
    masked copies): all public access blocked, bucket-owner-enforced, versioning, SSE-KMS with
    a bucket key, and the TLS-only / no-delete policy (plus `extra_statements`, e.g. the vault's
    staging reader grants). Children are named `<name>-<purpose>`.
    Returns the versioning resource: lifecycle, locks and replication must wait for it."""
    pab = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=opts,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=opts,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": kms_key_arn,
                },
                "bucket_key_enabled": True,
            }
        ],
        opts=opts,
    )
    aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=pulumi.Output.all(bucket_arn=bucket.arn, statements=extra_statements or []).apply(
            lambda a: json.dumps(_with_statements(vault_bucket_policy(a["bucket_arn"]), a["statements"]))
        ),
        # The public access block must exist first, or a policy change could race it.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[pab])),
    )
    return versioning


def _with_statements(policy: dict[str, Any], statements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {**policy, "Statement": [*policy["Statement"], *statements]} if statements else policy


def harden_bucket(
    name: str,
    *,
    bucket: aws.s3.Bucket,
    kms_key_arn: pulumi.Input[str],
    backup: BackupSpec,
    default_lock: tuple[str, int | None] | None,
    opts: pulumi.ResourceOptions,
    extra_statements: pulumi.Input[Sequence[dict[str, Any]]] | None = None,
) -> aws.s3.BucketVersioning:
    """The hardening every bucket that keeps exports gets (the vault and its replica): all public
    access blocked, bucket-owner-enforced, versioning, SSE-KMS with a bucket key, the TLS-only /
    no-delete policy, the exports lifecycle and, with `default_lock` (mode, days), Object Lock
    default retention. `opts` carries the parent (and the provider, for another region); the
    children are named `<name>-<purpose>` as BackupVault always named them. Returns the
    versioning resource: replication and lifecycle must wait for it."""
    versioning = secure_bucket(
        name, bucket=bucket, kms_key_arn=kms_key_arn, opts=opts, extra_statements=extra_statements
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=bucket.id,
        rules=cast(Any, lifecycle_rules(backup)),
        # Lifecycle on a versioned bucket needs versioning in place first.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[versioning])),
    )
    if default_lock is not None:
        mode, days = default_lock
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-object-lock",
            bucket=bucket.id,
            object_lock_enabled="Enabled",
            rule={"default_retention": {"mode": mode.upper(), "days": days}},
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[versioning])),
        )
    return versioning


def lifecycle_rules(b: BackupSpec) -> list[dict[str, object]]:
    """Lifecycle of the exports: optional cold transition, expiry after retentionDays, expiry of
    noncurrent versions, clean-up of delete markers and incomplete multipart uploads."""
    exports: dict[str, object] = {
        "id": "exports-retention",
        "status": "Enabled",
        "filter": {"prefix": f"{EXPORTS_ROOT}/"},
        "expiration": {"days": b.retention_days},
        "noncurrent_version_expiration": {"noncurrent_days": b.noncurrent_version_days},
    }
    if b.cold_storage_after_days is not None:
        exports["transitions"] = [{"days": b.cold_storage_after_days, "storage_class": b.cold_storage_class}]
    return [
        exports,
        {
            "id": "housekeeping",
            "status": "Enabled",
            "filter": {},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            "expiration": {"expired_object_delete_marker": True},
        },
    ]

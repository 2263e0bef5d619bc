"""IAM and resource policy documents of the backup flow, as pure functions returning dicts.

The nightly exports' scheduler role (one per stack, shared by every table's schedule) may export
only the tables that carry this stack's tag, write only under the vault's `exports/` prefix with
the vault key, and dead-letter failed invocations: its size does not grow with the tables. The
vault (and every bucket that holds table data) denies plain HTTP and deleting objects to every
principal.

The replication role may read only the export prefix of the vault, write only replicas under the
same prefix of the replica bucket, and use each KMS key only through S3 in that key's region for
that bucket. It cannot delete anything: delete markers are not replicated, so no
`s3:ReplicateDelete`.
"""

from __future__ import annotations

from typing import Any

from conventions.tags import STACK_TAG
from conventions.vault import EXPORTS_ROOT

Policy = dict[str, Any]

# DynamoDB writes the export's objects (data files, manifests) with these calls; it also
# aborts multipart uploads it cannot finish. See "Requesting a table export in DynamoDB".
EXPORT_S3_ACTIONS = ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]
# SSE-KMS writes need a data key; multipart uploads need Decrypt to assemble the parts.
KMS_WRITE_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]

# What S3 replication reads from the source (the object version and its metadata); with Object
# Lock on the source it also copies retention and legal hold, which it must be allowed to read.
SOURCE_OBJECT_ACTIONS = [
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionTagging",
]
SOURCE_LOCK_ACTIONS = ["s3:GetObjectLegalHold", "s3:GetObjectRetention"]
REPLICA_WRITE_ACTIONS = ["s3:ReplicateObject", "s3:ReplicateTags"]
# Cross-account: replicas become owned by the destination account (ownership override).
OWNER_OVERRIDE_ACTION = "s3:ObjectOwnerOverrideToBucketOwner"
# Replicas are encrypted with the destination key; with an S3 Bucket Key, S3 asks KMS for a data key.
REPLICA_KMS_ACTIONS = ["kms:Encrypt", "kms:GenerateDataKey"]


def dynamodb_table_arns(*, region: str, account_id: str) -> str:
    """Every DynamoDB table of an account in a region (scope further with a condition)."""
    return f"arn:aws:dynamodb:{region}:{account_id}:table/*"


def nightly_exports_policy(
    *, region: str, account_id: str, stack_tag: str, bucket_arn: str, kms_key_arn: str, dlq_arn: str
) -> Policy:
    """What the stack's nightly-export scheduler role may do: export the tables tagged as this
    stack's, write under the vault's exports prefix with the vault key, and dead-letter failed
    invocations. Nothing else, and nothing that lists the tables.

    ExportTableToPointInTime acts on the `table` resource type, whose condition keys include
    `aws:ResourceTag/${TagKey}` (Service Authorization Reference, Amazon DynamoDB): the tag scopes
    the grant to this stack's tables wherever they are added. DynamoDB evaluates tag conditions
    only where ABAC is on for the account (the default for most accounts; DynamoDB console,
    Settings); where it is off the condition never matches and every export is refused (loudly:
    scheduler retries, dead-letter queue, DisasterWatch's freshness alarms)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ExportThisStacksTables",
                "Effect": "Allow",
                "Action": ["dynamodb:ExportTableToPointInTime"],
                "Resource": [dynamodb_table_arns(region=region, account_id=account_id)],
                "Condition": {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": stack_tag}},
            },
            {
                # Each table writes under exports/<table>/ (the schedule's S3Prefix); exports/* holds
                # only exports, and the prefix does not grow with the tables.
                "Sid": "WriteExports",
                "Effect": "Allow",
                "Action": EXPORT_S3_ACTIONS,
                "Resource": [f"{bucket_arn}/{EXPORTS_ROOT}/*"],
            },
            {
                "Sid": "EncryptWithVaultKey",
                "Effect": "Allow",
                "Action": KMS_WRITE_ACTIONS,
                "Resource": [kms_key_arn],
            },
            {
                "Sid": "DeadLetterFailedInvocations",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [dlq_arn],
            },
        ],
    }


def vault_bucket_policy(bucket_arn: str) -> Policy:
    """Deny plain-HTTP access and deny deleting objects or versions, to every principal.

    Lifecycle expiry is not an API call and is not affected, so retention still works. The
    bucket's own policy, lifecycle and versioning stay changeable by the owners (a deny there
    risks locking them out); DisasterWatch alerts on those changes instead.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyDeletingBackups",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": [f"{bucket_arn}/*"],
            },
        ],
    }


def _via_s3(region: str, bucket_arn: str, prefix: str) -> dict[str, Any]:
    """KMS conditions: only through S3 in `region`, only for this bucket (the encryption context is
    the bucket ARN with an S3 Bucket Key, the object ARN without)."""
    return {
        "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/{prefix}/*"]},
    }


def replication_role_policy(
    *,
    source_bucket_arn: str,
    source_key_arn: str,
    source_region: str,
    replica_bucket_arn: str,
    replica_key_arn: str,
    replica_region: str,
    prefix: str,
    source_locked: bool,
    owner_override: bool,
) -> Policy:
    """What S3 may do when it assumes the replication role: read versions under `prefix` in the
    vault, write replicas under `prefix` in the replica bucket, and use each key for that only."""
    read_actions = SOURCE_OBJECT_ACTIONS + (SOURCE_LOCK_ACTIONS if source_locked else [])
    write_actions = REPLICA_WRITE_ACTIONS + ([OWNER_OVERRIDE_ACTION] if owner_override else [])
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadReplicationConfiguration",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": [source_bucket_arn],
            },
            {
                "Sid": "ReadExportVersions",
                "Effect": "Allow",
                "Action": sorted(read_actions),
                "Resource": [f"{source_bucket_arn}/{prefix}/*"],
            },
            {
                "Sid": "WriteReplicas",
                "Effect": "Allow",
                "Action": sorted(write_actions),
                "Resource": [f"{replica_bucket_arn}/{prefix}/*"],
            },
            {
                "Sid": "DecryptExports",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [source_key_arn],
                "Condition": _via_s3(source_region, source_bucket_arn, prefix),
            },
            {
                "Sid": "EncryptReplicas",
                "Effect": "Allow",
                "Action": REPLICA_KMS_ACTIONS,
                "Resource": [replica_key_arn],
                "Condition": _via_s3(replica_region, replica_bucket_arn, prefix),
            },
        ],
    }


def replica_destination_bucket_policy(*, replica_bucket_arn: str, role_arn: str, prefix: str) -> Policy:
    """The bucket policy the replica account applies to its bucket: the vault's own TLS-only and
    no-delete rules, plus replication writes (with ownership override) from the source role only."""
    base = vault_bucket_policy(replica_bucket_arn)
    return {
        "Version": "2012-10-17",
        "Statement": [
            *base["Statement"],
            {
                "Sid": "AllowReplicationFromSafetynetVault",
                "Effect": "Allow",
                "Principal": {"AWS": role_arn},
                "Action": sorted([*REPLICA_WRITE_ACTIONS, OWNER_OVERRIDE_ACTION]),
                "Resource": [f"{replica_bucket_arn}/{prefix}/*"],
            },
            {
                "Sid": "AllowReplicationVersioningCheck",
                "Effect": "Allow",
                "Principal": {"AWS": role_arn},
                "Action": ["s3:GetBucketVersioning"],
                "Resource": [replica_bucket_arn],
            },
        ],
    }


def replica_destination_key_statement(*, role_arn: str, replica_region: str, replica_bucket_arn: str) -> Policy:
    """The statement the replica account adds to its KMS key's policy (in a key policy, Resource
    `*` means this key): the source role may encrypt replicas through S3 for that bucket only."""
    return {
        "Sid": "AllowSafetynetReplicationToEncrypt",
        "Effect": "Allow",
        "Principal": {"AWS": role_arn},
        "Action": REPLICA_KMS_ACTIONS,
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:ViaService": f"s3.{replica_region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [replica_bucket_arn, f"{replica_bucket_arn}/*"]},
        },
    }

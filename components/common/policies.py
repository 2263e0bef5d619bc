"""IAM and resource policy documents as small pure functions returning dicts.

Every document here is unit-tested on its own and linted with parliament. ARNs come in as
plain strings so the functions can be called with resolved Output values (inside `.apply`,
which only computes JSON here and never creates resources).
"""

from __future__ import annotations

from typing import Any

Policy = dict[str, Any]

# DynamoDB writes the export's objects (data files, manifests) with these calls; it also
# aborts multipart uploads it cannot finish. See "Requesting a table export in DynamoDB".
EXPORT_S3_ACTIONS = ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]
# SSE-KMS writes need a data key; multipart uploads need Decrypt to assemble the parts.
KMS_WRITE_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


def assume_role_policy(service: str, account_id: str, source_arn: str | None = None) -> Policy:
    """Trust policy for an AWS service, pinned to this account (confused-deputy protection)."""
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }
        ],
    }


def export_job_policy(*, table_arn: str, bucket_arn: str, export_prefix: str, kms_key_arn: str, dlq_arn: str) -> Policy:
    """What the nightly export's scheduler role may do: export this table, write under its
    prefix in the vault with the vault key, and dead-letter failed invocations. Nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ExportThisTable",
                "Effect": "Allow",
                "Action": ["dynamodb:ExportTableToPointInTime"],
                "Resource": [table_arn],
            },
            {
                "Sid": "WriteThisTablesExports",
                "Effect": "Allow",
                "Action": EXPORT_S3_ACTIONS,
                "Resource": [f"{bucket_arn}/{export_prefix}/*"],
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

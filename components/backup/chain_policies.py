"""IAM documents of the chain of incremental exports, as pure functions returning dicts.

The chain task (one Lambda per stack) may export the tables that carry the stack's tag, describe
exports, write only into the tables' `incremental/` folders of the vault with the vault key, read
the vault's export summaries (to find each table's newest full export), read and write its ledger,
publish metrics in the `safetynet` namespace, write its own logs and dead-letter failed runs. Its
scheduler role may invoke that one function and dead-letter what it could not deliver. Neither
document grows with the number of tables (the scope is the stack tag and the vault's prefixes).

Checked in the Service Authorization Reference ("Actions, resources, and condition keys for
Amazon DynamoDB"): ExportTableToPointInTime acts on the `table` resource type, whose condition keys
include `aws:ResourceTag/${TagKey}`; DescribeExport acts on the `export` resource type
(`arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/export/${ExportName}`), which
lists no condition key, so no tag can scope it.
"""

from __future__ import annotations

from typing import Any

from components.backup.policies import EXPORT_S3_ACTIONS, KMS_WRITE_ACTIONS, dynamodb_table_arns
from conventions.chain import INCREMENTAL_FOLDER
from conventions.tags import STACK_TAG
from conventions.vault import EXPORTS_ROOT
from conventions.watch import METRIC_NAMESPACE

Policy = dict[str, Any]


def chain_task_policy(
    *,
    region: str,
    account_id: str,
    stack_tag: str,
    bucket_arn: str,
    kms_key_arn: str,
    ledger_arn: str,
    log_group_arn: str,
    dlq_arn: str,
) -> Policy:
    """What the chain task may do (see the module's docstring)."""
    tables = dynamodb_table_arns(region=region, account_id=account_id)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ExportThisStacksTables",
                "Effect": "Allow",
                "Action": ["dynamodb:ExportTableToPointInTime"],
                "Resource": [tables],
                "Condition": {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": stack_tag}},
            },
            {
                # The `export` resource has no condition keys: every export of this account and
                # region. Read-only (state, counts, failure message), nothing of the data.
                "Sid": "DescribeExports",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeExport"],
                "Resource": [f"{tables}/export/*"],
            },
            {
                # Only the tables' incremental folders: the chain never writes a full export.
                "Sid": "WriteIncrementalExports",
                "Effect": "Allow",
                "Action": EXPORT_S3_ACTIONS,
                "Resource": [f"{bucket_arn}/{EXPORTS_ROOT}/*/{INCREMENTAL_FOLDER}/*"],
            },
            {
                "Sid": "EncryptWithVaultKey",
                "Effect": "Allow",
                "Action": KMS_WRITE_ACTIONS,
                "Resource": [kms_key_arn],
            },
            {
                "Sid": "ListExports",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [bucket_arn],
                "Condition": {"StringLike": {"s3:prefix": [f"{EXPORTS_ROOT}/*"]}},
            },
            {
                # The newest full export of a table (the chain's anchor), and the windows already
                # in the vault when a chain begins: summaries only, never the data.
                "Sid": "ReadExportSummaries",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/{EXPORTS_ROOT}/*/manifest-summary.json"],
            },
            {
                "Sid": "Ledger",
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem", "dynamodb:Scan"],
                "Resource": [ledger_arn],
            },
            {
                # PutMetricData has no resource type; the namespace condition is its scope.
                "Sid": "PublishSafetynetMetrics",
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricData"],
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{log_group_arn}:log-stream:*"],
            },
            {
                # Lambda's on-failure destination of the asynchronous invocation.
                "Sid": "DeadLetterFailedRuns",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [dlq_arn],
            },
        ],
    }


def chain_scheduler_policy(*, function_arn: str, dlq_arn: str) -> Policy:
    """What the chain's schedule may do: invoke the chain task, dead-letter what it cannot deliver."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeChainTask",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [function_arn],
            },
            {"Sid": "DeadLetterUndelivered", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [dlq_arn]},
        ],
    }

"""IAM documents of the staging pipeline, as pure functions (ARNs in, dicts out).

Least privilege with a second lock: the task role may read only prod's export prefixes (and use
the vault key to decrypt), write only the masking bucket's `masked/` prefix, and change only the
test stack's own tables - by ARN AND, for every action on an existing table that changes data or
settings, by the `safetynet:staging-target` tag. The task code checks the same tag (the guard).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conventions.tags import STAGING_TARGET_TAG
from conventions.vault import MASK_PREFIX

Policy = dict[str, Any]


@dataclass(frozen=True)
class ExportSource:
    """Where one prod table's exports live."""

    bucket_arn: str
    prefix: str
    """`exports/<table>` (no trailing slash)."""


def table_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def _tag_condition(stack: str) -> dict[str, Any]:
    return {"StringEquals": {f"aws:ResourceTag/{STAGING_TARGET_TAG}": stack}}


def staging_task_policy(
    *,
    stack: str,
    region: str,
    account: str,
    test_tables: Sequence[str],
    sources: Sequence[ExportSource],
    vault_key_arn: str,
    ledger_arn: str,
    mask_bucket_arn: str,
    staging_key_arn: str,
    secret_name: str | None,
    function_name: str,
) -> Policy:
    """What the staging Lambda may do, and nothing else. ARNs of this stack's own function log
    group and secret are built from their (fixed) names."""
    log_group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function_name}"
    import_logs = f"arn:aws:logs:{region}:{account}:log-group:/aws-dynamodb/*"
    tables = [table_arn(region, account, t) for t in test_tables]
    buckets = sorted({s.bucket_arn for s in sources})
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadProdExports",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": sorted(f"{s.bucket_arn}/{s.prefix}/*" for s in sources),
        },
        {
            # Without ListBucket a missing data file reads as 403, not 404; only these prefixes.
            "Sid": "ListProdExports",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": buckets,
            "Condition": {"StringLike": {"s3:prefix": sorted(f"{s.prefix}/*" for s in sources)}},
        },
        {
            "Sid": "DecryptProdExports",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [vault_key_arn],
        },
        {
            "Sid": "WriteMaskedCopies",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": [f"{mask_bucket_arn}/{MASK_PREFIX}/*"],
        },
        {
            "Sid": "ListMaskedCopies",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [mask_bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": [f"{MASK_PREFIX}/*"]}},
        },
        {
            "Sid": "UseStagingKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [staging_key_arn],
        },
        {
            "Sid": "ReadTestTables",
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeTable",
                "dynamodb:ListTagsOfResource",
                "dynamodb:DescribeTimeToLive",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:GetItem",
                "dynamodb:Scan",
            ],
            "Resource": tables,
        },
        {
            "Sid": "ChangeTaggedTestTables",
            "Effect": "Allow",
            "Action": [
                "dynamodb:BatchWriteItem",
                "dynamodb:DeleteTable",
                "dynamodb:UpdateTable",
                "dynamodb:UpdateTimeToLive",
                "dynamodb:UpdateContinuousBackups",
            ],
            "Resource": tables,
            "Condition": _tag_condition(stack),
        },
        {
            # ImportTable creates the table, which has no tags yet: scoped by ARN only.
            "Sid": "ImportIntoTestTables",
            "Effect": "Allow",
            "Action": ["dynamodb:ImportTable", "dynamodb:DescribeImport"],
            "Resource": tables + [f"{t}/import/*" for t in tables],
        },
        {
            # Re-tagging after an import may only (re)mark the table as this stack's target.
            "Sid": "RetagImportedTestTables",
            "Effect": "Allow",
            "Action": ["dynamodb:TagResource"],
            "Resource": tables,
            "Condition": {"StringEquals": {f"aws:RequestTag/{STAGING_TARGET_TAG}": stack}},
        },
        {
            # ImportTable writes its error log to CloudWatch Logs as the caller.
            "Sid": "ImportLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
                "logs:PutRetentionPolicy",
            ],
            "Resource": [import_logs, f"{import_logs}:log-stream:*"],
        },
        {
            "Sid": "Ledger",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Resource": [ledger_arn],
        },
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{log_group}:log-stream:*"],
        },
    ]
    if secret_name:
        statements.append(
            {
                "Sid": "ReadMaskingKey",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                # Secrets Manager appends 6 random characters to a secret's name in its ARN.
                "Resource": [f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_name}-??????"],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def state_machine_policy(
    *,
    region: str,
    account: str,
    state_machine_name: str,
    function_name: str,
    test_tables: Sequence[str],
    sources: Sequence[ExportSource],
    vault_key_arn: str,
    mask_bucket_arn: str,
    staging_key_arn: str,
    topic_arn: str,
) -> Policy:
    """What the state machine may do: invoke the task, poll the test tables and imports, read
    manifest-files.json for the Distributed Maps, run its own child executions, notify."""
    tables = [table_arn(region, account, t) for t in test_tables]
    machine = f"arn:aws:states:{region}:{account}:stateMachine:{state_machine_name}"
    function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeTasks",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [function_arn, f"{function_arn}:*"],
            },
            {
                "Sid": "PollTestTables",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeTable", "dynamodb:DescribeImport"],
                "Resource": tables + [f"{t}/import/*" for t in tables],
            },
            {
                "Sid": "ReadManifests",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [
                    *sorted(f"{s.bucket_arn}/{s.prefix}/*" for s in sources),
                    f"{mask_bucket_arn}/{MASK_PREFIX}/*",
                ],
            },
            {
                "Sid": "DecryptManifests",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [vault_key_arn, staging_key_arn],
            },
            {
                # A Distributed Map runs its children as executions of this state machine.
                "Sid": "RunChildExecutions",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": [machine],
            },
            {
                "Sid": "ManageChildExecutions",
                "Effect": "Allow",
                "Action": ["states:DescribeExecution", "states:StopExecution"],
                # Child executions are named `<machine>/<map run>:<id>`. The express form names the
                # same machine's executions; IAM lint (parliament) expects both resource types.
                "Resource": [
                    f"arn:aws:states:{region}:{account}:execution:{state_machine_name}/*",
                    f"arn:aws:states:{region}:{account}:execution:{state_machine_name}:*",
                    f"arn:aws:states:{region}:{account}:express:{state_machine_name}:*:*",
                ],
            },
            {
                "Sid": "Notify",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": [topic_arn],
            },
            {
                "Sid": "EncryptNotifications",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey"],
                "Resource": [staging_key_arn],
            },
        ],
    }


def start_execution_policy(state_machine_arn: str) -> Policy:
    """EventBridge's role: start this state machine, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StartStaging",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": [state_machine_arn],
            }
        ],
    }


def cross_account_vault_grants(
    *,
    bucket_arn: str,
    key_arn: str,
    sources: Sequence[ExportSource],
    staging_role_arns: Sequence[str],
    sid_suffix: str = "",
) -> dict[str, list[dict[str, Any]]]:
    """The statements the PROD account adds when the test stack runs in another account: to the
    vault's bucket policy (read and list these export prefixes) and to the vault key's policy
    (decrypt, only through S3 in the key's region, only for this bucket). Same-account setups need
    neither (identity policies suffice). `sid_suffix` (e.g. the reader's account) keeps the Sids
    unique when several readers share one policy."""
    principals = {"AWS": sorted(staging_role_arns)}
    region = key_arn.split(":")[3]
    return {
        "bucketPolicy": [
            {
                "Sid": f"StagingReadsExports{sid_suffix}",
                "Effect": "Allow",
                "Principal": principals,
                "Action": ["s3:GetObject"],
                "Resource": sorted(f"{s.bucket_arn}/{s.prefix}/*" for s in sources),
            },
            {
                "Sid": f"StagingListsExports{sid_suffix}",
                "Effect": "Allow",
                "Principal": principals,
                "Action": ["s3:ListBucket"],
                "Resource": [bucket_arn],
                "Condition": {"StringLike": {"s3:prefix": sorted(f"{s.prefix}/*" for s in sources)}},
            },
        ],
        "keyPolicy": [
            {
                "Sid": f"StagingDecryptsExports{sid_suffix}",
                "Effect": "Allow",
                "Principal": principals,
                "Action": ["kms:Decrypt"],
                "Resource": "*",  # in a key policy, "*" means this key
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                    # The vault uses an S3 Bucket Key: its encryption context is the bucket's ARN.
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]},
                },
            }
        ],
    }


@dataclass(frozen=True)
class StagingReader:
    """A test stack in another account that stages some of this vault's exports."""

    where: str
    """Its config path (`safetynet:stagingReaders[0]`), for messages."""
    account: str
    role_arns: tuple[str, ...]
    """The test stack's staging roles (its outputs taskRoleArn, stateMachineRoleArn)."""
    prefixes: tuple[str, ...]
    """The export prefixes (`exports/<table>`) of the tables it stages."""
    region: str | None = None
    """The test stack's region (its default event bus); None: the vault's region."""


def staging_reader_grants(
    *, bucket_arn: str, key_arn: str, readers: Sequence[StagingReader]
) -> dict[str, list[dict[str, Any]]]:
    """Every reader's `cross_account_vault_grants`, its Sids suffixed with its account."""
    out: dict[str, list[dict[str, Any]]] = {"bucketPolicy": [], "keyPolicy": []}
    for r in readers:
        grants = cross_account_vault_grants(
            bucket_arn=bucket_arn,
            key_arn=key_arn,
            sources=[ExportSource(bucket_arn, p) for p in r.prefixes],
            staging_role_arns=r.role_arns,
            sid_suffix=r.account,
        )
        out["bucketPolicy"] += grants["bucketPolicy"]
        out["keyPolicy"] += grants["keyPolicy"]
    return out


def default_key_policy_statement(account_id: str) -> dict[str, Any]:
    """The one statement of the key policy KMS attaches when none is given (and that the provider
    restores when a managed key policy is removed): the owning account's IAM policies decide."""
    return {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def vault_key_policy(*, account_id: str, statements: Sequence[dict[str, Any]]) -> Policy:
    """The vault key's policy with grants: KMS's default statement (without it the owners lose
    the key) followed by `statements`."""
    return {"Version": "2012-10-17", "Statement": [default_key_policy_statement(account_id), *statements]}


def event_bus_arn(region: str, account: str, name: str = "default") -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def forward_exports_policy(bus_arn: str) -> Policy:
    """The forwarding rule's role (prod account): put events on the reader's bus, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ForwardExportEvents",
                "Effect": "Allow",
                "Action": ["events:PutEvents"],
                "Resource": [bus_arn],
            }
        ],
    }

"""IAM documents of the staging pipeline, as pure functions (ARNs in, dicts out).

Least privilege with a second lock, and nothing that grows with the number of tables (IAM counts
all inline policies of a role together against 10,240 characters): the task role may read only
prod's `exports/` prefix (and use the vault key to decrypt), write only the masking bucket's
`masked/` prefix, and change only tables inside the stack's name scope (`table_name_scope`) that
carry this stack's `safetynet:staging-target` tag. The task code checks the same tag (the guard),
and stages only exports of the tables this stack registered (the targets in its ledger).

Every DynamoDB action below acts on the `table` resource type, whose condition keys include
`aws:ResourceTag/${TagKey}`, except DescribeImport (the `import` resource type, no condition
keys); TagResource also takes `aws:RequestTag/${TagKey}` and `aws:TagKeys` (Service Authorization
Reference, Amazon DynamoDB). A condition key the request does not carry makes a positive operator
(StringEquals) false and a negative one (StringNotEquals) true (IAM User Guide, condition
operators): so a tag condition also refuses a table that does not exist (yet). The actions that
must work on one (describing or polling a deleted table, ImportTable) are scoped by name instead,
and marking the imported table as the stack's by name and the absence of any safetynet tag
(`Null`, which tests whether the key is present), each with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.common.policies import state_machine_log_delivery_statement
from conventions.tags import STACK_TAG, STAGING_TARGET_TAG
from conventions.vault import EXPORTS_ROOT, MASK_PREFIX

Policy = dict[str, Any]


def table_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def table_name_scope(names: Sequence[str]) -> str:
    """The narrowest IAM name pattern of the form `<prefix>*<suffix>` that matches every name:
    with the default table name pattern `{name}-test`, `*-test`. One name is its own scope.
    It does not grow with the tables; the tag conditions do the rest."""
    if not names:
        raise ValueError("a staging pipeline needs at least one test table")
    unique = sorted(set(names))
    if len(unique) == 1:
        return unique[0]
    prefix = _common_start(unique)
    suffix = _common_start([n[::-1] for n in unique])[::-1]
    # Prefix and suffix must not overlap inside the shortest name.
    room = min(len(n) for n in unique) - len(prefix)
    suffix = suffix[len(suffix) - room :] if len(suffix) > room else suffix
    return f"{prefix}*{suffix}"


def _common_start(texts: Sequence[str]) -> str:
    """The longest string every text starts with (characters, not path components)."""
    first, last = min(texts), max(texts)
    n = 0
    while n < len(first) and first[n] == last[n]:
        n += 1
    return first[:n]


def export_objects(bucket_arn: str) -> str:
    """Every object under the vault's exports prefix (prod's exports of every table)."""
    return f"{bucket_arn}/{EXPORTS_ROOT}/*"


def _staging_target(stack: str) -> dict[str, Any]:
    return {"StringEquals": {f"aws:ResourceTag/{STAGING_TARGET_TAG}": stack}}


def staging_task_policy(
    *,
    stack: str,
    region: str,
    account: str,
    test_tables: Sequence[str],
    vault_bucket_arn: str,
    vault_key_arn: str,
    ledger_arn: str,
    mask_bucket_arn: str,
    staging_key_arn: str,
    secret_name: str | None,
    function_name: str,
) -> Policy:
    """What the staging Lambda may do, and nothing else. ARNs of this stack's own function log
    group and secret are built from their (fixed) names. Its size does not depend on the number
    of tables: they appear only through their name scope."""
    log_group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function_name}"
    import_logs = f"arn:aws:logs:{region}:{account}:log-group:/aws-dynamodb/*"
    tables = table_arn(region, account, table_name_scope(test_tables))
    statements: list[dict[str, Any]] = [
        {
            # Every table's exports: S3 has no condition key that could select tables under one
            # prefix, and a list of prefixes grows with them. The task reads an export only after
            # finding its table among this stack's targets (the `resolve` task).
            "Sid": "ReadProdExports",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [export_objects(vault_bucket_arn)],
        },
        {
            # Without ListBucket a missing data file reads as 403, not 404; only the exports prefix.
            "Sid": "ListProdExports",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [vault_bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": [f"{EXPORTS_ROOT}/*"]}},
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
            # Metadata only, by name: the guard must see an untagged table to refuse it (and a
            # deleted one to know a replace was interrupted), which a tag condition would turn
            # into AccessDenied.
            "Sid": "DescribeTestTables",
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeTable",
                "dynamodb:ListTagsOfResource",
                "dynamodb:DescribeTimeToLive",
                "dynamodb:DescribeContinuousBackups",
            ],
            "Resource": [tables],
        },
        {
            "Sid": "ReadTaggedTestTables",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Scan"],
            "Resource": [tables],
            "Condition": _staging_target(stack),
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
            "Resource": [tables],
            "Condition": _staging_target(stack),
        },
        {
            # ImportTable creates the table, which has no tags yet (ImportTable takes none), and
            # cannot overwrite an existing one: scoped by name only.
            "Sid": "ImportIntoTestTables",
            "Effect": "Allow",
            "Action": ["dynamodb:ImportTable"],
            "Resource": [tables],
        },
        {
            # The `import` resource type has no condition keys.
            "Sid": "PollImports",
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeImport"],
            "Resource": [f"{tables}/import/*"],
        },
        {
            # Marking the table ImportTable just created as this stack's target. That table has no
            # tags at all; every table safetynet declares (the ledger included, whose name may
            # fall inside the scope) carries the stack tag, so none of them can be claimed.
            "Sid": "TagImportedTestTables",
            "Effect": "Allow",
            "Action": ["dynamodb:TagResource"],
            "Resource": [tables],
            "Condition": {
                "StringEquals": {f"aws:RequestTag/{STAGING_TARGET_TAG}": stack},
                "Null": {f"aws:ResourceTag/{STACK_TAG}": "true", f"aws:ResourceTag/{STAGING_TARGET_TAG}": "true"},
            },
        },
        {
            # Re-tagging a table already this stack's target (a retried finish of a replace).
            "Sid": "RetagTestTables",
            "Effect": "Allow",
            "Action": ["dynamodb:TagResource"],
            "Resource": [tables],
            "Condition": {
                "StringEquals": {
                    f"aws:RequestTag/{STAGING_TARGET_TAG}": stack,
                    f"aws:ResourceTag/{STAGING_TARGET_TAG}": stack,
                },
            },
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
            # Run records and the targets the stack registered (see `ledger_records_only`).
            "Sid": "ReadLedger",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": [ledger_arn],
        },
        {
            "Sid": "RecordRuns",
            "Effect": "Allow",
            "Action": ["dynamodb:UpdateItem"],
            "Resource": [ledger_arn],
            "Condition": ledger_records_only(),
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


def ledger_records_only() -> dict[str, Any]:
    """The ledger keys the task may write: run records, keyed by a table's logical name, which has
    no `/`; never a target, keyed by its export prefix (`exports/<table>`), which only the stack
    writes (`dynamodb:LeadingKeys`, the partition key of the item written)."""
    return {"ForAllValues:StringNotLike": {"dynamodb:LeadingKeys": ["*/*"]}}


def state_machine_policy(
    *,
    region: str,
    account: str,
    state_machine_name: str,
    function_name: str,
    test_tables: Sequence[str],
    vault_bucket_arn: str,
    vault_key_arn: str,
    mask_bucket_arn: str,
    staging_key_arn: str,
    topic_arn: str,
) -> Policy:
    """What the state machine may do: invoke the task, poll the test tables and imports, read
    manifest-files.json for the Distributed Maps, run its own child executions, notify. Its size
    does not depend on the number of tables."""
    tables = table_arn(region, account, table_name_scope(test_tables))
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
                # By name, not tag: the replace waits for DescribeTable to answer
                # ResourceNotFoundException, which a tag condition would turn into AccessDenied.
                "Sid": "PollTestTables",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeTable", "dynamodb:DescribeImport"],
                "Resource": [tables, f"{tables}/import/*"],
            },
            {
                "Sid": "ReadManifests",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [export_objects(vault_bucket_arn), f"{mask_bucket_arn}/{MASK_PREFIX}/*"],
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
            # The machine logs its errors to CloudWatch Logs (its logging configuration).
            state_machine_log_delivery_statement(),
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
    prefixes: Sequence[str] | None,
    staging_role_arns: Sequence[str],
    sid_suffix: str = "",
) -> dict[str, list[dict[str, Any]]]:
    """The statements the PROD account adds when the test stack runs in another account: to the
    vault's bucket policy (read and list these export prefixes, or with `prefixes` None the whole
    exports prefix, every table's) and to the vault key's policy (decrypt, only through S3 in the
    key's region, only for this bucket). Same-account setups need neither (identity policies
    suffice). `sid_suffix` (e.g. the reader's account) keeps the Sids unique when several readers
    share one policy."""
    principals = {"AWS": sorted(staging_role_arns)}
    region = key_arn.split(":")[3]
    granted = [EXPORTS_ROOT] if prefixes is None else sorted(prefixes)
    return {
        "bucketPolicy": [
            {
                "Sid": f"StagingReadsExports{sid_suffix}",
                "Effect": "Allow",
                "Principal": principals,
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/{p}/*" for p in granted],
            },
            {
                "Sid": f"StagingListsExports{sid_suffix}",
                "Effect": "Allow",
                "Principal": principals,
                "Action": ["s3:ListBucket"],
                "Resource": [bucket_arn],
                "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in granted]}},
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
    prefixes: tuple[str, ...] | None
    """The export prefixes (`exports/<table>`) of the tables it selected; None: every table (the
    whole `exports/` prefix, whatever tables the stack has, so the grants do not grow with them)."""
    region: str | None = None
    """The test stack's region (its default event bus); None: the vault's region."""


def staging_reader_grants(
    *, bucket_arn: str, key_arn: str, readers: Sequence[StagingReader]
) -> dict[str, list[dict[str, Any]]]:
    """Every reader's `cross_account_vault_grants`, its Sids suffixed with its account: a fixed
    size per reader of every table, and one prefix per selected table otherwise."""
    out: dict[str, list[dict[str, Any]]] = {"bucketPolicy": [], "keyPolicy": []}
    for r in readers:
        grants = cross_account_vault_grants(
            bucket_arn=bucket_arn,
            key_arn=key_arn,
            prefixes=r.prefixes,
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

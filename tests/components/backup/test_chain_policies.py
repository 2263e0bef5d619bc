"""The chain's IAM documents (components/backup/chain_policies.py), linted with parliament and
evaluated: the task exports only the stack's tagged tables, writes only the vault's incremental
folders, reads only export summaries, and its documents are the same size for 1 or 1,000 tables."""

from __future__ import annotations

import json
from typing import Any

from components.backup.chain_policies import chain_scheduler_policy, chain_task_policy
from tests.support.iam_eval import allows, resource_tags
from tests.support.iam_lint import assert_clean
from tests.support.policies import statement

REGION = "eu-central-1"
ACCOUNT = "123456789012"
VAULT = "arn:aws:s3:::vault-abc"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aaaaaaaa-0000-0000-0000-000000000000"
LEDGER = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/safetynet-chain-ledger-prod"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/safetynet/prod/chain"
DLQ = f"arn:aws:sqs:{REGION}:{ACCOUNT}:incremental-exports-dlq-1a2b3c4"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:incremental-exports-task-1a2b3c4"
STACK = "safetynet/prod"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
OURS = resource_tags({"safetynet:stack": STACK, "safetynet:table": "orders"})
EXPORT = "dynamodb:ExportTableToPointInTime"


def task(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "region": REGION,
        "account_id": ACCOUNT,
        "stack_tag": STACK,
        "bucket_arn": VAULT,
        "kms_key_arn": KEY,
        "ledger_arn": LEDGER,
        "log_group_arn": LOGS,
        "dlq_arn": DLQ,
    }
    return chain_task_policy(**{**args, **changes})


def test_both_documents_are_lint_clean_and_only_allow() -> None:
    for doc in (task(), chain_scheduler_policy(function_arn=FUNCTION, dlq_arn=DLQ)):
        assert_clean(doc)
        assert all(s["Effect"] == "Allow" for s in doc["Statement"])


def test_the_task_exports_only_the_tables_tagged_with_its_stack() -> None:
    policy = task()
    assert allows(policy, EXPORT, TABLE, OURS)
    assert allows(policy, EXPORT, TABLE.replace("orders", "added-later"), resource_tags({"safetynet:stack": STACK}))
    assert not allows(policy, EXPORT, TABLE)
    assert not allows(policy, EXPORT, TABLE, resource_tags({"safetynet:stack": "safetynet/test"}))
    assert not allows(policy, EXPORT, TABLE.replace(REGION, "eu-west-1"), OURS)
    assert not allows(policy, EXPORT, TABLE.replace(ACCOUNT, "210987654321"), OURS)
    for action in ("dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:RestoreTableToPointInTime", "dynamodb:PutItem"):
        assert not allows(policy, action, TABLE, OURS), action


def test_the_task_describes_exports_of_its_account_and_region_only() -> None:
    policy = task()
    export = f"{TABLE}/export/01764471602123-aaaa"
    assert allows(policy, "dynamodb:DescribeExport", export)
    assert not allows(policy, "dynamodb:DescribeExport", export.replace(ACCOUNT, "210987654321"))
    assert not allows(policy, "dynamodb:DescribeExport", export.replace(REGION, "us-east-1"))


def test_the_task_writes_only_into_the_tables_incremental_folders_of_the_vault() -> None:
    policy = task()
    assert statement(policy, "WriteIncrementalExports")["Resource"] == [f"{VAULT}/exports/*/incremental/*"]
    window = f"{VAULT}/exports/orders/incremental/AWSDynamoDB/01764471602123-aaaa/manifest-summary.json"
    for action in ("s3:PutObject", "s3:AbortMultipartUpload", "s3:PutObjectAcl"):
        assert allows(policy, action, window)
    for resource in (
        f"{VAULT}/exports/orders/AWSDynamoDB/01764471602123-aaaa/data/x.json.gz",  # a full export's
        f"{VAULT}/drills/orders/latest.json",
        f"{VAULT}/exports-old/orders/incremental/x",
        "arn:aws:s3:::vault-replica/exports/orders/incremental/x",
    ):
        assert not allows(policy, "s3:PutObject", resource), resource
    assert not allows(policy, "s3:DeleteObject", window)


def test_the_task_reads_export_summaries_never_their_data() -> None:
    policy = task()
    assert allows(policy, "s3:GetObject", f"{VAULT}/exports/orders/AWSDynamoDB/0176-a/manifest-summary.json")
    assert allows(
        policy, "s3:GetObject", f"{VAULT}/exports/orders/incremental/AWSDynamoDB/0176-b/manifest-summary.json"
    )
    assert not allows(policy, "s3:GetObject", f"{VAULT}/exports/orders/AWSDynamoDB/0176-a/data/x.json.gz")
    assert not allows(policy, "s3:GetObject", f"{VAULT}/exports/orders/AWSDynamoDB/0176-a/manifest-files.json")
    assert not allows(policy, "s3:GetObject", f"{VAULT}/drills/orders/latest.json")
    assert allows(policy, "s3:ListBucket", VAULT, {"s3:prefix": "exports/orders/AWSDynamoDB/"})
    assert not allows(policy, "s3:ListBucket", VAULT, {"s3:prefix": "drills/"})
    assert not allows(policy, "s3:ListBucket", VAULT)


def test_the_task_uses_only_the_vault_key_its_ledger_its_logs_and_its_queue() -> None:
    policy = task()
    assert allows(policy, "kms:GenerateDataKey", KEY)
    assert not allows(policy, "kms:GenerateDataKey", KEY.replace("aaaaaaaa", "bbbbbbbb"))
    assert allows(policy, "dynamodb:PutItem", LEDGER) and allows(policy, "dynamodb:Scan", LEDGER)
    assert not allows(policy, "dynamodb:DeleteItem", LEDGER)
    assert not allows(policy, "dynamodb:PutItem", TABLE, OURS)
    assert allows(policy, "logs:PutLogEvents", f"{LOGS}:log-stream:2026/11/30/abc")
    assert not allows(policy, "logs:PutLogEvents", f"{LOGS.replace('chain', 'other')}:log-stream:x")
    assert allows(policy, "sqs:SendMessage", DLQ) and not allows(policy, "sqs:SendMessage", DLQ + "x")
    assert allows(policy, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "safetynet"})
    assert not allows(policy, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/DynamoDB"})


def test_the_schedule_invokes_only_the_chain_task() -> None:
    policy = chain_scheduler_policy(function_arn=FUNCTION, dlq_arn=DLQ)
    assert allows(policy, "lambda:InvokeFunction", FUNCTION)
    assert not allows(policy, "lambda:InvokeFunction", FUNCTION.replace("incremental-exports-task", "other"))
    assert not allows(policy, "dynamodb:ExportTableToPointInTime", TABLE, OURS)


def test_the_documents_do_not_grow_with_the_tables() -> None:
    # Nothing in them names a table: the same text for a stack of 1 or 1,000 tables
    text = json.dumps(task(), separators=(",", ":"))
    assert "orders" not in text and "table-0001" not in text
    assert len(text) < 2600

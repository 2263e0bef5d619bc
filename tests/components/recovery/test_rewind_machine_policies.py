"""The rewind machine's IAM documents, evaluated statement by statement (tests/support/iam_eval.py)
and linted (parliament): the task may read and revert items of the stack's tables only, read the
vault's `rewinds/` and write only runs' audits there, and tell the alert topic; the machine may
invoke that task, read the export's file list and run its own map's children. Neither grows with
the tables (no table is an input)."""

from __future__ import annotations

from typing import Any

import pytest

from components.recovery.rewind import rewind_machine_policy, rewind_task_policy
from conventions.tags import STACK_TAG
from handlers.rewind.audit import RunLocation
from tests.support.iam_eval import allows, resource_tags
from tests.support.iam_lint import assert_clean

REGION = "eu-central-1"
ACCOUNT = "123456789012"
BUCKET_ARN = "arn:aws:s3:::safetynet-prod-vault"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/vault-key"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:watch-alerts-0a1b2c3"
LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/safetynet/prod/rewind"
MACHINE = "safetynet-prod-rewind"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rewind-task-0a1b2c3"
OURS = resource_tags({STACK_TAG: "acme/prod"})
WINDOW = "rewinds/orders/20261126T030000.000000Z_20261126T031000.000000Z"
RUN = RunLocation("safetynet-prod-vault", WINDOW, "20261126T031500Z-abcdef")
VIA_S3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}


def table(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def obj(key: str) -> str:
    return f"{BUCKET_ARN}/{key}"


@pytest.fixture(scope="module")
def task() -> dict[str, Any]:
    return rewind_task_policy(
        region=REGION,
        account_id=ACCOUNT,
        stack_tag="acme/prod",
        bucket_arn=BUCKET_ARN,
        kms_key_arn=KEY_ARN,
        topic_arn=TOPIC_ARN,
        log_group_arn=LOG_GROUP,
    )


@pytest.fixture(scope="module")
def machine() -> dict[str, Any]:
    return rewind_machine_policy(
        region=REGION,
        account_id=ACCOUNT,
        state_machine_name=MACHINE,
        function_arn=FUNCTION_ARN,
        bucket_arn=BUCKET_ARN,
        kms_key_arn=KEY_ARN,
    )


def test_both_documents_pass_iam_lint(task: dict[str, Any], machine: dict[str, Any]) -> None:
    assert_clean(task)
    assert_clean(machine)


@pytest.mark.parametrize(
    "action",
    [
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:DescribeTable",
        "dynamodb:ListTagsOfResource",
    ],
)
def test_the_task_reads_and_reverts_items_of_the_stacks_tables_only(task: dict[str, Any], action: str) -> None:
    assert allows(task, action, table("orders"), OURS)
    assert allows(task, action, table("a-table-added-later"), OURS)
    assert not allows(task, action, table("orders"), resource_tags({STACK_TAG: "acme/test"}))
    assert not allows(task, action, table("payments"), {})
    assert not allows(task, action, f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders", OURS)


@pytest.mark.parametrize(
    "action",
    ["dynamodb:Scan", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteTable", "dynamodb:UpdateTable"],
)
def test_the_task_may_do_nothing_else_to_a_table(task: dict[str, Any], action: str) -> None:
    assert not allows(task, action, table("orders"), OURS)


def test_the_task_reads_rewinds_and_writes_only_the_runs_audit(task: dict[str, Any]) -> None:
    export = f"{WINDOW}/AWSDynamoDB/01796017832154-72621017/"
    # What the rewind engine and the task read...
    for key in (export + "manifest-summary.json", f"{WINDOW}/AWSDynamoDB/data/abc.json.gz", RUN.plan_key):
        assert allows(task, "s3:GetObject", obj(key)), key
    # ...and write: every key's outcome, each file's tally and problem, the summary
    for key in (RUN.outcomes_key("abc"), f"{RUN.prefix}tallies/abc.json", f"{RUN.prefix}problems/abc.json"):
        assert allows(task, "s3:PutObject", obj(key)) and allows(task, "s3:AbortMultipartUpload", obj(key)), key
    assert allows(task, "s3:PutObject", obj(RUN.summary_key))
    # Never the exports it rewinds from, the nightly exports, nor anything else of the vault
    assert not allows(task, "s3:PutObject", obj(export + "manifest-files.json"))
    assert not allows(task, "s3:PutObject", obj(f"{WINDOW}/AWSDynamoDB/data/abc.json.gz"))
    assert not allows(task, "s3:GetObject", obj("exports/orders/AWSDynamoDB/x/manifest-summary.json"))
    assert not allows(task, "s3:PutObject", obj("drills/orders/latest.json"))
    assert not allows(task, "s3:DeleteObject", obj(RUN.summary_key))
    assert allows(task, "s3:ListBucket", BUCKET_ARN, {"s3:prefix": f"{RUN.prefix}tallies/"})
    assert not allows(task, "s3:ListBucket", BUCKET_ARN, {"s3:prefix": "exports/"})


def test_the_task_uses_the_vault_key_only_through_s3(task: dict[str, Any]) -> None:
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert allows(task, action, KEY_ARN, VIA_S3)
        assert not allows(task, action, KEY_ARN, {})
    assert not allows(task, "kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/other", VIA_S3)


def test_the_task_tells_the_alert_topic_and_no_other(task: dict[str, Any]) -> None:
    assert allows(task, "sns:Publish", TOPIC_ARN)
    assert not allows(task, "sns:Publish", TOPIC_ARN.replace("watch-alerts", "other"))
    # The topic's key, through SNS, for this topic's messages only
    topic_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000abcd-0000-0000-0000-000000000000"
    context = {"kms:ViaService": f"sns.{REGION}.amazonaws.com", "kms:EncryptionContext:aws:sns:topicArn": TOPIC_ARN}
    assert allows(task, "kms:GenerateDataKey", topic_key, context)
    assert not allows(
        task, "kms:GenerateDataKey", topic_key, {**context, "kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    )
    other_topic = {**context, "kms:EncryptionContext:aws:sns:topicArn": TOPIC_ARN + "-other"}
    assert not allows(task, "kms:GenerateDataKey", topic_key, other_topic)
    assert not allows(task, "kms:GenerateDataKey", topic_key, {})


def test_the_task_writes_its_own_logs(task: dict[str, Any]) -> None:
    assert allows(task, "logs:PutLogEvents", f"{LOG_GROUP}:log-stream:2026/11/26/[$LATEST]abc")
    assert not allows(task, "logs:PutLogEvents", LOG_GROUP.replace("rewind", "chain") + ":log-stream:x")


def test_the_machine_invokes_its_task_and_runs_its_own_children(machine: dict[str, Any]) -> None:
    assert allows(machine, "lambda:InvokeFunction", FUNCTION_ARN)
    assert not allows(machine, "lambda:InvokeFunction", FUNCTION_ARN.replace("rewind-task", "chain-task"))
    own = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{MACHINE}"
    assert allows(machine, "states:StartExecution", own)
    assert not allows(machine, "states:StartExecution", own.replace("rewind", "drill"))
    child = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{MACHINE}/RewindFiles:0a1b2c3d"
    assert allows(machine, "states:DescribeExecution", child) and allows(machine, "states:StopExecution", child)
    other_child = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:safetynet-prod-drill/ValidateFiles:0a1b2c3d"
    assert not allows(machine, "states:StopExecution", other_child)


def test_the_machine_reads_file_lists_only(machine: dict[str, Any]) -> None:
    export = f"{WINDOW}/AWSDynamoDB/01796017832154-72621017/"
    assert allows(machine, "s3:GetObject", obj(export + "manifest-files.json"))
    assert not allows(machine, "s3:GetObject", obj(f"{WINDOW}/AWSDynamoDB/data/abc.json.gz"))
    assert not allows(machine, "s3:GetObject", obj("exports/orders/AWSDynamoDB/x/manifest-files.json"))
    assert allows(machine, "kms:Decrypt", KEY_ARN, VIA_S3) and not allows(machine, "kms:Decrypt", KEY_ARN, {})
    assert not any(allows(machine, a, table("orders"), OURS) for a in ("dynamodb:PutItem", "dynamodb:GetItem"))


def test_the_machine_may_deliver_its_logs(machine: dict[str, Any]) -> None:
    # Step Functions' documented log-delivery actions take only "*".
    for action in ("logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeLogGroups"):
        assert allows(machine, action, "*")

"""DisasterWatch's IAM documents as the prod stack declares them, evaluated statement by statement:
each role may do what its task does on the stack's tables (by their `safetynet:stack` tag) and
vault prefixes, and nothing on a table of another stack, an untagged table, another account or
region, or a prefix outside `exports/` and `drills/`. No document grows with the tables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.watch.policies import (
    classifier_policy,
    dead_letter_queue_policy,
    drill_state_machine_policy,
    drill_task_policy,
    freshness_policy,
    lambda_trust_policy,
    start_drill_policy,
    topic_key_policy,
    trail_bucket_policy,
)
from conventions.tags import STACK_TAG
from tests.support.iam_eval import allows
from tests.support.iam_lint import assert_clean
from tests.support.stacks import synth_stack

ACCOUNT = "123456789012"
REGION = "eu-central-1"
OURS = {f"aws:ResourceTag/{STACK_TAG}": "safetynet/prod"}
OTHER_STACK = {f"aws:ResourceTag/{STACK_TAG}": "safetynet/staging"}
UNTAGGED: dict[str, str] = {}


def table(name: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


SCRATCH = table("safetynet-drill-orders-01795762800000-abc-20261127T050000")
ROLES = ["classifier", "freshness", "drill-task", "drill-sfn", "drill-schedule"]


def _policy(result: Any, role: str) -> dict[str, Any]:
    return dict(json.loads(result.one("aws:iam/rolePolicy:RolePolicy", f"watch-{role}-policy")["inputs"]["policy"]))


@pytest.fixture(scope="module")
def policies(prod_synth: Any) -> dict[str, dict[str, Any]]:
    return {role: _policy(prod_synth, role) for role in ROLES}


@pytest.fixture(scope="module")
def vault(prod_synth: Any) -> str:
    return f"arn:aws:s3:::{prod_synth.outputs['vaultBucketName']}"


def _tables(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"ledger-{i:03d}",
            "hashKey": {"name": "pk", "type": "S"},
            "rangeKey": {"name": "sk", "type": "S"},
            "globalSecondaryIndexes": [{"name": "by-status", "hashKey": {"name": "status", "type": "S"}}],
            "tags": {"team": f"t{i % 3}", "cost-center": "cc-1"},
        }
        for i in range(n)
    ]


def test_no_document_depends_on_the_tables(policies: dict[str, dict[str, Any]]) -> None:
    # Given the shipped stack (3 tables) and the same stack with 40 tables
    many = synth_stack("prod", config_overrides={"tables": _tables(40)})
    # Then every watch role's document is the same, word for word
    assert {role: _policy(many, role) for role in ROLES} == policies


@pytest.mark.parametrize("role", ROLES)
def test_documents_lint_clean(policies: dict[str, dict[str, Any]], role: str) -> None:
    assert_clean(policies[role])


def _denied_elsewhere(policy: dict[str, Any], action: str, name: str = "orders") -> None:
    """`action` is granted on the stack's tagged table and on nothing else."""
    assert allows(policy, action, table(name), OURS)
    assert not allows(policy, action, table(name), OTHER_STACK)
    assert not allows(policy, action, table(name), UNTAGGED)
    assert not allows(policy, action, table(name, region="us-east-1"), OURS)
    assert not allows(policy, action, table(name, account="210987654321"), OURS)


def test_classifier(policies: dict[str, dict[str, Any]], vault: str) -> None:
    p = policies["classifier"]
    _denied_elsewhere(p, "dynamodb:DescribeContinuousBackups")
    for action in ("dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:DeleteTable", "dynamodb:Scan"):
        assert not allows(p, action, table("orders"), OURS), action
    # The vault's exports (the last good export), nothing else of it, no other bucket
    assert allows(p, "s3:GetObject", f"{vault}/exports/orders/AWSDynamoDB/0179-abc/manifest-summary.json")
    assert not allows(p, "s3:GetObject", f"{vault}/drills/orders/latest.json")
    assert not allows(p, "s3:GetObject", f"{vault}/exports-archive/orders/x.json")
    assert not allows(p, "s3:GetObject", "arn:aws:s3:::another-bucket/exports/orders/x.json")
    assert allows(p, "s3:ListBucket", vault, {"s3:prefix": "exports/orders/"})
    assert not allows(p, "s3:ListBucket", vault, {"s3:prefix": "drills/orders/"})
    assert not allows(p, "s3:ListBucket", vault, {"s3:prefix": ""})
    assert not allows(p, "s3:PutObject", f"{vault}/exports/orders/x")


def test_freshness(policies: dict[str, dict[str, Any]], vault: str) -> None:
    p = policies["freshness"]
    _denied_elsewhere(p, "dynamodb:ListExports")
    # DescribeExport's resource takes no tag condition: any export of this account and region
    assert allows(p, "dynamodb:DescribeExport", f"{table('orders')}/export/01795762800000-abc")
    assert not allows(p, "dynamodb:DescribeExport", f"{table('orders', account='210987654321')}/export/x")
    assert not allows(p, "dynamodb:DescribeExport", table("orders"), OURS)
    # The coverage count reads names, never another table's settings
    assert allows(p, "dynamodb:ListTables", "*")
    for action in ("dynamodb:DescribeTable", "dynamodb:ListTagsOfResource", "dynamodb:DescribeContinuousBackups"):
        assert not allows(p, action, table("reports"), UNTAGGED), action
        assert not allows(p, action, table("orders"), OURS), action
    for key in ("exports/orders/AWSDynamoDB/0179-abc/manifest-summary.json", "drills/orders/latest.json"):
        assert allows(p, "s3:GetObject", f"{vault}/{key}")
        assert not allows(p, "s3:PutObject", f"{vault}/{key}")
    assert not allows(p, "s3:GetObject", f"{vault}/masked/orders/x")
    assert allows(p, "s3:ListBucket", vault, {"s3:prefix": "drills/orders/"})
    assert not allows(p, "s3:ListBucket", vault, {"s3:prefix": "masked/"})
    assert allows(p, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "safetynet"})
    assert not allows(p, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/DynamoDB"})


def test_drill_tasks(policies: dict[str, dict[str, Any]], vault: str) -> None:
    p = policies["drill-task"]
    _denied_elsewhere(p, "dynamodb:GetItem")
    # Scans only scratch tables: never a live table, whatever its tags
    assert allows(p, "dynamodb:Scan", SCRATCH)
    assert not allows(p, "dynamodb:Scan", table("orders"), OURS)
    assert not allows(p, "dynamodb:PutItem", SCRATCH)
    # Writes drill records only
    assert allows(p, "s3:PutObject", f"{vault}/drills/orders/runs/scratch/files/0123.json")
    assert not allows(p, "s3:PutObject", f"{vault}/exports/orders/AWSDynamoDB/0179-abc/manifest-files.json")
    assert not allows(p, "s3:DeleteObject", f"{vault}/drills/orders/latest.json")


def test_drill_state_machine(policies: dict[str, dict[str, Any]], vault: str) -> None:
    p = policies["drill-sfn"]
    for action in ("dynamodb:ImportTable", "dynamodb:DescribeTable", "dynamodb:DeleteTable"):
        assert allows(p, action, SCRATCH), action
        # The stack's own tables are never deleted, described or imported into, tags or not
        assert not allows(p, action, table("orders"), OURS), action
        assert not allows(p, action, table("safetynet-drills"), OURS), action
    assert allows(p, "dynamodb:DescribeImport", f"{SCRATCH}/import/01795762800000-abc")
    assert not allows(p, "dynamodb:DescribeImport", f"{table('orders')}/import/x")
    assert allows(p, "s3:GetObject", f"{vault}/exports/orders/AWSDynamoDB/0179-abc/manifest-files.json")
    assert not allows(p, "s3:GetObject", f"{vault}/drills/orders/latest.json")


def test_every_wildcard_resource_is_a_documented_exception(policies: dict[str, dict[str, Any]]) -> None:
    stars = sorted(
        (role, tuple(s["Action"])) for role, p in policies.items() for s in p["Statement"] if s["Resource"] == "*"
    )
    assert stars == [
        ("drill-sfn", ("logs:DescribeLogGroups",)),
        ("drill-task", ("cloudwatch:PutMetricData",)),
        ("freshness", ("cloudwatch:PutMetricData",)),
        ("freshness", ("dynamodb:ListTables",)),
    ]
    # Every statement on all tables of the account carries the stack's tag condition
    for role, p in policies.items():
        for s in p["Statement"]:
            if any(r.endswith(":table/*") for r in s["Resource"]):
                assert s["Condition"] == {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": "safetynet/prod"}}, role


# -- the document builders alone ---------------------------------------------------------------

ARGS = {"region": "eu-central-1", "kms_key_arn": "arn:aws:kms:eu-central-1:123456789012:key/k-1"}
STACK_TAG_VALUE = "safetynet/prod"
BUCKET = "arn:aws:s3:::vault-1"
LOGS = "arn:aws:logs:eu-central-1:123456789012:log-group:/safetynet/prod/x"


@pytest.mark.parametrize(
    "doc",
    [
        classifier_policy(
            topic_arn="arn:aws:sns:eu-central-1:123456789012:t",
            topic_key_arn=ARGS["kms_key_arn"],
            stack_tag=STACK_TAG_VALUE,
            bucket_arn=BUCKET,
            account_id="123456789012",
            log_group_arn=LOGS,
            dead_letter_arn="arn:aws:sqs:eu-central-1:123456789012:undelivered",
            **ARGS,
        ),
        freshness_policy(
            stack_tag=STACK_TAG_VALUE, bucket_arn=BUCKET, account_id="123456789012", log_group_arn=LOGS, **ARGS
        ),
        drill_task_policy(
            stack_tag=STACK_TAG_VALUE, bucket_arn=BUCKET, account_id="123456789012", log_group_arn=LOGS, **ARGS
        ),
        drill_state_machine_policy(
            function_arns=["arn:aws:lambda:eu-central-1:123456789012:function:p"],
            state_machine_name="safetynet-prod-drill",
            bucket_arn=BUCKET,
            account_id="123456789012",
            **ARGS,
        ),
        start_drill_policy("arn:aws:states:eu-central-1:123456789012:stateMachine:drill"),
    ],
    ids=["classifier", "freshness", "drill-task", "drill-sfn", "drill-schedule"],
)
def test_policy_documents_lint_clean(doc: dict[str, Any]) -> None:
    assert_clean(doc)


def test_drill_touches_only_scratch_tables_for_writes() -> None:
    doc = drill_state_machine_policy(
        function_arns=["f"],
        state_machine_name="safetynet-prod-drill",
        bucket_arn=BUCKET,
        account_id="123456789012",
        **ARGS,
    )
    [stmt] = [s for s in doc["Statement"] if "dynamodb:DeleteTable" in s["Action"]]
    assert stmt["Resource"] == ["arn:aws:dynamodb:eu-central-1:123456789012:table/safetynet-drill-*"]


def test_trust_and_resource_policies_name_their_principals() -> None:
    assert lambda_trust_policy()["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    key = topic_key_policy("123456789012", "eu-central-1")
    cw = next(s for s in key["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"})
    assert cw["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    dlq = dead_letter_queue_policy("arn:aws:sqs:r:1:q", ["arn:aws:events:r:1:rule/a"])
    assert dlq["Statement"][0]["Condition"] == {"ArnEquals": {"aws:SourceArn": ["arn:aws:events:r:1:rule/a"]}}
    trail = trail_bucket_policy(BUCKET, "arn:aws:cloudtrail:r:1:trail/t", "1")
    assert_clean(trail, resource_policy=True)

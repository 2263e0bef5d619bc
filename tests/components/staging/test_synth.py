"""The test stack under Pulumi's mocks: StackReference wiring, StagedTables, the trigger's event
pattern (routed through moto's EventBridge), least-privilege IAM (linted)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.staging.policies import ExportSource, cross_account_vault_grants
from components.staging.state_machine import staging_definition
from safetynet.synth import SynthResult, synth
from tests.support.eventbridge import delivered, s3_object_created
from tests.support.iam_lint import assert_clean
from tests.support.policies import role_policy, statement
from tests.support.stacks import PROJECT_DIR, failed_synth
from tests.support.staging_fixtures import prod_spec

REGION = "eu-central-1"
PROD = "acme/safetynet/prod"
VAULT = "prod-vault-1234567"
VAULT_KEY = "arn:aws:kms:eu-central-1:123456789012:key/0000vault-0000-0000-0000-000000000000"
STACK = "safetynet/test"


def prod_outputs(**overrides: Any) -> dict[str, Any]:
    """prod's stack outputs as components/stack.py exports them, from Pulumi.prod.yaml's tables."""
    tables = {}
    for name in ("orders", "customers", "inventory"):
        spec = prod_spec(name)
        tables[name] = {
            "name": name,
            "arn": f"arn:aws:dynamodb:{REGION}:123456789012:table/{name}",
            "exportPrefix": f"exports/{name}",
            "schema": spec.create_table_request(name),
            "ttlAttribute": spec.ttl_attribute,
            "pointInTimeRecoveryDays": spec.point_in_time_recovery_days,
        }
    return {
        "environment": "prod",
        "region": REGION,
        "vaultBucketName": VAULT,
        "vaultBucketArn": f"arn:aws:s3:::{VAULT}",
        "kmsKeyArn": VAULT_KEY,
        "tables": tables,
        **overrides,
    }


@pytest.fixture(scope="module")
def test_stack() -> SynthResult:
    return synth(PROJECT_DIR, "test", stack_references={PROD: prod_outputs()})


# -- structure and StackReference wiring -------------------------------------------------------


def test_the_test_stack_is_a_staging_stack_not_a_backup_stack(test_stack: SynthResult) -> None:
    assert [r["name"] for r in test_stack.of_type("safetynet:staging:StagedTable")] == [
        "customers",
        "inventory",
        "orders",
    ]
    assert len(test_stack.of_type("safetynet:staging:StagingPipeline")) == 1
    assert not test_stack.of_type("safetynet:dynamodb:BackedUpTable")
    assert not test_stack.of_type("aws:scheduler/schedule:Schedule")
    assert test_stack.outputs["stagingFrom"] == PROD


def test_test_tables_have_prods_schema_no_protection_and_the_target_tag(test_stack: SynthResult) -> None:
    for name in ("orders", "customers", "inventory"):
        table = test_stack.one("aws:dynamodb/table:Table", f"{name}-table")
        assert table["inputs"]["name"] == f"{name}-test"
        assert table["inputs"]["deletionProtectionEnabled"] is False
        assert table["options"]["protect"] is False and table["options"]["retainOnDelete"] is False
        assert table["inputs"]["tags"]["safetynet:staging-target"] == STACK
        assert table["inputs"]["tags"]["safetynet:environment"] == "test"
        assert table["inputs"]["hashKey"] == prod_spec(name).hash_key.name
    orders = test_stack.one("aws:dynamodb/table:Table", "orders-table")["inputs"]
    assert orders["localSecondaryIndexes"][0]["name"] == "by-created"
    assert orders["ttl"] == {"enabled": True, "attributeName": "expiresAt"}


def test_the_trigger_reads_prods_vault_and_export_prefix(test_stack: SynthResult) -> None:
    pattern = json.loads(
        test_stack.one("aws:cloudwatch/eventRule:EventRule", "customers-trigger")["inputs"]["eventPattern"]
    )
    assert pattern["detail"]["bucket"]["name"] == [VAULT]
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "exports/customers/AWSDynamoDB/*/manifest-summary.json"}]


def test_the_trigger_starts_the_machine_with_the_target_from_prods_outputs(test_stack: SynthResult) -> None:
    target = test_stack.one("aws:cloudwatch/eventTarget:EventTarget", "customers-start")["inputs"]
    assert target["arn"] == test_stack.outputs["stateMachineArn"]
    transformer = target["inputTransformer"]
    assert transformer["inputPaths"] == {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"}
    doc = json.loads(transformer["inputTemplate"].replace("<bucket>", '"b"').replace("<key>", '"k"'))
    assert (doc["bucket"], doc["key"]) == ("b", "k")
    t = doc["target"]
    assert t["sourceTableArn"] == prod_outputs()["tables"]["customers"]["arn"]
    assert t["schema"] == {**prod_outputs()["tables"]["customers"]["schema"], "TableName": "customers-test"}
    assert t["stack"] == STACK and t["mode"] == "replace"
    assert {"path": "email", "action": "hash"} in t["mask"]
    assert t["tags"]["safetynet:staging-target"] == STACK
    assert len(transformer["inputTemplate"]) < 8192  # EventBridge's input template limit


def test_orders_is_refilled_because_of_its_lsi(test_stack: SynthResult) -> None:
    assert test_stack.outputs["tables"]["orders"]["mode"] == "refill"
    assert test_stack.outputs["tables"]["customers"]["masked"] is True


def test_the_state_machine_is_the_generated_definition(test_stack: SynthResult) -> None:
    machine = test_stack.one("aws:sfn/stateMachine:StateMachine", "staging-machine")["inputs"]
    fn = test_stack.one("aws:lambda/function:Function", "staging-task")
    topic = test_stack.outputs["topicArn"]
    fn_arn = json.loads(machine["definition"])["States"]["Claim"]["Resource"]
    assert fn_arn.endswith(fn["inputs"]["name"]) or fn_arn.endswith("staging-task")
    assert json.loads(machine["definition"]) == staging_definition(
        function_arn=fn_arn, topic_arn=topic, max_concurrency=10
    )


def test_the_task_lambda_is_packaged_from_handlers(test_stack: SynthResult) -> None:
    fn = test_stack.one("aws:lambda/function:Function", "staging-task")["inputs"]
    assert fn["handler"] == "handlers.staging.entrypoints.handler"
    env = fn["environment"]["variables"]
    assert env["STAGING_STACK"] == STACK and env["LEDGER_TABLE"] == "safetynet-staging-ledger-test"
    assert env["MASKING_KEY_SECRET_ARN"].startswith("arn:aws:")


def test_the_masking_bucket_is_hardened_and_masked_copies_expire(test_stack: SynthResult) -> None:
    pab = test_stack.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "staging-masked-public-access")
    assert all(
        pab["inputs"][k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    enc = test_stack.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "staging-masked-encryption",
    )["inputs"]["rules"][0]
    assert enc["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    bucket_policy = json.loads(
        test_stack.one("aws:s3/bucketPolicy:BucketPolicy", "staging-masked-policy")["inputs"]["policy"]
    )
    assert any(s["Sid"] == "DenyInsecureTransport" for s in bucket_policy["Statement"])
    rule = test_stack.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "staging-masked-lifecycle"
    )["inputs"]["rules"][0]
    assert rule["filter"] == {"prefix": "masked/"} and rule["expiration"]["days"] == 7
    topic = test_stack.one("aws:sns/topic:Topic", "staging-topic")["inputs"]
    assert topic["kmsMasterKeyId"].startswith("arn:aws:kms:")


# -- IAM: least privilege, linted ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["staging-task-policy", "staging-machine-policy", "staging-events-policy"])
def test_staging_policies_pass_the_lint(test_stack: SynthResult, name: str) -> None:
    assert_clean(role_policy(test_stack, name))


def test_the_task_reads_only_prods_export_prefixes_and_the_vault_key(test_stack: SynthResult) -> None:
    doc = role_policy(test_stack, "staging-task-policy")
    assert statement(doc, "ReadProdExports")["Resource"] == [
        f"arn:aws:s3:::{VAULT}/exports/{t}/*" for t in ("customers", "inventory", "orders")
    ]
    assert statement(doc, "DecryptProdExports") == {
        "Sid": "DecryptProdExports",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": [VAULT_KEY],
    }
    for s in doc["Statement"]:
        for arn in s["Resource"]:
            assert arn != "*"
            if arn.startswith("arn:aws:s3:::prod"):
                assert s["Sid"] in ("ReadProdExports", "ListProdExports"), s


def test_the_task_changes_only_test_tables_by_arn_and_tag(test_stack: SynthResult) -> None:
    doc = role_policy(test_stack, "staging-task-policy")
    test_arns = [f"arn:aws:dynamodb:{REGION}:123456789012:table/{t}-test" for t in ("orders", "customers", "inventory")]
    change = statement(doc, "ChangeTaggedTestTables")
    assert change["Resource"] == test_arns
    assert change["Condition"] == {"StringEquals": {"aws:ResourceTag/safetynet:staging-target": STACK}}
    assert "dynamodb:DeleteTable" in change["Action"] and "dynamodb:BatchWriteItem" in change["Action"]
    for s in doc["Statement"]:
        for arn in s["Resource"]:
            if ":dynamodb:" in arn and "ledger" not in s["Sid"].lower():
                assert re.search(r":table/(orders|customers|inventory)-test(/import/\*)?$", arn), arn
    retag = statement(doc, "RetagImportedTestTables")
    assert retag["Condition"] == {"StringEquals": {"aws:RequestTag/safetynet:staging-target": STACK}}


def test_the_events_role_may_only_start_the_state_machine(test_stack: SynthResult) -> None:
    doc = role_policy(test_stack, "staging-events-policy")
    assert doc["Statement"] == [
        {
            "Sid": "StartStaging",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": [f"arn:aws:states:{REGION}:123456789012:stateMachine:safetynet-staging-test"],
        }
    ]


def test_cross_account_grants_pass_the_lint_and_name_the_staging_roles() -> None:
    grants = cross_account_vault_grants(
        bucket_arn=f"arn:aws:s3:::{VAULT}",
        key_arn=VAULT_KEY,
        sources=[ExportSource(f"arn:aws:s3:::{VAULT}", "exports/customers")],
        staging_role_arns=["arn:aws:iam::222222222222:role/staging-task"],
    )
    assert_clean({"Version": "2012-10-17", "Statement": grants["bucketPolicy"]}, resource_policy=True)
    assert_clean({"Version": "2012-10-17", "Statement": grants["keyPolicy"]}, resource_policy=True)
    assert grants["bucketPolicy"][0]["Resource"] == [f"arn:aws:s3:::{VAULT}/exports/customers/*"]


# -- the trigger's pattern through moto's EventBridge ----------------------------------------


@pytest.mark.parametrize(
    ("bucket", "key", "matches"),
    [
        (VAULT, "exports/customers/AWSDynamoDB/01700000000000-a1b2c3d4/manifest-summary.json", True),
        (VAULT, "exports/customers/AWSDynamoDB/01700000000000-a1b2c3d4/manifest-files.json", False),
        (VAULT, "exports/customers/AWSDynamoDB/01700000000000-a1b2c3d4/data/abc.json.gz", False),
        (VAULT, "exports/customers/AWSDynamoDB/01700000000000-a1b2c3d4/_started", False),
        (VAULT, "exports/orders/AWSDynamoDB/01700000000000-a1b2c3d4/manifest-summary.json", False),
        (VAULT, "exports/customers-archive/AWSDynamoDB/1/manifest-summary.json", False),
        (
            "another-bucket",
            "exports/customers/AWSDynamoDB/01700000000000-a1b2c3d4/manifest-summary.json",
            False,
        ),
    ],
)
def test_the_synthesized_pattern_matches_only_the_tables_summary(
    aws: None, test_stack: SynthResult, bucket: str, key: str, matches: bool
) -> None:
    # Given the synthesized rule's pattern on moto's EventBridge
    pattern = test_stack.one("aws:cloudwatch/eventRule:EventRule", "customers-trigger")["inputs"]["eventPattern"]
    # When S3 reports the object
    got = delivered({"customers-trigger": pattern}, s3_object_created(bucket, key))["customers-trigger"]
    # Then only the table's manifest-summary.json reaches the target
    assert [e["detail"]["object"]["key"] for e in got] == ([key] if matches else [])


# -- failures --------------------------------------------------------------------------------


def synth_error(references: dict[str, Any], tmp_path: Any) -> str:
    """The test stack's error output when it runs against these prod outputs."""
    return failed_synth("test", tmp_path, stack_references=references)


def test_a_test_table_whose_schema_drifted_from_prod_fails_the_program(tmp_path: Any) -> None:
    drifted = prod_outputs()
    drifted["tables"]["customers"]["schema"] = {
        **drifted["tables"]["customers"]["schema"],
        "BillingMode": "PROVISIONED",
    }
    err = synth_error({PROD: drifted}, tmp_path)
    assert "safetynet:tables 'customers': the test table's schema differs from prod's" in err


def test_a_table_missing_in_prod_fails_the_program(tmp_path: Any) -> None:
    partial = prod_outputs()
    del partial["tables"]["inventory"]
    err = synth_error({PROD: partial}, tmp_path)
    assert "the prod stack acme/safetynet/prod has no table 'inventory'" in err


def test_synth_fills_the_stack_reference_from_the_prod_stack_file(prod_synth: SynthResult) -> None:
    # Given no stack_references: prod is synthesized from Pulumi.prod.yaml first
    result = synth(PROJECT_DIR, "test")
    rule = result.one("aws:cloudwatch/eventRule:EventRule", "customers-trigger")["inputs"]["eventPattern"]
    assert json.loads(rule)["detail"]["bucket"]["name"] == [prod_synth.outputs["vaultBucketName"]]

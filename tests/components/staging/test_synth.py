"""The test stack under Pulumi's mocks: StackReference wiring, StagedTables and their targets, the
one trigger's event pattern (routed through moto's EventBridge), least-privilege IAM (linted, and
evaluated: what each role may and may not do)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from components.staging.policies import cross_account_vault_grants
from components.staging.state_machine import staging_definition
from components.staging.targets import summary_event_pattern
from handlers.staging.target import TargetTable
from handlers.staging.targets import resolve
from safetynet.synth import SynthResult, synth
from tests.support.eventbridge import delivered, s3_object_created
from tests.support.iam_eval import allows
from tests.support.iam_lint import assert_clean
from tests.support.policies import role_policy
from tests.support.stacks import PROJECT_DIR, failed_synth
from tests.support.staging_fixtures import LEDGER, create_ledger, prod_spec

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


def test_one_trigger_for_every_export_in_prods_vault(test_stack: SynthResult) -> None:
    # One rule whatever the number of tables (EventBridge: 300 rules, 30 with wildcards, per bus).
    (rule,) = test_stack.of_type("aws:cloudwatch/eventRule:EventRule")
    assert rule["name"] == "staging-trigger" and rule["parent"] == "safetynet:staging:StagingPipeline::staging"
    pattern = json.loads(rule["inputs"]["eventPattern"])
    assert pattern == summary_event_pattern(VAULT)
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "exports/*/AWSDynamoDB/*/manifest-summary.json"}]


def test_the_trigger_starts_the_machine_with_the_events_bucket_and_key(test_stack: SynthResult) -> None:
    (target,) = test_stack.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert target["inputs"]["arn"] == test_stack.outputs["stateMachineArn"]
    transformer = target["inputs"]["inputTransformer"]
    assert transformer["inputPaths"] == {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"}
    doc = json.loads(transformer["inputTemplate"].replace("<bucket>", '"b"').replace("<key>", '"k"'))
    assert doc == {"bucket": "b", "key": "k"}
    assert "staging-events-policy" in target["options"]["dependsOn"]


def target_of(result: SynthResult, name: str) -> tuple[str, dict[str, Any]]:
    """The key and TargetTable JSON of a StagedTable's target item in the ledger."""
    item = json.loads(result.one("aws:dynamodb/tableItem:TableItem", f"{name}-target")["inputs"]["item"])
    return item["table"]["S"], json.loads(item["target"]["S"])


def test_each_table_registers_its_target_from_prods_outputs_in_the_ledger(test_stack: SynthResult) -> None:
    item = test_stack.one("aws:dynamodb/tableItem:TableItem", "customers-target")
    assert item["parent"] == "safetynet:staging:StagedTable::customers"
    assert item["inputs"]["tableName"] == "safetynet-staging-ledger-test" and item["inputs"]["hashKey"] == "table"
    key, t = target_of(test_stack, "customers")
    assert key == prod_outputs()["tables"]["customers"]["exportPrefix"]
    assert t["sourceTableArn"] == prod_outputs()["tables"]["customers"]["arn"]
    assert t["schema"] == {**prod_outputs()["tables"]["customers"]["schema"], "TableName": "customers-test"}
    assert t["stack"] == STACK and t["mode"] == "replace"
    assert {"path": "email", "action": "hash"} in t["mask"]
    assert t["tags"]["safetynet:staging-target"] == STACK
    assert [target_of(test_stack, n)[0] for n in ("orders", "inventory")] == ["exports/orders", "exports/inventory"]


def test_the_task_finds_each_synthesized_target_from_an_export_key(aws: None, test_stack: SynthResult) -> None:
    # Given the synthesized target items in a ledger on moto
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    create_ledger(ddb)
    for name in ("orders", "customers", "inventory"):
        raw = test_stack.one("aws:dynamodb/tableItem:TableItem", f"{name}-target")["inputs"]["item"]
        ddb.put_item(TableName=LEDGER, Item=json.loads(raw))
    # When the task resolves exports of each table, and of a table not staged here
    summary = "AWSDynamoDB/01700000000000-a1b2c3d4/manifest-summary.json"
    found = {n: resolve(ddb, LEDGER, VAULT, f"exports/{n}/{summary}") for n in ("orders", "customers", "sessions")}
    # Then each staged table's export goes to its test table, with the target the stack declared
    assert {n: (r.target.name if r.target else None) for n, r in found.items()} == {
        "orders": "orders-test",
        "customers": "customers-test",
        "sessions": None,
    }
    assert found["customers"].target == TargetTable.from_json(target_of(test_stack, "customers")[1])


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


ACCOUNT = "123456789012"
TARGET_TAG = "aws:ResourceTag/safetynet:staging-target"


def table(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


TEST_TABLE = table("customers-test")
OURS = {TARGET_TAG: STACK}
# Tables the staging roles must never change: prod's own (same account), a table of another test
# stack, an untagged one, and one tagged ours but outside the stack's names.
NOT_OURS = [
    (table("customers"), {"aws:ResourceTag/safetynet:environment": "prod"}),
    (TEST_TABLE, {TARGET_TAG: "safetynet/other-test"}),
    (TEST_TABLE, {}),
    (table("customers"), OURS),
    (table("customers-test-archive"), OURS),
]


@pytest.fixture(scope="module")
def task_policy(test_stack: SynthResult) -> dict[str, Any]:
    return role_policy(test_stack, "staging-task-policy")


@pytest.fixture(scope="module")
def machine_policy(test_stack: SynthResult) -> dict[str, Any]:
    return role_policy(test_stack, "staging-machine-policy")


def test_the_task_reads_only_prods_exports_prefix_and_decrypts_with_the_vault_key(
    task_policy: dict[str, Any], test_stack: SynthResult
) -> None:
    vault = f"arn:aws:s3:::{VAULT}"
    mask = f"arn:aws:s3:::{test_stack.outputs['maskBucketName']}"
    assert allows(task_policy, "s3:GetObject", f"{vault}/exports/customers/AWSDynamoDB/1/data/a.json.gz")
    assert allows(task_policy, "kms:Decrypt", VAULT_KEY)
    for outside in (f"{vault}/drills/customers/latest.json", f"{vault}/other.json", "arn:aws:s3:::another/exports/x"):
        assert not allows(task_policy, "s3:GetObject", outside), outside
    assert allows(task_policy, "s3:ListBucket", vault, {"s3:prefix": "exports/customers/AWSDynamoDB/1/data/"})
    assert not allows(task_policy, "s3:ListBucket", vault, {"s3:prefix": "drills/"})
    assert not allows(task_policy, "s3:ListBucket", vault)  # no prefix: the whole bucket
    assert allows(task_policy, "s3:PutObject", f"{mask}/masked/customers/AWSDynamoDB/1/data/a.json.gz")
    assert not allows(task_policy, "s3:PutObject", f"{vault}/exports/customers/x")
    assert not allows(task_policy, "s3:PutObject", f"{mask}/elsewhere/x")


@pytest.mark.parametrize(
    "action",
    [
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteTable",
        "dynamodb:UpdateTable",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:Scan",
        "dynamodb:GetItem",
    ],
)
def test_the_task_changes_and_reads_only_its_tagged_test_tables(task_policy: dict[str, Any], action: str) -> None:
    assert allows(task_policy, action, TEST_TABLE, OURS)
    assert allows(task_policy, action, table("orders-test"), OURS)  # any table of the stack, by tag
    for arn, tags in NOT_OURS:
        assert not allows(task_policy, action, arn, tags), (arn, tags)


def test_the_task_imports_only_under_the_stacks_names(task_policy: dict[str, Any]) -> None:
    # ImportTable creates the table (no tags yet) and cannot overwrite one: scoped by name.
    assert allows(task_policy, "dynamodb:ImportTable", TEST_TABLE)
    assert allows(task_policy, "dynamodb:DescribeImport", f"{TEST_TABLE}/import/01700000000000-abcd")
    for arn in (table("customers"), table("customers-test-archive"), table("other")):
        assert not allows(task_policy, "dynamodb:ImportTable", arn), arn
        assert not allows(task_policy, "dynamodb:DescribeImport", f"{arn}/import/1"), arn


def test_the_task_may_only_mark_an_untagged_or_own_table_as_its_target(task_policy: dict[str, Any]) -> None:
    request = {"aws:RequestTag/safetynet:staging-target": STACK}
    # The table ImportTable just created has no tags; a table already ours may be re-tagged.
    assert allows(task_policy, "dynamodb:TagResource", TEST_TABLE, request)
    assert allows(task_policy, "dynamodb:TagResource", TEST_TABLE, {**request, **OURS})
    # Never without marking it ours, nor a table outside the names.
    assert not allows(task_policy, "dynamodb:TagResource", TEST_TABLE, {"aws:RequestTag/team": "x"})
    assert not allows(task_policy, "dynamodb:TagResource", table("customers"), request)
    # Never a table safetynet declares that is not ours: another stack's target, a prod table, or
    # the pipeline's own ledger, whose name falls inside the scope.
    stack_tag = "aws:ResourceTag/safetynet:stack"
    for arn, tags in [
        (TEST_TABLE, {TARGET_TAG: "safetynet/other", stack_tag: "safetynet/other"}),
        (TEST_TABLE, {TARGET_TAG: "safetynet/other"}),
        (TEST_TABLE, {stack_tag: "safetynet/prod", "aws:ResourceTag/safetynet:environment": "prod"}),
        (table("safetynet-staging-ledger-test"), {stack_tag: STACK, "aws:ResourceTag/safetynet:environment": "test"}),
    ]:
        assert not allows(task_policy, "dynamodb:TagResource", arn, {**request, **tags}), (arn, tags)


def test_every_call_of_a_recovery_is_allowed_and_no_new_right_was_needed(
    task_policy: dict[str, Any], test_stack: SynthResult
) -> None:
    # A replace failed after its delete (handlers/staging/recovery.py): the task reads the last
    # good export from the ledger, marks the untagged table ImportTable left as the stack's, then
    # deletes it, and imports the table again from the last good export (the vault's, or the
    # masked copy) or from an empty export it writes into the masking bucket.
    mask = f"arn:aws:s3:::{test_stack.outputs['maskBucketName']}"
    ledger = table("safetynet-staging-ledger-test")
    request = {"aws:RequestTag/safetynet:staging-target": STACK}
    calls = [
        ("dynamodb:GetItem", ledger, {"dynamodb:LeadingKeys": "customers"}),
        ("dynamodb:DescribeTable", TEST_TABLE, {}),
        ("dynamodb:ListTagsOfResource", TEST_TABLE, {}),
        ("dynamodb:TagResource", TEST_TABLE, request),
        ("dynamodb:DeleteTable", TEST_TABLE, OURS),
        ("dynamodb:ImportTable", TEST_TABLE, {}),
        ("s3:GetObject", f"arn:aws:s3:::{VAULT}/exports/customers/AWSDynamoDB/1/manifest-summary.json", {}),
        ("s3:GetObject", f"{mask}/masked/customers/AWSDynamoDB/1/data/a.json.gz", {}),
        ("s3:PutObject", f"{mask}/masked/customers/recovery/AWSDynamoDB/1/data/a.json.gz", {}),
    ]
    for action, resource, context in calls:
        assert allows(task_policy, action, resource, context), (action, resource)
    # No table could be created outright: a recovery imports, like every replace
    assert not allows(task_policy, "dynamodb:CreateTable", TEST_TABLE, OURS)


def test_the_task_describes_its_tables_whether_tagged_or_gone(task_policy: dict[str, Any]) -> None:
    # Metadata only: the guard must see an untagged table to refuse it, and a deleted one.
    assert allows(task_policy, "dynamodb:DescribeTable", TEST_TABLE)
    assert allows(task_policy, "dynamodb:ListTagsOfResource", TEST_TABLE)
    assert not allows(task_policy, "dynamodb:DescribeTable", table("customers"))


def test_the_task_writes_run_records_but_never_the_targets(
    task_policy: dict[str, Any], test_stack: SynthResult
) -> None:
    ledger = table("safetynet-staging-ledger-test")
    assert allows(task_policy, "dynamodb:GetItem", ledger, {"dynamodb:LeadingKeys": "exports/customers"})
    assert allows(task_policy, "dynamodb:UpdateItem", ledger, {"dynamodb:LeadingKeys": "customers"})
    # Where each export goes is the stack's to say, not the task's.
    assert not allows(task_policy, "dynamodb:UpdateItem", ledger, {"dynamodb:LeadingKeys": "exports/customers"})
    for action in ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:DeleteTable"):
        assert not allows(task_policy, action, ledger, {"dynamodb:LeadingKeys": "customers"}), action


def test_the_machine_may_deliver_the_logs_its_logging_configuration_names(
    test_stack: SynthResult, machine_policy: dict[str, Any]
) -> None:
    # Without these, AWS refuses CreateStateMachine ("The state machine IAM Role is not authorized
    # to access the Log Destination"); the mocks accept it. The actions take only "*".
    machine = test_stack.one("aws:sfn/stateMachine:StateMachine", "staging-machine")["inputs"]
    assert machine["loggingConfiguration"]["logDestination"]
    for action in ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:PutResourcePolicy", "logs:DescribeLogGroups"):
        assert allows(machine_policy, action, "*"), action


def test_the_machine_polls_its_tables_by_name_and_changes_no_table(machine_policy: dict[str, Any]) -> None:
    # DescribeTable must answer ResourceNotFoundException once a replaced table is gone.
    assert allows(machine_policy, "dynamodb:DescribeTable", TEST_TABLE)
    assert allows(machine_policy, "dynamodb:DescribeImport", f"{TEST_TABLE}/import/1")
    assert not allows(machine_policy, "dynamodb:DescribeTable", table("customers"))
    writes = ("dynamodb:DeleteTable", "dynamodb:BatchWriteItem", "dynamodb:ImportTable", "dynamodb:TagResource")
    for action in writes:
        assert not allows(machine_policy, action, TEST_TABLE, OURS), action
    assert allows(
        machine_policy, "s3:GetObject", f"arn:aws:s3:::{VAULT}/exports/orders/AWSDynamoDB/1/manifest-files.json"
    )
    assert not allows(machine_policy, "s3:GetObject", f"arn:aws:s3:::{VAULT}/drills/orders/latest.json")


@pytest.mark.parametrize("name", ["staging-task-policy", "staging-machine-policy"])
def test_no_table_name_appears_in_the_staging_policies(test_stack: SynthResult, name: str) -> None:
    # The tables appear only through their name scope: the policies do not grow with them.
    text = json.dumps(role_policy(test_stack, name))
    assert ":table/*-test" in text
    for logical in ("orders", "customers", "inventory"):
        assert logical not in text, logical


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
        prefixes=["exports/customers"],
        staging_role_arns=["arn:aws:iam::222222222222:role/staging-task"],
    )
    assert_clean({"Version": "2012-10-17", "Statement": grants["bucketPolicy"]}, resource_policy=True)
    assert_clean({"Version": "2012-10-17", "Statement": grants["keyPolicy"]}, resource_policy=True)
    assert grants["bucketPolicy"][0]["Resource"] == [f"arn:aws:s3:::{VAULT}/exports/customers/*"]


# -- the trigger's pattern through moto's EventBridge ----------------------------------------


SUMMARY = "AWSDynamoDB/01700000000000-a1b2c3d4/manifest-summary.json"


@pytest.mark.parametrize(
    ("bucket", "key", "matches"),
    [
        (VAULT, f"exports/customers/{SUMMARY}", True),
        # every table's: the first task decides whether it is staged here
        (VAULT, f"exports/sessions/{SUMMARY}", True),
        (VAULT, "exports/customers/AWSDynamoDB/01700000000000-a1b2c3d4/manifest-files.json", False),
        (VAULT, "exports/customers/AWSDynamoDB/01700000000000-a1b2c3d4/data/abc.json.gz", False),
        (VAULT, "exports/customers/AWSDynamoDB/01700000000000-a1b2c3d4/_started", False),
        (VAULT, f"drills/customers/runs/r1/{SUMMARY}", False),
        (VAULT, f"masked/customers/{SUMMARY}", False),
        ("another-bucket", f"exports/customers/{SUMMARY}", False),
    ],
)
def test_the_synthesized_pattern_matches_only_export_summaries_in_the_vault(
    aws: None, test_stack: SynthResult, bucket: str, key: str, matches: bool
) -> None:
    # Given the synthesized rule's pattern on moto's EventBridge
    pattern = test_stack.one("aws:cloudwatch/eventRule:EventRule", "staging-trigger")["inputs"]["eventPattern"]
    # When S3 reports the object
    got = delivered({"staging-trigger": pattern}, s3_object_created(bucket, key))["staging-trigger"]
    # Then only an export's manifest-summary.json in prod's vault reaches the target
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
    rule = result.one("aws:cloudwatch/eventRule:EventRule", "staging-trigger")["inputs"]["eventPattern"]
    assert json.loads(rule)["detail"]["bucket"]["name"] == [prod_synth.outputs["vaultBucketName"]]

"""StagingPipeline, declared alone from minimal arguments under Pulumi's mocks: state machine, task
Lambda, masking bucket, ledger, topic, their roles, and the one trigger for every export."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.common.lambda_package import RUNTIME, powertools_layer
from components.common.policies import assume_role_policy
from components.config.staging import StagingSpec
from components.staging.component import StagingPipeline, StagingPipelineArgs, vault_bucket_arn
from components.staging.policies import staging_task_policy, start_execution_policy, state_machine_policy
from components.staging.state_machine import staging_definition
from components.staging.targets import summary_event_pattern
from safetynet.synth import fake_state
from tests.support.pulumi_mocks import REGION, RecordingMocks
from tests.support.pulumi_run import declared, resolved

ACCOUNT = "123456789012"
STACK = "safetynet/test"
VAULT_ARN = "arn:aws:s3:::prod-vault"
VAULT_KEY = f"arn:aws:kms:{REGION}:111111111111:key/0000vault"
LAYER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:safetynet-test-lambda-deps:1"
MASKING_KEY = "0123456789abcdef0123456789abcdef"
MACHINE_NAME = "safetynet-staging-test"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# The masking bucket's hardening (components.backup.vault.secure_bucket) and its lifecycle.
BUCKET_TYPES = (
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
)


def declare(*, masking_key: str | None = MASKING_KEY, tables: int = 1) -> dict[str, Any]:
    """Declare the pipeline `staging` of the test environment (for `tables` test tables, `orders-test`
    first) and resolve what it exposes."""
    names = ["orders", *(f"table-{i:04d}" for i in range(tables - 1))]

    def build() -> dict[str, Any]:
        pipeline = StagingPipeline(
            "staging",
            StagingPipelineArgs(
                environment="test",
                stack=STACK,
                staging=StagingSpec.model_validate({"from": "acme/safetynet/prod", "maxConcurrency": 4}),
                test_tables=[f"{n}-test" for n in names],
                sources=[{"bucketArn": VAULT_ARN, "prefix": f"exports/{n}"} for n in names],
                vault_key_arn=VAULT_KEY,
                masking_key=masking_key,
                tags={"safetynet:environment": "test"},
                account_id=ACCOUNT,
                region=REGION,
                dependency_layer_arn=LAYER,
            ),
        )
        return {
            "state_machine_arn": pipeline.state_machine_arn,
            "events_role_arn": pipeline.events_role_arn,
            "mask_bucket_name": pipeline.mask_bucket_name,
            "topic_arn": pipeline.topic_arn,
            "task_role_arn": pipeline.task_role_arn,
            "state_machine_role_arn": pipeline.state_machine_role_arn,
            "rule_arn": pipeline.rule_arn,
            "ledger_table_name": pipeline.ledger_table_name,
        }

    return resolved(build)


def arn(mocks: RecordingMocks, typ: str, name: str) -> str:
    """The ARN the mocks gave a registered resource (what its dependents received)."""
    registration = mocks.one(typ, name)
    return str(fake_state(typ, name, registration.inputs, REGION)[1]["arn"])


def role_policy(mocks: RecordingMocks, name: str) -> dict[str, Any]:
    return dict(json.loads(mocks.one(ROLE_POLICY, name).inputs["policy"]))


def test_a_pipeline_declares_its_machine_task_bucket_ledger_topic_secret_and_roles(
    pulumi_mocks: RecordingMocks,
) -> None:
    declare()
    bucket_parts = ("public-access", "ownership", "versioning", "encryption", "policy", "lifecycle")
    assert declared(pulumi_mocks) == sorted(
        [
            ("safetynet:staging:StagingPipeline", "staging"),
            ("aws:kms/key:Key", "staging-key"),
            ("aws:s3/bucket:Bucket", "staging-masked"),
            *[(t, f"staging-masked-{part}") for t, part in zip(BUCKET_TYPES, bucket_parts, strict=True)],
            ("aws:dynamodb/table:Table", "staging-ledger"),
            ("aws:sns/topic:Topic", "staging-topic"),
            ("aws:secretsmanager/secret:Secret", "staging-masking-key"),
            ("aws:secretsmanager/secretVersion:SecretVersion", "staging-masking-key-value"),
            ("aws:cloudwatch/logGroup:LogGroup", "staging-task-logs"),
            ("aws:iam/role:Role", "staging-task-role"),
            (ROLE_POLICY, "staging-task-policy"),
            ("aws:lambda/function:Function", "staging-task"),
            ("aws:cloudwatch/logGroup:LogGroup", "staging-machine-logs"),
            ("aws:iam/role:Role", "staging-machine-role"),
            (ROLE_POLICY, "staging-machine-policy"),
            ("aws:sfn/stateMachine:StateMachine", "staging-machine"),
            ("aws:iam/role:Role", "staging-events-role"),
            (ROLE_POLICY, "staging-events-policy"),
            ("aws:cloudwatch/eventRule:EventRule", "staging-trigger"),
            ("aws:cloudwatch/eventTarget:EventTarget", "staging-start"),
        ]
    )


def test_what_it_exposes_resolves(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    assert out["state_machine_arn"] == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{MACHINE_NAME}"
    assert out["topic_arn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:safetynet-staging-test"
    assert out["mask_bucket_name"].startswith("safetynet-masked-test-")
    for role in ("events", "task", "state_machine"):
        assert f":iam::{ACCOUNT}:role/" in out[f"{role}_role_arn"], role
    assert len({out["events_role_arn"], out["task_role_arn"], out["state_machine_role_arn"]}) == 3


def test_the_state_machine_is_the_generated_definition_for_this_task_and_topic(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    machine = pulumi_mocks.one("aws:sfn/stateMachine:StateMachine", "staging-machine").inputs
    assert machine["name"] == MACHINE_NAME
    assert machine["roleArn"] == out["state_machine_role_arn"]
    assert json.loads(machine["definition"]) == staging_definition(
        function_arn=arn(pulumi_mocks, "aws:lambda/function:Function", "staging-task"),
        topic_arn=out["topic_arn"],
        max_concurrency=4,
    )


def test_the_task_runs_the_staging_handler_with_both_layers_and_its_settings(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    function = pulumi_mocks.one("aws:lambda/function:Function", "staging-task").inputs
    assert (function["name"], function["runtime"]) == ("safetynet-staging-test", RUNTIME)
    assert function["handler"] == "handlers.staging.entrypoints.handler"
    assert function["role"] == out["task_role_arn"]
    assert function["layers"] == [powertools_layer(REGION), LAYER]
    variables = function["environment"]["variables"]
    assert variables["STAGING_STACK"] == STACK
    assert variables["LEDGER_TABLE"] == "safetynet-staging-ledger-test"
    assert variables["MASK_BUCKET"] == out["mask_bucket_name"]
    assert variables["MASKING_KEY_SECRET_ARN"] == arn(
        pulumi_mocks, "aws:secretsmanager/secret:Secret", "staging-masking-key"
    )


def test_without_a_masking_key_there_is_no_secret(pulumi_mocks: RecordingMocks) -> None:
    declare(masking_key=None)
    assert pulumi_mocks.of_type("aws:secretsmanager/secret:Secret") == []
    variables = pulumi_mocks.one("aws:lambda/function:Function").inputs["environment"]["variables"]
    assert "MASKING_KEY_SECRET_ARN" not in variables
    policy = json.dumps(role_policy(pulumi_mocks, "staging-task-policy"))
    assert "secretsmanager" not in policy


@pytest.mark.parametrize(("role", "service"), [("task", "lambda"), ("machine", "states"), ("events", "events")])
def test_each_role_is_assumable_by_its_service_in_this_account(
    pulumi_mocks: RecordingMocks, role: str, service: str
) -> None:
    declare()
    trust = pulumi_mocks.one("aws:iam/role:Role", f"staging-{role}-role").inputs["assumeRolePolicy"]
    assert json.loads(trust) == assume_role_policy(f"{service}.amazonaws.com", ACCOUNT)


def test_the_task_policy_is_scoped_to_prods_exports_and_this_pipelines_resources(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    key_arn = arn(pulumi_mocks, "aws:kms/key:Key", "staging-key")
    assert role_policy(pulumi_mocks, "staging-task-policy") == staging_task_policy(
        stack=STACK,
        region=REGION,
        account=ACCOUNT,
        test_tables=["orders-test"],
        vault_bucket_arn=VAULT_ARN,
        vault_key_arn=VAULT_KEY,
        ledger_arn=arn(pulumi_mocks, "aws:dynamodb/table:Table", "staging-ledger"),
        mask_bucket_arn=f"arn:aws:s3:::{out['mask_bucket_name']}",
        staging_key_arn=key_arn,
        secret_name="safetynet/test/masking-key",
        function_name="safetynet-staging-test",
    )


def test_the_state_machine_policy_is_scoped_to_this_pipeline(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    assert role_policy(pulumi_mocks, "staging-machine-policy") == state_machine_policy(
        region=REGION,
        account=ACCOUNT,
        state_machine_name=MACHINE_NAME,
        function_name="safetynet-staging-test",
        test_tables=["orders-test"],
        vault_bucket_arn=VAULT_ARN,
        vault_key_arn=VAULT_KEY,
        mask_bucket_arn=f"arn:aws:s3:::{out['mask_bucket_name']}",
        staging_key_arn=arn(pulumi_mocks, "aws:kms/key:Key", "staging-key"),
        topic_arn=out["topic_arn"],
    )


def test_eventbridge_may_only_start_this_state_machine(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    assert role_policy(pulumi_mocks, "staging-events-policy") == start_execution_policy(out["state_machine_arn"])


def test_masked_copies_expire_from_a_hardened_bucket(pulumi_mocks: RecordingMocks) -> None:
    declare()
    lifecycle = pulumi_mocks.one(BUCKET_TYPES[-1], "staging-masked-lifecycle").inputs
    (rule,) = lifecycle["rules"]
    assert rule["filter"] == {"prefix": "masked/"}
    assert rule["expiration"] == {"days": 7}
    access = pulumi_mocks.one(BUCKET_TYPES[0], "staging-masked-public-access").inputs
    assert access["blockPublicPolicy"] is True


# -- the trigger: one rule for every export --------------------------------------------------------


def test_the_trigger_starts_the_machine_for_every_export_summary_in_the_vault(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    rule = pulumi_mocks.one("aws:cloudwatch/eventRule:EventRule", "staging-trigger").inputs
    assert json.loads(rule["eventPattern"]) == summary_event_pattern("prod-vault")
    target = pulumi_mocks.one("aws:cloudwatch/eventTarget:EventTarget", "staging-start").inputs
    assert (target["arn"], target["roleArn"]) == (out["state_machine_arn"], out["events_role_arn"])
    assert target["inputTransformer"] == {
        "inputPaths": {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
        "inputTemplate": '{"bucket": <bucket>, "key": <key>}',
    }
    assert target["retryPolicy"] == {"maximumRetryAttempts": 185, "maximumEventAgeInSeconds": 86400}
    assert out["ledger_table_name"] == "safetynet-staging-ledger-test"


@pytest.mark.parametrize("name", ["staging-task-policy", "staging-machine-policy"])
def test_the_roles_and_the_trigger_do_not_grow_with_the_tables(pulumi_mocks: RecordingMocks, name: str) -> None:
    # Given the pipeline for 1 table, then for 1,000
    declare(tables=1)
    one = json.dumps(role_policy(pulumi_mocks, name), separators=(",", ":"))
    pulumi_mocks.registrations.clear()
    declare(tables=1000)
    many = json.dumps(role_policy(pulumi_mocks, name), separators=(",", ":"))
    # Then it is no larger: the tables appear only through their name scope (orders-test alone,
    # then *-test), never one by one
    assert len(many) <= len(one)
    assert ":table/*-test" in many and "table-0999" not in many
    assert len(pulumi_mocks.of_type("aws:cloudwatch/eventRule:EventRule")) == 1


@pytest.mark.parametrize(
    ("sources", "problem"),
    [
        ([], "safetynet:tables is empty"),
        (
            [
                {"bucketArn": VAULT_ARN, "prefix": "exports/a"},
                {"bucketArn": "arn:aws:s3:::other", "prefix": "exports/b"},
            ],
            "buckets: arn:aws:s3:::other, arn:aws:s3:::prod-vault",
        ),
        ([{"bucketArn": VAULT_ARN, "prefix": "backups/a"}], "prefixes outside: backups/a"),
    ],
)
def test_prods_exports_must_lie_under_one_vaults_exports_prefix(sources: list[dict[str, str]], problem: str) -> None:
    # What the trigger and the roles cover; anything else would be staged by nothing.
    with pytest.raises(ValueError, match=re.escape(problem)):
        vault_bucket_arn(sources)


def test_the_vault_is_the_bucket_of_prods_exports() -> None:
    sources = [{"bucketArn": VAULT_ARN, "prefix": f"exports/{t}"} for t in ("a", "b")]
    assert vault_bucket_arn(sources) == VAULT_ARN

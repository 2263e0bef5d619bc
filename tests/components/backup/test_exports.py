"""NightlyExports (the stack's scheduler role, its policy and the dead-letter queue) and the tables'
NightlyExport schedules that share them, declared from minimal arguments under Pulumi's mocks."""

from __future__ import annotations

import json
from typing import Any

from components.backup.exports import (
    DEAD_LETTER_RETENTION_SECONDS,
    NightlyExport,
    NightlyExportArgs,
    NightlyExports,
    NightlyExportsArgs,
    VaultRef,
)
from components.backup.policies import nightly_exports_policy
from components.common.policies import assume_role_policy
from components.config.backup import BackupSpec
from tests.support.iam_eval import allows, resource_tags
from tests.support.iam_lint import assert_clean
from tests.support.pulumi_mocks import REGION, RecordingMocks
from tests.support.pulumi_run import declared, resolved

ACCOUNT = "123456789012"
VAULT_ARN = "arn:aws:s3:::vault-1"
VAULT_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000vault"
VAULT = VaultRef(bucket_name="vault-1", bucket_arn=VAULT_ARN, kms_key_arn=VAULT_KEY)
STACK = "safetynet/prod"
TAGS = {"safetynet:environment": "prod", "safetynet:stack": STACK}
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/rolePolicy:RolePolicy"
QUEUE = "aws:sqs/queue:Queue"
SCHEDULE = "aws:scheduler/schedule:Schedule"


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def declare(*tables: str) -> dict[str, Any]:
    """The stack's NightlyExports and one NightlyExport per table name; resolves what they expose."""

    def build() -> dict[str, Any]:
        jobs = NightlyExports(
            "nightly-exports",
            NightlyExportsArgs(
                backup=BackupSpec(), vault=VAULT, stack_tag=STACK, tags=TAGS, account_id=ACCOUNT, region=REGION
            ),
        )
        out: dict[str, Any] = {"role_arn": jobs.role_arn, "dead_letter_queue_arn": jobs.dead_letter_queue_arn}
        for t in tables:
            export = NightlyExport(
                f"{t}-export",
                NightlyExportArgs(table_arn=table_arn(t), physical_name=t, export_prefix=f"exports/{t}", jobs=jobs),
            )
            out[f"{t}_dlq"] = export.dead_letter_queue_arn
        return out

    return resolved(build)


def test_the_stack_declares_one_role_one_policy_and_one_queue(pulumi_mocks: RecordingMocks) -> None:
    declare()
    assert declared(pulumi_mocks) == sorted(
        [
            ("safetynet:backup:NightlyExports", "nightly-exports"),
            (QUEUE, "nightly-exports-dlq"),
            (ROLE, "nightly-exports-role"),
            (POLICY, "nightly-exports-policy"),
        ]
    )


def test_more_tables_add_only_their_schedules(pulumi_mocks: RecordingMocks) -> None:
    declare("orders", "customers", "inventory")
    custom = sorted((r.typ, r.name) for r in pulumi_mocks.registrations if r.custom)
    assert custom == sorted(
        [
            (QUEUE, "nightly-exports-dlq"),
            (ROLE, "nightly-exports-role"),
            (POLICY, "nightly-exports-policy"),
            *[(SCHEDULE, f"{t}-export-schedule") for t in ("orders", "customers", "inventory")],
        ]
    )


def test_every_schedule_uses_the_stack_role_and_queue_with_the_retry_policy(pulumi_mocks: RecordingMocks) -> None:
    out = declare("orders", "customers")
    for t in ("orders", "customers"):
        target = pulumi_mocks.one(SCHEDULE, f"{t}-export-schedule").inputs["target"]
        assert target["roleArn"] == out["role_arn"]
        assert target["deadLetterConfig"] == {"arn": out["dead_letter_queue_arn"]}
        assert target["retryPolicy"] == {"maximumRetryAttempts": 5, "maximumEventAgeInSeconds": 3600}
        assert json.loads(target["input"])["TableArn"] == table_arn(t)
        assert json.loads(target["input"])["S3Prefix"] == f"exports/{t}"
        assert out[f"{t}_dlq"] == out["dead_letter_queue_arn"]


def test_the_role_is_assumable_only_by_the_scheduler_of_this_account(pulumi_mocks: RecordingMocks) -> None:
    declare()
    trust = json.loads(pulumi_mocks.one(ROLE, "nightly-exports-role").inputs["assumeRolePolicy"])
    assert trust == assume_role_policy("scheduler.amazonaws.com", ACCOUNT)
    [stmt] = trust["Statement"]
    assert stmt["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_role_policy_is_the_stack_scoped_document(pulumi_mocks: RecordingMocks) -> None:
    out = declare("orders")
    policy = json.loads(pulumi_mocks.one(POLICY, "nightly-exports-policy").inputs["policy"])
    assert policy == nightly_exports_policy(
        region=REGION,
        account_id=ACCOUNT,
        stack_tag=STACK,
        bucket_arn=VAULT_ARN,
        kms_key_arn=VAULT_KEY,
        dlq_arn=out["dead_letter_queue_arn"],
    )
    assert_clean(policy)
    export = "dynamodb:ExportTableToPointInTime"
    assert allows(policy, export, table_arn("orders"), resource_tags({"safetynet:stack": STACK}))
    assert not allows(policy, export, table_arn("orders"), resource_tags({"safetynet:stack": "safetynet/test"}))
    assert not allows(policy, "s3:PutObject", f"{VAULT_ARN}/drills/orders/latest.json")


def test_failed_invocations_dead_letter_into_an_encrypted_queue(pulumi_mocks: RecordingMocks) -> None:
    declare()
    queue = pulumi_mocks.one(QUEUE, "nightly-exports-dlq").inputs
    assert queue["sqsManagedSseEnabled"] is True
    assert queue["messageRetentionSeconds"] == DEAD_LETTER_RETENTION_SECONDS == 1_209_600
    assert queue["tags"] == TAGS

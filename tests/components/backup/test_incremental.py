"""IncrementalExports (components/backup/incremental.py): one schedule, one task, one ledger, one
dead-letter queue and two alarms per stack, whatever the number of tables; declared from minimal
arguments under Pulumi's mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.backup.chain_policies import chain_scheduler_policy, chain_task_policy
from components.backup.exports import NightlyExports, NightlyExportsArgs, VaultRef
from components.backup.incremental import (
    HANDLER,
    SAFETY_LAG_SECONDS,
    ChainTableArgs,
    IncrementalExports,
    IncrementalExportsArgs,
)
from components.common.lambda_package import archive_files
from components.common.policies import assume_role_policy
from components.config.backup import BackupSpec
from conventions.chain import CHAIN_CONTEXT_ARCHIVE_PATH, ChainContext
from policy_rules import RULES, Resource, evaluate
from policy_rules.measure import archive_sizes
from tests.support.iam_lint import assert_clean
from tests.support.pulumi_mocks import REGION, RecordingMocks
from tests.support.pulumi_run import declared, resolved

ACCOUNT = "123456789012"
VAULT = VaultRef("vault-1", "arn:aws:s3:::vault-1", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/vault")
STACK_TAG = "safetynet/prod"
TAGS = {"safetynet:environment": "prod", "safetynet:stack": STACK_TAG}
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:safetynet-prod-alerts"
LAYER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:safetynet-prod-lambda-deps:1"
NAME = "chain"


def table(i: int, every: int = 900, view: str = "NEW_AND_OLD_IMAGES") -> ChainTableArgs:
    name = f"table-{i:04d}"
    return ChainTableArgs(name, name, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}", every, view, 35)


def declare(
    tables: list[ChainTableArgs], *, ledger_export: bool = False, alarms: bool = True, **changes: Any
) -> dict[str, Any]:
    def build() -> dict[str, Any]:
        jobs = None
        if ledger_export:
            jobs = NightlyExports(
                "nightly-exports",
                NightlyExportsArgs(BackupSpec(), VAULT, STACK_TAG, TAGS, ACCOUNT, REGION),
            )
        args = IncrementalExportsArgs(
            stack="prod",
            environment="prod",
            stack_tag=STACK_TAG,
            tables=tables,
            vault=VAULT,
            backup=BackupSpec(),
            account_id=ACCOUNT,
            region=REGION,
            tags=TAGS,
            dependency_layer_arn=LAYER,
            protect=True,
            jobs=jobs,
            alarm_actions=[TOPIC] if alarms else [],
        )
        for key, value in changes.items():
            object.__setattr__(args, key, value)
        chain = IncrementalExports(NAME, args)
        return {
            "ledger": chain.ledger_table_name,
            "function": chain.function_name,
            "schedule": chain.schedule_arn,
            "dlq": chain.dead_letter_queue_arn,
            "alarms": chain.alarm_arns,
        }

    return resolved(build)


def aws_resources(mocks: RecordingMocks) -> list[tuple[str, str]]:
    return sorted((r.typ, r.name) for r in mocks.registrations if r.custom)


EXPECTED = sorted(
    [
        ("aws:dynamodb/table:Table", f"{NAME}-ledger"),
        ("aws:sqs/queue:Queue", f"{NAME}-dlq"),
        ("aws:cloudwatch/logGroup:LogGroup", f"{NAME}-logs"),
        ("aws:iam/role:Role", f"{NAME}-task-role"),
        ("aws:iam/rolePolicy:RolePolicy", f"{NAME}-task-policy"),
        ("aws:lambda/function:Function", f"{NAME}-task"),
        ("aws:iam/role:Role", f"{NAME}-scheduler-role"),
        ("aws:iam/rolePolicy:RolePolicy", f"{NAME}-scheduler-policy"),
        ("aws:scheduler/schedule:Schedule", f"{NAME}-schedule"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-failed"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-late"),
    ]
)


def test_one_stack_declares_one_schedule_one_task_one_ledger_and_one_queue(pulumi_mocks: RecordingMocks) -> None:
    declare([table(1)])
    assert aws_resources(pulumi_mocks) == EXPECTED
    assert ("safetynet:backup:IncrementalExports", NAME) in declared(pulumi_mocks)


def test_more_tables_add_no_resource(pulumi_mocks: RecordingMocks) -> None:
    declare([table(i) for i in range(50)])
    assert aws_resources(pulumi_mocks) == EXPECTED


def test_the_ledger_gets_its_own_nightly_export_like_every_table_of_a_prod_stack(pulumi_mocks: RecordingMocks) -> None:
    out = declare([table(1)], ledger_export=True)
    schedule = pulumi_mocks.one("aws:scheduler/schedule:Schedule", f"{NAME}-ledger-backup-schedule")
    request = json.loads(schedule.inputs["target"]["input"])
    assert request["TableArn"].endswith(f":table/{out['ledger']}")
    assert request["S3Prefix"] == f"exports/{out['ledger']}"


def test_the_ledger_is_pay_per_request_with_pitr_encryption_and_deletion_protection(
    pulumi_mocks: RecordingMocks,
) -> None:
    declare([table(1)])
    ledger = pulumi_mocks.one("aws:dynamodb/table:Table").inputs
    assert ledger["name"] == "safetynet-chain-ledger-prod"
    assert ledger["hashKey"] == "table" and ledger["billingMode"] == "PAY_PER_REQUEST"
    assert ledger["pointInTimeRecovery"] == {"enabled": True, "recoveryPeriodInDays": 35}
    assert ledger["serverSideEncryption"]["enabled"] is True
    assert ledger["deletionProtectionEnabled"] is True
    assert ledger["tags"] == TAGS


def test_the_schedule_runs_at_the_smallest_window_without_a_flexible_window(pulumi_mocks: RecordingMocks) -> None:
    out = declare([table(1, every=3600), table(2, every=1800), table(3, every=86400)])
    schedule = pulumi_mocks.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["scheduleExpression"] == "rate(30 minutes)"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert target["arn"].startswith("arn:aws:lambda:") and target["arn"].endswith(f"{NAME}-task")
    assert json.loads(target["input"]) == {"scheduledTime": "<aws.scheduler.scheduled-time>"}
    # retries as the nightly export's, but no invocation older than the next run
    assert target["retryPolicy"] == {"maximumRetryAttempts": 5, "maximumEventAgeInSeconds": 1800}
    assert target["deadLetterConfig"] == {"arn": out["dlq"]}


def test_failed_runs_dead_letter_into_an_encrypted_queue(pulumi_mocks: RecordingMocks) -> None:
    out = declare([table(1)])
    queue = pulumi_mocks.one("aws:sqs/queue:Queue").inputs
    assert queue["sqsManagedSseEnabled"] is True and queue["messageRetentionSeconds"] == 14 * 24 * 3600
    # the scheduler invokes the task asynchronously: what Lambda cannot run after its retries
    fn = pulumi_mocks.one("aws:lambda/function:Function").inputs
    assert fn["deadLetterConfig"] == {"targetArn": out["dlq"]}


def test_the_task_runs_the_chain_handler_with_its_context_inside_the_archive(pulumi_mocks: RecordingMocks) -> None:
    out = declare([table(1), table(2, every=3600, view="NEW_IMAGE")])
    fn = pulumi_mocks.one("aws:lambda/function:Function").inputs
    assert fn["handler"] == HANDLER and fn["runtime"] == "python3.12" and fn["timeout"] == 600
    assert fn["layers"][1] == LAYER and "AWSLambdaPowertoolsPythonV3" in fn["layers"][0]
    assets = fn["code"].assets
    assert set(assets) == {*archive_files(), f"handlers/{CHAIN_CONTEXT_ARCHIVE_PATH}"}
    ctx = ChainContext.from_json(assets[f"handlers/{CHAIN_CONTEXT_ARCHIVE_PATH}"].text)
    assert (ctx.stack, ctx.ledger_table, ctx.vault_bucket, ctx.bucket_owner) == (
        "prod",
        out["ledger"],
        "vault-1",
        ACCOUNT,
    )
    assert ctx.kms_key_arn == VAULT.kms_key_arn and ctx.safety_lag_seconds == SAFETY_LAG_SECONDS
    assert ctx.anchor_interval_hours == 24.0
    second = ctx.tables[1]
    assert (second.physical_name, second.every_seconds, second.view) == ("table-0002", 3600, "NEW_IMAGE")
    assert (second.export_prefix, second.incremental_prefix) == ("exports/table-0002", "exports/table-0002/incremental")
    assert second.arn == table(2).arn


def test_the_roles_are_the_chain_documents_and_lint_clean(pulumi_mocks: RecordingMocks) -> None:
    out = declare([table(1)])
    task = json.loads(pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy", f"{NAME}-task-policy").inputs["policy"])
    assert task == chain_task_policy(
        region=REGION,
        account_id=ACCOUNT,
        stack_tag=STACK_TAG,
        bucket_arn=VAULT.bucket_arn,
        kms_key_arn=VAULT.kms_key_arn,
        ledger_arn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{out['ledger']}",
        log_group_arn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/safetynet/prod/chain",
        dlq_arn=out["dlq"],
    )
    assert_clean(task)
    trust = json.loads(pulumi_mocks.one("aws:iam/role:Role", f"{NAME}-scheduler-role").inputs["assumeRolePolicy"])
    assert trust == assume_role_policy("scheduler.amazonaws.com", ACCOUNT)
    scheduler = json.loads(
        pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy", f"{NAME}-scheduler-policy").inputs["policy"]
    )
    # the schedule's role may invoke exactly the task, named by its ARN in IAM's form
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{out['function']}"
    assert scheduler == chain_scheduler_policy(function_arn=function_arn, dlq_arn=out["dlq"])
    assert_clean(scheduler)


def test_the_alarms_notify_the_topic_named_for_the_stack(pulumi_mocks: RecordingMocks) -> None:
    declare([table(1)])
    failed = pulumi_mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-failed").inputs
    late = pulumi_mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-late").inputs
    assert (failed["name"], failed["metricName"]) == ("safetynet-prod-chain-failed", "ChainFailedWindows")
    assert (late["name"], late["metricName"]) == ("safetynet-prod-chain-late", "ChainLateTables")
    for alarm in (failed, late):
        assert alarm["namespace"] == "safetynet" and alarm["dimensions"] == {"Stack": "prod"}
        assert alarm["alarmActions"] == [TOPIC] == alarm["okActions"]
        assert alarm["threshold"] == 0 and alarm["comparisonOperator"] == "GreaterThanThreshold"
    assert failed["treatMissingData"] == "notBreaching" and failed["evaluationPeriods"] == 1
    # a task that stops reporting is late too
    assert late["treatMissingData"] == "breaching" and late["evaluationPeriods"] == 2
    assert late["period"] == 900


def test_without_a_topic_the_alarms_notify_nobody(pulumi_mocks: RecordingMocks) -> None:
    declare([table(1)], alarms=False)
    for alarm in pulumi_mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert alarm.inputs.get("alarmActions", []) == []


def test_a_stack_without_tables_with_a_chain_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one table"):
        declare([])


# -- at 1,000 tables --------------------------------------------------------------------------


def _inputs(mocks: RecordingMocks, typ: str) -> list[str]:
    return [json.dumps(r.inputs, sort_keys=True, default=str) for r in mocks.of_type(typ)]


def test_nothing_but_the_context_grows_with_the_tables(pulumi_mocks: RecordingMocks) -> None:
    declare([table(1)])
    one = {t: _inputs(pulumi_mocks, t) for t, _ in EXPECTED if t != "aws:lambda/function:Function"}
    pulumi_mocks.registrations.clear()
    declare([table(i) for i in range(1000)])
    thousand = {t: _inputs(pulumi_mocks, t) for t, _ in EXPECTED if t != "aws:lambda/function:Function"}
    assert thousand == one


def test_at_1000_tables_every_limit_rule_passes(pulumi_mocks: RecordingMocks) -> None:
    declare([table(i) for i in range(1000)])
    resources = [Resource(type=r.typ, name=r.name, props=r.inputs) for r in pulumi_mocks.registrations if r.custom]
    limits = [rule for rule in RULES if rule.id.startswith("limit-")]
    assert evaluate(resources, limits) == []
    fn = pulumi_mocks.one("aws:lambda/function:Function").inputs
    size = archive_sizes(fn["code"])
    context = len(fn["code"].assets[f"handlers/{CHAIN_CONTEXT_ARCHIVE_PATH}"].text)
    # the context is about 330 bytes a table: a third of a megabyte at 1,000 (Lambda: 250 MB unzipped)
    assert context < 400 * 1000
    assert size.unzipped < 5 * 1024 * 1024

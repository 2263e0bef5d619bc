"""IncrementalExports: the chain of incremental exports after each table's nightly full export,
one schedule and one task per stack (not per table).

    EventBridge Scheduler, rate = the smallest `every` of the tables, flexible window off
      -> the chain task (Lambda, handlers.backup.entrypoints.chain_handler), invoked asynchronously
         for each table (the tables are in the context shipped with the code):
           DescribeExport of its running windows, the newest full export in the vault (the anchor),
           the ledger item, then ExportTableToPointInTime(INCREMENTAL_EXPORT) for each window due
      -> the ledger (DynamoDB, one item per table): the chain's end, the windows in flight
      -> metrics (namespace safetynet, dimension Stack) -> two alarms -> the alert topic

The windows' arithmetic and their rules (contiguous, 15 minutes to 24 hours, catch-up, retries of
the same window) are in handlers/backup/; the context document in conventions/chain.py. A Lambda,
not a state machine: a run makes a few short calls per table and waits for nothing (an export's
state is read by the next run), and a state machine's payload (256 KB) and per-transition price
would grow with the tables where this run's cost does not.

Hardened like the nightly exports: the task exports only tables tagged with the stack, writes only
into the vault's `exports/*/incremental/` folders with the vault key, and its schedule and
asynchronous invocation dead-letter into an encrypted queue; every size here is the same for 1 or
1,000 tables (the context ships inside the code archive, not in the environment).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup.chain_policies import chain_scheduler_policy, chain_task_policy
from components.backup.exports import (
    DEAD_LETTER_RETENTION_SECONDS,
    NightlyExport,
    NightlyExportArgs,
    NightlyExports,
    VaultRef,
)
from components.backup.table import RESTORE_INPUTS
from components.common.iam import log_group_arn, service_role
from components.common.lambda_package import ARCHITECTURE, RUNTIME, handlers_archive, powertools_layer
from components.common.policies import assume_role_policy
from components.config.backup import BackupSpec
from components.config.incremental import chain_tables, schedule_expression
from components.config.stack import StackConfig
from components.watch.parts import LOG_RETENTION_DAYS, alarm_prefix
from components.watch.policies import lambda_trust_policy
from conventions.chain import (
    CHAIN_CONTEXT_ARCHIVE_PATH,
    FAILED_ALARM_SUFFIX,
    FAILED_WINDOWS_METRIC,
    LATE_ALARM_SUFFIX,
    LATE_TABLES_METRIC,
    LEDGER_KEY,
    ChainContext,
    ChainTable,
    incremental_export_prefix,
    late_limit_seconds,
    ledger_table_name,
)
from conventions.vault import export_prefix
from conventions.watch import METRIC_NAMESPACE, STACK_DIMENSION, schedule_interval_hours

HANDLER = "handlers.backup.entrypoints.chain_handler"
SAFETY_LAG_SECONDS = 600
"""A window ends at least 10 minutes before the run: PITR's latest restorable time is typically 5
minutes back (DynamoDB API reference, PointInTimeRecoveryDescription)."""
TASK_TIMEOUT_SECONDS = 600
"""A run makes a few short calls per table (about 10 s at 1,000 tables with 8 threads) and stops
starting work 30 s before its end: 10 minutes leave a wide margin and end before the next run."""
LEDGER_PITR_DAYS = 35


@dataclass(frozen=True)
class ChainTableArgs:
    """One table with a chain."""

    name: str
    """Logical name (`safetynet:tables[i].name`)."""
    physical_name: str
    """The table's name in AWS."""
    arn: pulumi.Input[str]
    """The table's ARN."""
    every_seconds: int
    """Its window length (`every`)."""
    view: str
    """Its ExportViewType (`view`)."""
    pitr_days: int
    """Its PITR period (`pointInTimeRecoveryDays`)."""


@dataclass(frozen=True)
class IncrementalExportsArgs:
    """Inputs of an IncrementalExports."""

    stack: str
    """The stack name (metric dimension, alarm and log group names)."""
    environment: str
    """`safetynet:environment` (the ledger's name)."""
    stack_tag: str
    """The `safetynet:stack` tag value of the stack's tables: the task may export exactly those."""
    tables: Sequence[ChainTableArgs]
    """The tables with a chain (at least one)."""
    vault: VaultRef
    """The vault the windows go to, with its key."""
    backup: BackupSpec
    """Retry settings of the schedule, and the nightly schedule (when a new anchor is due)."""
    account_id: pulumi.Input[str]
    """This account (the vault's owner)."""
    region: pulumi.Input[str]
    """This region."""
    tags: dict[str, str]
    """Stack-wide tags."""
    dependency_layer_arn: pulumi.Input[str]
    """The stack's dependency layer (the task reads export summaries with the export core)."""
    protect: bool = False
    """Prod-like stacks: deletion protection on the ledger."""
    jobs: NightlyExports | None = None
    """The stack's nightly exports: the ledger gets one too, like every table of a prod stack (the
    policy rule table-nightly-export). None: no nightly export of the ledger."""
    alarm_actions: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    """Where the chain's alarms notify (DisasterWatch's alert topic), if anywhere."""


def chain_context(
    args: IncrementalExportsArgs,
    *,
    arns: Sequence[str],
    ledger_table: str,
    bucket_name: str,
    account_id: str,
    kms_key_arn: str,
) -> ChainContext:
    """The context the chain task reads (conventions.chain), from resolved values: the tables'
    ARNs in `args.tables` order, the ledger, the vault and its key."""
    return ChainContext(
        stack=args.stack,
        ledger_table=ledger_table,
        vault_bucket=bucket_name,
        bucket_owner=account_id,
        kms_key_arn=kms_key_arn,
        tables=[
            ChainTable(
                name=t.name,
                physical_name=t.physical_name,
                arn=arn,
                export_prefix=export_prefix(t.physical_name),
                incremental_prefix=incremental_export_prefix(t.physical_name),
                every_seconds=t.every_seconds,
                view=t.view,
                pitr_days=t.pitr_days,
            )
            for t, arn in zip(args.tables, arns, strict=True)
        ],
        safety_lag_seconds=SAFETY_LAG_SECONDS,
        anchor_interval_hours=schedule_interval_hours(args.backup.schedule),
    )


def run_interval_seconds(tables: Sequence[ChainTableArgs]) -> int:
    """The schedule's rate: the smallest window of the tables."""
    return min(t.every_seconds for t in tables)


class IncrementalExports(pulumi.ComponentResource):
    """The stack's chain of incremental exports: ledger, task, schedule, dead-letter queue, alarms."""

    ledger_table_name: pulumi.Output[str]
    """The ledger (one item per table: the chain's end, the windows in flight)."""
    function_name: pulumi.Output[str]
    """The chain task."""
    schedule_arn: pulumi.Output[str]
    """The schedule that runs it."""
    dead_letter_queue_arn: pulumi.Output[str]
    """Runs that could not be delivered or failed after their retry."""
    alarm_arns: list[pulumi.Output[str]]
    """The chain-failed and chain-late alarms."""

    def __init__(self, name: str, args: IncrementalExportsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:backup:IncrementalExports", name, None, opts)
        if not args.tables:
            raise ValueError("IncrementalExports needs at least one table with a chain")
        child = pulumi.ResourceOptions(parent=self)
        account = pulumi.Output.from_input(args.account_id)
        region = pulumi.Output.from_input(args.region)
        interval = run_interval_seconds(args.tables)

        # Kept like every table of the stack (PITR, encryption, and in prod deletion protection,
        # Pulumi protect and retain-on-delete): it is small, and a prod stack's rules hold for it.
        ledger = aws.dynamodb.Table(
            f"{name}-ledger",
            name=ledger_table_name(args.environment),
            hash_key=LEDGER_KEY,
            attributes=[{"name": LEDGER_KEY, "type": "S"}],
            billing_mode="PAY_PER_REQUEST",
            point_in_time_recovery={"enabled": True, "recovery_period_in_days": LEDGER_PITR_DAYS},
            server_side_encryption={"enabled": True},
            deletion_protection_enabled=args.protect,
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect, retain_on_delete=args.protect, ignore_changes=RESTORE_INPUTS
            ),
        )
        if args.jobs is not None:
            # The ledger is rebuilt from the vault if lost (a chain resumes where the vault's
            # windows after the newest full export reach), but it also says which windows are in
            # flight and where the chain gave up: kept like every table of the stack, for cents.
            ledger_name = ledger_table_name(args.environment)
            NightlyExport(
                f"{name}-ledger-backup",
                NightlyExportArgs(
                    table_arn=ledger.arn,
                    physical_name=ledger_name,
                    export_prefix=export_prefix(ledger_name),
                    jobs=args.jobs,
                ),
                opts=child,
            )
        dlq = aws.sqs.Queue(
            f"{name}-dlq",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            tags=args.tags,
            opts=child,
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/safetynet/{args.stack}/chain",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=args.tags,
            opts=child,
        )
        task_role, task_policy = service_role(
            f"{name}-task",
            description=f"safetynet {args.stack}: the chain of incremental exports",
            trust_policy=json.dumps(lambda_trust_policy()),
            policy=pulumi.Output.all(
                region=region,
                account_id=account,
                bucket_arn=args.vault.bucket_arn,
                kms_key_arn=args.vault.kms_key_arn,
                ledger_arn=ledger.arn,
                log_group_arn=log_group_arn(region, account, logs),
                dlq_arn=dlq.arn,
            ).apply(lambda a: json.dumps(chain_task_policy(stack_tag=args.stack_tag, **a))),
            tags=args.tags,
            opts=child,
        )
        context_json = pulumi.Output.all(
            arns=pulumi.Output.all(*[t.arn for t in args.tables]),
            ledger_table=ledger.name,
            bucket_name=args.vault.bucket_name,
            account_id=account,
            kms_key_arn=args.vault.kms_key_arn,
        ).apply(lambda a: chain_context(args, **a).to_json())
        function = aws.lambda_.Function(
            f"{name}-task",
            description=f"safetynet {args.stack}: start due incremental-export windows, record completed ones",
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=HANDLER,
            # The context ships inside the archive (no 4 KB environment limit at 1,000 tables), and
            # code and context always deploy together.
            code=context_json.apply(lambda doc: handlers_archive(extra_files={CHAIN_CONTEXT_ARCHIVE_PATH: doc})),
            role=task_role.arn,
            layers=[region.apply(powertools_layer), args.dependency_layer_arn],
            timeout=TASK_TIMEOUT_SECONDS,
            memory_size=512,
            environment={"variables": {"POWERTOOLS_SERVICE_NAME": "safetynet-chain"}},
            logging_config={"log_format": "JSON", "log_group": logs.name},
            # The scheduler invokes the task asynchronously: Lambda retries a failed run twice, then
            # puts the event here (the next scheduled run does the work anyway: runs are idempotent).
            dead_letter_config={"target_arn": dlq.arn},
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[task_policy]),
        )
        scheduler_role, scheduler_policy = service_role(
            f"{name}-scheduler",
            description=f"EventBridge Scheduler: run safetynet {args.stack}'s chain of incremental exports",
            trust_policy=account.apply(lambda acct: json.dumps(assume_role_policy("scheduler.amazonaws.com", acct))),
            # The function's ARN from its name, in the form IAM documents it (`...:function:<name>`).
            policy=pulumi.Output.all(region=region, account=account, function=function.name, dlq_arn=dlq.arn).apply(
                lambda a: json.dumps(
                    chain_scheduler_policy(
                        function_arn=f"arn:aws:lambda:{a['region']}:{a['account']}:function:{a['function']}",
                        dlq_arn=a["dlq_arn"],
                    )
                )
            ),
            tags=args.tags,
            opts=child,
        )
        schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            description=f"safetynet {args.stack}: incremental-export windows, {schedule_expression(interval)}",
            schedule_expression=schedule_expression(interval),
            flexible_time_window={"mode": "OFF"},
            state="ENABLED",
            target={
                "arn": function.arn,
                "role_arn": scheduler_role.arn,
                # The same for every retry of one invocation: a retried run plans the same windows.
                "input": json.dumps({"scheduledTime": "<aws.scheduler.scheduled-time>"}),
                "retry_policy": {
                    "maximum_retry_attempts": args.backup.max_retry_attempts,
                    "maximum_event_age_in_seconds": max(60, min(args.backup.max_event_age_seconds, interval)),
                },
                "dead_letter_config": {"arn": dlq.arn},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[scheduler_policy]),
        )
        alarms = [
            _alarm(
                self,
                f"{name}-failed",
                args,
                suffix=FAILED_ALARM_SUFFIX,
                metric=FAILED_WINDOWS_METRIC,
                description="An incremental export failed or could not start (retried as the same window at the "
                f"next run; the ledger item and the chain task's log name it: /safetynet/{args.stack}/chain)",
                period=interval,
                evaluation_periods=1,
                missing="notBreaching",
            ),
            _alarm(
                self,
                f"{name}-late",
                args,
                suffix=LATE_ALARM_SUFFIX,
                metric=LATE_TABLES_METRIC,
                description="A table's chain ends further back than two windows, the safety lag and an hour "
                f"(limit for the shortest window: {late_limit_seconds(interval, SAFETY_LAG_SECONDS) // 60} min), "
                "or the chain task stopped reporting",
                period=interval,
                evaluation_periods=2 if 2 * interval <= 86400 else 1,
                missing="breaching",
            ),
        ]
        self.ledger_table_name = ledger.name
        self.function_name = function.name
        self.schedule_arn = schedule.arn
        self.dead_letter_queue_arn = dlq.arn
        self.alarm_arns = [a.arn for a in alarms]
        self.register_outputs(
            {
                "ledgerTableName": ledger.name,
                "functionName": function.name,
                "scheduleArn": schedule.arn,
                "deadLetterQueueArn": dlq.arn,
            }
        )


def _alarm(
    parent: pulumi.ComponentResource,
    resource_name: str,
    args: IncrementalExportsArgs,
    *,
    suffix: str,
    metric: str,
    description: str,
    period: int,
    evaluation_periods: int,
    missing: str,
) -> aws.cloudwatch.MetricAlarm:
    """A stack-wide alarm on one of the chain's metrics: ALARM when above 0."""
    actions = list(args.alarm_actions)
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        name=f"{alarm_prefix(args.stack)}{suffix}",
        alarm_description=description,
        namespace=METRIC_NAMESPACE,
        metric_name=metric,
        dimensions={STACK_DIMENSION: args.stack},
        statistic="Maximum",
        period=period,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=evaluation_periods,
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data=missing,
        alarm_actions=actions,
        ok_actions=actions,
        tags=args.tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


# -- the stack's chain, from its config -----------------------------------------------------------


def build_incremental_exports(
    cfg: StackConfig,
    *,
    stack: str,
    stack_tag: str,
    tables: dict[str, dict[str, Any]],
    vault: VaultRef,
    tags: dict[str, str],
    account_id: pulumi.Input[str],
    region: pulumi.Input[str],
    dependency_layer_arn: pulumi.Input[str] | None,
    jobs: NightlyExports | None = None,
    alarm_actions: Sequence[pulumi.Input[str]] = (),
) -> dict[str, Any] | None:
    """The stack's IncrementalExports when a table has a chain (None otherwise); returns its stack
    outputs. `tables` is build_protected_stack's per-table output (arn); `jobs` the stack's nightly
    exports (the ledger's own nightly export)."""
    selected = chain_tables(cfg)
    if not selected:
        return None
    if dependency_layer_arn is None:
        raise ValueError("IncrementalExports needs the stack's dependency layer (lambda_package.dependency_layer)")
    chain = IncrementalExports(
        "chain",
        IncrementalExportsArgs(
            stack=stack,
            environment=cfg.environment,
            stack_tag=stack_tag,
            tables=[
                ChainTableArgs(
                    name=spec.name,
                    physical_name=cfg.physical_name(spec),
                    arn=tables[spec.name]["arn"],
                    every_seconds=resolved.every_seconds,
                    view=resolved.view,
                    pitr_days=spec.point_in_time_recovery_days,
                )
                for spec, resolved in selected
            ],
            vault=vault,
            backup=cfg.backup,
            account_id=account_id,
            region=region,
            tags=tags,
            dependency_layer_arn=dependency_layer_arn,
            protect=cfg.is_prod,
            jobs=jobs,
            alarm_actions=list(alarm_actions),
        ),
    )
    return {
        "ledgerTableName": chain.ledger_table_name,
        "functionName": chain.function_name,
        "scheduleArn": chain.schedule_arn,
        "deadLetterQueueArn": chain.dead_letter_queue_arn,
        "tables": len(selected),
    }

"""DisasterWatch: notice within minutes when a stack's safety net is cut, and prove every week
that its backups restore. A composition of small parts, each its own component:

    AlertTopic       topic.py      encrypted SNS topic ─> e-mail / HTTPS
    AlertRouting     alerts.py     CloudTrail ─> EventBridge rules (one per danger, by event name;
                                   only the vault is named) ─> classifier Lambda (keeps this
                                   stack's resources; alerts on unprotected new tables) ─> topic
                                   (retries; undeliverable events -> dead-letter queue + alarm)
    ExportFreshness  freshness.py  hourly ─> freshness Lambda ─> metrics (namespace safetynet,
                                   dimensions Table and Stack; the account's unprotected tables)
                                   ─> per-table alarms, the coverage alarm ─> topic
    RestoreDrill     drill.py      weekly ─> drill state machine (data files checked by a
                                   Distributed Map, ImportTable into a scratch table, verify,
                                   delete) ─> metrics
    WatchDashboard   overview.py   stack-wide alarms and numbers, the ten worst tables per metric
    AuditTrail       trail.py      a multi-region trail (only with alerts.createTrail)

Every task (classifier, freshness, drill) runs the same code archive, with the context document
built here inside it: what the stack owns (tables, schedules, vault, its tag, the coverage
exclusions) is known to the code, so no pattern, policy or dashboard lists the tables. Event
patterns, IAM documents, the state machine and the dashboard body are pure functions in
patterns.py, policies.py, state_machine.py and dashboard.py; what the parts share (task args, log
groups, roles, functions, alarms) is in parts.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.backup.vault import BackupVault
from components.common.lambda_package import handlers_archive
from components.config.alerts import AlertsSpec, DrillSpec
from components.config.incremental import chain_ledger_names
from components.config.stack import StackConfig
from components.watch.alerts import AlertRouting, AlertRoutingArgs
from components.watch.drill import RestoreDrill, RestoreDrillArgs
from components.watch.freshness import ExportFreshness, ExportFreshnessArgs
from components.watch.overview import WatchDashboard, WatchDashboardArgs
from components.watch.parts import WatchedTableArgs, alarm_prefix, table_arns
from components.watch.patterns import schedule_name
from components.watch.topic import AlertTopic, AlertTopicArgs
from components.watch.trail import AuditTrail, AuditTrailArgs
from conventions.tags import STACK_TAG
from conventions.watch import CONTEXT_ARCHIVE_PATH, WatchContext, WatchedTable, schedule_interval_hours


@dataclass(frozen=True)
class DisasterWatchArgs:
    """Inputs of a DisasterWatch."""

    stack: str
    """The stack name (alert texts, alarm names, restore-plan commands)."""
    stack_tag: str
    """The `safetynet:stack` tag value of the stack's tables (`<project>/<stack>`)."""
    tables: list[WatchedTableArgs]
    """The protected tables (at least one)."""
    bucket_name: pulumi.Input[str]
    """The backup vault bucket."""
    bucket_arn: pulumi.Input[str]
    """The vault bucket's ARN."""
    kms_key_arn: pulumi.Input[str]
    """The vault key."""
    alerts: AlertsSpec
    """`safetynet:alerts`."""
    drill: DrillSpec
    """`safetynet:drill`."""
    export_schedule: str
    """The nightly export's schedule expression (the freshness limit is its interval + grace)."""
    account_id: pulumi.Input[str]
    """This account."""
    region: pulumi.Input[str]
    """This region."""
    tags: dict[str, str]
    """Stack-wide tags."""
    dependency_layer_arn: pulumi.Input[str]
    """The stack's dependency layer (components.common.lambda_package.dependency_layer)."""
    coverage_exclude: Sequence[str] = ()
    """`safetynet:coverage.exclude` patterns: tables knowingly left without safetynet."""
    owned_table_names: Sequence[str] = field(default_factory=list)
    """Other tables the stack declares (restored copies beside their original)."""


class DisasterWatch(pulumi.ComponentResource):
    """Destructive-event alerts, export freshness alarms, weekly restore drills and a dashboard
    for one (prod) stack."""

    topic_arn: pulumi.Output[str]
    """The encrypted alert topic."""
    state_machine_arn: pulumi.Output[str]
    """The restore drill state machine."""
    dashboard_name: pulumi.Output[str]
    """The CloudWatch dashboard."""

    def __init__(self, name: str, args: DisasterWatchArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:watch:DisasterWatch", name, None, opts)
        if not args.tables:
            raise ValueError("DisasterWatch needs at least one table (safetynet:tables is empty)")
        # The parts take this component's name: what they declare keeps the names it had when
        # DisasterWatch declared everything itself (and the parts alias their old URNs).
        part = pulumi.ResourceOptions(parent=self)
        export_limit = schedule_interval_hours(args.export_schedule) + args.alerts.freshness_grace_hours
        drill_limit = args.drill.max_age_days * 24.0

        topic = AlertTopic(
            name,
            AlertTopicArgs(
                stack=args.stack,
                email=args.alerts.email,
                https=args.alerts.https,
                account_id=args.account_id,
                region=args.region,
                tags=args.tags,
            ),
            opts=part,
        )
        # The drill's schedules are declared by RestoreDrill, which runs the code this context
        # ships in: their names reach the context through a deferred Output, resolved below.
        drill_schedules: pulumi.Output[list[str]]
        resolve_drill_schedules: Callable[[pulumi.Output[list[str]]], None]
        drill_schedules, resolve_drill_schedules = pulumi.deferred_output()
        context_json = pulumi.Output.all(
            arns=table_arns(args.tables),
            schedule_arns=pulumi.Output.all(*[t.schedule_arn for t in args.tables]),
            drill_schedule_names=drill_schedules,
            vault_bucket=args.bucket_name,
            kms_key_arn=args.kms_key_arn,
            topic_arn=topic.topic_arn,
        ).apply(lambda a: watch_context(args, **a).to_json())
        # The context ships inside the code archive (handlers/watch/watch_context.json): no size limit
        # (Lambda's environment holds 4 KB, about 8 tables), and code and context always deploy
        # together, so a warm task never runs with another deploy's context.
        task: dict[str, Any] = {
            "stack": args.stack,
            "stack_tag": args.stack_tag,
            "tables": args.tables,
            "bucket_arn": args.bucket_arn,
            "kms_key_arn": args.kms_key_arn,
            "topic_arn": topic.topic_arn,
            "code": context_json.apply(lambda doc: handlers_archive(extra_files={CONTEXT_ARCHIVE_PATH: doc})),
            "dependency_layer_arn": args.dependency_layer_arn,
            "account_id": args.account_id,
            "region": args.region,
            "tags": args.tags,
        }
        freshness = ExportFreshness(
            name,
            ExportFreshnessArgs(
                **task,
                export_limit_hours=export_limit,
                max_item_drop_ratio=args.alerts.max_item_drop_ratio,
                drill_limit_hours=drill_limit,
            ),
            opts=part,
        )
        drill = RestoreDrill(name, RestoreDrillArgs(**task, schedule=args.drill.schedule), opts=part)
        resolve_drill_schedules(pulumi.Output.all(*drill.schedule_names))
        routing = AlertRouting(
            name,
            AlertRoutingArgs(**task, bucket_name=args.bucket_name, topic_key_arn=topic.key_arn),
            opts=part,
        )
        dashboard = WatchDashboard(
            name,
            WatchDashboardArgs(
                stack=args.stack,
                alarm_arns=[*routing.alarm_arns, freshness.coverage_alarm_arn],
                export_limit_hours=export_limit,
                drill_limit_hours=drill_limit,
                max_item_drop_ratio=args.alerts.max_item_drop_ratio,
                region=args.region,
            ),
            opts=part,
        )
        if args.alerts.create_trail:
            AuditTrail(
                name,
                AuditTrailArgs(stack=args.stack, account_id=args.account_id, region=args.region, tags=args.tags),
                opts=part,
            )

        self.topic_arn = topic.topic_arn
        self.state_machine_arn = drill.state_machine_arn
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs(
            {
                "topicArn": self.topic_arn,
                "drillStateMachineArn": self.state_machine_arn,
                "dashboardName": self.dashboard_name,
            }
        )


def watch_context(
    args: DisasterWatchArgs,
    *,
    arns: Sequence[str],
    schedule_arns: Sequence[str],
    drill_schedule_names: Sequence[str],
    vault_bucket: str,
    kms_key_arn: str,
    topic_arn: str,
) -> WatchContext:
    """The context every DisasterWatch task reads (conventions.watch), from resolved values:
    the tables' ARNs, export schedule ARNs and drill schedule names (in `args.tables` order), the
    vault and the topic."""
    return WatchContext(
        stack=args.stack,
        tables=[
            WatchedTable(
                name=t.name,
                physical_name=t.physical_name,
                arn=arn,
                export_prefix=t.export_prefix,
                key_schema=t.key_schema,
                # Only the key attributes: the drill's scratch table has no indexes.
                attribute_definitions=[
                    a
                    for a in t.attribute_definitions
                    if a["AttributeName"] in {k["AttributeName"] for k in t.key_schema}
                ],
                schedule_name=schedule_name(s),
                drill_schedule_name=drill,
            )
            for t, arn, s, drill in zip(args.tables, arns, schedule_arns, drill_schedule_names, strict=True)
        ],
        vault_bucket=vault_bucket,
        kms_key_arn=kms_key_arn,
        topic_arn=topic_arn,
        deploy_principals=list(args.alerts.deploy_principals),
        schedule_hours=schedule_interval_hours(args.export_schedule),
        freshness_grace_hours=args.alerts.freshness_grace_hours,
        max_item_drop_ratio=args.alerts.max_item_drop_ratio,
        drill_max_age_days=args.drill.max_age_days,
        drill_sample_size=args.drill.sample_size,
        stack_tag=args.stack_tag,
        coverage_exclude=list(args.coverage_exclude),
        owned_table_names=list(args.owned_table_names),
    )


def coverage_exclude_patterns(cfg: StackConfig) -> list[str]:
    """`safetynet:coverage.exclude` patterns of the stack (empty where the section is absent)."""
    # Read defensively: the section's model (components/config/coverage.py) is newer than this.
    coverage = getattr(cfg, "coverage", None)
    return [str(rule.pattern) for rule in getattr(coverage, "exclude", None) or []]


def owned_table_names(cfg: StackConfig) -> list[str]:
    """The physical names of the tables a restore declares beside their original
    (`safetynet:restore.<table>.targetSuffix`)."""
    return [
        cfg.physical_name(spec) + restore.target_suffix
        for spec in cfg.tables
        if (restore := cfg.restore.get(spec.name)) is not None and restore.target_suffix is not None
    ]


def watch_enabled(cfg: StackConfig) -> bool:
    """Whether a (non-staging) stack gets a DisasterWatch: prod and dr stacks with tables."""
    return cfg.is_prod and bool(cfg.tables)


def build_disaster_watch(
    cfg: StackConfig,
    *,
    stack: str,
    tables: dict[str, dict[str, Any]],
    vault: BackupVault,
    tags: dict[str, str],
    account_id: pulumi.Input[str],
    region: pulumi.Input[str],
    dependency_layer_arn: pulumi.Input[str] | None,
) -> dict[str, Any] | None:
    """DisasterWatch for a prod stack with tables (None elsewhere); returns its stack outputs.
    `tables` is build_protected_stack's per-table output (arn, exportPrefix, exportScheduleArn);
    `dependency_layer_arn` is required when watch_enabled(cfg)."""
    if not watch_enabled(cfg):
        return None
    if dependency_layer_arn is None:
        raise ValueError("DisasterWatch needs the stack's dependency layer (lambda_package.dependency_layer)")
    if STACK_TAG not in tags:
        raise ValueError(f"DisasterWatch needs the stack's tags with {STACK_TAG} (components.stack.stack_tags)")
    watch = DisasterWatch(
        "watch",
        DisasterWatchArgs(
            stack=stack,
            stack_tag=tags[STACK_TAG],
            tables=[
                WatchedTableArgs(
                    name=spec.name,
                    physical_name=cfg.physical_name(spec),
                    arn=tables[spec.name]["arn"],
                    export_prefix=tables[spec.name]["exportPrefix"],
                    schedule_arn=tables[spec.name]["exportScheduleArn"],
                    key_schema=spec.key_schema(),
                    attribute_definitions=spec.attribute_definitions(),
                )
                for spec in cfg.tables
            ],
            bucket_name=vault.bucket_name,
            bucket_arn=vault.bucket_arn,
            kms_key_arn=vault.kms_key_arn,
            alerts=cfg.alerts,
            drill=cfg.drill,
            export_schedule=cfg.backup.schedule,
            account_id=account_id,
            region=region,
            tags=tags,
            dependency_layer_arn=dependency_layer_arn,
            coverage_exclude=coverage_exclude_patterns(cfg),
            owned_table_names=owned_table_names(cfg) + chain_ledger_names(cfg),
        ),
    )
    return {
        "topicArn": watch.topic_arn,
        "drillStateMachineArn": watch.state_machine_arn,
        "dashboardName": watch.dashboard_name,
        "alarmPrefix": alarm_prefix(stack),
    }

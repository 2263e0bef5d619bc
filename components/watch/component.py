"""DisasterWatch: notice within minutes when a stack's safety net is cut, and prove every week
that its backups restore.

    CloudTrail ─> EventBridge rules (one per danger, scoped to this stack's resources)
                     └─> classifier Lambda ─> encrypted SNS topic ─> e-mail / HTTPS
                            (retries; undeliverable events -> dead-letter queue + alarm)
    hourly ─> freshness Lambda ─> metrics (namespace safetynet, dimension Table) ─> alarms
    weekly ─> drill state machine (data files checked by a Distributed Map, ImportTable into a
              scratch table, verify, delete) ─> metrics
    dashboard: alarms, export age, items over time, drill results

Event patterns, IAM documents, the state machine and the dashboard are pure functions in
watch_patterns.py, watch_policies.py, drill_sfn.py and dashboard.py.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup.vault import BackupVault
from components.common.iam import service_role
from components.common.lambda_package import ARCHITECTURE, RUNTIME, handlers_archive, powertools_layer
from components.common.policies import assume_role_policy
from components.config.alerts import AlertsSpec, DrillSpec
from components.config.stack import StackConfig
from components.watch.dashboard import dashboard_body
from components.watch.patterns import WatchedResources, schedule_name, watch_patterns
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
from components.watch.state_machine import drill_definition
from conventions.vault import drill_record_prefix
from conventions.watch import (
    CONTEXT_ARCHIVE_PATH,
    METRIC_NAMESPACE,
    WatchContext,
    WatchedTable,
    schedule_interval_hours,
)

FRESHNESS_SCHEDULE = "rate(1 hour)"
LOG_RETENTION_DAYS = 90


@dataclass(frozen=True)
class WatchedTableArgs:
    """One protected table as DisasterWatch sees it."""

    name: str
    """Logical name (`safetynet:tables[i].name`)."""
    physical_name: str
    """The table's name in AWS."""
    arn: pulumi.Input[str]
    """Table ARN."""
    export_prefix: str
    """`exports/<table>` in the vault."""
    schedule_arn: pulumi.Input[str]
    """The nightly export's schedule."""
    key_schema: list[dict[str, str]]
    """KeySchema (the drill's scratch table keys)."""
    attribute_definitions: list[dict[str, str]]
    """AttributeDefinitions."""


@dataclass(frozen=True)
class DisasterWatchArgs:
    """Inputs of a DisasterWatch."""

    stack: str
    """The stack name (alert texts, alarm names, restore-plan commands)."""
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


def alarm_prefix(stack: str) -> str:
    """Every DisasterWatch alarm name starts with this (`safetynet status` lists them by it)."""
    return f"safetynet-{stack}-"


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
        self._name = name
        self._args = args
        self._acct = pulumi.Output.from_input(args.account_id)
        self._region = pulumi.Output.from_input(args.region)
        self._table_arns = pulumi.Output.all(*[t.arn for t in args.tables])
        self._prefixes = [t.export_prefix for t in args.tables]
        self._drill_prefixes = [drill_record_prefix(t.physical_name) for t in args.tables]
        self._vault = pulumi.Output.all(args.bucket_arn, args.kms_key_arn)
        self._interval = schedule_interval_hours(args.export_schedule)

        topic, topic_key, dlq = self._alerting()
        self._context_json = pulumi.Output.all(
            self._table_arns,
            pulumi.Output.all(*[t.schedule_arn for t in args.tables]),
            args.bucket_name,
            args.kms_key_arn,
            topic.arn,
        ).apply(lambda v: self._context_doc(v[0], v[1], v[2], v[3], v[4]))
        # The context ships inside the code archive (handlers/watch/watch_context.json): no size limit
        # (Lambda's environment holds 4 KB, about 8 tables), and code and context always deploy
        # together, so a warm task never runs with another deploy's context.
        self._code = self._context_json.apply(lambda doc: handlers_archive(extra_files={CONTEXT_ARCHIVE_PATH: doc}))
        self._layer = self._region.apply(powertools_layer)

        classifier = self._classifier(topic, topic_key, dlq)
        self._freshness()
        machine, drill_schedules = self._drill()
        self._rules(classifier, dlq, drill_schedules)
        dashboard = self._alarms_and_dashboard(topic, dlq, classifier)
        if args.alerts.create_trail:
            self._trail()

        self.topic_arn = topic.arn
        self.state_machine_arn = machine.arn
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs(
            {
                "topicArn": topic.arn,
                "drillStateMachineArn": machine.arn,
                "dashboardName": dashboard.dashboard_name,
            }
        )

    # -- parts --------------------------------------------------------------------------------

    def _alerting(self) -> tuple[aws.sns.Topic, aws.kms.Key, aws.sqs.Queue]:
        """The encrypted topic with its subscriptions, and the dead-letter queue of the rules."""
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        topic_key = aws.kms.Key(
            f"{name}-topic-key",
            description=f"safetynet {args.stack} alert topic",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(self._acct, self._region).apply(
                lambda v: json.dumps(topic_key_policy(v[0], v[1]))
            ),
            tags=args.tags,
            opts=child,
        )
        topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=topic_key.arn, tags=args.tags, opts=child)
        for i, address in enumerate(args.alerts.email):
            aws.sns.TopicSubscription(
                f"{name}-email-{i}", topic=topic.arn, protocol="email", endpoint=address, opts=child
            )
        for i, url in enumerate(args.alerts.https):
            aws.sns.TopicSubscription(
                f"{name}-https-{i}",
                topic=topic.arn,
                protocol="https",
                endpoint=url,
                endpoint_auto_confirms=False,
                opts=child,
            )
        dlq = aws.sqs.Queue(
            f"{name}-undelivered",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=14 * 24 * 3600,
            tags=args.tags,
            opts=child,
        )
        return topic, topic_key, dlq

    def _log_group(self, task: str) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{self._name}-{task}-logs",
            name=f"/safetynet/{self._args.stack}/{task}",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=self._args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _log_group_arn(self, logs: aws.cloudwatch.LogGroup) -> pulumi.Output[str]:
        # Built from the name: the provider's `arn` attribute has varied in form (with and without
        # a trailing ":*"), and the IAM statements append the log-stream part themselves.
        return pulumi.Output.all(self._region, self._acct, logs.name).apply(
            lambda v: f"arn:aws:logs:{v[0]}:{v[1]}:log-group:{v[2]}"
        )

    def _role(self, task: str, service: str, policy: pulumi.Output[str]) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        return service_role(
            f"{self._name}-{task}",
            description=f"safetynet {self._args.stack} DisasterWatch {task}",
            trust_policy=(
                json.dumps(lambda_trust_policy())
                if service == "lambda.amazonaws.com"
                else self._acct.apply(lambda a: json.dumps(assume_role_policy(service, a)))
            ),
            policy=policy,
            tags=self._args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _function(
        self,
        task: str,
        *,
        handler: str,
        role: tuple[aws.iam.Role, aws.iam.RolePolicy],
        logs: aws.cloudwatch.LogGroup,
        timeout: int,
    ) -> aws.lambda_.Function:
        return aws.lambda_.Function(
            f"{self._name}-{task}",
            description=f"safetynet {self._args.stack} DisasterWatch {task}",
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=handler,
            code=self._code,
            role=role[0].arn,
            layers=[self._layer, self._args.dependency_layer_arn],
            timeout=timeout,
            memory_size=512,
            environment={"variables": {"POWERTOOLS_SERVICE_NAME": f"safetynet-{task}"}},
            logging_config={"log_format": "JSON", "log_group": logs.name},
            tags=self._args.tags,
            # The role's permissions must be in place before the first invocation.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role[1]]),
        )

    def _classifier(self, topic: aws.sns.Topic, topic_key: aws.kms.Key, dlq: aws.sqs.Queue) -> aws.lambda_.Function:
        logs = self._log_group("classifier")
        prefixes = self._prefixes
        policy = pulumi.Output.all(
            topic.arn,
            topic_key.arn,
            self._table_arns,
            self._vault,
            self._region,
            self._log_group_arn(logs),
            dlq.arn,
        ).apply(
            lambda v: json.dumps(
                classifier_policy(
                    topic_arn=v[0],
                    topic_key_arn=v[1],
                    table_arns=v[2],
                    bucket_arn=v[3][0],
                    export_prefixes=prefixes,
                    kms_key_arn=v[3][1],
                    region=v[4],
                    log_group_arn=v[5],
                    dead_letter_arn=v[6],
                )
            )
        )
        fn = self._function(
            "classifier",
            handler="handlers.watch.entrypoints.classify_handler",
            role=self._role("classifier", "lambda.amazonaws.com", policy),
            logs=logs,
            timeout=60,
        )
        # EventBridge invokes asynchronously: its target retry policy covers delivery to Lambda,
        # not a failing function. Lambda retries twice, then the event goes to the dead-letter
        # queue (alarmed), so an event the classifier could not publish is never dropped.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{self._name}-classifier-async",
            function_name=fn.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=6 * 3600,
            destination_config={"on_failure": {"destination": dlq.arn}},
            opts=pulumi.ResourceOptions(parent=self),
        )
        return fn

    def _freshness(self) -> aws.lambda_.Function:
        logs = self._log_group("freshness")
        prefixes, drills = self._prefixes, self._drill_prefixes
        policy = pulumi.Output.all(self._table_arns, self._vault, self._region, self._log_group_arn(logs)).apply(
            lambda v: json.dumps(
                freshness_policy(
                    table_arns=v[0],
                    bucket_arn=v[1][0],
                    export_prefixes=prefixes,
                    drill_prefixes=drills,
                    kms_key_arn=v[1][1],
                    region=v[2],
                    log_group_arn=v[3],
                )
            )
        )
        fn = self._function(
            "freshness",
            handler="handlers.watch.entrypoints.freshness_handler",
            role=self._role("freshness", "lambda.amazonaws.com", policy),
            logs=logs,
            timeout=300,
        )
        self._invoke_on_schedule("freshness", fn, FRESHNESS_SCHEDULE)
        return fn

    def _drill(self) -> tuple[aws.sfn.StateMachine, list[aws.scheduler.Schedule]]:
        """The drill's tasks, its state machine and one weekly schedule per table."""
        name, args = self._name, self._args
        prefixes, drills = self._prefixes, self._drill_prefixes
        logs = self._log_group("drill")
        task_policy = pulumi.Output.all(
            self._table_arns, self._vault, self._region, self._acct, self._log_group_arn(logs)
        ).apply(
            lambda v: json.dumps(
                drill_task_policy(
                    table_arns=v[0],
                    bucket_arn=v[1][0],
                    export_prefixes=prefixes,
                    drill_prefixes=drills,
                    kms_key_arn=v[1][1],
                    region=v[2],
                    account_id=v[3],
                    log_group_arn=v[4],
                )
            )
        )
        task_role = self._role("drill-task", "lambda.amazonaws.com", task_policy)
        # Prepare reads the export listing and the manifests only; each data file is read by a
        # ValidateFiles map child: one file within Lambda's longest timeout.
        prepare = self._function(
            "drill-prepare",
            handler="handlers.watch.entrypoints.drill_prepare_handler",
            role=task_role,
            logs=logs,
            timeout=300,
        )
        validate_file = self._function(
            "drill-validate-file",
            handler="handlers.watch.entrypoints.drill_validate_file_handler",
            role=task_role,
            logs=logs,
            timeout=900,
        )
        verify = self._function(
            "drill-verify",
            handler="handlers.watch.entrypoints.drill_verify_handler",
            role=task_role,
            logs=logs,
            timeout=300,
        )
        # A fixed name, so the schedules below can address the machine by its documented ARN
        # without depending on the resource: hundreds of per-table schedules depending on the
        # machine (and through it on every table) made each registration walk that whole graph.
        # The role's Distributed Map grants name it too (its child executions).
        machine_name = f"safetynet-{args.stack}-drill"
        sm_role, sm_policy = self._role(
            "drill-sfn",
            "states.amazonaws.com",
            pulumi.Output.all(
                self._vault, self._region, self._acct, prepare.name, validate_file.name, verify.name
            ).apply(
                lambda v: json.dumps(
                    drill_state_machine_policy(
                        function_arns=[f"arn:aws:lambda:{v[1]}:{v[2]}:function:{fn}" for fn in v[3:]],
                        state_machine_name=machine_name,
                        bucket_arn=v[0][0],
                        export_prefixes=prefixes,
                        kms_key_arn=v[0][1],
                        region=v[1],
                        account_id=v[2],
                    )
                )
            ),
        )
        machine_arn = pulumi.Output.all(self._region, self._acct).apply(
            lambda v: f"arn:aws:states:{v[0]}:{v[1]}:stateMachine:{machine_name}"
        )
        machine = aws.sfn.StateMachine(
            f"{name}-drill",
            name=machine_name,
            role_arn=sm_role.arn,
            definition=pulumi.Output.all(prepare.arn, validate_file.arn, verify.arn).apply(
                lambda v: json.dumps(drill_definition(prepare_arn=v[0], validate_file_arn=v[1], verify_arn=v[2]))
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[sm_policy]),
        )
        sched_role, sched_policy = self._role(
            "drill-schedule",
            "scheduler.amazonaws.com",
            # From the name (the ARN's documented form), so the document is the same in previews.
            machine_arn.apply(lambda arn: json.dumps(start_drill_policy(arn))),
        )
        schedules = [
            aws.scheduler.Schedule(
                f"{name}-drill-{t.name}",
                description=f"Weekly restore drill of {t.physical_name}",
                schedule_expression=args.drill.schedule,
                flexible_time_window={"mode": "FLEXIBLE", "maximum_window_in_minutes": 60},
                state="ENABLED",
                target={
                    "arn": machine_arn,
                    "role_arn": sched_role.arn,
                    "input": json.dumps({"table": t.name}),
                    "retry_policy": {"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600},
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[sched_policy]),
            )
            for t in args.tables
        ]
        return machine, schedules

    def _rules(
        self,
        classifier: aws.lambda_.Function,
        dlq: aws.sqs.Queue,
        drill_schedules: list[aws.scheduler.Schedule],
    ) -> None:
        """One EventBridge rule per danger -> the classifier (retried, then dead-lettered)."""
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        watched = pulumi.Output.all(
            self._table_arns,
            pulumi.Output.all(*[t.schedule_arn for t in args.tables]),
            pulumi.Output.all(*[s.name for s in drill_schedules]),
            args.bucket_name,
            args.kms_key_arn,
        ).apply(
            lambda v: WatchedResources(
                table_names=[t.physical_name for t in args.tables],
                table_arns=list(v[0]),
                bucket_name=v[3],
                kms_key_arn=v[4],
                schedule_names=[schedule_name(a) for a in v[1]] + list(v[2]),
            )
        )
        rule_arns = []
        # The rule set is static (schedules always exist); only the patterns' values are Outputs.
        for rule_name in watch_patterns(_placeholder_resources(len(args.tables))):
            rule = aws.cloudwatch.EventRule(
                f"{name}-{rule_name}",
                description=f"safetynet {args.stack}: {rule_name} (CloudTrail)",
                event_pattern=watched.apply(functools.partial(_pattern_json, rule=rule_name)),
                tags=args.tags,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{rule_name}-target",
                rule=rule.name,
                arn=classifier.arn,
                # EventBridge retries delivery for a day before dead-lettering an event.
                retry_policy={"maximum_event_age_in_seconds": 86400, "maximum_retry_attempts": 185},
                dead_letter_config={"arn": dlq.arn},
                opts=child,
            )
            aws.lambda_.Permission(
                f"{name}-{rule_name}-invoke",
                action="lambda:InvokeFunction",
                function=classifier.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                opts=child,
            )
            rule_arns.append(rule.arn)
        aws.sqs.QueuePolicy(
            f"{name}-undelivered-policy",
            queue_url=dlq.url,
            policy=pulumi.Output.all(dlq.arn, *rule_arns).apply(
                lambda v: json.dumps(dead_letter_queue_policy(v[0], list(v[1:])))
            ),
            opts=child,
        )

    def _alarms_and_dashboard(
        self, topic: aws.sns.Topic, dlq: aws.sqs.Queue, classifier: aws.lambda_.Function
    ) -> aws.cloudwatch.Dashboard:
        args = self._args
        export_limit = self._interval + args.alerts.freshness_grace_hours
        drill_limit = args.drill.max_age_days * 24.0
        alarms = []
        for t in args.tables:
            alarms += self._table_alarms(t.physical_name, topic.arn, export_limit, drill_limit)
        alarms.append(
            self._alarm(
                "alerts-undelivered",
                "Destructive events that were not classified and published (see the dead-letter queue)",
                topic.arn,
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": dlq.name},
                threshold=0,
                missing="notBreaching",
            )
        )
        alarms.append(
            self._alarm(
                "classifier-errors",
                "The destructive-event classifier failed (events are retried, then dead-lettered)",
                topic.arn,
                namespace="AWS/Lambda",
                metric="Errors",
                dimensions={"FunctionName": classifier.name},
                threshold=0,
                missing="notBreaching",
                statistic="Sum",
            )
        )
        return aws.cloudwatch.Dashboard(
            f"{self._name}-dashboard",
            dashboard_name=f"safetynet-{args.stack}",
            dashboard_body=pulumi.Output.all(self._region, *[a.arn for a in alarms]).apply(
                lambda v: json.dumps(
                    dashboard_body(
                        stack=args.stack,
                        region=v[0],
                        tables=[t.physical_name for t in args.tables],
                        alarm_arns=list(v[1:]),
                        export_limit_hours=export_limit,
                        drill_limit_hours=drill_limit,
                    )
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    # -- helpers --------------------------------------------------------------------------------

    def _context_doc(self, table_arns: list[str], schedule_arns: list[str], bucket: str, key: str, topic: str) -> str:
        a = self._args
        return WatchContext(
            stack=a.stack,
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
                )
                for t, arn, s in zip(a.tables, table_arns, schedule_arns, strict=True)
            ],
            vault_bucket=bucket,
            kms_key_arn=key,
            topic_arn=topic,
            deploy_principals=list(a.alerts.deploy_principals),
            schedule_hours=self._interval,
            freshness_grace_hours=a.alerts.freshness_grace_hours,
            max_item_drop_ratio=a.alerts.max_item_drop_ratio,
            drill_max_age_days=a.drill.max_age_days,
            drill_sample_size=a.drill.sample_size,
        ).to_json()

    def _invoke_on_schedule(self, task: str, fn: aws.lambda_.Function, expression: str) -> None:
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-{task}-schedule",
            description=f"safetynet {self._args.stack}: run {task}",
            schedule_expression=expression,
            tags=self._args.tags,
            opts=child,
        )
        aws.cloudwatch.EventTarget(f"{self._name}-{task}-schedule-target", rule=rule.name, arn=fn.arn, opts=child)
        aws.lambda_.Permission(
            f"{self._name}-{task}-schedule-invoke",
            action="lambda:InvokeFunction",
            function=fn.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child,
        )

    def _alarm(
        self,
        suffix: str,
        description: str,
        topic_arn: pulumi.Output[str],
        *,
        metric: str,
        dimensions: dict[str, pulumi.Input[str]],
        threshold: float,
        missing: str,
        namespace: str = METRIC_NAMESPACE,
        statistic: str = "Maximum",
        comparison: str = "GreaterThanThreshold",
        period: int = 3600,
        evaluation_periods: int = 1,
    ) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{suffix}",
            name=f"{alarm_prefix(self._args.stack)}{suffix}",
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=period,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=1,
            threshold=threshold,
            comparison_operator=comparison,
            treat_missing_data=missing,
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            tags=self._args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _table_alarms(
        self, table: str, topic_arn: pulumi.Output[str], export_limit: float, drill_limit: float
    ) -> list[aws.cloudwatch.MetricAlarm]:
        dims: dict[str, pulumi.Input[str]] = {"Table": table}
        drop = self._args.alerts.max_item_drop_ratio
        return [
            self._alarm(
                f"{table}-export-stale",
                f"No complete export of {table} within {export_limit:g} hours (schedule + grace)",
                topic_arn,
                metric="ExportAgeHours",
                dimensions=dims,
                threshold=export_limit,
                missing="breaching",
            ),
            self._alarm(
                f"{table}-items-dropped",
                f"The newest export of {table} has more than {drop:.0%} fewer items than the previous one "
                "(mass deletion or corruption?)",
                topic_arn,
                metric="ExportItemDropRatio",
                dimensions=dims,
                threshold=drop,
                missing="notBreaching",
            ),
            self._alarm(
                f"{table}-export-failed",
                f"An export of {table} FAILED (ListExports/DescribeExport)",
                topic_arn,
                metric="ExportFailed",
                dimensions=dims,
                threshold=0,
                missing="notBreaching",
            ),
            self._alarm(
                f"{table}-restore-unverified",
                f"No successful restore drill of {table} within {drill_limit / 24:g} days",
                topic_arn,
                metric="LastVerifiedRestoreAgeHours",
                dimensions=dims,
                threshold=drill_limit,
                missing="breaching",
            ),
            self._alarm(
                f"{table}-drill-failed",
                f"A restore drill of {table} failed in the last 7 days",
                topic_arn,
                metric="DrillSucceeded",
                dimensions=dims,
                threshold=1,
                missing="notBreaching",
                statistic="Minimum",
                comparison="LessThanThreshold",
                period=86400,
                evaluation_periods=7,
            ),
        ]

    def _trail(self) -> None:
        """A multi-region trail of management events (only with alerts.createTrail)."""
        name = self._name
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-trail-bucket", bucket_prefix="safetynet-trail-", tags=self._args.tags, opts=child
        )
        pab = aws.s3.BucketPublicAccessBlock(
            f"{name}-trail-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-trail-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )
        acct = self._acct
        trail_name = f"safetynet-{self._args.stack}"
        region = pulumi.Output.from_input(self._args.region)
        trail_arn = pulumi.Output.all(region, acct).apply(
            lambda v: f"arn:aws:cloudtrail:{v[0]}:{v[1]}:trail/{trail_name}"
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-trail-bucket-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, trail_arn, acct).apply(
                lambda v: json.dumps(trail_bucket_policy(v[0], v[1], v[2]))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pab]),
        )
        aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail_name,
            s3_bucket_name=bucket.bucket,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            tags=self._args.tags,
            # CloudTrail checks the bucket policy when the trail is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )


def _pattern_json(resources: WatchedResources, rule: str) -> str:
    return json.dumps(watch_patterns(resources)[rule])


def _placeholder_resources(n: int) -> WatchedResources:
    """Resources of the right shape, only to enumerate the rule names at declaration time."""
    return WatchedResources(
        table_names=[f"t{i}" for i in range(n)],
        table_arns=[f"arn:aws:dynamodb:r:0:table/t{i}" for i in range(n)],
        bucket_name="b",
        kms_key_arn="arn:aws:kms:r:0:key/k",
        schedule_names=["s"],
    )


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
    watch = DisasterWatch(
        "watch",
        DisasterWatchArgs(
            stack=stack,
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
        ),
    )
    return {
        "topicArn": watch.topic_arn,
        "drillStateMachineArn": watch.state_machine_arn,
        "dashboardName": watch.dashboard_name,
        "alarmPrefix": alarm_prefix(stack),
    }

"""What DisasterWatch's parts share: the watched table, the arguments of every part that runs a
task, and the helper that declares a part's children (log groups, roles, functions, schedules,
alarms) with the names, options and aliases they had when DisasterWatch declared them itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.common.iam import log_group_arn, service_role
from components.common.lambda_package import ARCHITECTURE, RUNTIME, powertools_layer
from components.common.policies import assume_role_policy
from components.watch.policies import lambda_trust_policy
from conventions.watch import METRIC_NAMESPACE

LOG_RETENTION_DAYS = 90


def alarm_prefix(stack: str) -> str:
    """Every DisasterWatch alarm name starts with this (`safetynet status` lists them by it)."""
    return f"safetynet-{stack}-"


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


@dataclass(frozen=True, kw_only=True)
class WatchTaskArgs:
    """What every part that runs a DisasterWatch task (classifier, freshness, drill) is given."""

    stack: str
    """The stack name (descriptions, log group and alarm names)."""
    stack_tag: str
    """The stack's `safetynet:stack` tag value (`<project>/<stack>`): IAM grants on the stack's
    tables are conditioned on it, so no policy lists a table."""
    tables: Sequence[WatchedTableArgs]
    """The protected tables."""
    bucket_arn: pulumi.Input[str]
    """The vault bucket's ARN."""
    kms_key_arn: pulumi.Input[str]
    """The vault key."""
    topic_arn: pulumi.Input[str]
    """The alert topic (alarm actions; the classifier publishes to it)."""
    code: pulumi.Input[pulumi.Archive]
    """The tasks' code archive, DisasterWatch's context inside (the same for every task)."""
    dependency_layer_arn: pulumi.Input[str]
    """The stack's dependency layer (components.common.lambda_package.dependency_layer)."""
    account_id: pulumi.Input[str]
    """This account."""
    region: pulumi.Input[str]
    """This region."""
    tags: dict[str, str]
    """Stack-wide tags."""


def table_arns(tables: Sequence[WatchedTableArgs]) -> pulumi.Output[list[str]]:
    """The tables' ARNs, in the tables' order."""
    return pulumi.Output.all(*[t.arn for t in tables])


class Children:
    """Declares the children of one DisasterWatch part: parented to the part and, when the part
    has a parent (the DisasterWatch), aliased to it: DisasterWatch declared all of them itself
    before it was split into parts, so each keeps its URN and `pulumi up` replaces nothing."""

    def __init__(self, part: pulumi.ComponentResource, opts: pulumi.ResourceOptions | None):
        self._part = part
        parent = opts.parent if opts is not None else None
        self._aliases = [pulumi.Alias(parent=parent)] if parent is not None else None

    def opts(self, *, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        """Options of one child (not the part's own options: those stay with the part)."""
        return pulumi.ResourceOptions(parent=self._part, aliases=self._aliases, depends_on=list(depends_on) or None)


class TaskChildren(Children):
    """Children of a part that runs DisasterWatch tasks, named `<part name>-<task>`."""

    def __init__(
        self, part: pulumi.ComponentResource, name: str, args: WatchTaskArgs, opts: pulumi.ResourceOptions | None
    ):
        super().__init__(part, opts)
        self._name = name
        self._args = args
        self._account_id = pulumi.Output.from_input(args.account_id)
        self._region = pulumi.Output.from_input(args.region)

    def log_group(self, task: str) -> aws.cloudwatch.LogGroup:
        """The task's log group, `/safetynet/<stack>/<task>`."""
        return aws.cloudwatch.LogGroup(
            f"{self._name}-{task}-logs",
            name=f"/safetynet/{self._args.stack}/{task}",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=self._args.tags,
            opts=self.opts(),
        )

    def log_group_arn(self, logs: aws.cloudwatch.LogGroup) -> pulumi.Output[str]:
        """The log group's ARN, for IAM statements that append the log-stream part themselves."""
        return log_group_arn(self._region, self._account_id, logs)

    def role(self, task: str, service: str, policy: pulumi.Input[str]) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The task's role, assumable by `service`, with its one inline `policy` (JSON)."""
        return service_role(
            f"{self._name}-{task}",
            description=f"safetynet {self._args.stack} DisasterWatch {task}",
            trust_policy=(
                json.dumps(lambda_trust_policy())
                if service == "lambda.amazonaws.com"
                else self._account_id.apply(lambda account: json.dumps(assume_role_policy(service, account)))
            ),
            policy=policy,
            tags=self._args.tags,
            opts=self.opts(),
        )

    def function(
        self,
        task: str,
        *,
        handler: str,
        role: tuple[aws.iam.Role, aws.iam.RolePolicy],
        logs: aws.cloudwatch.LogGroup,
        timeout: int,
    ) -> aws.lambda_.Function:
        """The task's function: the shared code, Powertools and the dependency layer."""
        fn_role, fn_policy = role
        return aws.lambda_.Function(
            f"{self._name}-{task}",
            description=f"safetynet {self._args.stack} DisasterWatch {task}",
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=handler,
            code=self._args.code,
            role=fn_role.arn,
            layers=[self._region.apply(powertools_layer), self._args.dependency_layer_arn],
            timeout=timeout,
            memory_size=512,
            environment={"variables": {"POWERTOOLS_SERVICE_NAME": f"safetynet-{task}"}},
            logging_config={"log_format": "JSON", "log_group": logs.name},
            tags=self._args.tags,
            # The role's permissions must be in place before the first invocation.
            opts=self.opts(depends_on=[fn_policy]),
        )

    def on_schedule(self, task: str, fn: aws.lambda_.Function, expression: str) -> None:
        """An EventBridge rule that invokes `fn` on `expression`, and the permission to do so."""
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-{task}-schedule",
            description=f"safetynet {self._args.stack}: run {task}",
            schedule_expression=expression,
            tags=self._args.tags,
            opts=self.opts(),
        )
        aws.cloudwatch.EventTarget(f"{self._name}-{task}-schedule-target", rule=rule.name, arn=fn.arn, opts=self.opts())
        self.invoked_by(f"{self._name}-{task}-schedule-invoke", fn, rule)

    def invoked_by(self, name: str, fn: aws.lambda_.Function, rule: aws.cloudwatch.EventRule) -> aws.lambda_.Permission:
        """The permission for one EventBridge rule to invoke `fn`, and no other rule."""
        return aws.lambda_.Permission(
            name,
            action="lambda:InvokeFunction",
            function=fn.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=self.opts(),
        )

    def alarm(
        self,
        suffix: str,
        description: str,
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
        datapoints_to_alarm: int = 1,
    ) -> aws.cloudwatch.MetricAlarm:
        """An alarm `<alarm_prefix><suffix>` that notifies the alert topic of ALARM and OK: in
        ALARM when `datapoints_to_alarm` of the last `evaluation_periods` periods breach."""
        topic = self._args.topic_arn
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
            datapoints_to_alarm=datapoints_to_alarm,
            threshold=threshold,
            comparison_operator=comparison,
            treat_missing_data=missing,
            alarm_actions=[topic],
            ok_actions=[topic],
            tags=self._args.tags,
            opts=self.opts(),
        )

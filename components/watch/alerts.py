"""AlertRouting: CloudTrail management events that endanger the stack reach the alert topic.

EventBridge rules (one per danger, scoped to this stack's resources)
    └─> classifier Lambda ─> alert topic
(delivery retried for a day, a failing classification twice; then the dead-letter queue,
which is alarmed)
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.watch.parts import TaskChildren, WatchTaskArgs, table_arns
from components.watch.patterns import WatchedResources, schedule_name, watch_patterns
from components.watch.policies import classifier_policy, dead_letter_queue_policy


@dataclass(frozen=True, kw_only=True)
class AlertRoutingArgs(WatchTaskArgs):
    """Inputs of an AlertRouting (besides every task part's, see WatchTaskArgs)."""

    bucket_name: pulumi.Input[str]
    """The vault bucket (the vault rules match it by name)."""
    topic_key_arn: pulumi.Input[str]
    """The alert topic's key (the classifier encrypts what it publishes)."""
    drill_schedule_names: Sequence[pulumi.Input[str]]
    """The restore drill's schedules, watched beside the tables' export schedules."""


class AlertRouting(pulumi.ComponentResource):
    """The destructive-event rules, the classifier they invoke, its dead-letter queue, and the
    alarms on both (undelivered events, classifier errors)."""

    alarm_arns: list[pulumi.Output[str]]
    """The alarms alerts-undelivered and classifier-errors, in that order."""

    def __init__(self, name: str, args: AlertRoutingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:watch:AlertRouting", name, None, opts)
        self._name = name
        self._args = args
        self._tasks = TaskChildren(self, name, args, opts)
        dlq = aws.sqs.Queue(
            f"{name}-undelivered",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=14 * 24 * 3600,
            tags=args.tags,
            opts=self._tasks.opts(),
        )
        classifier = self._classifier(dlq)
        self._rules(classifier, dlq)
        alarms = [
            self._tasks.alarm(
                "alerts-undelivered",
                "Destructive events that were not classified and published (see the dead-letter queue)",
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": dlq.name},
                threshold=0,
                missing="notBreaching",
            ),
            self._tasks.alarm(
                "classifier-errors",
                "The destructive-event classifier failed (events are retried, then dead-lettered)",
                namespace="AWS/Lambda",
                metric="Errors",
                dimensions={"FunctionName": classifier.name},
                threshold=0,
                missing="notBreaching",
                statistic="Sum",
            ),
        ]
        self.alarm_arns = [a.arn for a in alarms]
        self.register_outputs({"alarmArns": self.alarm_arns})

    def _classifier(self, dlq: aws.sqs.Queue) -> aws.lambda_.Function:
        args, tasks = self._args, self._tasks
        logs = tasks.log_group("classifier")
        export_prefixes = [t.export_prefix for t in args.tables]
        policy = pulumi.Output.all(
            topic_arn=args.topic_arn,
            topic_key_arn=args.topic_key_arn,
            table_arns=table_arns(args.tables),
            bucket_arn=args.bucket_arn,
            kms_key_arn=args.kms_key_arn,
            region=args.region,
            log_group_arn=tasks.log_group_arn(logs),
            dead_letter_arn=dlq.arn,
        ).apply(lambda a: json.dumps(classifier_policy(**a, export_prefixes=export_prefixes)))
        fn = tasks.function(
            "classifier",
            handler="handlers.watch.entrypoints.classify_handler",
            role=tasks.role("classifier", "lambda.amazonaws.com", policy),
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
            opts=tasks.opts(),
        )
        return fn

    def _rules(self, classifier: aws.lambda_.Function, dlq: aws.sqs.Queue) -> None:
        """One EventBridge rule per danger -> the classifier (retried, then dead-lettered)."""
        name, args, tasks = self._name, self._args, self._tasks
        watched = pulumi.Output.all(
            table_arns=table_arns(args.tables),
            export_schedule_arns=pulumi.Output.all(*[t.schedule_arn for t in args.tables]),
            drill_schedule_names=pulumi.Output.all(*args.drill_schedule_names),
            bucket_name=args.bucket_name,
            kms_key_arn=args.kms_key_arn,
        ).apply(
            lambda a: WatchedResources(
                table_names=[t.physical_name for t in args.tables],
                table_arns=list(a["table_arns"]),
                bucket_name=a["bucket_name"],
                kms_key_arn=a["kms_key_arn"],
                schedule_names=[schedule_name(arn) for arn in a["export_schedule_arns"]]
                + list(a["drill_schedule_names"]),
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
                opts=tasks.opts(),
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{rule_name}-target",
                rule=rule.name,
                arn=classifier.arn,
                # EventBridge retries delivery for a day before dead-lettering an event.
                retry_policy={"maximum_event_age_in_seconds": 86400, "maximum_retry_attempts": 185},
                dead_letter_config={"arn": dlq.arn},
                opts=tasks.opts(),
            )
            tasks.invoked_by(f"{name}-{rule_name}-invoke", classifier, rule)
            rule_arns.append(rule.arn)
        aws.sqs.QueuePolicy(
            f"{name}-undelivered-policy",
            queue_url=dlq.url,
            policy=pulumi.Output.all(queue_arn=dlq.arn, rule_arns=pulumi.Output.all(*rule_arns)).apply(
                lambda a: json.dumps(dead_letter_queue_policy(a["queue_arn"], list(a["rule_arns"])))
            ),
            opts=tasks.opts(),
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

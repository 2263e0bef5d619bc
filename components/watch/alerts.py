"""AlertRouting: CloudTrail management events that endanger the stack, or create a table it does
not protect, reach the alert topic.

EventBridge rules (one per danger, by event name and dangerous request parameters; only the vault
bucket and key are named, so no rule grows with the tables)
    └─> classifier Lambda (keeps the stack's own resources, from the context in its code)
            └─> alert topic
(delivery retried for a day, a failing classification twice; then the dead-letter queue,
which is alarmed)
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.watch.parts import TaskChildren, WatchTaskArgs
from components.watch.patterns import RULE_NAMES, VaultResources, watch_patterns
from components.watch.policies import classifier_policy, dead_letter_queue_policy


@dataclass(frozen=True, kw_only=True)
class AlertRoutingArgs(WatchTaskArgs):
    """Inputs of an AlertRouting (besides every task part's, see WatchTaskArgs)."""

    bucket_name: pulumi.Input[str]
    """The vault bucket (the vault rules match it by name)."""
    topic_key_arn: pulumi.Input[str]
    """The alert topic's key (the classifier encrypts what it publishes)."""


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
        policy = pulumi.Output.all(
            topic_arn=args.topic_arn,
            topic_key_arn=args.topic_key_arn,
            bucket_arn=args.bucket_arn,
            kms_key_arn=args.kms_key_arn,
            region=args.region,
            account_id=args.account_id,
            log_group_arn=tasks.log_group_arn(logs),
            dead_letter_arn=dlq.arn,
        ).apply(lambda a: json.dumps(classifier_policy(**a, stack_tag=args.stack_tag)))
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
        vault = pulumi.Output.all(bucket_name=args.bucket_name, kms_key_arn=args.kms_key_arn).apply(
            lambda a: VaultResources(**a)
        )
        rule_arns = []
        # The rule set is static; only the vault's names in its patterns are Outputs.
        for rule_name in RULE_NAMES:
            rule = aws.cloudwatch.EventRule(
                f"{name}-{rule_name}",
                description=f"safetynet {args.stack}: {rule_name} (CloudTrail)",
                event_pattern=vault.apply(functools.partial(_pattern_json, rule=rule_name)),
                tags=args.tags,
                # After the classifier: an update that widens a pattern (by event name instead of
                # by table) takes effect once the code that keeps only the stack's own is deployed.
                opts=tasks.opts(depends_on=[classifier]),
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


def _pattern_json(vault: VaultResources, rule: str) -> str:
    return json.dumps(watch_patterns(vault)[rule])

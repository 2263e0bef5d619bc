"""AlertTopic: the encrypted SNS topic every DisasterWatch alert and alarm goes to, with its
e-mail and HTTPS subscriptions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.watch.parts import Children
from components.watch.policies import topic_key_policy


@dataclass(frozen=True)
class AlertTopicArgs:
    """Inputs of an AlertTopic."""

    stack: str
    """The stack name (the key's description)."""
    email: Sequence[str]
    """E-mail subscriptions (`safetynet:alerts.email`)."""
    https: Sequence[str]
    """HTTPS endpoint subscriptions (`safetynet:alerts.https`)."""
    account_id: pulumi.Input[str]
    """This account (the key policy lets its CloudWatch alarms publish)."""
    region: pulumi.Input[str]
    """This region."""
    tags: dict[str, str]
    """Stack-wide tags."""


class AlertTopic(pulumi.ComponentResource):
    """The alert topic, encrypted with a key of its own whose policy lets this account's
    CloudWatch alarms publish to it."""

    topic_arn: pulumi.Output[str]
    """The topic alarms notify and the classifier publishes to."""
    key_arn: pulumi.Output[str]
    """The topic's key (publishers need kms:GenerateDataKey on it)."""

    def __init__(self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:watch:AlertTopic", name, None, opts)
        children = Children(self, opts)
        key = aws.kms.Key(
            f"{name}-topic-key",
            description=f"safetynet {args.stack} alert topic",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account=args.account_id, region=args.region).apply(
                lambda a: json.dumps(topic_key_policy(a["account"], a["region"]))
            ),
            tags=args.tags,
            opts=children.opts(),
        )
        topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=key.arn, tags=args.tags, opts=children.opts())
        for i, address in enumerate(args.email):
            aws.sns.TopicSubscription(
                f"{name}-email-{i}", topic=topic.arn, protocol="email", endpoint=address, opts=children.opts()
            )
        for i, url in enumerate(args.https):
            aws.sns.TopicSubscription(
                f"{name}-https-{i}",
                topic=topic.arn,
                protocol="https",
                endpoint=url,
                endpoint_auto_confirms=False,
                opts=children.opts(),
            )
        self.topic_arn = topic.arn
        self.key_arn = key.arn
        self.register_outputs({"topicArn": topic.arn, "keyArn": key.arn})

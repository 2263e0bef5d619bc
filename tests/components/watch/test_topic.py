"""AlertTopic, built alone under Pulumi's mocks."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from components.watch.topic import AlertTopic, AlertTopicArgs
from tests.components.watch.minimal import ACCOUNT, STACK, TAGS
from tests.support.pulumi_mocks import REGION, RecordingMocks

SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


def _args(email: list[str], https: list[str]) -> AlertTopicArgs:
    return AlertTopicArgs(stack=STACK, email=email, https=https, account_id=ACCOUNT, region=REGION, tags=TAGS)


def test_the_topic_is_encrypted_with_its_own_rotating_key(pulumi_mocks: RecordingMocks) -> None:
    exposed: dict[str, Any] = {}

    @pulumi.runtime.test
    def check() -> Any:
        topic = AlertTopic("watch", _args([], []))
        return pulumi.Output.all(topic_arn=topic.topic_arn, key_arn=topic.key_arn).apply(exposed.update)

    check()

    key = pulumi_mocks.one("aws:kms/key:Key", "watch-topic-key").inputs
    assert key["enableKeyRotation"] is True and key["tags"] == TAGS
    publish = next(s for s in json.loads(key["policy"])["Statement"] if s["Sid"] == "CloudWatchAlarmsPublish")
    assert publish["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"}
    topic = pulumi_mocks.one("aws:sns/topic:Topic", "watch-alerts").inputs
    assert topic["kmsMasterKeyId"] == exposed["key_arn"]
    assert exposed["key_arn"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")
    assert exposed["topic_arn"].startswith(f"arn:aws:sns:{REGION}:{ACCOUNT}:watch-alerts")
    assert pulumi_mocks.of_type(SUBSCRIPTION) == []


def test_one_subscription_per_configured_address(pulumi_mocks: RecordingMocks) -> None:
    exposed: dict[str, Any] = {}

    @pulumi.runtime.test
    def check() -> Any:
        topic = AlertTopic("watch", _args(["a@example.com", "b@example.com"], ["https://hooks.example.com/x"]))
        return topic.topic_arn.apply(lambda arn: exposed.update(topic_arn=arn))

    check()

    subs = {r.name: r.inputs for r in pulumi_mocks.of_type(SUBSCRIPTION)}
    assert sorted(subs) == ["watch-email-0", "watch-email-1", "watch-https-0"]
    assert (subs["watch-email-1"]["protocol"], subs["watch-email-1"]["endpoint"]) == ("email", "b@example.com")
    https = subs["watch-https-0"]
    assert (https["protocol"], https["endpoint"], https["endpointAutoConfirms"]) == (
        "https",
        "https://hooks.example.com/x",
        False,
    )
    assert all(s["topic"] == exposed["topic_arn"] for s in subs.values())

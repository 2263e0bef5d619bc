"""Rules `sns-topic-encrypted` and `sqs-queue-encrypted` (policy_rules/messaging.py): a customer
key counts as encryption."""

from __future__ import annotations

from policy_rules.messaging import sns_topic_encrypted, sqs_queue_encrypted
from policy_rules.model import SNS_TOPIC, SQS_QUEUE


def test_encrypted_topic_and_kms_queue_pass() -> None:
    assert sns_topic_encrypted(SNS_TOPIC, {"kmsMasterKeyId": "alias/aws/sns"}) == []
    assert sqs_queue_encrypted(SQS_QUEUE, {"kmsMasterKeyId": "alias/aws/sqs"}) == []

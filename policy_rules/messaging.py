"""Rules `sns-topic-encrypted` and `sqs-queue-encrypted`: alert topics and queues are encrypted
at rest."""

from __future__ import annotations

from policy_rules.inputs import get
from policy_rules.model import SNS_TOPIC, SQS_QUEUE, Finding, Props


def sns_topic_encrypted(resource_type: str, props: Props) -> list[Finding]:
    """An SNS topic is encrypted with a KMS key."""
    if resource_type != SNS_TOPIC or get(props, "kmsMasterKeyId"):
        return []
    return [
        Finding(
            "the SNS topic is not encrypted at rest: alert contents (table names, principals) are stored in the clear",
            "set kmsMasterKeyId ('alias/aws/sns', or a customer key whose policy lets the publishers use it)",
        )
    ]


def sqs_queue_encrypted(resource_type: str, props: Props) -> list[Finding]:
    """An SQS queue is encrypted (SSE-SQS or SSE-KMS)."""
    if resource_type != SQS_QUEUE:
        return []
    if get(props, "sqsManagedSseEnabled") is True or get(props, "kmsMasterKeyId"):
        return []
    return [
        Finding(
            "the SQS queue is not encrypted at rest (neither sqsManagedSseEnabled nor kmsMasterKeyId)",
            "set sqsManagedSseEnabled: true, or kmsMasterKeyId for a customer key",
        )
    ]

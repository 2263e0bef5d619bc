"""Event patterns put to the test on moto's EventBridge: a pattern the program declares matches
exactly the events it should, as AWS's own matcher sees them (moto implements the same rules)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3


def s3_object_created(bucket: str, key: str) -> dict[str, Any]:
    """The PutEvents entry of the "Object Created" event S3 sends to EventBridge."""
    return {
        "Source": "aws.s3",
        "DetailType": "Object Created",
        "Detail": json.dumps({"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 10}}),
        "Resources": [f"arn:aws:s3:::{bucket}"],
    }


def delivered(patterns: Mapping[str, str], entry: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Put `entry` on moto's default bus, where each pattern (by rule name, JSON text) is a rule
    targeting a queue of its own; returns the events each rule's queue received. Needs moto
    running (the `aws` fixture)."""
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queues = {}
    for name, pattern in patterns.items():
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventPattern=pattern)
        events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
        queues[name] = url
    entries: Any = [dict(entry)]  # a PutEvents entry, as the caller built it
    events.put_events(Entries=entries)
    return {
        name: [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])]
        for name, url in queues.items()
    }

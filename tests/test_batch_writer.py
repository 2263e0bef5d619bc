"""Checked bulk writes: unprocessed items are retried until written, or the run fails loudly."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest

from handlers.batch_writer import DynamoDBSink, WriteIncomplete, write_items


class ThrottlingClient:
    """Hands back the last item of every request as unprocessed `throttle` times per item."""

    def __init__(self, throttle: int):
        self.throttle = throttle
        self.written: list[dict[str, Any]] = []
        self.calls = 0
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            [(table, requests)] = RequestItems.items()
            assert len(requests) <= 25
            last = requests[-1]
            key = last["PutRequest"]["Item"]["id"]["S"]
            with self.lock:
                self.seen[key] = self.seen.get(key, 0) + 1
                refused = self.seen[key] <= self.throttle
                self.written += requests[:-1] if refused else requests
            return {"UnprocessedItems": {table: [last]} if refused else {}}
        finally:
            with self.lock:
                self.in_flight -= 1


def items(n: int) -> list[dict[str, Any]]:
    return [{"id": {"S": f"item-{i}"}} for i in range(n)]


def test_unprocessed_items_are_retried_until_written() -> None:
    client = ThrottlingClient(throttle=3)
    n = write_items(DynamoDBSink(client, "t"), items(100), sleep=lambda _: None)
    assert n == 100
    assert sorted(i["PutRequest"]["Item"]["id"]["S"] for i in client.written) == sorted(f"item-{i}" for i in range(100))


def test_items_still_unprocessed_after_all_attempts_fail_the_run() -> None:
    client = ThrottlingClient(throttle=100)
    with pytest.raises(WriteIncomplete, match="1 items still unprocessed after 12 attempts"):
        write_items(DynamoDBSink(client, "t"), items(30), sleep=lambda _: None)


def test_requests_in_flight_never_exceed_the_concurrency() -> None:
    client = ThrottlingClient(throttle=0)
    write_items(DynamoDBSink(client, "t"), items(1000), concurrency=3, sleep=lambda _: None)
    assert client.calls == 40
    assert client.max_in_flight <= 3


def test_every_item_reaches_a_moto_table(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert write_items(DynamoDBSink(ddb, "t"), items(260)) == 260
    assert ddb.scan(TableName="t", Select="COUNT")["Count"] == 260

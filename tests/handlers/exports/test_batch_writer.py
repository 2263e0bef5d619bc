"""Checked bulk writes: unprocessed items are retried until written, or the run fails loudly;
requests are sent as DynamoDB JSON exactly as given (the export's own lines)."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.hooks import HierarchicalEmitter

from handlers.exports.batch_writer import (
    DynamoDBSink,
    NullSink,
    WriteIncomplete,
    delete_request,
    put_item_request,
    put_request,
    write_batch,
    write_items,
    write_requests,
)
from handlers.exports.dynamodb_json import encode_export_line


class _Meta:
    def __init__(self) -> None:
        self.events = HierarchicalEmitter()


class ThrottlingClient:
    """A DynamoDB client double: runs botocore's real event emitter for `before-call` (as boto3
    does right before signing), reads the body the sink put in, and hands back the last request
    of every batch as unprocessed `throttle` times per item."""

    def __init__(self, throttle: int):
        self.meta = _Meta()
        self.throttle = throttle
        self.written: list[dict[str, Any]] = []
        self.calls = 0
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        params: dict[str, Any] = {"body": json.dumps({"RequestItems": RequestItems}).encode()}
        self.meta.events.emit("before-call.dynamodb.BatchWriteItem", params=params, model=None, context={})
        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            [(table, requests)] = json.loads(params["body"])["RequestItems"].items()
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


def test_an_export_line_becomes_its_put_request_byte_for_byte() -> None:
    item = {"id": {"S": "ü"}, "n": {"N": "12345678901234567890123456789012345678"}, "b": {"B": b"\x00\xff"}}
    line = encode_export_line(item)
    request = put_request(line)
    assert request == b'{"PutRequest":' + line.rstrip(b"\n") + b"}"
    assert request == put_item_request(item)
    assert json.loads(request) == {"PutRequest": json.loads(line)}


def test_delete_requests_carry_the_key_in_dynamodb_json() -> None:
    assert json.loads(delete_request({"id": {"S": "a"}, "sk": {"B": b"\x01"}})) == {
        "DeleteRequest": {"Key": {"id": {"S": "a"}, "sk": {"B": "AQ=="}}}
    }


def _table(ddb: Any) -> None:
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_every_item_reaches_a_moto_table(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    _table(ddb)
    assert write_items(DynamoDBSink(ddb, "t"), items(260)) == 260
    assert ddb.scan(TableName="t", Select="COUNT")["Count"] == 260


def test_export_lines_reach_a_moto_table_exactly(aws: None) -> None:
    # Through boto3's whole pipeline (parameter check, body, signing, moto's parser): every type.
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    _table(ddb)
    rows = [
        {
            "id": {"S": f"k{i}-ünï"},
            "n": {"N": "-1234567890123456789012345678901234567.8"},
            "b": {"B": bytes(range(i, i + 40))},
            "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2.5"]},
            "bs": {"BS": [b"\x00", b"\xff"]},
            "doc": {"M": {"l": {"L": [{"NULL": True}, {"BOOL": False}, {"S": '\n"\\'}]}}},
        }
        for i in range(30)
    ]
    requests = [put_request(encode_export_line(r)) for r in rows]
    assert write_requests(DynamoDBSink(ddb, "t"), requests, concurrency=2) == 30
    stored = sorted(ddb.scan(TableName="t")["Items"], key=lambda r: r["id"]["S"])
    assert stored == sorted(rows, key=lambda r: r["id"]["S"])


def test_a_sink_whose_body_is_not_used_fails_and_writes_nothing(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    _table(ddb)
    sink = DynamoDBSink(ddb, "t")
    ddb.meta.events.unregister("before-call.dynamodb.BatchWriteItem", unique_id="safetynet.batch_writer.body")
    with pytest.raises(ClientError, match="Missing the key"):
        sink.write([put_item_request({"id": {"S": "a"}})])
    assert ddb.scan(TableName="t", Select="COUNT")["Count"] == 0


def test_delete_requests_remove_items_from_a_moto_table(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    _table(ddb)
    write_items(DynamoDBSink(ddb, "t"), items(40))
    write_requests(DynamoDBSink(ddb, "t"), [delete_request({"id": {"S": f"item-{i}"}}) for i in range(30)])
    assert sorted(r["id"]["S"] for r in ddb.scan(TableName="t")["Items"]) == sorted(f"item-{i}" for i in range(30, 40))


# -- one batch on a sink: retried, never dropped ------------------------------------------------


class FlakySink:
    """Leaves the first item of each request unprocessed `failures` times."""

    def __init__(self, failures: int):
        self.failures = failures
        self.written: list[bytes] = []
        self.calls = 0

    def write(self, requests: list[bytes]) -> list[bytes]:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            self.written += requests[1:]
            return requests[:1]
        self.written += requests
        return []


def test_a_batchs_unprocessed_requests_are_retried_until_written() -> None:
    sink = FlakySink(failures=3)
    batch = [put_item_request({"id": {"S": str(i)}}) for i in range(25)]
    write_batch(sink, batch, sleep=lambda _: None)
    written = sorted(json.loads(r)["PutRequest"]["Item"]["id"]["S"] for r in sink.written)
    assert written == sorted(str(i) for i in range(25))
    assert sink.calls == 4


def test_a_batch_still_unprocessed_after_its_attempts_fails_the_run() -> None:
    sink = FlakySink(failures=10_000)
    batch = [put_item_request({"id": {"S": "a"}})]
    with pytest.raises(WriteIncomplete, match="1 items still unprocessed"):
        write_batch(sink, batch, sleep=lambda _: None, max_attempts=5)


def test_write_items_batches_by_25_with_bounded_concurrency() -> None:
    sink = NullSink()
    batches: list[int] = []
    rows = ({"id": {"S": str(i)}} for i in range(1001))
    n = write_items(sink, rows, concurrency=3, on_progress=batches.append)
    assert n == sink.count == 1001
    assert max(batches) == 25 and sum(batches) == 1001


def test_a_write_failure_in_a_worker_fails_the_whole_run() -> None:
    class Broken:
        def write(self, requests: list[bytes]) -> list[bytes]:
            return requests

    with pytest.raises(WriteIncomplete):
        write_items(Broken(), ({"id": {"S": str(i)}} for i in range(100)), concurrency=2, sleep=lambda _: None)

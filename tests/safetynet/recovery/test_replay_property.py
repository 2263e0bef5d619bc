"""Replay's promise over random write histories, on moto: the scan exporter's full export (the
anchor) + the chain of windows the emulator exporter writes from the table's stream, replayed
into a fresh table, give the source table's state at the chain's end, item for item - from the
vault, and from a replica of the vault in another region (objects copied as S3 replication
copies them). Histories mix puts, updates (set and remove attributes), deletes, re-creates and
several changes to one key in one window; writes also happen before the anchor."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conventions.chain import incremental_export_prefix
from conventions.vault import export_prefix
from handlers.exports import iter_requests
from handlers.exports.batch_writer import DynamoDBSink, write_requests
from safetynet.backup import scan_export as scan_export_module
from safetynet.backup.scan_export import scan_export
from safetynet.backup.stream_export import export_stream_window
from safetynet.recovery.replay import choose_anchor, list_vault, plan_replay, run_replay, validate_windows
from safetynet.recovery.replay_target import TagJournal
from tests.safetynet.backup.test_stream_export import BASE, Clock, clock, moto_streams  # noqa: F401 (fixtures)
from tests.safetynet.recovery.replay_fixtures import table_items

VAULT, REPLICA = "vault", "vault-replica"
SOURCE_REGION, DR_REGION = "us-east-1", "us-west-2"
KEYS = ["k0", "k1", "k2", "k3", "k4"]
WINDOWS = 3
SECONDS = 10  # window length: [BASE + 10 (w-1), BASE + 10 w)
_tables = itertools.count()

# One write: (phase, key, action); phase 0 is before the anchor, 1..3 the windows.
_action = st.one_of(
    st.tuples(st.just("put"), st.integers(0, 9), st.booleans()),
    st.tuples(st.just("set"), st.integers(0, 9), st.booleans()),
    st.tuples(st.just("delete")),
)
_write = st.tuples(st.integers(0, WINDOWS), st.sampled_from(KEYS), _action)


@pytest.fixture
def stamped(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:  # noqa: F811 (the imported fixture)
    """The stream clock also stamps the scan exporter's exportTime."""

    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return clock.now.astimezone(tz or UTC)

    monkeypatch.setattr(scan_export_module, "datetime", ClockDatetime)
    for region, bucket in ((SOURCE_REGION, VAULT), (DR_REGION, REPLICA)):
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        boto3.client("s3", region_name=region).create_bucket(Bucket=bucket, **config)
    return clock


def _create(ddb: Any, name: str, *, stream: bool) -> None:
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    ddb.create_table(**request)


def _apply(ddb: Any, table: str, key: str, action: tuple[Any, ...]) -> None:
    ident = {"pk": {"S": key}, "sk": {"S": "x"}}
    if action[0] == "put":
        _, v, extra = action
        item = {**ident, "v": {"N": str(v)}, "blob": {"B": bytes([v, 0, 255])}}
        if extra:
            item["extra"] = {"M": {"tags": {"SS": ["a", str(v)]}, "n": {"N": "1.5"}}}
        ddb.put_item(TableName=table, Item=item)
    elif action[0] == "set":
        _, v, remove = action
        expression = "SET v = :v REMOVE extra" if remove else "SET v = :v, extra = :e"
        values: dict[str, Any] = {":v": {"N": str(v)}}
        if not remove:
            values[":e"] = {"L": [{"S": "updated"}, {"N": str(v)}]}
        ddb.update_item(TableName=table, Key=ident, UpdateExpression=expression, ExpressionAttributeValues=values)
    else:
        ddb.delete_item(TableName=table, Key=ident)


def _replay_into(region: str, bucket: str, table: str, source_arn: str, target: str, to: datetime) -> dict[str, Any]:
    """restore-plan + pulumi up (the anchor loaded into a new table) + replay, in `region`."""
    s3 = boto3.client("s3", region_name=region)
    ddb = boto3.client("dynamodb", region_name=region)
    exports = list_vault(s3, bucket, export_prefix(table))
    anchor, summary, _ = choose_anchor(s3, exports, to=to, expected_table_arn=source_arn)
    plan = validate_windows(s3, exports, plan_replay(exports, anchor, summary, to=to))
    assert plan.to == to and len(plan.windows) == WINDOWS
    _create(ddb, target, stream=False)
    write_requests(DynamoDBSink(ddb, target), iter_requests(s3, anchor))
    arn = ddb.describe_table(TableName=target)["Table"]["TableArn"]
    run_replay(plan, s3=s3, sink=DynamoDBSink(ddb, target), journal=TagJournal(ddb, arn), concurrency=4)
    return table_items(ddb, target)


def _replicate(table: str) -> None:
    """Copy the table's vault objects to the replica bucket, as S3 replication does (same keys,
    same bytes; the manifests keep naming the source bucket)."""
    source = boto3.client("s3", region_name=SOURCE_REGION)
    replica = boto3.client("s3", region_name=DR_REGION)
    for page in source.get_paginator("list_objects_v2").paginate(Bucket=VAULT, Prefix=export_prefix(table) + "/"):
        for obj in page.get("Contents", []):
            replica.copy_object(Bucket=REPLICA, Key=obj["Key"], CopySource={"Bucket": VAULT, "Key": obj["Key"]})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(_write, max_size=30))
def test_anchor_plus_replayed_chain_is_the_table_at_the_chains_end_in_both_regions(
    stamped: Clock, history: list[Any]
) -> None:
    n = next(_tables)
    table = f"orders{n}"
    ddb = boto3.client("dynamodb", region_name=SOURCE_REGION)
    streams = boto3.client("dynamodbstreams", region_name=SOURCE_REGION)
    s3 = boto3.client("s3", region_name=SOURCE_REGION)
    stamped.set(BASE - timedelta(seconds=60))
    _create(ddb, table, stream=True)
    source_arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    phases = [[(k, a) for p, k, a in history if p == phase] for phase in range(WINDOWS + 1)]
    for i, (key, action) in enumerate(phases[0]):
        stamped.set(BASE - timedelta(seconds=50) + timedelta(milliseconds=10 * i))
        _apply(ddb, table, key, action)
    stamped.set(BASE)
    scan_export(ddb, s3, table_name=table, bucket=VAULT, prefix=export_prefix(table), segments=2)
    for w in range(1, WINDOWS + 1):
        start = BASE + timedelta(seconds=SECONDS * (w - 1))
        for i, (key, action) in enumerate(phases[w]):
            stamped.set(start + timedelta(seconds=1, milliseconds=10 * i))
            _apply(ddb, table, key, action)
        stamped.set(start + timedelta(seconds=SECONDS))
        export_stream_window(
            ddb,
            streams,
            s3,
            table=table,
            bucket=VAULT,
            prefix=incremental_export_prefix(table),
            start=start,
            end=start + timedelta(seconds=SECONDS),
            items_per_file=3,
            settle=0,
        )
    end = BASE + timedelta(seconds=SECONDS * WINDOWS)
    expected = table_items(ddb, table)

    assert _replay_into(SOURCE_REGION, VAULT, table, source_arn, f"restored{n}", end) == expected
    _replicate(table)
    assert _replay_into(DR_REGION, REPLICA, table, source_arn, f"restored{n}", end) == expected

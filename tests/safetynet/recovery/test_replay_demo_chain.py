"""The demo's chain step on moto, in real time: writes after the nightly export, captured by the
emulator exporter in whole-second windows, the table lost and brought back from the anchor and
the chain with 0 mismatches."""

from __future__ import annotations

from typing import Any

import boto3

from conventions.vault import export_prefix
from safetynet.backup.scan_export import scan_export
from safetynet.local.demo_chain import chain_step
from tests.safetynet.backup.test_stream_export import moto_streams  # noqa: F401 (the fixture)

TABLE = "orders"
CREATE = {
    "TableName": TABLE,
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    "DeletionProtectionEnabled": True,
}


def new_item(i: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"c-{i % 40}"},
        "sk": {"N": str(i)},
        "total": {"N": f"{i}.50"},
        "tags": {"SS": ["a", f"t{i % 3}"]},
        "lines": {"L": [{"M": {"sku": {"S": f"sku-{i % 7}"}, "qty": {"N": "2"}}}]},
        "paid": {"BOOL": i % 2 == 0},
        "receipt": {"B": i.to_bytes(4, "big")},
        "hashes": {"BS": [bytes([i % 256]), b"\x00\xff"]},
    }


def test_the_table_comes_back_from_the_anchor_and_the_chain_with_no_mismatch(moto_streams: None) -> None:  # noqa: F811
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    s3.create_bucket(Bucket="vault")
    ddb.create_table(**CREATE)
    for i in range(150):
        ddb.put_item(TableName=TABLE, Item=new_item(i))
    anchor = scan_export(ddb, s3, table_name=TABLE, bucket="vault", prefix=export_prefix(TABLE), streams=streams)
    steps: list[str] = []

    result = chain_step(
        ddb=ddb,
        streams=streams,
        s3=s3,
        table=TABLE,
        bucket="vault",
        anchor=anchor,
        create_request=CREATE,
        new_item=new_item,
        writes=90,
        windows=2,
        on_step=steps.append,
    )

    assert result.ok, result
    assert result.mismatches == 0
    assert result.windows == 2 and result.writes == 90
    assert result.puts + result.deletes == result.changes > 0
    assert result.deletes > 0
    assert result.items > 0
    assert any(s.startswith("table orders deleted") for s in steps)
    assert steps[-1].startswith("replayed 2 windows up to")

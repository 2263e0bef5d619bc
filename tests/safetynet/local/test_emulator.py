"""The embedded emulator: what the demo's steps read from it is what DynamoDB would answer (moto
5.1 corrected by `safetynet.local.moto_compat`, which the emulator applies)."""

from __future__ import annotations

import boto3
import pytest

from safetynet.local.emulator import running_emulator

pytestmark = pytest.mark.slow  # starts moto's server


def test_stream_records_carry_binaries_as_bytes() -> None:
    # Given a table with a stream of both images on the emulator, and an item with binaries
    with running_emulator() as emu:
        ddb = boto3.client("dynamodb", region_name=emu.region)
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "B"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        item = {"k": {"B": b"\x00key"}, "b": {"B": b"\x01\x02"}, "m": {"M": {"bs": {"BS": [b"\x03", b"\xff"]}}}}
        ddb.put_item(TableName="t", Item=item)
        ddb.update_item(
            TableName="t",
            Key={"k": {"B": b"\x00key"}},
            UpdateExpression="SET n = :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        # When the stream is read as the emulator exporter reads it
        arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
        streams = boto3.client("dynamodbstreams", region_name=emu.region)
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = streams.get_records(ShardIterator=it["ShardIterator"])["Records"]
    # Then keys and both images hold the bytes that were written, as DynamoDB Streams sends them
    insert, modify = (r["dynamodb"] for r in records)
    assert insert["Keys"] == {"k": {"B": b"\x00key"}}
    assert insert["NewImage"] == item
    assert modify["OldImage"] == item
    assert modify["NewImage"] == {**item, "n": {"N": "1"}}

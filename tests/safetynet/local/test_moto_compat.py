"""The pinned moto answers a projected Scan over items holding binary sets, as DynamoDB does."""

from __future__ import annotations

import boto3


def test_projected_scan_over_binary_sets_returns_the_keys(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(
        TableName="t",
        Item={
            "k": {"S": "a"},
            "hashes": {"BS": [b"\x00\xff", b"\x01"]},
            "nested": {"M": {"bs": {"BS": [b"\x02"]}}},
        },
    )
    assert ddb.scan(TableName="t", ProjectionExpression="k")["Items"] == [{"k": {"S": "a"}}]
    full = ddb.scan(TableName="t", ProjectionExpression="k, hashes")["Items"][0]
    assert sorted(full["hashes"]["BS"]) == [b"\x00\xff", b"\x01"]


def test_count_scan_returns_the_count_without_the_items(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(7):
        ddb.put_item(TableName="t", Item={"k": {"S": str(i)}})
    page = ddb.scan(TableName="t", Select="COUNT")
    assert page["Count"] == 7
    assert "Items" not in page
    assert len(ddb.scan(TableName="t")["Items"]) == 7

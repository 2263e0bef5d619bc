"""Benchmark: how fast the installed moto writes and scans DynamoDB items (in-process).

    .venv/bin/python bench/emulator_speed.py [--items 2000]

Why it exists: the demo's time budget depends on the emulator. moto 5.2's generic response
serializer made DynamoDB several times slower than 5.1.22, so the project pins 5.1 (and patches
its one relevant bug, safetynet/local/moto_compat.py). To compare, run this script in the project venv
and in a scratch venv with `pip install "moto[dynamodb]==5.2.5" boto3 rich`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time

import boto3
import moto
from moto import mock_aws
from rich.console import Console
from rich.table import Table


def item(i: int) -> dict[str, object]:
    """A demo-like item: nested maps, a list of maps, sets, binary, a 38-digit number."""
    r = random.Random(i)
    return {
        "customerId": {"S": f"c-{i:06d}"},
        "name": {"S": "Ada Lovelace"},
        "email": {"S": f"ada{i}@example.com"},
        "address": {"M": {"street": {"S": "1 Main St"}, "geo": {"M": {"lat": {"N": "1.5"}, "lon": {"N": "2.5"}}}}},
        "orders": {"L": [{"M": {"ref": {"S": "ORD-1"}, "qty": {"N": "2"}, "gift": {"BOOL": True}}}] * 2},
        "profile": {
            "M": {
                "balance": {"N": "12345678901234567890123456789012345678"},
                "avatar": {"B": r.randbytes(30)},
                "labels": {"SS": ["a", "b"]},
                "scores": {"NS": ["1", "2"]},
                "note": {"NULL": True},
            }
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=2000)
    n = ap.parse_args().items
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="eu-central-1")
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "customerId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "customerId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        start = time.perf_counter()
        for i in range(0, n, 25):
            batch = [{"PutRequest": {"Item": item(j)}} for j in range(i, min(i + 25, n))]
            ddb.batch_write_item(RequestItems={"t": batch})
        write = n / (time.perf_counter() - start)
        start = time.perf_counter()
        kwargs: dict[str, object] = {"TableName": "t"}
        seen = 0
        while True:
            page = ddb.scan(**kwargs)
            seen += len(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        scan = seen / (time.perf_counter() - start)
    console = Console()
    console.print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}")
    table = Table(title=f"moto {moto.__version__}: DynamoDB in-process, {n:,} items")
    table.add_column("operation")
    table.add_column("items/s", justify="right")
    table.add_row("BatchWriteItem", f"{write:,.0f}")
    table.add_row("Scan", f"{scan:,.0f}")
    console.print(table)


if __name__ == "__main__":
    main()

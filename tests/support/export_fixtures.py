"""Realistic export fixtures, shared by the export, staging, restore and demo tests.

`realistic_items()` holds every attribute type (S N B SS NS BS M L NULL BOOL), 38-digit
numbers, binary with every byte value, unicode, deeply nested maps and lists, and one item
near DynamoDB's 400 KB limit, in boto3's low-level format (binary as bytes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from handlers.exports import ExportRef, write_export

REGION = "us-east-1"
BUCKET = "export-fixtures"
PREFIX = "exports/orders"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
OTHER_TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/customers"
EXPORT_TIME = datetime(2026, 11, 26, 3, 0, 0, 123000, tzinfo=UTC)


def _deep(levels: int) -> dict[str, Any]:
    """A document nested `levels` deep, alternating maps and lists."""
    value: dict[str, Any] = {"S": "bottom"}
    for level in range(levels):
        value = {"M": {f"level{level}": value, "n": {"N": str(level)}}} if level % 2 else {"L": [value, {"NULL": True}]}
    return value


def realistic_items(count: int = 60) -> list[dict[str, Any]]:
    """`count` items (at least 6) covering every type and edge case, keyed by `customerId`/`orderId`."""
    items: list[dict[str, Any]] = [
        {
            "customerId": {"S": "c-every-type"},
            "orderId": {"S": "o-0"},
            "s": {"S": "plain"},
            "n": {"N": "12345678901234567890123456789012345678"},
            "n_neg": {"N": "-0.00000000000000000000000000000000000001"},
            "n_exp": {"N": "9.9999999999999999999999999999999999999E+125"},
            "b": {"B": bytes(range(256))},
            "ss": {"SS": ["a", "b", "ç", "😀"]},
            "ns": {"NS": ["1", "-2.5", "99999999999999999999999999999999999999"]},
            "bs": {"BS": [b"\x00", b"\xff\xfe", b"plain"]},
            "m": {"M": {"inner": {"S": "x"}, "empty_s": {"S": ""}, "empty_m": {"M": {}}}},
            "l": {"L": [{"S": "a"}, {"N": "1"}, {"B": b"\x01\x02"}, {"L": []}, {"BOOL": True}]},
            "null": {"NULL": True},
            "t": {"BOOL": True},
            "f": {"BOOL": False},
        },
        {
            "customerId": {"S": "c-unicode-ß-日本-👩‍👩‍👧"},
            "orderId": {"S": "o-1"},
            "text": {"S": 'quotes " and \\ backslash, newline \n tab \t, NUL \x00, RTL \u202e'},
            "emoji_keys": {"M": {"ключ": {"S": "значение"}, "🔑": {"S": "🔒"}}},
        },
        {
            "customerId": {"S": "c-deep"},
            "orderId": {"S": "o-2"},
            "deep": _deep(30),
        },
        {
            "customerId": {"S": "c-big"},
            "orderId": {"S": "o-3"},
            # Near DynamoDB's 400 KB item limit (names + values).
            "payload": {"S": "x" * 390_000},
            "blob": {"B": bytes(range(256)) * 30},
        },
        {
            "customerId": {"S": "c-binary-key"},
            "orderId": {"S": "o-4"},
            "raw": {"B": b""},
        },
    ]
    for i in range(len(items), count):
        items.append(
            {
                "customerId": {"S": f"c{i % 7}"},
                "orderId": {"S": f"o-{i:05d}"},
                "total": {"N": f"{i}.{i % 100:02d}"},
                "tags": {"SS": [f"t{i % 3}", "all"]},
                "lines": {"L": [{"M": {"sku": {"S": f"sku-{i}"}, "qty": {"N": str(i % 5 + 1)}}}]},
            }
        )
    return items


def write_fixture_export(
    s3: Any,
    items: list[dict[str, Any]] | None = None,
    *,
    bucket: str = BUCKET,
    prefix: str = PREFIX,
    items_per_file: int = 17,
    empty_files: int = 1,
    table_arn: str = TABLE_ARN,
) -> ExportRef:
    """Write an export of `items` (default: realistic_items()) in AWS's layout: several data
    files and an empty partition file. Creates the bucket when missing."""
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    return write_export(
        s3,
        bucket=bucket,
        prefix=prefix,
        table_arn=table_arn,
        items=realistic_items() if items is None else items,
        export_time=EXPORT_TIME,
        items_per_file=items_per_file,
        empty_files=empty_files,
    )


class CountingS3:
    """An S3 client that records the keys of every GetObject (`got`), in order."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self.got: list[str] = []

    def get_object(self, **kwargs: Any) -> Any:
        self.got.append(kwargs["Key"])
        return self._s3.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

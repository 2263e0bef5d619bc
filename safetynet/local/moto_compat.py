"""Fixes for the pinned moto (the local AWS of the demo and the tests).

moto 5.2 fixed the first two (the third was not checked there), but its new response
serializer makes DynamoDB about 5x slower (bench/emulator_speed.py), which the demo's time
budget cannot afford; so the project pins moto 5.1 and corrects, here, the places where 5.1
differs from DynamoDB in ways we use:

- it decodes binary (B) values but not binary sets (BS) when it turns an item into plain JSON,
  which it does for a Scan or Query with a ProjectionExpression: such a call fails with a
  TypeError on any item holding a binary set;
- a Scan with `Select: COUNT` returns every item as well as the count (DynamoDB returns only
  the count), so each exact count costs a full read of the table;
- DynamoDB Streams' GetRecords returns binary values (B, BS, in Keys and images, at any depth)
  base64-encoded twice: moto keeps them as base64 text and its serializer encodes them again,
  so boto3 hands out the base64 text as the bytes (the emulator exporter,
  safetynet/backup/stream_export.py, would write `b"AAE="` for `b"\x00\x01"`);
- TagResource with a key the table already has appends a second tag (DynamoDB updates the
  value: "If you try to add an existing tag (same key), the existing tag value is updated",
  DynamoDB developer guide, tagging restrictions), so ListTagsOfResource returns both.

`apply()` is a no-op on any other moto version.
"""

from __future__ import annotations

import base64
import json
from typing import Any


def apply() -> bool:
    """Patch moto's DynamoType.to_regular_json when it is the 5.1 version. Returns whether it did."""
    import moto
    from moto.dynamodb.models import dynamo_type

    if not moto.__version__.startswith("5.1."):
        return False
    cls = dynamo_type.DynamoType
    if getattr(cls.to_regular_json, "_safetynet_patched", False):
        return True
    original = cls.to_regular_json

    def to_regular_json(self: Any) -> dict[str, Any]:
        if self.type == "BS":
            return {"BS": [base64.b64decode(v) if isinstance(v, str) else v for v in self.value]}
        return original(self)

    to_regular_json._safetynet_patched = True  # type: ignore[attr-defined]
    setattr(cls, "to_regular_json", to_regular_json)  # noqa: B010 (patching a method)
    _patch_count_scan()
    _patch_stream_binaries()
    _patch_tag_resource()
    return True


def _patch_tag_resource() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    def tag_resource(self: Any, table_arn: str, tags: list[dict[str, str]]) -> None:
        for table in self.tables.values():
            if table.table_arn == table_arn:
                new = {t["Key"] for t in tags}
                table.tags = [t for t in table.tags if t["Key"] not in new] + list(tags)

    setattr(DynamoDBBackend, "tag_resource", tag_resource)  # noqa: B010 (patching a method)


def _binaries_as_bytes(value: Any) -> Any:
    """An attribute map or value with base64 text binaries turned into bytes (bytes left as they are)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for kind, inner in value.items():
            if kind == "B" and isinstance(inner, str):
                out[kind] = base64.b64decode(inner)
            elif kind == "BS" and isinstance(inner, list):
                out[kind] = [base64.b64decode(v) if isinstance(v, str) else v for v in inner]
            else:
                out[kind] = _binaries_as_bytes(inner)
        return out
    if isinstance(value, list):
        return [_binaries_as_bytes(v) for v in value]
    return value


def _patch_stream_binaries() -> None:
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    original = DynamoDBStreamsBackend.get_records

    def get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        page: dict[str, Any] = original(self, iterator_arn, limit)
        records = []
        for record in page["Records"]:  # copies: the shard keeps its records as moto wrote them
            body = dict(record["dynamodb"])
            for part in ("Keys", "NewImage", "OldImage"):
                if part in body:
                    body[part] = _binaries_as_bytes(body[part])
            records.append({**record, "dynamodb": body})
        return {**page, "Records": records}

    setattr(DynamoDBStreamsBackend, "get_records", get_records)  # noqa: B010 (patching a method)


def _patch_count_scan() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.scan

    def scan(self: Any) -> Any:
        body: Any = original(self)
        if str(self.body.get("Select", "")).upper() != "COUNT":
            return body
        doc = json.loads(body)
        doc.pop("Items", None)
        return json.dumps(doc)

    setattr(DynamoHandler, "scan", scan)  # noqa: B010 (patching a method)

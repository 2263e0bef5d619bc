"""Fixtures for staging tests: prod-like tables from the stack config, realistic exports in
AWS's layout (through handlers.exports.write_export), and corruptions of them."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from components.config.tables import TableSpec
from conventions.tags import STAGING_TARGET_TAG
from handlers import exports
from handlers.staging.compare import normalize_item
from handlers.staging.ledger import claim
from handlers.staging.target import TargetTable

PROJECT_DIR = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
VAULT = "prod-vault"
MASK_BUCKET = "test-masking"
LEDGER = "staging-ledger-test"
STACK = "safetynet/test"
EXPORT_TIME = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def prod_spec(name: str) -> TableSpec:
    """A table exactly as Pulumi.prod.yaml configures it."""
    doc = YAML(typ="safe", pure=True).load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    for t in doc["config"]["safetynet:tables"]:
        if t["name"] == name:
            return TableSpec.model_validate(t)
    raise LookupError(name)


def prod_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def target_for(spec: TableSpec, *, mode: str = "refill", mask: list[dict[str, Any]] | None = None) -> TargetTable:
    """The TargetTable the test stack would pass for this table."""
    name = f"{spec.name}-test"
    return TargetTable(
        name=name,
        logical_name=spec.name,
        stack=STACK,
        schema=spec.create_table_request(name),
        source_table_arn=prod_arn(spec.name),
        mode=mode,  # type: ignore[arg-type]
        ttl_attribute=spec.ttl_attribute,
        point_in_time_recovery_days=spec.point_in_time_recovery_days,
        deletion_protection=False,
        tags={STAGING_TARGET_TAG: STACK, "safetynet:environment": "test", **spec.tags},
        mask=mask or [],
    )


def create_test_table(ddb: Any, target: TargetTable, *, tags: dict[str, str] | None = None) -> str:
    """Create the target table in moto, tagged (by default) as the test stack does. Returns its ARN."""
    tag_map = target.tags if tags is None else tags
    req = dict(target.schema)
    if tag_map:
        req["Tags"] = [{"Key": k, "Value": v} for k, v in tag_map.items()]
    arn: str = ddb.create_table(**req)["TableDescription"]["TableArn"]
    return arn


def create_ledger(ddb: Any) -> None:
    ddb.create_table(
        TableName=LEDGER,
        KeySchema=[{"AttributeName": "table", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "table", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def claimed(ddb: Any, export_id: str = "01700000000000-aaaaaaaa") -> str:
    """Claim `export_id` for the customers table in the ledger (it must be claimable); returns it."""
    assert claim(ddb, LEDGER, "customers", export_id, EXPORT_TIME).claimed
    return export_id


MASK = [
    {"path": "email", "action": "hash"},
    {"path": "name", "action": "fake"},
    {"path": "address.street", "action": "redact", "value": "1 Example Street"},
    {"path": "orders[*].email", "action": "hash"},
    {"path": "photo", "action": "drop"},
]
"""Masking rules for the personal fields of `customer_items`."""


def customer_items(n: int = 60, *, big: bool = True) -> list[dict[str, Any]]:
    """Customers covering every attribute type, 38-digit numbers, binary, unicode, deep nesting,
    and (with `big`) one item near the 400 KB limit."""
    items: list[dict[str, Any]] = []
    for i in range(n):
        deep: dict[str, Any] = {"S": f"leaf-{i}"}
        for level in range(20):
            deep = {"M": {f"l{level}": deep, "list": {"L": [{"N": str(level)}, {"BOOL": level % 2 == 0}]}}}
        items.append(
            {
                "customerId": {"S": f"c-{i:05d}"},
                "email": {"S": f"user{i}@example.org"},
                "name": {"S": f"Ünïcødé Nâme {i} ✓ 日本語 🎉"},
                "balance": {"N": "12345678901234567890123456789012345678" if i % 2 else "-0.5"},
                "tiny": {"N": "0.000000000000000000000000000000000001"},
                "photo": {"B": bytes(range(256))[: 1 + i % 200]},
                "roles": {"SS": ["admin", f"r{i}"]},
                "lucky": {"NS": ["7", f"{i + 100}"]},
                "blobs": {"BS": [b"\x00\x01", bytes([i % 256, 255])]},
                "address": {"M": {"street": {"S": f"{i} Main St"}, "zip": {"N": "10115"}}},
                "orders": {"L": [{"M": {"id": {"S": f"o{i}"}, "email": {"S": f"o{i}@x.org"}}}]},
                "deleted": {"NULL": True},
                "vip": {"BOOL": i % 3 == 0},
                "deep": deep,
            }
        )
    if big:
        big_item = {
            "customerId": {"S": "c-big"},
            "email": {"S": "big@example.org"},
            "blob": {"S": "x" * 390_000},
        }
        items.append(big_item)
    return items


def write_prod_export(
    s3: Any,
    items: list[dict[str, Any]],
    *,
    table: str = "customers",
    export_time: datetime = EXPORT_TIME,
    items_per_file: int = 25,
    empty_files: int = 1,
) -> exports.ExportRef:
    """A native-layout export of `items` in the prod vault, several files plus empty ones."""
    return exports.write_export(
        s3,
        bucket=VAULT,
        prefix=f"exports/{table}",
        table_arn=prod_arn(table),
        items=items,
        export_time=export_time,
        items_per_file=items_per_file,
        empty_files=empty_files,
        export_id=exports.new_export_id(export_time),
    )


def vault_clients() -> tuple[Any, Any]:
    """S3 and DynamoDB clients (call inside moto) with the prod vault and the masking bucket."""
    import boto3

    s3 = boto3.client("s3", region_name=REGION)
    ddb = boto3.client("dynamodb", region_name=REGION)
    s3.create_bucket(Bucket=VAULT)
    s3.create_bucket(Bucket=MASK_BUCKET)
    return s3, ddb


def as_set(items: list[dict[str, Any]]) -> list[Any]:
    """Items in a comparable order and form (numbers by value, sets unordered)."""
    return sorted(normalize_item(i) for i in items)


def scan_all(ddb: Any, table: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        out += page["Items"]
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def patch_moto_import_empty_files(monkeypatch: Any) -> None:
    """Fix two moto bugs staging meets. First, make moto's ImportTable read the data files as
    JSON lines, as AWS does.

    moto parses them with py_partiql_parser's JsonParser, which fails on an empty file (AWS
    writes those for empty partitions), does not unescape strings (\\" \\n \\u001f come back
    literally) and trips over empty lists. The double replaces only that parser; the import
    itself (table creation, item loading, status) stays moto's."""
    import json

    from py_partiql_parser import JsonParser

    def parse(original: str | None = None, **_: Any) -> Any:
        return [json.loads(line) for line in (original or "").split("\n") if line.strip()]

    monkeypatch.setattr(JsonParser, "parse", staticmethod(parse))

    # moto projects items (Scan/Query with ProjectionExpression) through boto3's deserializer,
    # which it hands BS members as base64 text; AWS returns them. Decode them as moto does for B.
    import base64

    from moto.dynamodb.models.dynamo_type import DynamoType

    to_regular_json = DynamoType.to_regular_json

    def fixed(self: Any) -> dict[str, Any]:
        if self.type == "BS":
            return {"BS": [base64.b64decode(v) if isinstance(v, str) else v for v in self.value]}
        out: dict[str, Any] = to_regular_json(self)
        return out

    monkeypatch.setattr(DynamoType, "to_regular_json", fixed)


# -- corruptions -------------------------------------------------------------------------------


def _get(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def data_keys(s3: Any, ref: exports.ExportRef) -> list[str]:
    """Data file keys in manifest order (non-empty first as written)."""
    lines = _get(s3, ref.bucket, ref.key("manifest-files.json")).splitlines()
    return [ref.resolve(json.loads(x)["dataFileS3Key"]) for x in lines if x.strip()]


def rewrite_files_manifest(s3: Any, ref: exports.ExportRef, edit: Any) -> None:
    """Apply `edit(list_of_line_dicts)` to manifest-files.json and keep its checksum file valid."""
    raw = _get(s3, ref.bucket, ref.key("manifest-files.json"))
    lines = [json.loads(x) for x in raw.splitlines() if x.strip()]
    edit(lines)
    body = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    s3.put_object(Bucket=ref.bucket, Key=ref.key("manifest-files.json"), Body=body)
    s3.put_object(
        Bucket=ref.bucket,
        Key=ref.key("manifest-files.checksum"),
        Body=hashlib.md5(body, usedforsecurity=False).hexdigest().encode(),
    )


def rewrite_summary(s3: Any, ref: exports.ExportRef, **changes: Any) -> None:
    doc = json.loads(_get(s3, ref.bucket, ref.summary_key))
    doc.update(changes)
    body = json.dumps(doc).encode()
    s3.put_object(Bucket=ref.bucket, Key=ref.summary_key, Body=body)
    s3.put_object(
        Bucket=ref.bucket,
        Key=ref.key("manifest-summary.checksum"),
        Body=hashlib.md5(body, usedforsecurity=False).hexdigest().encode(),
    )


def replace_data_file(s3: Any, ref: exports.ExportRef, key: str, body: bytes, *, fix_manifest: bool) -> None:
    """Overwrite a data file; with fix_manifest its MD5 in the manifest is updated (so only the
    content problem remains)."""
    import base64

    s3.put_object(Bucket=ref.bucket, Key=key, Body=body)
    if fix_manifest:
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()

        def edit(lines: list[dict[str, Any]]) -> None:
            for x in lines:
                if ref.resolve(x["dataFileS3Key"]) == key:
                    x["md5Checksum"] = md5

        rewrite_files_manifest(s3, ref, edit)


def gz(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(x + b"\n" for x in lines))

"""Fixtures for staging tests: prod-like tables from the stack config, realistic exports in
AWS's layout (through handlers.exports.write_export), and corruptions of them."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
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


# -- failures and interruptions ------------------------------------------------------------------


Effect = Callable[..., Any]


@dataclass
class _Fault:
    effect: Effect
    first: int
    last: int
    after: bool


class FaultyClient:
    """A boto3 client whose calls fail, are interrupted or answer differently on chosen calls:
    `on("import_table", interrupt, after=True)` lets the first ImportTable reach AWS, then raises
    KeyboardInterrupt as Ctrl-C would right after it. Everything else (waiters, exceptions, meta)
    is the real client's; `calls` counts each method's calls."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._faults: dict[str, list[_Fault]] = {}
        self.calls: Counter[str] = Counter()

    def on(self, method: str, effect: Effect, *, nth: int = 1, times: int = 1, after: bool = False) -> FaultyClient:
        """From the `nth` call of `method` on, `times` calls: `effect(kwargs)` before the call (it
        raises), or with `after` `effect(kwargs, result)` once the call went through (it raises,
        or returns the answer to give instead)."""
        self._faults.setdefault(method, []).append(_Fault(effect, nth, nth + times - 1, after))
        return self

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name in ("get_waiter", "get_paginator", "can_paginate"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            n = self.calls[name]
            faults = [f for f in self._faults.get(name, []) if f.first <= n <= f.last]
            for f in faults:
                if not f.after:
                    f.effect(kwargs)
            result = attr(*args, **kwargs)
            for f in faults:
                if f.after:
                    changed = f.effect(kwargs, result)
                    result = result if changed is None else changed
            return result

        return call


def interrupt(*_: Any) -> None:
    """An effect: Ctrl-C (or SIGTERM, which the CLI turns into the same) at this point."""
    raise KeyboardInterrupt


def aws_error(code: str, message: str = "injected", operation: str = "Call") -> Effect:
    """An effect: the AWS error `code`."""
    from botocore.exceptions import ClientError

    def effect(*_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": message}}, operation)

    return effect


def import_failed(kwargs: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """An after-effect of DescribeImport: the import ended FAILED (the table stays as it is)."""
    desc = {**result["ImportTableDescription"], "ImportStatus": "FAILED"}
    desc.update(FailureCode="ItemValidationError", FailureMessage="injected: the import failed mid-way")
    return {**result, "ImportTableDescription": desc}


def table_state(ddb: Any, name: str) -> dict[str, Any]:
    """What staging must keep or restore on a table: items, tags, PITR, TTL and stream (None when
    the table does not exist)."""
    try:
        desc = ddb.describe_table(TableName=name)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        return {"exists": False}
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=desc["TableArn"]).get("Tags", [])}
    pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    stream = desc.get("StreamSpecification") or {}
    return {
        "exists": True,
        "items": as_set(scan_all(ddb, name)),
        "tags": tags,
        "pitr": pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus"),
        "ttl": ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None,
        "stream": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
        "keys": desc["KeySchema"],
        "indexes": sorted(g["IndexName"] for g in desc.get("GlobalSecondaryIndexes", [])),
    }


def configure_like_the_stack(ddb: Any, target: TargetTable) -> None:
    """Turn on what the test stack declares beyond the schema (TTL, PITR), as `pulumi up` does."""
    if target.ttl_attribute:
        ddb.update_time_to_live(
            TableName=target.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": target.ttl_attribute}
        )
    if target.point_in_time_recovery_days:
        ddb.update_continuous_backups(
            TableName=target.name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True,
                "RecoveryPeriodInDays": target.point_in_time_recovery_days,
            },
        )


MASKING_SECRET = "cli-test-masking-key-0123456789"


@pytest.fixture
def stage_cli(clients: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """`safetynet stage` on moto: the CLI-side clients (vault, masking bucket, ImportTable as AWS
    reads data files), its journal files under `tmp_path`, and the masking key and bucket in the
    environment, as an operator of the test stack has them. Yields (s3, dynamodb)."""
    monkeypatch.setenv("SAFETYNET_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SAFETYNET_MASKING_KEY", MASKING_SECRET)
    monkeypatch.setenv("SAFETYNET_MASK_BUCKET", MASK_BUCKET)
    return clients


def faulty_cli_clients(monkeypatch: pytest.MonkeyPatch, **faulty: FaultyClient) -> None:
    """The CLI's clients of these services (`dynamodb=FaultyClient(...)`) replaced by the given ones."""
    import handlers.clients

    real = handlers.clients.client

    def client(service: str, region: str | None = None) -> Any:
        return faulty.get(service) or real(service, region)

    monkeypatch.setattr(handlers.clients, "client", client)


def light_customers(n: int) -> list[dict[str, Any]]:
    """Customers with every attribute the stack masks but nothing deep: for tests whose point is the
    run (interrupted, failed, resumed), not the item shapes (moto scans deep items slowly)."""
    return [
        {
            "customerId": {"S": f"c-{i:05d}"},
            "email": {"S": f"user{i}@example.org"},
            "name": {"S": f"Customer Name {i}"},
            "phone": {"S": f"+49 30 {i:07d}"},
            "address": {"M": {"street": {"S": f"{i} Main St"}, "zip": {"N": "10115"}}},
            "orders": {"L": [{"M": {"id": {"S": f"o{i}"}, "email": {"S": f"o{i}@x.org"}}}]},
            "balance": {"N": str(i * 7)},
        }
        for i in range(n)
    ]

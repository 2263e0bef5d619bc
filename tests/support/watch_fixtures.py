"""A moto account for the disaster-recognition tests: a protected table built from the same
TableSpec the components use, PITR on, a vault bucket, and exports written in AWS's layout."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3

from components.config.tables import TableSpec
from conventions.vault import export_prefix
from conventions.watch import WatchContext, WatchedTable
from handlers.exports import ExportRef, read_data_files, read_summary, write_export
from tests.support.stacks import PROJECT_DIR

REGION = "us-east-1"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
VAULT = "vault-bucket-test"
SPEC = TableSpec.model_validate(
    {
        "name": "orders",
        "hashKey": {"name": "customerId", "type": "S"},
        "rangeKey": {"name": "orderId", "type": "S"},
    }
)
SPEC2 = TableSpec.model_validate({"name": "customers", "hashKey": {"name": "customerId", "type": "S"}})

# What Lambda passes the handlers as their context (Powertools reads these attributes).
LAMBDA_CONTEXT = SimpleNamespace(
    function_name="watch-classifier",
    memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:watch-classifier",
    aws_request_id="req-1",
)


def item(i: int, *, total: int | None = None) -> dict[str, Any]:
    """One order in boto3's low-level format."""
    return {
        "customerId": {"S": f"c{i % 7}"},
        "orderId": {"S": f"o{i:05d}"},
        "total": {"N": str(total if total is not None else i * 3)},
        "tags": {"SS": ["a", f"t{i % 3}"]},
    }


def customer(i: int) -> dict[str, Any]:
    return {"customerId": {"S": f"c{i}"}, "name": {"S": f"Customer {i}"}}


def make_account(*, specs: tuple[TableSpec, ...] = (SPEC, SPEC2), stack: str = "prod", **ctx_args: Any) -> WatchContext:
    """Tables (PITR on, deletion protection on), the vault bucket, a topic; returns the context."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    tables = []
    for spec in specs:
        desc = ddb.create_table(**spec.create_table_request(spec.name), DeletionProtectionEnabled=True)
        ddb.update_continuous_backups(
            TableName=spec.name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        tables.append(
            WatchedTable(
                name=spec.name,
                physical_name=spec.name,
                arn=desc["TableDescription"]["TableArn"],
                export_prefix=export_prefix(spec.name),
                key_schema=spec.key_schema(),
                attribute_definitions=spec.attribute_definitions(),
                schedule_name=f"{spec.name}-export-schedule-1a2b3c4",
                drill_schedule_name=f"watch-drill-{spec.name}-5d6e7f8",
            )
        )
    s3.create_bucket(Bucket=VAULT)
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="alerts")["TopicArn"]
    return WatchContext(stack=stack, tables=tables, vault_bucket=VAULT, topic_arn=topic, **ctx_args)


def fill(table: WatchedTable, items: list[dict[str, Any]]) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    for it in items:
        ddb.put_item(TableName=table.physical_name, Item=it)


def add_export(
    table: WatchedTable,
    items: list[dict[str, Any]],
    *,
    age_hours: float,
    table_arn: str | None = None,
    now: datetime = NOW,
) -> ExportRef:
    """An export of `items` taken `age_hours` before `now`, in the table's vault prefix."""
    at = now - timedelta(hours=age_hours)
    return write_export(
        boto3.client("s3", region_name=REGION),
        bucket=VAULT,
        prefix=table.export_prefix,
        table_arn=table_arn or table.arn,
        items=items,
        export_time=at,
        items_per_file=4,
        export_id=f"{int(at.timestamp() * 1000):014d}-{hashlib.sha256(table.name.encode()).hexdigest()[:8]}",
    )


def corrupt_first_data_file(ref: ExportRef) -> str:
    """Replace the first data file's bytes with other valid gzip (checksum no longer matches)."""
    s3 = boto3.client("s3", region_name=REGION)
    files = read_data_files(s3, ref, read_summary(s3, ref))
    key = ref.resolve(files[0].data_file_s3_key)
    body = json.dumps({"Item": {"customerId": {"S": "evil"}, "orderId": {"S": "x"}}}).encode() + b"\n"
    s3.put_object(Bucket=ref.bucket, Key=key, Body=gzip.compress(body))
    return key


def protected_and_exported(tmp: Path, *, orders: int, customers: int, age_hours: float) -> Path:
    """An account where both tables are protected, hold `orders` and `customers` items and were
    exported `age_hours` ago (call inside moto); returns a project folder whose `prod` stack
    protects them (`project_with_stack`)."""
    ctx = make_account()
    now = datetime.now(UTC)
    orders_table, customers_table = ctx.tables
    fill(orders_table, [item(i) for i in range(orders)])
    fill(customers_table, [customer(i) for i in range(customers)])
    add_export(orders_table, [item(i) for i in range(orders)], age_hours=age_hours, now=now)
    add_export(customers_table, [customer(i) for i in range(customers)], age_hours=age_hours, now=now)
    return project_with_stack(tmp)


def project_with_stack(tmp: Path, *, environment: str = "prod") -> Path:
    """A project folder (the real Pulumi.yaml) whose `prod` stack protects SPEC and SPEC2."""
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp / "Pulumi.yaml")
    (tmp / "Pulumi.prod.yaml").write_text(
        "config:\n"
        f"  aws:region: {REGION}\n"
        f"  safetynet:environment: {environment}\n"
        "  safetynet:tables:\n"
        "    - name: orders\n"
        "      hashKey: {name: customerId, type: S}\n"
        "      rangeKey: {name: orderId, type: S}\n"
        "    - name: customers\n"
        "      hashKey: {name: customerId, type: S}\n"
        "  safetynet:drill:\n"
        "    sampleSize: 5\n"
    )
    return tmp

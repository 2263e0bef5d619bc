"""An account for restore-plan tests: the prod stack's tables in moto, a vault bucket with
exports of several ages, backups, and a temp copy of the project to write the stack file into."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from components.config.loading import decode_pulumi_config, parse_stack_config
from components.config.stack import StackConfig
from handlers.exports import ExportRef, new_export_id, write_export
from safetynet.synth import read_stack_config
from tests.support.stacks import PROJECT_DIR

REGION = "eu-central-1"  # Pulumi.prod.yaml's aws:region: restore-plan inspects the stack's region
ACCOUNT = "123456789012"  # moto's default account
VAULT = "vault-restore-tests"
NOW = datetime.now(UTC).replace(microsecond=0)


def table_arn(physical: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical}"


def copy_project(dest: Path) -> Path:
    """Pulumi.yaml, the prod stack file and __main__.py in `dest` (components are importable)."""
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, dest / name)
    return dest


def prod_config(project: Path) -> StackConfig:
    flat, _ = read_stack_config(project, "prod")
    return parse_stack_config(decode_pulumi_config(flat))


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def create_table(cfg: StackConfig, logical: str, *, pitr: bool = True) -> str:
    spec = next(t for t in cfg.tables if t.name == logical)
    physical = cfg.physical_name(spec)
    ddb = client("dynamodb")
    ddb.create_table(**spec.create_table_request(physical))
    if pitr:
        ddb.update_continuous_backups(
            TableName=physical, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    return physical


def create_vault() -> None:
    client("s3").create_bucket(Bucket=VAULT, CreateBucketConfiguration={"LocationConstraint": REGION})


def customer_items(n: int, tag: str) -> list[dict[str, Any]]:
    return [{"customerId": {"S": f"c-{i:03d}"}, "email": {"S": f"{i}@x.test"}, "v": {"S": tag}} for i in range(n)]


def write_aged_export(physical: str, age: timedelta, items: list[dict[str, Any]]) -> ExportRef:
    """An export in the vault taken `age` ago, in AWS's layout (ExportId from that time)."""
    at = NOW - age
    return write_export(
        client("s3"),
        bucket=VAULT,
        prefix=f"exports/{physical}",
        table_arn=table_arn(physical),
        items=items,
        export_time=at,
        export_id=new_export_id(at),
    )


def corrupt_a_data_file(ref: ExportRef) -> None:
    """Overwrite one data file: its MD5 and content no longer match the manifest."""
    s3 = client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=ref.bucket, Prefix=ref.prefix + "data/")["Contents"]]
    s3.put_object(Bucket=ref.bucket, Key=keys[0], Body=b"not gzip at all")


def inject_system_backup(physical: str) -> str:
    """What DynamoDB does when a PITR-enabled table is deleted: a SYSTEM backup named
    `<table>$DeletedTableBackup`. moto's DeleteTable creates none, so the test puts one into
    moto's backend (moto's own Backup model, type SYSTEM) just before deleting the table."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Backup

    backend = dynamodb_backends[ACCOUNT][REGION]
    backup = Backup(ACCOUNT, REGION, f"{physical}$DeletedTableBackup", backend.get_table(physical), type_="SYSTEM")
    backend.backups[backup.arn] = backup
    return backup.arn


def restore_block_of(project: Path) -> dict[str, Any]:
    """`safetynet:restore` as written into the project's prod stack file."""
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load((project / "Pulumi.prod.yaml").read_text())
    return doc["config"].get("safetynet:restore") or {}

"""`safetynet refill` on moto: in the DR region, the LSI table `pulumi up` created empty is loaded
from the newest valid replicated export; every refusal leaves the table untouched."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from components.config.loading import decode_pulumi_config, parse_stack_config
from safetynet.cli import app
from safetynet.synth import read_stack_config
from tests.support import restore_fixtures as fx
from tests.support.stacks import PROJECT_DIR

DR_REGION = "eu-west-1"
runner = CliRunner()


def order(i: int, tag: str) -> dict[str, Any]:
    return {
        "customerId": {"S": f"c-{i % 3}"},
        "orderId": {"S": f"o-{i:04d}"},
        "createdAt": {"N": str(1700000000 + i)},
        "status": {"S": "open"},
        "total": {"N": str(i)},
        "v": {"S": tag},
    }


@pytest.fixture
def dr(aws: None, tmp_path: Path) -> dict[str, Any]:
    """The DR project, the replica bucket with three exports of prod's orders (the newest corrupt),
    and the orders table as `pulumi up` of the DR stack creates it: empty, with its LSI."""
    from handlers.exports import new_export_id, write_export

    project = fx.copy_project(tmp_path)
    shutil.copy(PROJECT_DIR / "Pulumi.dr.yaml", project / "Pulumi.dr.yaml")
    flat, _ = read_stack_config(project, "dr")
    cfg = parse_stack_config(decode_pulumi_config(flat))
    bucket = cfg.disaster_recovery.replica_bucket
    s3 = boto3.client("s3", region_name=DR_REGION)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": DR_REGION})

    def export(age: timedelta, items: list[dict[str, Any]], table_arn: str = fx.table_arn("orders")) -> Any:
        at = fx.NOW - age
        return write_export(
            s3,
            bucket=bucket,
            prefix="exports/orders",
            table_arn=table_arn,
            items=items,
            export_time=at,
            export_id=new_export_id(at),
            items_per_file=40,
        )

    older = export(timedelta(days=2), [order(i, "older") for i in range(30)])
    good = export(timedelta(hours=20), [order(i, "good") for i in range(120)])
    corrupt = export(timedelta(hours=2), [order(i, "corrupt") for i in range(130)])
    fx.corrupt_a_data_file(corrupt)
    spec = next(t for t in cfg.tables if t.name == "orders")
    ddb = boto3.client("dynamodb", region_name=DR_REGION)
    ddb.create_table(**spec.create_table_request("orders"))
    return {
        "project": project,
        "older": older,
        "good": good,
        "corrupt": corrupt,
        "ddb": ddb,
        "export": export,
    }


def run(project: Path, *args: str) -> Any:
    argv = ["refill", "dr", "--table", "orders", "--project-dir", str(project), "--yes", *args]
    return runner.invoke(app, argv, env={"COLUMNS": "250"})


def items_in(ddb: Any) -> list[dict[str, Any]]:
    return ddb.scan(TableName="orders")["Items"]


def test_refill_loads_the_newest_valid_replicated_export(dr: dict[str, Any]) -> None:
    result = run(dr["project"])
    assert result.exit_code == 0, result.output
    items = items_in(dr["ddb"])
    assert len(items) == 120
    assert {i["v"]["S"] for i in items} == {"good"}
    assert "120 items written to orders; count matches the export" in result.output
    skipped = next(line for line in result.output.splitlines() if dr["corrupt"].export_id in line)
    assert skipped.startswith("skipped")


def test_refill_of_a_non_empty_table_is_refused(dr: dict[str, Any]) -> None:
    dr["ddb"].put_item(TableName="orders", Item=order(999, "written after the outage"))
    result = run(dr["project"])
    assert result.exit_code == 1
    assert "table orders is not empty" in result.output
    assert len(items_in(dr["ddb"])) == 1


def test_refill_into_a_missing_table_is_refused(dr: dict[str, Any]) -> None:
    dr["ddb"].delete_table(TableName="orders")
    result = run(dr["project"])
    assert result.exit_code == 1
    assert "table orders does not exist: create it first (pulumi up)" in result.output


def test_refill_refuses_an_export_of_another_table(dr: dict[str, Any]) -> None:
    other = dr["export"](timedelta(hours=1), [order(1, "x")], "arn:aws:dynamodb:eu-central-1:123456789012:table/x")
    result = run(dr["project"], "--export", other.url)
    assert result.exit_code == 1
    assert "is not usable" in result.output
    assert items_in(dr["ddb"]) == []


def test_refill_with_a_given_export_loads_exactly_that_one(dr: dict[str, Any]) -> None:
    result = run(dr["project"], "--export", dr["older"].url)
    assert result.exit_code == 0, result.output
    assert {i["v"]["S"] for i in items_in(dr["ddb"])} == {"older"}


def test_refill_of_an_unknown_table_is_a_usage_error(dr: dict[str, Any]) -> None:
    argv = ["refill", "dr", "--table", "nope", "--project-dir", str(dr["project"])]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert "unknown table nope" in result.output

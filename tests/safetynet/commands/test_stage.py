"""`safetynet stage`: the same staging code from the CLI (in-process on moto, and once as a
subprocess against a moto server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from safetynet.cli import app
from tests.support.staging_fixtures import (
    MASK_BUCKET,
    REGION,
    VAULT,
    as_set,
    create_test_table,
    customer_items,
    prod_spec,
    rewrite_files_manifest,
    scan_all,
    target_for,
    write_prod_export,
)

runner = CliRunner()


def test_stage_refills_with_masking_and_reports(clients: tuple[Any, Any], tmp_path: Path, monkeypatch: Any) -> None:
    s3, ddb = clients
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target)
    items = customer_items(20, big=False)
    ref = write_prod_export(s3, items)
    mask = tmp_path / "mask.yaml"
    mask.write_text("email: hash\nname: fake\naddress.street: {action: redact, value: x}\n")
    monkeypatch.setenv("SAFETYNET_MASKING_KEY", "cli-test-masking-key-0123456789")
    out = runner.invoke(
        app,
        [
            "stage",
            ref.url,
            "--table",
            target.name,
            "--mode",
            "refill",
            "--mask-config",
            str(mask),
            "--mask-bucket",
            MASK_BUCKET,
            "--yes",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout[out.stdout.index("{") :])
    assert doc["verified"] is True and doc["items"] == 20 and doc["mode"] == "refill"
    staged = scan_all(ddb, target.name)
    assert {i["address"]["M"]["street"]["S"] for i in staged} == {"x"}
    assert not {i["email"]["S"] for i in items} & {i["email"]["S"] for i in staged}


def test_stage_replace_round_trips_the_export(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    items = customer_items(15, big=False)
    out = runner.invoke(app, ["stage", write_prod_export(s3, items).url, "--table", target.name, "--yes"])
    assert out.exit_code == 0, out.output
    assert "staged and verified" in out.output and "items/s" in out.output
    assert as_set(scan_all(ddb, target.name)) == as_set(items)


def test_an_untagged_table_is_refused_unless_forced(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target, tags={})
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    url = write_prod_export(s3, customer_items(5, big=False)).url
    refused = runner.invoke(app, ["stage", url, "--table", target.name, "--mode", "refill", "--yes"])
    assert refused.exit_code == 1 and "refused" in refused.output and "--force-untagged" in refused.output
    assert scan_all(ddb, target.name) == [{"customerId": {"S": "keep"}}]
    forced = runner.invoke(app, ["stage", url, "--table", target.name, "--mode", "refill", "--yes", "--force-untagged"])
    assert forced.exit_code == 0, forced.output
    assert len(scan_all(ddb, target.name)) == 5


def test_a_prod_table_is_refused_even_when_forced(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target, tags={"safetynet:environment": "prod"})
    url = write_prod_export(s3, customer_items(5, big=False)).url
    out = runner.invoke(app, ["stage", url, "--table", target.name, "--yes", "--force-untagged"])
    assert out.exit_code == 1 and "production table" in out.output
    assert scan_all(ddb, target.name) == []


def test_a_corrupt_export_is_rejected_with_its_problems_and_the_table_untouched(
    clients: tuple[Any, Any],
) -> None:
    s3, ddb = clients
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    ref = write_prod_export(s3, customer_items(30, big=False))

    def corrupt(lines: list[dict[str, Any]]) -> None:
        lines[0]["md5Checksum"] = "AAAAAAAAAAAAAAAAAAAAAA=="

    rewrite_files_manifest(s3, ref, corrupt)
    out = runner.invoke(app, ["stage", ref.url, "--table", target.name, "--yes"])
    assert out.exit_code == 1 and "export rejected" in out.output
    assert scan_all(ddb, target.name) == [{"customerId": {"S": "keep"}}]


def test_declining_the_confirmation_changes_nothing(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target)
    out = runner.invoke(
        app,
        ["stage", write_prod_export(s3, customer_items(3, big=False)).url, "--table", target.name],
        input="n\n",
    )
    assert out.exit_code == 1 and "aborted" in out.output
    assert scan_all(ddb, target.name) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stage", "s3://bucket/not-an-export/", "--table", "t", "--yes"], "not an export URL"),
        (
            ["stage", "s3://b/AWSDynamoDB/01-a/", "--table", "t", "--mode", "swap"],
            "--mode must be replace or refill",
        ),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    out = runner.invoke(app, args)
    assert out.exit_code == 2 and message in out.output


def test_a_missing_table_is_a_usage_error(clients: tuple[Any, Any]) -> None:
    s3, _ = clients
    out = runner.invoke(
        app, ["stage", write_prod_export(s3, customer_items(1, big=False)).url, "--table", "nope", "--yes"]
    )
    assert out.exit_code == 2 and "table nope not found" in out.output


@pytest.mark.slow
def test_stage_end_to_end_against_a_moto_server(moto_server: str) -> None:
    # Given a moto server with a prod export and a tagged test table
    endpoint = moto_server
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    ddb = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
    s3.create_bucket(Bucket=VAULT)
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target)
    items = customer_items(25, big=False)
    ref = write_prod_export(s3, items)
    # When the CLI runs as its own process
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "safetynet.cli",
            "stage",
            ref.url,
            "--table",
            target.name,
            "--mode",
            "refill",
            "--yes",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    # Then the table holds the export
    assert out.returncode == 0, out.stdout + out.stderr
    assert as_set(scan_all(ddb, target.name)) == as_set(items)

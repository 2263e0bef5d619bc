"""`safetynet stage`: the same staging code from the CLI (in-process on moto, and once as a
subprocess against a moto server): both modes, the guard, rejected exports, the conventions
(`--mode` a choice, `-y/--yes`, `--json`, diagnostics on stderr, exit codes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from safetynet.cli import app
from tests.support.staging_fixtures import (
    REGION,
    VAULT,
    as_set,
    configure_like_the_stack,
    create_test_table,
    customer_items,
    prod_spec,
    rewrite_files_manifest,
    scan_all,
    stage_cli,
    table_state,
    target_for,
    write_prod_export,
)

runner = CliRunner()
__all__ = ["stage_cli"]  # the fixture, used by name


def stage(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, ["stage", *args], input=input)


def test_stage_refills_with_a_mask_file_and_reports_json_on_stdout(stage_cli: tuple[Any, Any], tmp_path: Any) -> None:
    s3, ddb = stage_cli
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target)
    items = customer_items(20, big=False)
    ref = write_prod_export(s3, items)
    mask = tmp_path / "mask.yaml"
    mask.write_text("email: hash\nname: fake\naddress.street: {action: redact, value: x}\n")
    out = stage(ref.url, "--table", target.name, "--mode", "refill", "--mask-config", str(mask), "-y", "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)  # stdout holds the document only: progress and notes go to stderr
    assert doc["verified"] is True and doc["items"] == 20 and doc["mode"] == "refill"
    assert doc["resumedFrom"] is None and "validated" in out.stderr and "written" in out.stderr
    staged = scan_all(ddb, target.name)
    assert {i["address"]["M"]["street"]["S"] for i in staged} == {"x"}
    assert not {i["email"]["S"] for i in items} & {i["email"]["S"] for i in staged}


def test_stage_replace_masks_by_the_stacks_rules_and_puts_back_tags_pitr_and_ttl(stage_cli: tuple[Any, Any]) -> None:
    # Given customers-test as the test stack declares it (Pulumi.test.yaml masks customers)
    s3, ddb = stage_cli
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    configure_like_the_stack(ddb, target)
    before = table_state(ddb, target.name)
    items = customer_items(15, big=False)
    # When an export is staged without saying anything about masking
    out = stage(write_prod_export(s3, items).url, "--table", target.name, "--yes")
    # Then it is masked with the stack's rules and the table's settings are back
    assert out.exit_code == 0, out.output
    assert "staged and verified" in out.output and "items/s" in out.output
    after = table_state(ddb, target.name)
    assert {k: after[k] for k in ("tags", "pitr", "ttl", "stream", "keys", "indexes")} == {
        k: before[k] for k in ("tags", "pitr", "ttl", "stream", "keys", "indexes")
    }
    staged = scan_all(ddb, target.name)
    assert len(staged) == 15
    assert not {i["email"]["S"] for i in items} & {i["email"]["S"] for i in staged}
    assert not any("phone" in i for i in staged)


def test_unmasked_with_yes_copies_the_export_exactly(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    items = customer_items(15, big=False)
    out = stage(write_prod_export(s3, items).url, "--table", target.name, "--unmasked", "--yes")
    assert out.exit_code == 0, out.output
    assert as_set(scan_all(ddb, target.name)) == as_set(items)


def test_an_untagged_table_is_refused_unless_forced(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target, tags={})
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    url = write_prod_export(s3, customer_items(5, big=False)).url
    refused = stage(url, "--table", target.name, "--mode", "refill", "--unmasked", "--yes")
    assert refused.exit_code == 1 and "refused" in refused.output and "--force-untagged" in refused.output
    assert scan_all(ddb, target.name) == [{"customerId": {"S": "keep"}}]
    forced = stage(url, "--table", target.name, "--mode", "refill", "--unmasked", "--yes", "--force-untagged")
    assert forced.exit_code == 0, forced.output
    assert len(scan_all(ddb, target.name)) == 5


def test_a_prod_table_is_refused_even_when_forced(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target, tags={"safetynet:environment": "prod"})
    url = write_prod_export(s3, customer_items(5, big=False)).url
    out = stage(url, "--table", target.name, "--yes", "--force-untagged")
    assert out.exit_code == 1 and "production table" in out.output and "Traceback" not in out.output
    assert scan_all(ddb, target.name) == []


def test_a_corrupt_export_is_rejected_with_its_problems_and_the_table_untouched(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    configure_like_the_stack(ddb, target)
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    before = table_state(ddb, target.name)
    ref = write_prod_export(s3, customer_items(30, big=False))

    def corrupt(lines: list[dict[str, Any]]) -> None:
        lines[0]["md5Checksum"] = "AAAAAAAAAAAAAAAAAAAAAA=="

    rewrite_files_manifest(s3, ref, corrupt)
    out = stage(ref.url, "--table", target.name, "--yes")
    assert out.exit_code == 1 and "export rejected" in out.output and "MD5 mismatch" in out.output
    assert table_state(ddb, target.name) == before


def test_declining_the_confirmation_changes_nothing(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target)
    out = stage(write_prod_export(s3, customer_items(3, big=False)).url, "--table", target.name, input="n\n")
    assert out.exit_code == 1 and "declined" in out.output and "was not touched" in out.output
    assert "masked by 5 rules from Pulumi.test.yaml" in out.output  # the question says what will happen
    assert scan_all(ddb, target.name) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["s3://bucket/not-an-export/", "--table", "t", "--yes"], "not an export URL"),
        (["s3://b/AWSDynamoDB/01-a/", "--table", "t", "--mode", "swap"], "'swap' is not one of 'replace', 'refill'"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(args: list[str], message: str) -> None:
    out = stage(*args)
    assert out.exit_code == 2 and message in out.output and "Traceback" not in out.output


def test_the_modes_are_listed_in_the_help() -> None:
    out = runner.invoke(app, ["stage", "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0 and "--mode <replace|refill>" in out.output
    assert "-s, --stack" in out.output and "-y, --yes" in out.output and "--allow-other-source" in out.output


def test_a_missing_table_is_a_usage_error(stage_cli: tuple[Any, Any]) -> None:
    s3, _ = stage_cli
    out = stage(write_prod_export(s3, customer_items(1, big=False)).url, "--table", "nope", "--yes")
    assert out.exit_code == 2 and "table nope not found" in out.output


@pytest.mark.slow
def test_stage_end_to_end_against_a_moto_server(moto_server: str, tmp_path: Any) -> None:
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
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "SAFETYNET_STATE_DIR": str(tmp_path)}
    command = ["stage", ref.url, "--table", target.name, "--mode", "refill", "--unmasked", "--yes"]
    out = subprocess.run(
        [sys.executable, "-m", "safetynet.cli", *command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    # Then the table holds the export
    assert out.returncode == 0, out.stdout + out.stderr
    assert as_set(scan_all(ddb, target.name)) == as_set(items)


def test_dash_s_names_the_stack_the_table_must_be_a_staging_target_of(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target)
    url = write_prod_export(s3, customer_items(3, big=False)).url
    other = stage(url, "--table", target.name, "-s", "other", "--unmasked", "-y")
    assert other.exit_code == 1 and "is a staging target of safetynet/test, not of safetynet/other" in other.output
    assert scan_all(ddb, target.name) == []
    ours = stage(url, "--table", target.name, "--stack", "test", "--mode", "refill", "--unmasked", "-y")
    assert ours.exit_code == 0, ours.output
    assert len(scan_all(ddb, target.name)) == 3

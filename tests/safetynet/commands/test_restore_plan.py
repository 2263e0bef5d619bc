"""`safetynet restore-plan` against moto: the right source per flag, corrupt exports skipped with
the reason shown, and a stack file that keeps its comments and round-trips through synth."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from components.backup.table import RESTORE_INPUTS
from safetynet.cli import app
from safetynet.synth import synth
from tests.support import restore_fixtures as fx

runner = CliRunner()


@pytest.fixture
def account(aws: None, project_copy: Path) -> dict[str, Any]:
    """customers (live, PITR) with three exports, the newest corrupt; inventory (live, PITR) with an
    on-demand backup; orders (LSIs) deleted, leaving its system backup."""
    cfg = fx.prod_config(project_copy)
    fx.create_vault()
    customers = fx.create_table(cfg, "customers")
    old = fx.write_aged_export(customers, timedelta(days=3), fx.customer_items(5, "old"))
    mid = fx.write_aged_export(customers, timedelta(days=2), fx.customer_items(6, "mid"))
    new = fx.write_aged_export(customers, timedelta(days=1), fx.customer_items(7, "new"))
    fx.corrupt_a_data_file(new)
    inventory = fx.create_table(cfg, "inventory")
    on_demand = fx.client("dynamodb").create_backup(TableName=inventory, BackupName="before-migration")
    orders = fx.create_table(cfg, "orders")
    system = fx.inject_system_backup(orders)
    fx.client("dynamodb").delete_table(TableName=orders)
    return {
        "old": old,
        "mid": mid,
        "new": new,
        "on_demand": on_demand["BackupDetails"]["BackupArn"],
        "system": system,
    }


def plan(project: Path, *args: str, vault: bool = True, yes: bool = True, stdin: str | None = None) -> Any:
    argv = ["restore-plan", "prod", "--project-dir", str(project), *args]
    if vault:
        argv += ["--vault-bucket", fx.VAULT]
    if yes:
        argv.append("--yes")
    return runner.invoke(app, argv, input=stdin, env={"COLUMNS": "300"})


def short(ref: Any) -> str:
    """How the plan's table names an export on a wide terminal (COLUMNS 300 here): its ExportId."""
    return "export " + ref.export_id


def restore_block(project: Path) -> dict[str, Any]:
    doc = YAML(typ="safe").load((project / "Pulumi.prod.yaml").read_text())
    return doc["config"].get("safetynet:restore") or {}


def test_latest_skips_the_corrupt_newest_export_and_says_why(account: dict[str, Any], project_copy: Path) -> None:
    result = plan(project_copy, "--table", "customers", "--source", "latest")
    assert result.exit_code == 0, result.output
    assert restore_block(project_copy) == {"customers": {"export": account["mid"].url}}
    # the newest export is listed as not usable, with the validator's reason as its note
    row = next(line for line in result.output.splitlines() if short(account["new"]) in line)
    assert "corrupt [2]" in row
    assert "[2] corrupt: data file data/" in result.output
    chosen = next(line for line in result.output.splitlines() if short(account["mid"]) in line)
    assert "chosen, valid" in chosen
    # the oldest was never read: not called usable
    oldest = next(line for line in result.output.splitlines() if short(account["old"]) in line)
    assert "not checked" in oldest


def test_at_picks_the_newest_export_not_after_that_time(account: dict[str, Any], project_copy: Path) -> None:
    at = (fx.NOW - timedelta(days=2, hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = plan(project_copy, "--table", "customers", "--source", "export", "--at", at)
    assert result.exit_code == 0, result.output
    assert restore_block(project_copy) == {"customers": {"export": account["old"].url}}


def test_a_deleted_table_comes_back_from_its_system_backup(account: dict[str, Any], project_copy: Path) -> None:
    result = plan(project_copy, "--table", "orders")
    assert result.exit_code == 0, result.output
    assert restore_block(project_copy) == {"orders": {"backupArn": account["system"]}}
    assert "system backup" in result.output
    assert "table deleted: PITR reads a live table" in result.output
    # a deleted table is never offered a restore beside itself
    assert "--target-suffix" not in result.output


def test_source_backup_picks_the_on_demand_backup(account: dict[str, Any], project_copy: Path) -> None:
    result = plan(project_copy, "--table", "inventory", "--source", "backup")
    assert result.exit_code == 0, result.output
    assert restore_block(project_copy) == {"inventory": {"backupArn": account["on_demand"]}}


def test_without_a_source_a_live_table_with_suffix_gets_the_latest_pitr(
    account: dict[str, Any], project_copy: Path
) -> None:
    # customers' exports are days old; its PITR window reaches (in moto) the moment PITR was enabled
    result = plan(project_copy, "--table", "customers", "--target-suffix", "-restored")
    assert result.exit_code == 0, result.output
    expected = {"latestRestorableTime": True, "targetSuffix": "-restored"}
    assert restore_block(project_copy) == {"customers": expected}


def test_pitr_onto_a_live_table_without_suffix_is_refused_and_nothing_written(
    account: dict[str, Any], project_copy: Path
) -> None:
    before = (project_copy / "Pulumi.prod.yaml").read_text()
    result = plan(project_copy, "--table", "inventory", "--source", "pitr")
    assert result.exit_code == 1
    assert "--target-suffix" in result.output
    assert (project_copy / "Pulumi.prod.yaml").read_text() == before


def test_an_lsi_table_is_never_planned_from_an_export(account: dict[str, Any], project_copy: Path) -> None:
    # Given an export of orders in the vault
    fx.write_aged_export("orders", timedelta(hours=1), [{"customerId": {"S": "a"}, "orderId": {"S": "b"}}])
    result = plan(project_copy, "--table", "orders", "--source", "export")
    assert result.exit_code == 1
    assert "ImportTable cannot create them" in result.output
    assert restore_block(project_copy) == {}


def test_written_file_keeps_comments_and_synthesizes(account: dict[str, Any], project_copy: Path) -> None:
    before = (project_copy / "Pulumi.prod.yaml").read_text()
    result = plan(project_copy, "--table", "customers", "--source", "latest")
    assert result.exit_code == 0, result.output
    after = (project_copy / "Pulumi.prod.yaml").read_text()
    # every original line is still there, in order, and only the block was appended
    assert after.startswith(before)
    assert "# restore-plan " in after[len(before) :]
    # the program reads it: the table imports the chosen export's data folder
    t = synth(project_copy, "prod").one("aws:dynamodb/table:Table", "customers-table")
    assert t["inputs"]["importTable"]["s3BucketSource"] == {
        "bucket": fx.VAULT,
        "keyPrefix": account["mid"].prefix + "data/",
    }
    assert set(RESTORE_INPUTS) <= set(t["options"]["ignoreChanges"])


def test_clear_removes_the_block_and_restores_the_file(account: dict[str, Any], project_copy: Path) -> None:
    before = (project_copy / "Pulumi.prod.yaml").read_text()
    assert plan(project_copy, "--table", "customers", "--source", "latest").exit_code == 0
    assert plan(project_copy, "--table", "orders").exit_code == 0
    result = plan(project_copy, "--clear", vault=False)
    assert result.exit_code == 0, result.output
    assert (project_copy / "Pulumi.prod.yaml").read_text() == before


def test_clear_of_one_table_keeps_the_others(account: dict[str, Any], project_copy: Path) -> None:
    assert plan(project_copy, "--table", "customers", "--source", "latest").exit_code == 0
    assert plan(project_copy, "--table", "orders").exit_code == 0
    assert plan(project_copy, "--clear", "--table", "orders", vault=False).exit_code == 0
    assert set(restore_block(project_copy)) == {"customers"}


def test_declining_the_confirmation_writes_nothing(account: dict[str, Any], project_copy: Path) -> None:
    before = (project_copy / "Pulumi.prod.yaml").read_text()
    result = plan(project_copy, "--table", "customers", "--source", "latest", yes=False, stdin="n\n")
    assert result.exit_code == 1
    assert (project_copy / "Pulumi.prod.yaml").read_text() == before


def test_exports_need_the_vault_bucket(account: dict[str, Any], project_copy: Path) -> None:
    result = plan(project_copy, "--table", "customers", "--source", "latest", vault=False)
    assert result.exit_code == 2
    assert "SAFETYNET_VAULT_BUCKET" in result.output


def test_unknown_table_is_a_usage_error(account: dict[str, Any], project_copy: Path) -> None:
    result = plan(project_copy, "--table", "custmers")
    assert result.exit_code == 2
    assert "unknown table(s) custmers" in result.output


def test_aws_backup_gaps_are_one_line_not_failures(account: dict[str, Any], project_copy: Path) -> None:
    # moto does not implement ListRecoveryPointsByResource: one line for the kind, the plan goes on
    result = plan(project_copy, "--source", "backup")
    assert result.exit_code == 1  # customers has no backup: the other two are written
    lines = [line for line in result.output.splitlines() if line.startswith("AWS Backup:")]
    assert lines == ["AWS Backup: not available here (404: Not yet implemented); not considered"]
    assert set(restore_block(project_copy)) == {"inventory", "orders"}


DR_STACK = """\
# a DR stack: restores the source region's replicated exports
config:
  aws:region: eu-west-1
  safetynet:environment: dr
  safetynet:disasterRecovery:
    replicaBucket: replica-restore-tests
    sourceRegion: eu-central-1
  safetynet:tables:
    - name: customers
      hashKey: {name: customerId, type: S}
      globalSecondaryIndexes:
        - name: by-email
          hashKey: {name: email, type: S}
          projection: KEYS_ONLY
"""


def test_a_dr_stack_plans_from_the_replica_and_checks_the_source_table(aws: None, project_copy: Path) -> None:
    # Given the replica bucket in the DR region, with an export of prod's customers table and a
    # newer one of another table that was copied under the same prefix
    from handlers.exports import new_export_id, write_export

    (project_copy / "Pulumi.dr.yaml").write_text(DR_STACK)
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="replica-restore-tests", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    def export(age: timedelta, table_arn: str) -> Any:
        at = fx.NOW - age
        return write_export(
            s3,
            bucket="replica-restore-tests",
            prefix="exports/customers",
            table_arn=table_arn,
            items=fx.customer_items(3, "x"),
            export_time=at,
            export_id=new_export_id(at),
        )

    good = export(timedelta(days=1), fx.table_arn("customers"))
    wrong = export(timedelta(hours=2), "arn:aws:dynamodb:eu-central-1:123456789012:table/other")
    # When restore-plan runs for the DR stack without --vault-bucket
    argv = ["restore-plan", "dr", "--project-dir", str(project_copy), "--source", "latest", "--write"]
    result = runner.invoke(app, argv, env={"COLUMNS": "300"})
    # Then the replicated export of the source table is chosen, the other one skipped with why
    assert result.exit_code == 0, result.output
    doc = YAML(typ="safe").load((project_copy / "Pulumi.dr.yaml").read_text())
    assert doc["config"]["safetynet:restore"] == {"customers": {"export": good.url}}
    row = next(line for line in result.output.splitlines() if short(wrong) in line)
    assert "wrong table [1]" in row
    assert "wrong source table" in result.output


def test_switch_uses_a_backup_of_the_table_restored_beside(account: dict[str, Any], project_copy: Path) -> None:
    # Given customers-restored (restored beside customers) and a backup of it
    cfg = fx.prod_config(project_copy)
    spec = next(t for t in cfg.tables if t.name == "customers")
    ddb = fx.client("dynamodb")
    ddb.create_table(**spec.create_table_request("customers-restored"))
    arn = ddb.create_backup(TableName="customers-restored", BackupName="customers-switch")["BackupDetails"]["BackupArn"]
    # When restore-plan is told to use it for the original name
    result = plan(project_copy, "--table", "customers", "--backup-arn", arn)
    # Then it becomes the source of customers (no suffix: the original name is recreated from it)
    assert result.exit_code == 0, result.output
    assert restore_block(project_copy) == {"customers": {"backupArn": arn}}


def test_a_backup_of_a_table_with_other_keys_is_refused(account: dict[str, Any], project_copy: Path) -> None:
    # inventory's keys are sku/warehouse; customers' key is customerId
    result = plan(project_copy, "--table", "customers", "--backup-arn", account["on_demand"])
    assert result.exit_code == 1
    assert "with other keys (sku HASH, warehouse RANGE)" in result.output
    assert restore_block(project_copy) == {}


def test_latest_written_by_hand_is_resolved_into_a_concrete_export(account: dict[str, Any], project_copy: Path) -> None:
    # Given a stack file where someone wrote `latest: true` (the program refuses it)
    path = project_copy / "Pulumi.prod.yaml"
    path.write_text(path.read_text() + "  safetynet:restore:\n    customers:\n      latest: true\n")
    # When restore-plan resolves it
    result = plan(project_copy, "--table", "customers", "--source", "latest")
    # Then the entry names the newest valid export, which the program accepts
    assert result.exit_code == 0, result.output
    assert restore_block(project_copy) == {"customers": {"export": account["mid"].url}}
    assert synth(project_copy, "prod").one("aws:dynamodb/table:Table", "customers-table")["inputs"]["importTable"]

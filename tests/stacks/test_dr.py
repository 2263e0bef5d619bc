"""The shipped DR stack (`Pulumi.dr.yaml`): prod's tables in another region, protected like prod,
restored from the replicated vault. Synth under mocks, and `restore-plan dr` on moto writing the
stack file that then synthesizes tables importing from the replica bucket."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from components.backup.table import RESTORE_INPUTS
from components.config.loading import decode_pulumi_config, parse_stack_config
from safetynet.cli import app
from safetynet.synth import SynthResult, read_stack_config, synth
from tests.support import restore_fixtures as fx
from tests.support.policies import role_policy
from tests.support.stacks import PROJECT_DIR, synth_stack

TABLE = "aws:dynamodb/table:Table"
DR_REGION = "eu-west-1"
runner = CliRunner()


def _config(stack: str, project: Path = PROJECT_DIR) -> Any:
    flat, _ = read_stack_config(project, stack)
    return flat, parse_stack_config(decode_pulumi_config(flat))


def test_dr_stack_declares_exactly_prods_tables() -> None:
    prod_flat, prod = _config("prod")
    dr_flat, dr_cfg = _config("dr")
    assert dr_cfg.tables == prod.tables
    assert dr_flat["aws:region"] != prod_flat["aws:region"]
    assert dr_cfg.environment == "dr"


def test_dr_stack_reads_the_replica_of_prods_region() -> None:
    prod_flat, _ = _config("prod")
    dr_flat, dr_cfg = _config("dr")
    recovery = dr_cfg.disaster_recovery
    assert recovery is not None
    assert recovery.source_region == prod_flat["aws:region"]
    assert recovery.source_stack == "prod"
    # The prod file's replica block (shipped commented out) points at the DR stack's region.
    prod_text = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    replica_block = prod_text[prod_text.index("replica:") :]
    assert f"region: {dr_flat['aws:region']}" in replica_block.splitlines()[1]


def test_dr_tables_are_protected_and_keep_prods_names(dr_synth: SynthResult) -> None:
    tables = dr_synth.of_type(TABLE)
    assert sorted(t["inputs"]["name"] for t in tables) == ["customers", "inventory", "orders"]
    for t in tables:
        assert t["inputs"]["deletionProtectionEnabled"] is True
        assert t["options"]["protect"] and t["options"]["retainOnDelete"]
        assert set(RESTORE_INPUTS) <= set(t["options"]["ignoreChanges"])


def test_dr_stack_runs_in_its_own_region(dr_synth: SynthResult) -> None:
    assert dr_synth.outputs["region"] == DR_REGION
    assert all(f":{DR_REGION}:" in t["arn"] for t in dr_synth.outputs["tables"].values())


def test_dr_stack_synthesizes_imports_from_the_replica_bucket() -> None:
    # Given restore entries as restore-plan writes them for the replica bucket
    _, dr_cfg = _config("dr")
    bucket = dr_cfg.disaster_recovery.replica_bucket
    url = f"s3://{bucket}/exports/customers/AWSDynamoDB/01764000000000-abcdef12/"
    result = synth_stack("dr", config_overrides={"restore": {"customers": {"export": url}}})
    # Then the customers table imports that export's data folder, in DYNAMODB_JSON
    imported = result.one(TABLE, "customers-table")["inputs"]["importTable"]
    assert imported["s3BucketSource"] == {
        "bucket": bucket,
        "keyPrefix": "exports/customers/AWSDynamoDB/01764000000000-abcdef12/data/",
    }
    assert imported["inputFormat"] == "DYNAMODB_JSON"
    assert "importTable" not in result.one(TABLE, "inventory-table")["inputs"]


def test_an_lsi_table_cannot_import_in_dr_either() -> None:
    # orders has an LSI: ImportTable cannot create it, and PITR/backups stayed in prod's region.
    from safetynet.synth import SynthError

    url = "s3://vault-replica-example-0000/exports/orders/AWSDynamoDB/01764000000000-abcdef12/"
    with pytest.raises(SynthError, match="localSecondaryIndexes"):
        synth_stack("dr", config_overrides={"restore": {"orders": {"export": url}}})


# -- restore-plan dr on moto -------------------------------------------------------------------


@pytest.fixture
def dr_project(tmp_path: Path) -> Path:
    """A temp copy of the project with the shipped DR stack file."""
    project = fx.copy_project(tmp_path)
    shutil.copy(PROJECT_DIR / "Pulumi.dr.yaml", project / "Pulumi.dr.yaml")
    return project


@pytest.fixture
def replica(aws: None, dr_project: Path) -> dict[str, Any]:
    """The replica bucket in the DR region holding replicated exports of prod's tables (ARNs in
    prod's region): customers old + newer + a corrupt newest; inventory one; orders one."""
    from handlers.exports import new_export_id, write_export

    _, dr_cfg = _config("dr", dr_project)
    bucket = dr_cfg.disaster_recovery.replica_bucket
    s3 = boto3.client("s3", region_name=DR_REGION)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": DR_REGION})

    def export(table: str, age: timedelta, items: list[dict[str, Any]]) -> Any:
        at = fx.NOW - age
        return write_export(
            s3,
            bucket=bucket,
            prefix=f"exports/{table}",
            table_arn=fx.table_arn(table),  # prod's region: where the exported table lived
            items=items,
            export_time=at,
            export_id=new_export_id(at),
        )

    inventory_items = [{"sku": {"S": f"sku-{i}"}, "warehouse": {"N": str(i)}} for i in range(4)]
    refs = {
        "customers_old": export("customers", timedelta(days=2), fx.customer_items(3, "old")),
        "customers_new": export("customers", timedelta(hours=20), fx.customer_items(5, "new")),
        "customers_corrupt": export("customers", timedelta(hours=2), fx.customer_items(6, "bad")),
        "inventory": export("inventory", timedelta(hours=20), inventory_items),
        "orders": export("orders", timedelta(hours=20), []),
    }
    # The newest customers export lost a data file: content and MD5 no longer match the manifest.
    fx.corrupt_a_data_file(refs["customers_corrupt"])
    return {"bucket": bucket, **refs}


def _plan(project: Path, *tables: str) -> Any:
    argv = ["restore-plan", "dr", "--project-dir", str(project), "--source", "latest", "--write"]
    for t in tables:
        argv += ["--table", t]
    return runner.invoke(app, argv, env={"COLUMNS": "300", "AWS_DEFAULT_REGION": "us-east-1"})


def test_restore_plan_dr_picks_the_newest_valid_replicated_export(replica: dict[str, Any], dr_project: Path) -> None:
    # When restore-plan runs for the DR stack (no --vault-bucket: the replica bucket is in its config)
    result = _plan(dr_project, "customers", "inventory")
    # Then the newest valid export per table is written into Pulumi.dr.yaml
    assert result.exit_code == 0, result.output
    doc = YAML(typ="safe").load((dr_project / "Pulumi.dr.yaml").read_text())
    assert doc["config"]["safetynet:restore"] == {
        "customers": {"export": replica["customers_new"].url},
        "inventory": {"export": replica["inventory"].url},
    }
    assert all(r.url.startswith(f"s3://{replica['bucket']}/") for r in (replica["customers_new"], replica["inventory"]))
    corrupt_row = next(line for line in result.output.splitlines() if replica["customers_corrupt"].export_id in line)
    assert "corrupt" in corrupt_row


def test_written_dr_stack_synthesizes_tables_importing_from_the_replica(
    replica: dict[str, Any], dr_project: Path
) -> None:
    assert _plan(dr_project, "customers", "inventory").exit_code == 0
    # The file restore-plan wrote goes through the program unchanged
    result = synth(dr_project, "dr")
    for table, ref in (("customers", replica["customers_new"]), ("inventory", replica["inventory"])):
        source = result.one(TABLE, f"{table}-table")["inputs"]["importTable"]["s3BucketSource"]
        assert source == {"bucket": replica["bucket"], "keyPrefix": ref.prefix + "data/"}
    assert "importTable" not in result.one(TABLE, "orders-table")["inputs"]
    # The comments of the shipped file are kept
    assert "Write it down before a disaster" in (dr_project / "Pulumi.dr.yaml").read_text()


def test_restore_plan_dr_refuses_the_lsi_table_and_writes_nothing(replica: dict[str, Any], dr_project: Path) -> None:
    before = (dr_project / "Pulumi.dr.yaml").read_text()
    result = _plan(dr_project, "orders")
    assert result.exit_code == 1
    assert "LSIs" in result.output
    assert (dr_project / "Pulumi.dr.yaml").read_text() == before


def test_restore_plan_dr_with_an_empty_replica_says_there_is_nothing(aws: None, dr_project: Path) -> None:
    _, dr_cfg = _config("dr", dr_project)
    bucket = dr_cfg.disaster_recovery.replica_bucket
    boto3.client("s3", region_name=DR_REGION).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": DR_REGION}
    )
    before = (dr_project / "Pulumi.dr.yaml").read_text()
    result = _plan(dr_project, "customers")
    assert result.exit_code == 1
    assert "no usable" in result.output
    assert (dr_project / "Pulumi.dr.yaml").read_text() == before


def test_dr_exports_its_own_tables_through_its_own_stack_scoped_role(dr_synth: SynthResult) -> None:
    # The DR stack's tables carry its own stack tag, and its export role is scoped to that tag in its region.
    policy = role_policy(dr_synth, "nightly-exports-policy")
    grant = next(s for s in policy["Statement"] if s["Sid"] == "ExportThisStacksTables")
    assert grant["Resource"] == [f"arn:aws:dynamodb:{DR_REGION}:{dr_synth.outputs['accountId']}:table/*"]
    assert grant["Condition"] == {"StringEquals": {"aws:ResourceTag/safetynet:stack": "safetynet/dr"}}
    for t in dr_synth.of_type(TABLE):
        assert t["inputs"]["tags"]["safetynet:stack"] == "safetynet/dr"

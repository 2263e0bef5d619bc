"""`safetynet restore-plan` with the vault's chain on moto: a full export plus incremental windows
in AWS's layout (the incremental writer), validated as they are chosen; the plan writes the full
export as the import source and prints the replay command that brings the table to the chain's
last minute (or to `--at`); a DR stack shows region-down data at risk."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from conventions.chain import incremental_export_prefix
from handlers.exports import ExportRef, new_export_id, read_data_files, read_summary, write_export
from handlers.exports.incremental import Change
from handlers.exports.writer import write_incremental_export
from safetynet.cli import app
from tests.support import restore_fixtures as fx

runner = CliRunner()
ANCHOR_AT = fx.NOW.replace(second=0) - timedelta(hours=2)  # whole minutes, as windows are
WINDOWS = 6  # 15 minutes each: the chain reaches ANCHOR_AT + 90 minutes


def _key(i: int) -> dict[str, Any]:
    return {"customerId": {"S": f"c-{i:03d}"}}


def write_chain(s3: Any, bucket: str, *, windows: int = WINDOWS, table_arn: str | None = None) -> dict[str, Any]:
    """Last night's export of customers and `windows` contiguous 15-minute windows after it."""
    arn = table_arn or fx.table_arn("customers")
    anchor = write_export(
        s3,
        bucket=bucket,
        prefix="exports/customers",
        table_arn=arn,
        items=fx.customer_items(5, "anchor"),
        export_time=ANCHOR_AT,
        export_id=new_export_id(ANCHOR_AT),
    )
    refs = []
    for k in range(windows):
        start = ANCHOR_AT + timedelta(minutes=15 * k)
        new = {**_key(100 + k), "email": {"S": f"{k}@x.test"}, "v": {"S": f"w{k}"}}
        changes = [
            Change(keys=_key(100 + k), new_image=new, old_image=None, write_micros=int(start.timestamp() * 1e6) + 1),
            Change(
                keys=_key(k % 5),
                new_image=None,
                old_image={**_key(k % 5)},
                write_micros=int(start.timestamp() * 1e6) + 2,
            ),
        ]
        refs.append(
            write_incremental_export(
                s3,
                bucket=bucket,
                prefix=incremental_export_prefix("customers"),
                table_arn=arn,
                changes=changes,
                export_from_time=start,
                export_to_time=start + timedelta(minutes=15),
            )
        )
    return {"anchor": anchor, "windows": refs}


@pytest.fixture
def chain(aws: None, project_copy: Path) -> dict[str, Any]:
    """customers deleted (it never existed here: no backups, no PITR), its vault chain in S3."""
    fx.create_vault()
    return write_chain(fx.client("s3"), fx.VAULT)


def plan(project: Path, *args: str, stack: str = "prod") -> Any:
    argv = ["restore-plan", "-s", stack, "--project-dir", str(project), "--table", "customers", *args]
    return runner.invoke(app, argv, env={"COLUMNS": "100"})


def block(project: Path, stack: str = "prod") -> dict[str, Any]:
    doc = YAML(typ="safe").load((project / f"Pulumi.{stack}.yaml").read_text())
    return doc["config"].get("safetynet:restore") or {}


def z(t: Any) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_chain_is_planned_and_the_replay_command_is_the_step_after_pulumi_up(
    chain: dict[str, Any], project_copy: Path
) -> None:
    result = plan(project_copy, "--vault-bucket", fx.VAULT, "--yes")
    assert result.exit_code == 0, result.output
    # The table comes back from the full export (ImportTable) ...
    assert block(project_copy) == {"customers": {"export": chain["anchor"].url}}
    text = " ".join(result.output.split())
    assert ">> export + 6 windows" in text
    # ... and is then replayed to the chain's last minute
    end = ANCHOR_AT + timedelta(minutes=15 * WINDOWS)
    replay = (
        f"safetynet replay -s prod --table customers --vault-bucket {fx.VAULT} "
        f"--anchor {chain['anchor'].url} --to {z(end)}"
    )
    assert f"3. {replay}" in text
    assert f"recovery point {end:%Y-%m-%d %H:%M}Z" in text
    assert "+ 6 windows to" in (project_copy / "Pulumi.prod.yaml").read_text()


def test_at_inside_a_window_plans_the_minute_before_it_and_names_the_one_after(
    chain: dict[str, Any], project_copy: Path
) -> None:
    at = ANCHOR_AT + timedelta(minutes=37)
    result = plan(project_copy, "--vault-bucket", fx.VAULT, "--source", "vault", "--at", z(at), "--yes")
    assert result.exit_code == 0, result.output
    assert block(project_copy) == {"customers": {"export": chain["anchor"].url}}
    text = " ".join(result.output.split())
    reached = ANCHOR_AT + timedelta(minutes=30)
    assert f"--to {z(reached)}" in text
    assert f"--at {at:%Y-%m-%d %H:%M}Z falls inside the window {reached:%Y-%m-%d %H:%M}Z" in text
    assert f"(--at {z(reached + timedelta(minutes=15))}, writes after --at included)" in text


def test_a_damaged_window_is_left_out_and_the_chain_stops_before_it(chain: dict[str, Any], project_copy: Path) -> None:
    # Given the third window's data file overwritten in the vault
    s3 = fx.client("s3")
    bad: ExportRef = chain["windows"][2]
    [data_file] = read_data_files(s3, bad, read_summary(s3, bad))
    s3.put_object(Bucket=bad.bucket, Key=bad.resolve(data_file.data_file_s3_key), Body=b"not gzip")
    result = plan(project_copy, "--vault-bucket", fx.VAULT, "--json", "--yes")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    [customers] = doc["tables"]
    reached = ANCHOR_AT + timedelta(minutes=30)
    assert customers["chain"]["windows"] == 2
    assert customers["chain"]["recoveryPoint"].startswith(z(reached)[:-1])
    assert customers["chain"]["excluded"][0]["export"] == bad.url
    assert customers["replayCommand"].endswith(f"--to {z(reached)}")
    assert any("the chain stops at a break (gap:" in line for line in customers["chainNotes"])


DR_STACK = """\
config:
  aws:region: eu-west-1
  safetynet:environment: dr
  safetynet:disasterRecovery:
    replicaBucket: replica-chain-tests
    sourceRegion: eu-central-1
  safetynet:tables:
    - name: customers
      hashKey: {name: customerId, type: S}
      globalSecondaryIndexes:
        - name: by-email
          hashKey: {name: email, type: S}
          projection: KEYS_ONLY
"""


def test_dr_plan_shows_region_down_data_at_risk_as_interval_plus_replication_lag(aws: None, project_copy: Path) -> None:
    # Given prod's vault with six windows and its replica in the DR region holding only four
    (project_copy / "Pulumi.dr.yaml").write_text(DR_STACK)
    fx.create_vault()
    write_chain(fx.client("s3"), fx.VAULT)
    replica = boto3.client("s3", region_name="eu-west-1")
    replica.create_bucket(Bucket="replica-chain-tests", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    copied = write_chain(replica, "replica-chain-tests", windows=4)
    # When the DR stack is planned, with prod's vault readable
    result = plan(project_copy, "--source-vault-bucket", fx.VAULT, "--yes", stack="dr")
    # Then the replica's chain is written and the data at risk is 15m + 30m of replication lag
    assert result.exit_code == 0, result.output
    assert block(project_copy, "dr") == {"customers": {"export": copied["anchor"].url}}
    text = " ".join(result.output.split())
    assert "region down: data at risk 45m = chain interval 15m + replication lag 30m" in text
    assert f"--to {z(ANCHOR_AT + timedelta(hours=1))}" in text


def test_dr_plan_without_the_source_vault_says_the_lag_is_unknown(aws: None, project_copy: Path) -> None:
    (project_copy / "Pulumi.dr.yaml").write_text(DR_STACK)
    replica = boto3.client("s3", region_name="eu-west-1")
    replica.create_bucket(Bucket="replica-chain-tests", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    write_chain(replica, "replica-chain-tests", windows=4)
    result = plan(project_copy, "--dry-run", stack="dr")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "chain interval 15m + replication lag (unknown: pass --source-vault-bucket" in text
    assert "replica reaches" in text

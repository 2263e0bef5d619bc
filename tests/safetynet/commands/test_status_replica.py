"""`safetynet status` on a stack with `backup.replica`: the vault replica section (lag, data at
risk, replication status) in text and JSON, and its effect on the exit code. moto, in-process."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from safetynet.cli import app
from tests.support.watch_fixtures import (
    REGION,
    VAULT,
    add_export,
    customer,
    fill,
    item,
    make_account,
    project_with_stack,
)

runner = CliRunner()
REPLICA_REGION = "us-west-2"
REPLICA = "vault-replica-status-tests"


def replicate(ref: Any) -> None:
    """What S3 replication does for one export: the same keys in the replica bucket."""
    s3 = boto3.client("s3", region_name=REGION)
    for obj in s3.list_objects_v2(Bucket=VAULT, Prefix=ref.prefix)["Contents"]:
        s3.copy_object(Bucket=REPLICA, Key=obj["Key"], CopySource={"Bucket": VAULT, "Key": obj["Key"]})


@pytest.fixture
def account(aws: None, tmp_path: Path) -> dict[str, Any]:
    """prod's two tables, exported 3h ago (orders) and 30 min ago (customers); the vault replicates
    exports/ to a bucket in us-west-2 that has only orders' export so far."""
    ctx = make_account()
    now = datetime.now(UTC)
    orders, customers = ctx.tables
    fill(orders, [item(i) for i in range(3)])
    fill(customers, [customer(i) for i in range(2)])
    s3 = boto3.client("s3", region_name=REGION)
    boto3.client("s3", region_name=REPLICA_REGION).create_bucket(
        Bucket=REPLICA, CreateBucketConfiguration={"LocationConstraint": REPLICA_REGION}
    )
    for bucket in (VAULT, REPLICA):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(
        Bucket=VAULT,
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/vault-replica-role",
            "Rules": [
                {
                    "ID": "exports-to-replica",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {"Prefix": "exports/"},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{REPLICA}"},
                }
            ],
        },
    )
    orders_export = add_export(orders, [item(i) for i in range(3)], age_hours=3, now=now)
    customers_export = add_export(customers, [customer(i) for i in range(2)], age_hours=0.5, now=now)
    replicate(orders_export)
    project = project_with_stack(tmp_path)
    stack_file = project / "Pulumi.prod.yaml"
    stack_file.write_text(
        stack_file.read_text() + f"  safetynet:backup:\n    replica:\n      region: {REPLICA_REGION}\n"
    )
    return {"project": project, "customers": customers_export}


def status(project: Path, *args: str) -> Any:
    argv = ["status", "prod", "--project-dir", str(project), "--vault-bucket", VAULT, *args]
    return runner.invoke(app, argv, env={"COLUMNS": "250"})


def test_status_shows_the_replica_in_sync_and_a_fresh_export_in_flight(account: dict[str, Any]) -> None:
    result = status(account["project"])
    assert result.exit_code == 0, result.output
    assert f"vault replica s3://{REPLICA}  OK" in result.output
    orders_row = next(line for line in result.output.splitlines() if line.strip().startswith("│ orders"))
    assert "in sync" in orders_row
    assert "3h 0m" in orders_row  # data at risk if the region were lost now
    assert "customers: newest export" in result.output  # 30 min old: within grace, a note
    assert "is not in the replica yet (30m old, in flight" in result.output


def test_status_json_carries_the_replica_facts(account: dict[str, Any]) -> None:
    result = status(account["project"], "--json")
    assert result.exit_code == 0, result.output
    replica = json.loads(result.stdout)["vaultReplica"]
    assert replica["replicaBucket"] == REPLICA
    assert replica["ruleId"] == "exports-to-replica"
    orders, customers = replica["tables"]
    assert orders["lagSeconds"] == 0
    assert customers["lagSeconds"] > 0 and customers["ok"] is True
    assert customers["source"]["exportId"] == account["customers"].export_id
    assert customers["replica"] is None


def test_replica_falling_behind_fails_status(account: dict[str, Any]) -> None:
    # Given replication that stopped: the rule is disabled
    s3 = boto3.client("s3", region_name=REGION)
    config = s3.get_bucket_replication(Bucket=VAULT)["ReplicationConfiguration"]
    config["Rules"][0]["Status"] = "Disabled"
    s3.put_bucket_replication(Bucket=VAULT, ReplicationConfiguration=config)
    # When status runs, Then it fails and says why
    result = status(account["project"])
    assert result.exit_code == 1
    assert "replication rule exports-to-replica" in result.output
    assert "is disabled" in result.output
    assert "the vault replica is behind or failing" in result.output


def test_stack_without_a_replica_has_no_replica_section(aws: None, tmp_path: Path) -> None:
    ctx = make_account()
    now = datetime.now(UTC)
    for t in ctx.tables:
        add_export(t, [], age_hours=1, now=now)
    result = runner.invoke(
        app,
        [
            "status",
            "prod",
            "--project-dir",
            str(project_with_stack(tmp_path)),
            "--vault-bucket",
            VAULT,
            "--json",
        ],
    )
    assert "vaultReplica" not in json.loads(result.stdout)


def test_status_shows_the_recovery_point_in_the_vault_and_in_the_replica(account: dict[str, Any]) -> None:
    # Given orders' export replicated and customers' not yet
    result = status(account["project"], "--json")
    assert result.exit_code == 0, result.output
    orders, customers = json.loads(result.stdout)["tables"]
    # Then each table has both points: the replica's is where a restore in its region could go
    assert orders["replicaRecoveryPoint"]["time"] == orders["recoveryPoint"]["time"]
    assert orders["replicaRecoveryPoint"]["fullExportId"] == orders["recoveryPoint"]["fullExportId"]
    assert customers["recoveryPoint"]["fullExportId"] == account["customers"].export_id
    assert customers["replicaRecoveryPoint"] == {
        "time": None,
        "ageHours": None,
        "fullExportId": None,
        "incrementalExports": 0,
    }
    rows = [line for line in status(account["project"]).output.splitlines() if "│ in the replica" in line]
    assert len(rows) == 2 and "none (no complete export)" in rows[1] and orders["recoveryPoint"]["time"] in rows[0]


def test_on_an_emulator_the_replica_is_said_to_be_unchecked_not_failed(
    account: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given replication that would fail the check (the rule disabled), on an emulator, which has
    # no S3 replication at all (what `safetynet demo --keep` leaves)
    s3 = boto3.client("s3", region_name=REGION)
    config = s3.get_bucket_replication(Bucket=VAULT)["ReplicationConfiguration"]
    config["Rules"][0]["Status"] = "Disabled"
    s3.put_bucket_replication(Bucket=VAULT, ReplicationConfiguration=config)
    monkeypatch.setattr("safetynet.local.emulated", lambda service: service == "s3")
    # When status runs, Then the replica is not checked, says so, and is no failure
    result = status(account["project"])
    assert result.exit_code == 0, result.output
    assert "vault replica: not checked: the endpoint is an emulator" in result.output
    assert "NEEDS ATTENTION" not in result.output
    doc = json.loads(status(account["project"], "--json").stdout)
    assert "vaultReplica" not in doc and "emulator" in doc["vaultReplicaNote"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, True),
        ({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5000"}, True),
        ({"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:5000"}, False),
    ],
)
def test_an_emulator_is_told_by_the_endpoint_variables(
    env: dict[str, str], expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetynet.local import emulated

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert emulated("s3") is expected

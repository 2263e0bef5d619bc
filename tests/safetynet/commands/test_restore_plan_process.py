"""`safetynet restore-plan` and `safetynet synth` as separate processes against a moto server:
a deleted table is planned back from its system backup and the program declares the restore."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.support import restore_fixtures as fx


@pytest.mark.slow
def test_cli_plans_a_deleted_table_back_and_synth_declares_it(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a moto server where orders (PITR on) was deleted, leaving its system backup
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    project = fx.copy_project(tmp_path)
    cfg = fx.prod_config(project)
    physical = fx.create_table(cfg, "orders")
    system_arn = fx.inject_system_backup(physical)  # the server runs in this process: same backend
    boto3.client("dynamodb", region_name=fx.REGION).delete_table(TableName=physical)
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server, "COLUMNS": "200"}
    cli = [sys.executable, "-m", "safetynet.cli"]

    # When restore-plan runs as its own process
    planned = subprocess.run(
        [*cli, "restore-plan", "prod", "--project-dir", str(project), "--table", "orders", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    # Then it writes the system backup as the source
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert fx.restore_block_of(project) == {"orders": {"backupArn": system_arn}}
    # moto's server answers AWS Backup with an HTML 404 page: one line says so, no HTML
    assert "AWS Backup: not available here (HTTP 404 from the endpoint); not considered" in planned.stdout
    assert "<html" not in planned.stdout + planned.stderr
    # and `safetynet synth` declares orders restored from it, protected, with its usual settings
    synth = subprocess.run(
        [*cli, "synth", "prod", "--project-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert synth.returncode == 0, synth.stderr
    doc = json.loads(synth.stdout)
    table = next(r for r in doc["resources"] if r["name"] == "orders-table")
    assert table["inputs"]["restoreBackupArn"] == system_arn
    assert table["inputs"]["ttl"] == {"enabled": True, "attributeName": "expiresAt"}
    assert table["options"]["protect"] is True
    assert "restoreBackupArn" in table["options"]["ignoreChanges"]

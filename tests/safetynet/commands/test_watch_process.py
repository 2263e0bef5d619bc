"""`safetynet drill` then `safetynet status` as separate processes against a moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.watch_fixtures import VAULT, protected_and_exported


@pytest.mark.slow
def test_drill_then_status_as_processes(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given a moto server with both tables protected, filled and exported an hour ago
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    project = protected_and_exported(tmp_path, orders=12, customers=5, age_hours=1)
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server, "SAFETYNET_VAULT_BUCKET": VAULT}
    cli = [sys.executable, "-m", "safetynet.cli"]
    common = ["--project-dir", str(project)]
    # When the drill runs (ImportTable on the server) and then status
    drill = subprocess.run(
        [*cli, "drill", "prod", "--poll-seconds", "0.05", "--json", *common],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    status = subprocess.run(
        [*cli, "status", "prod", "--json", *common],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # Then both drills passed, the progress went to stderr, and status sees them
    assert drill.returncode == 0, drill.stdout + drill.stderr
    drills = json.loads(drill.stdout)["drills"]
    assert [(d["table"], d["ok"], d["importedItemCount"], d["loadedWith"]) for d in drills] == [
        ("orders", True, 12, "ImportTable"),
        ("customers", True, 5, "ImportTable"),
    ]
    assert "done" in drill.stderr
    assert status.returncode == 0, status.stdout + status.stderr
    tables = json.loads(status.stdout)["tables"]
    assert all(t["drill"]["ok"] and t["problems"] == [] for t in tables)

"""`safetynet demo` end to end, as users run it: a subprocess, its exit code and its summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stacks import PROJECT_DIR

pytestmark = pytest.mark.slow


def run_demo(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "safetynet.cli",
            "demo",
            "--items",
            "90",
            "--json-summary",
            str(summary),
            *args,
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"},
    )
    return proc, json.loads(summary.read_text())


def test_demo_backs_up_stages_masks_detects_and_restores_every_item(tmp_path: Path) -> None:
    proc, summary = run_demo(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert summary["ok"] is True
    assert summary["itemsLoaded"] == 90
    assert summary["itemsBackedUp"] == 90
    assert summary["itemsStaged"] == 90
    # Pulumi.test.yaml masks five attribute paths of customers.
    assert summary["maskedAttributes"] == 5
    assert summary["alertClassification"] == "unexpected"
    assert summary["itemsRestored"] == 30  # customers got a third of the items
    assert summary["mismatches"] == 0
    assert [s["name"] for s in summary["steps"]] == ["deploy", "backup", "stage", "accident", "restore"]
    assert all(s["ok"] for s in summary["steps"])
    out = proc.stdout
    assert "one customers item before and after masking" in out
    assert '"classification": "unexpected"' in out
    assert "safetynet restore-plan prod --table customers" in out
    assert "all steps passed, 0 mismatches" in out


def test_a_corrupt_export_is_reported_and_leaves_the_test_table_untouched(tmp_path: Path) -> None:
    proc, summary = run_demo(tmp_path, "--inject-fault", "corrupt-data-file")
    assert proc.returncode == 1
    assert summary["ok"] is False
    stage = next(s for s in summary["steps"] if s["name"] == "stage")
    assert stage["ok"] is False
    assert "customers:" in stage["detail"]
    assert "test table untouched" in stage["detail"]
    assert "TEST TABLE CHANGED" not in stage["detail"]
    # The corruption is named: the flipped byte breaks the file's checksum or its gzip stream.
    assert "md5" in proc.stdout.lower() or "gzip" in proc.stdout.lower()
    assert "50 items before, 50 after - untouched" in proc.stdout

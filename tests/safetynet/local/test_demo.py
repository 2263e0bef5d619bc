"""`safetynet demo` end to end, as users run it: a subprocess, its exit code and its summary."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.support.stacks import PROJECT_DIR

pytestmark = pytest.mark.slow


# The rewind step needs 390 orders (300 overwritten, 50 deleted, 40 written by another service):
# a third of the items.
ITEMS = 1200


def run_demo(tmp_path: Path, *args: str, items: int = ITEMS) -> tuple[subprocess.CompletedProcess[str], dict]:
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "safetynet.cli",
            "demo",
            "--items",
            str(items),
            "--json-summary",
            str(summary),
            *args,
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "80"},
    )
    return proc, json.loads(summary.read_text())


def test_demo_backs_up_stages_masks_detects_and_restores_every_item(tmp_path: Path) -> None:
    proc, summary = run_demo(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert summary["ok"] is True
    assert summary["itemsLoaded"] == ITEMS
    assert summary["itemsBackedUp"] == ITEMS
    assert summary["itemsStaged"] == ITEMS
    # Pulumi.test.yaml masks five attribute paths of customers.
    assert summary["maskedAttributes"] == 5
    assert summary["alertClassification"] == "unexpected"
    assert summary["itemsRestored"] == ITEMS // 3  # customers got a third of the items
    assert summary["mismatches"] == 0
    names = ["deploy", "backup", "stage", "accident", "restore", "chain", "rewind"]
    assert [s["name"] for s in summary["steps"]] == names
    assert all(s["ok"] for s in summary["steps"])
    # the chain step replayed the writes after the backup; the rewind kept the good writes
    assert summary["figures"]["writes after the backup, replayed"] == 300
    assert summary["figures"]["rewind reverted"] == 330
    assert summary["figures"]["rewind conflicts"] == 20
    out = proc.stdout
    assert "one customers item before and after masking" in out
    assert "SNS alert: UNEXPECTED, HIGH severity" in out
    assert "safetynet restore-plan -s prod --table customers" in out
    assert "all steps passed, 0 mismatches" in out
    # The bars count what was done: each export and each verification reaches its table's items
    n = ITEMS // 3
    for table in ("customers", "inventory", "orders"):
        assert re.search(rf"export {table} .* {n}/{n}", out), out
        assert re.search(rf"verify {table}-test .* {n}/{n}", out), out
    # No structured log line of the Lambda code in the story, and AWS Backup's absence in one line
    assert not [line for line in out.splitlines() if line.lstrip().startswith('{"level"')]
    assert "AWS Backup: not available here (HTTP 404 from the endpoint); not considered" in out
    assert "<html" not in out + proc.stderr
    # At 80 columns every line fits, but the commands and URLs printed whole to be copied
    wide = [line for line in out.splitlines() if cell_len(line) > 80 and "s3://" not in line]
    assert not wide, "\n".join(wide)


def test_a_corrupt_export_is_reported_and_leaves_the_test_table_untouched(tmp_path: Path) -> None:
    proc, summary = run_demo(tmp_path, "--inject-fault", "corrupt-data-file", items=90)
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

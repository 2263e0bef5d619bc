"""`safetynet synth <stack> --check`: the rules over the offline synth, violations printed as rule,
resource, why and how to fix; exit 0 when clean, 1 on a mandatory violation, 2 on a config error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from ruamel.yaml import YAML
from typer.testing import CliRunner

from policy_rules import RULES, Violation
from safetynet.cli import app
from safetynet.policy_check import check_synth_doc, report
from tests.support.stacks import PROJECT_DIR, SHIPPED_STACKS

runner = CliRunner()


@pytest.fixture
def short_retention_project(tmp_path: Path) -> Path:
    """A project copy with a stack `bad`: prod's config, but exports kept only 20 days. Config
    validation accepts it (retentionDays >= 1); only the vault-export-retention rule rejects it."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    yaml = YAML()
    doc = yaml.load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    backup = doc["config"]["safetynet:backup"]
    backup.update(retentionDays=20, coldStorageAfterDays=10)
    if "objectLockDays" in backup:
        backup["objectLockDays"] = 10
    with (tmp_path / "Pulumi.bad.yaml").open("w") as f:
        yaml.dump(doc, f)
    return tmp_path


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_check_passes_on_shipped_stack(stack: str) -> None:
    result = runner.invoke(app, ["synth", stack, "--check", "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 0, result.output
    assert f"{len(RULES)}/{len(RULES)} rules pass" in result.output
    assert "OK" in result.output


def test_check_fails_with_exit_1_on_a_violating_stack(short_retention_project: Path) -> None:
    result = runner.invoke(app, ["synth", "bad", "--check", "--project-dir", str(short_retention_project)])
    assert result.exit_code == 1, result.output
    assert "vault-export-retention" in result.output
    assert "FAILED" in result.output
    assert f"{len(RULES) - 1}/{len(RULES)} rules pass" in result.output


def test_check_prints_no_json(short_retention_project: Path) -> None:
    result = runner.invoke(app, ["synth", "bad", "--check", "--project-dir", str(short_retention_project)])
    assert '"resources"' not in result.output


def test_check_exits_2_on_a_missing_stack() -> None:
    result = runner.invoke(app, ["synth", "nosuchstack", "--check", "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 2
    assert "Pulumi.nosuchstack.yaml" in result.output


def test_report_shows_rule_resource_why_and_fix() -> None:
    doc = {"project": "p", "stack": "s", "resources": []}
    v = Violation("table-pitr", "aws:dynamodb/table:Table::orders-table", "PITR is off", "turn it on")
    console = Console(record=True, width=200)
    code = report(doc, [v], console)
    text = console.export_text()
    assert code == 1
    for part in ("table-pitr", "orders-table", "PITR is off", "turn it on"):
        assert part in text


def test_advisory_violation_does_not_fail_the_check() -> None:
    doc = {"project": "p", "stack": "s", "resources": []}
    v = Violation("x", "r", "why", "fix", mandatory=False)
    console = Console(record=True, width=200)
    assert report(doc, [v], console) == 0
    assert "x (advisory)" in console.export_text()


def test_check_synth_doc_finds_the_violation(short_retention_project: Path) -> None:
    from safetynet.synth import synth

    doc = synth(short_retention_project, "bad").to_json()
    # the vault and, with prod's replica on, the replica bucket that follows its retention
    lifecycle = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    assert [(v.rule, v.resource) for v in check_synth_doc(doc)] == [
        ("vault-export-retention", f"{lifecycle}::vault-lifecycle"),
        ("vault-export-retention", f"{lifecycle}::vault-replica-lifecycle"),
    ]


@pytest.mark.slow
def test_check_exit_code_as_a_process(short_retention_project: Path) -> None:
    cmd = [sys.executable, "-m", "safetynet.cli", "synth", "bad", "--check"]
    bad = subprocess.run(
        [*cmd, "--project-dir", str(short_retention_project)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1, bad.stderr
    assert "Traceback" not in bad.stderr
    good = subprocess.run(
        [*cmd[:-2], "prod", "--check"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert good.returncode == 0, good.stdout + good.stderr

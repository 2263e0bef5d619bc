"""`safetynet synth` as users run it: a subprocess, JSON on stdout, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from components.config.base import SECRET_PLACEHOLDER
from components.config.stack import StackConfig
from safetynet.synth import read_stack_config
from tests.support.stacks import PROJECT_DIR

CLI = [sys.executable, "-m", "safetynet.cli"]


def run(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_synth_prints_resources_and_outputs_as_json() -> None:
    proc = run("synth", "prod")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["stack"] == "prod"
    types = {r["type"] for r in doc["resources"]}
    assert {"aws:dynamodb/table:Table", "aws:s3/bucket:Bucket", "aws:scheduler/schedule:Schedule"} <= types
    table = next(r for r in doc["resources"] if r["type"] == "aws:dynamodb/table:Table" and r["name"] == "orders-table")
    assert table["parent"].startswith("safetynet:dynamodb:BackedUpTable::")
    assert "pointInTimeRecovery" in table["inputs"]  # camelCase, as Pulumi sends them
    assert set(doc["outputs"]["tables"]) == {"orders", "customers", "inventory"}


def test_synth_summary_prints_the_tree() -> None:
    proc = run("synth", "prod", "--summary")
    assert proc.returncode == 0, proc.stderr
    assert "safetynet:dynamodb:BackedUpTable orders" in proc.stdout
    assert "aws:dynamodb/table:Table orders-table  protect retainOnDelete" in proc.stdout


def test_invalid_config_exits_2_with_the_message_and_no_traceback(project_copy: Path) -> None:
    yaml = YAML()
    path = project_copy / "Pulumi.prod.yaml"
    doc = yaml.load(path)
    doc["config"]["safetynet:tables"][0]["hashKey"] = {"name": "id", "type": "STRING"}
    doc["config"]["safetynet:tables"][0]["pointInTimeRecoveryDays"] = 40
    yaml.dump(doc, path)
    proc = run("synth", "prod", "--project-dir", str(project_copy))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "safetynet:tables[0].hashKey.type: Input should be 'S', 'N' or 'B'" in proc.stderr
    assert "safetynet:tables[0].pointInTimeRecoveryDays" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_stack_file_exits_2() -> None:
    proc = run("synth", "nosuchstack")
    assert proc.returncode == 2
    assert "Pulumi.nosuchstack.yaml not found" in proc.stderr


def test_secret_config_values_are_replaced_by_a_placeholder(project_copy: Path) -> None:
    path = project_copy / "Pulumi.prod.yaml"
    path.write_text(path.read_text() + "  aws:secretKey:\n    secure: AAABAKxyzEncryptedBlob==\n")
    flat, secrets = read_stack_config(project_copy, "prod")
    assert flat["aws:secretKey"] == SECRET_PLACEHOLDER
    assert secrets == ["aws:secretKey"]
    proc = run("synth", "prod", "--project-dir", str(project_copy))
    assert proc.returncode == 0, proc.stderr
    assert "AAABAKxyzEncryptedBlob" not in proc.stdout


def test_pulumi_yaml_declares_every_scalar_key_and_readme_documents_every_key() -> None:
    project = YAML(typ="safe").load((PROJECT_DIR / "Pulumi.yaml").read_text())
    declared = project["config"]
    readme = (PROJECT_DIR / "README.md").read_text()
    for field in StackConfig.model_fields.values():
        key = f"safetynet:{field.alias}"
        assert f"`{key}`" in readme, f"{key} is missing from README's configuration reference"
        if field.annotation in (str, str | None, int, bool):
            assert key in declared, f"{key} is not declared in Pulumi.yaml"
            assert declared[key]["type"] in ("string", "integer", "boolean")
            assert declared[key]["description"]


def test_a_component_refusing_its_inputs_is_a_clean_error_and_the_next_synth_works() -> None:
    from safetynet.synth import SynthError, synth

    flat, _ = read_stack_config(PROJECT_DIR, "test")
    tables = json.loads(flat["safetynet:tables"])
    tables[1]["hashKey"] = {"name": "customerId", "type": "N"}  # drifts from prod's schema
    with pytest.raises(SynthError, match="the test table's schema differs from prod's") as exc:
        synth(PROJECT_DIR, "test", config_overrides={"tables": tables})
    assert "has risen" not in str(exc.value)
    # The failed program leaves nothing behind that breaks the next synth in this process.
    assert len(synth(PROJECT_DIR, "prod").of_type("safetynet:dynamodb:BackedUpTable")) == 3

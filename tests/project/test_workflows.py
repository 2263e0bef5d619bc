"""The GitHub workflows in .github/workflows/: valid against GitHub's workflow JSON schema (the copy
vendored in check-jsonschema, so no network), and doing what the README promises: PR checks with
the offline and the engine policy paths, deploys test then prod behind approval, nightly drift.
Credentials only through OIDC."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.stacks import PROJECT_DIR, SHIPPED_STACKS

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def load(name: str) -> dict[str, Any]:
    doc = YAML(typ="safe").load((WORKFLOWS / name).read_text())
    assert isinstance(doc, dict)
    return doc


def steps(doc: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return list(doc["jobs"][job]["steps"])


def uses(doc: dict[str, Any], job: str, action: str) -> list[dict[str, Any]]:
    return [s for s in steps(doc, job) if str(s.get("uses", "")).startswith(action + "@")]


def runs(doc: dict[str, Any], job: str) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(doc, job))


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


ALL = sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def test_the_three_workflows_exist() -> None:
    assert {"pull-request.yml", "deploy.yml", "drift.yml"} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_workflow_is_valid_against_the_github_schema(name: str) -> None:
    proc = schema_check(WORKFLOWS / name)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    # The validator can fail: a job without runs-on and with an unknown key.
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    stepz:\n      - run: echo hi\n")
    proc = schema_check(bad)
    assert proc.returncode == 1
    assert "bad.yml" in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ALL)
def test_no_long_lived_cloud_keys(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    for forbidden in (
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_SECRET_ACCESS_KEY",
        "PULUMI_ACCESS_TOKEN",
    ):
        assert forbidden not in text, f"{name} uses {forbidden}"


@pytest.mark.parametrize("name", ALL)
def test_aws_credentials_come_from_oidc_role_assumption(name: str) -> None:
    doc = load(name)
    for job_name, job in doc["jobs"].items():
        aws = uses(doc, job_name, "aws-actions/configure-aws-credentials")
        if not aws:
            continue
        assert job.get("permissions", {}).get("id-token") == "write", job_name
        for step in aws:
            assert "role-to-assume" in step["with"], job_name


def test_default_token_permissions_are_read_only() -> None:
    for name in ALL:
        assert load(name)["permissions"] == {"contents": "read"}, name


# -- pull requests ----------------------------------------------------------------------------------


def test_pr_runs_setup_lint_test_and_synth_check_of_every_stack() -> None:
    doc = load("pull-request.yml")
    assert "pull_request" in doc["on"]
    script = runs(doc, "checks")
    for command in ("make setup", "make lint", "make test", 'safetynet synth "$stack" --check'):
        assert command in script
    assert "needs.stacks.outputs.stacks" in str(doc["jobs"]["checks"])


def test_pr_previews_every_stack_with_the_policy_pack_and_comments() -> None:
    doc = load("pull-request.yml")
    job = doc["jobs"]["preview"]
    (pulumi,) = uses(doc, "preview", "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["comment-on-pr"] is True
    assert "${{ matrix.stack }}" in pulumi["with"]["stack-name"]
    assert job["permissions"]["pull-requests"] == "write"


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("bash") is None, reason="needs bash and jq")
@pytest.mark.parametrize("name", ["pull-request.yml", "drift.yml"])
@pytest.mark.parametrize("idle", ["dr", "", "dr test"])
def test_stack_list_step_finds_every_stack_and_the_deployed_ones(name: str, idle: str, tmp_path: Path) -> None:
    # Run the workflow's own listing script in the repository and read what it would output.
    doc = load(name)
    (step,) = steps(doc, "stacks")[1:]
    assert step["env"]["IDLE_STACKS"] == "${{ vars.IDLE_STACKS || 'dr' }}"
    out = tmp_path / "github_output"
    subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=PROJECT_DIR,
        env={"GITHUB_OUTPUT": str(out), "PATH": "/usr/bin:/bin", "IDLE_STACKS": idle},
        check=True,
        capture_output=True,
        timeout=60,
    )
    outputs = dict(ln.split("=", 1) for ln in out.read_text().splitlines())
    assert sorted(json.loads(outputs["stacks"])) == SHIPPED_STACKS
    assert sorted(json.loads(outputs["deployed"])) == [s for s in SHIPPED_STACKS if s not in idle.split()]


def test_engine_jobs_run_on_deployed_stacks_and_offline_check_on_all() -> None:
    pr_doc, drift_doc = load("pull-request.yml"), load("drift.yml")
    assert "needs.stacks.outputs.stacks" in str(pr_doc["jobs"]["checks"])
    assert pr_doc["jobs"]["preview"]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.deployed) }}"
    assert drift_doc["jobs"]["drift"]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.deployed) }}"


# -- merge to main ----------------------------------------------------------------------------------


def test_deploy_runs_test_then_prod_behind_production_approval() -> None:
    doc = load("deploy.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    assert jobs["up-test"]["needs"] == "checks"
    assert jobs["up-prod"]["needs"] == "up-test"
    assert jobs["up-prod"]["environment"] == "production"
    for job, stack in (("up-test", "test"), ("up-prod", "prod")):
        (pulumi,) = uses(doc, job, "pulumi/actions")
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["stack-name"].endswith(f"/{stack}")
        assert pulumi["with"]["policyPacks"] == "policy"
    assert doc["concurrency"]["cancel-in-progress"] is False


# -- nightly drift ----------------------------------------------------------------------------------


def test_drift_previews_with_refresh_expecting_no_changes_and_notifies() -> None:
    doc = load("drift.yml")
    assert doc["on"]["schedule"][0]["cron"]
    (pulumi,) = [s for s in uses(doc, "drift", "pulumi/actions") if s["with"]["command"] == "preview"]
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["refresh"] is True
    assert pulumi["with"]["expect-no-changes"] is True
    notify = [s for s in steps(doc, "drift") if s.get("if") == "failure()"]
    assert notify and "gh issue" in notify[0]["run"]
    assert doc["jobs"]["drift"]["permissions"]["issues"] == "write"
    assert doc["jobs"]["drift"]["strategy"]["fail-fast"] is False


def step_with(doc: dict[str, Any], job: str, key: str, value: str) -> tuple[int, dict[str, Any]]:
    """The one step of `job` whose `key` contains `value` (`id`: equals it), and its position."""
    (found,) = [
        (i, s)
        for i, s in enumerate(steps(doc, job))
        if (value == s.get(key) if key == "id" else value in str(s.get(key, "")))
    ]
    return found


def test_drift_runs_coverage_on_prod_like_stacks_with_the_jobs_read_only_role() -> None:
    doc = load("drift.yml")
    aws_at, aws = step_with(doc, "drift", "uses", "aws-actions/configure-aws-credentials")
    kind_at, kind = step_with(doc, "drift", "id", "kind")
    outputs_at, outputs = step_with(doc, "drift", "id", "outputs")
    coverage_at, coverage = step_with(doc, "drift", "id", "coverage")
    # The one AWS role of the job, the preview's read-only one, is what coverage reads with
    assert len(uses(doc, "drift", "aws-actions/configure-aws-credentials")) == 1
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert aws_at < kind_at < outputs_at < coverage_at
    # on prod-like stacks only, even when the preview found drift (not after a cancel)
    gate = "${{ !cancelled() && steps.kind.outputs.prodlike == 'true' }}"
    assert outputs["if"] == coverage["if"] == gate
    assert kind["if"] == "${{ !cancelled() }}"
    assert '.venv/bin/safetynet coverage -s "$STACK" --json' in coverage["run"]
    assert coverage["env"]["STACK"] == "${{ matrix.stack }}"
    # with the vault bucket from the stack's outputs
    assert outputs["uses"].startswith("pulumi/actions@")
    assert outputs["with"] == {"command": "output", "stack-name": "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}"}
    assert coverage["env"]["SAFETYNET_VAULT_BUCKET"] == "${{ steps.outputs.outputs.vaultBucketName }}"
    # and a failure opens (or comments on) the stack's drift issue, saying it was coverage
    _, notify = step_with(doc, "drift", "if", "failure()")
    assert notify["env"]["COVERAGE"] == "${{ steps.coverage.outcome }}"
    assert notify["env"]["PREVIEW"] == "${{ steps.preview.outcome }}"
    assert step_with(doc, "drift", "id", "preview")[1]["with"]["command"] == "preview"


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A run step as GitHub runs it when no shell is given: bash -e."""
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_prod_like_step_reads_the_stacks_environment(tmp_path: Path) -> None:
    # The step's own script, with the project's interpreter, for every shipped stack
    _, kind = step_with(load("drift.yml"), "drift", "id", "kind")
    found = {}
    for stack in SHIPPED_STACKS:
        out = tmp_path / f"output-{stack}"
        proc = _bash(kind["run"], PROJECT_DIR, {"STACK": stack, "GITHUB_OUTPUT": str(out)})
        assert proc.returncode == 0, proc.stderr
        found[stack] = out.read_text()
    assert found == {"dr": "prodlike=true\n", "prod": "prodlike=true\n", "test": "prodlike=false\n"}


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("exit_code", [0, 1, 2])
def test_coverage_step_prints_the_report_and_keeps_the_exit_code(exit_code: int, tmp_path: Path) -> None:
    # Given a stand-in for the CLI that prints a report and exits with `exit_code`
    _, coverage = step_with(load("drift.yml"), "drift", "id", "coverage")
    cli = tmp_path / ".venv" / "bin" / "safetynet"
    cli.parent.mkdir(parents=True)
    cli.write_text(f'#!/bin/sh\necho "{{\\"args\\": \\"$*\\"}}"\nexit {exit_code}\n')
    cli.chmod(0o755)
    # When the step's script runs
    proc = _bash(coverage["run"], tmp_path, {"STACK": "prod"})
    # Then the step fails exactly when coverage does, and the report is in the log and a file
    assert proc.returncode == exit_code
    assert json.loads(proc.stdout) == {"args": "coverage -s prod --json"}
    assert json.loads((tmp_path / "coverage-prod.json").read_text()) == {"args": "coverage -s prod --json"}


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("preview", "coverage", "says"),
    [
        ("failure", "skipped", ["pulumi preview"]),
        ("success", "failure", ["safetynet coverage -s prod"]),
        ("failure", "failure", ["pulumi preview", "safetynet coverage -s prod"]),
    ],
)
def test_the_drift_issue_says_what_failed(preview: str, coverage: str, says: list[str], tmp_path: Path) -> None:
    # Given a stand-in `gh` that finds no open issue and records what it is asked to create
    _, notify = step_with(load("drift.yml"), "drift", "if", "failure()")
    gh = tmp_path / "gh"
    gh.write_text('#!/bin/bash\nif [ "$2" = create ]; then printf "%s" "$8" > "$(dirname "$0")/body"; fi\n')
    gh.chmod(0o755)
    env = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        "STACK": "prod",
        "PREVIEW": preview,
        "COVERAGE": coverage,
        "RUN_URL": "https://example.test/run/1",
        "GITHUB_REPOSITORY": "acme/safetynet",
    }
    proc = _bash(notify["run"], tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    body = (tmp_path / "body").read_text()
    assert [s for s in ("pulumi preview", "safetynet coverage -s prod") if s in body] == says

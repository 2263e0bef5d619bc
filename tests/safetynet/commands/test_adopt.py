"""`safetynet adopt -s STACK` through the CLI: dry run, confirmation, the human and JSON output,
a non-prod stack's names, and every kind of bad input as one clear message with its exit code and
the stack file unchanged, byte for byte. The 40-table account is in tests/safetynet/coverage/."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from ruamel.yaml import YAML
from typer.testing import CliRunner

from safetynet import stack_yaml
from safetynet.cli import app
from tests.support.restore_fixtures import REGION

runner = CliRunner()


def create(name: str, tags: dict[str, str], *, region: str = REGION) -> None:
    """An on-demand table with a string hash key and the given tags (in moto)."""
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


def adopt(project: Path, *args: str, stack: str = "prod", **kwargs: Any) -> Any:
    return runner.invoke(app, ["adopt", "-s", stack, "--project-dir", str(project), *args], **kwargs)


@pytest.fixture
def account(aws: None, project_copy: Path) -> Path:
    """The shipped prod stack, and in its region two tables of team x and one of team y."""
    create("legacy-users", {"team": "x"})
    create("legacy-carts", {"team": "x", "cost-center": "7"})
    create("reports", {"team": "y"})
    return project_copy


def stack_file(project: Path, stack: str = "prod") -> bytes:
    return (project / f"Pulumi.{stack}.yaml").read_bytes()


# -- doing it ----------------------------------------------------------------------------------


def test_a_dry_run_prints_the_entries_and_changes_nothing(account: Path) -> None:
    before = stack_file(account)
    out = adopt(account, "--tag", "team=x", "--dry-run")
    assert out.exit_code == 0, out.stderr
    assert stack_file(account) == before
    assert "nothing written" in out.stdout
    fragment = out.stdout[out.stdout.index("- name: legacy-carts") :]
    entries = YAML(typ="safe").load(fragment)
    assert [e["name"] for e in entries] == ["legacy-carts", "legacy-users"]
    assert entries[0]["tags"] == {"team": "x", "cost-center": "7"} and entries[0]["adopt"] is True


def test_it_asks_before_writing_and_a_no_writes_nothing(account: Path) -> None:
    before = stack_file(account)
    out = adopt(account, "--tag", "team=x", input="n\n")
    assert out.exit_code == 1
    assert f"Append 2 tables to {account / 'Pulumi.prod.yaml'}?" in out.stderr
    assert "legacy-carts" in out.stdout  # the tables were shown before the question
    assert "nothing written" in out.stderr
    assert stack_file(account) == before


def test_a_yes_writes_and_the_table_shows_each_table_with_its_reason(account: Path) -> None:
    out = adopt(account, "--tag", "team=x", input="y\n", env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.stderr
    assert "Appended 2 tables" in out.stdout
    assert "as found: PITR off, deletion protection off, AWS owned key, no stack tags" in out.stdout
    names = [t["name"] for t in stack_yaml.load(account / "Pulumi.prod.yaml")["config"]["safetynet:tables"]]
    assert names[-2:] == ["legacy-carts", "legacy-users"]
    again = adopt(account, "--tag", "team=x", "--yes", env={"COLUMNS": "200"})
    assert again.exit_code == 0
    assert "Nothing to adopt: 2 already in the stack" in again.stdout
    assert "already in the stack as 'legacy-users'" in again.stdout


def test_json_lists_selected_written_and_skipped_in_camel_case(account: Path) -> None:
    out = adopt(account, "--prefix", "legacy-", "--table", "reports", "--exclude", "*-carts", "--json", "--yes")
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["selected"] == ["legacy-carts", "legacy-users", "reports"]
    assert doc["written"] == ["legacy-users", "reports"]
    assert doc["skipped"] == [{"table": "legacy-carts", "kind": "excluded", "reason": "matches --exclude *-carts"}]
    assert {"stackFile", "dryRun", "entries", "selector"} <= set(doc)


def test_outside_prod_names_follow_the_stacks_table_name_pattern(aws: None, project_copy: Path) -> None:
    # Given a dev stack (names {name}-dev) and tables of both environments
    dev = project_copy / "Pulumi.dev.yaml"
    dev.write_text("config:\n  aws:region: eu-central-1\n  safetynet:environment: dev\n")
    create("sessions-dev", {"team": "x"})
    create("sessions-prod", {"team": "x"})
    out = adopt(project_copy, "--tag", "team=x", "--yes", "--json", stack="dev")
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    # Then the dev table is adopted under its logical name, the prod one is not dev's to adopt
    assert doc["entries"][0]["name"] == "sessions"
    assert doc["skipped"][0]["table"] == "sessions-prod"
    assert "tableNamePattern '{name}-{environment}'" in doc["skipped"][0]["reason"]
    assert stack_yaml.plain(stack_yaml.load(dev)["config"]["safetynet:tables"]) == doc["entries"]


# -- bad input: one message, the exit code, the file unchanged ------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tag", "team"], "--tag 'team': write KEY=VALUE"),
        ([], "choose the tables to adopt: --tag KEY=VALUE, --prefix or --table"),
        (["--tag", "team=x", "--json"], "--json needs --yes or --dry-run"),
    ],
)
def test_bad_options_exit_2_before_reading_anything(project_copy: Path, args: list[str], message: str) -> None:
    before = stack_file(project_copy)
    out = adopt(project_copy, *args)
    assert out.exit_code == 2
    assert message in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert stack_file(project_copy) == before


def test_nothing_selected_exits_2_and_says_what_was_asked(account: Path) -> None:
    before = stack_file(account)
    out = adopt(account, "--tag", "team=nobody", "--yes")
    assert out.exit_code == 2
    assert "no table in region eu-central-1 matches tag team=nobody; nothing written" in out.stderr
    assert stack_file(account) == before


@pytest.mark.parametrize(
    ("edit", "marker", "message"),
    [
        (lambda t: t.replace("environment: prod\n", "environment: prod: x\n"), "prod: x", "Pulumi.prod.yaml:{line}:"),
        (
            lambda t: t.replace("environment: prod\n", "environment: PROD!\n"),
            "PROD!",
            "line {line}: safetynet:environment",
        ),
        (
            lambda t: t.replace("      tags:\n        team: checkout\n", "      tagz: {}\n"),
            "tagz: {}",
            "line {line}: safetynet:tables[0].tagz",
        ),
    ],
    ids=["yaml-syntax", "config-value", "unknown-key"],
)
def test_a_stack_file_that_does_not_parse_exits_2_naming_the_file(
    project_copy: Path, edit: Any, marker: str, message: str
) -> None:
    path = project_copy / "Pulumi.prod.yaml"
    path.write_text(edit(path.read_text()))
    before = stack_file(project_copy)
    out = adopt(project_copy, "--tag", "team=x", "--yes")
    assert out.exit_code == 2, out.stdout
    lines = path.read_text().splitlines()
    [line] = [n for n, text in enumerate(lines, 1) if text.endswith(marker)]  # the edited line
    assert message.format(line=line) in out.stderr and "Traceback" not in out.stderr
    assert stack_file(project_copy) == before


def test_tables_that_are_not_a_list_exit_2_with_the_line(project_copy: Path) -> None:
    path = project_copy / "Pulumi.prod.yaml"
    path.write_text("config:\n  aws:region: eu-central-1\n  safetynet:environment: prod\n  safetynet:tables: orders\n")
    out = adopt(project_copy, "--tag", "team=x", "--yes")
    assert out.exit_code == 2
    assert f"{path}:4: safetynet:tables must be a list of tables" in out.stderr


def test_a_test_stack_is_refused(project_copy: Path, project_dir: Path) -> None:
    (project_copy / "Pulumi.test.yaml").write_bytes((project_dir / "Pulumi.test.yaml").read_bytes())
    out = adopt(project_copy, "--tag", "team=x", "--yes", stack="test")
    assert out.exit_code == 2
    assert "stack test is a test stack (safetynet:staging)" in out.stderr


def test_an_unknown_stack_exits_2(project_copy: Path) -> None:
    out = adopt(project_copy, "--tag", "team=x", stack="nope")
    assert out.exit_code == 2
    assert "Pulumi.nope.yaml not found" in out.stderr


def test_an_unreachable_endpoint_exits_1_with_one_message(project_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given AWS_ENDPOINT_URL pointing at a closed port (one attempt: the message, not the retries, is tested)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setattr("handlers.clients.RETRIES", Config(retries={"mode": "standard", "total_max_attempts": 1}))
    before = stack_file(project_copy)
    out = adopt(project_copy, "--tag", "team=x", "--yes")
    assert out.exit_code == 1
    assert "the AWS endpoint cannot be reached (region eu-central-1)" in out.stderr
    assert "nothing written" in out.stderr and "Traceback" not in out.stderr
    assert stack_file(project_copy) == before


def test_access_denied_names_the_read_actions_it_needs(account: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    def denied(*_args: Any, **_kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "DescribeTable")

    monkeypatch.setattr("safetynet.coverage.inventory.read_table", denied)
    out = adopt(account, "--tag", "team=x", "--yes")
    assert out.exit_code == 1
    assert "access denied" in out.stderr and "DescribeContinuousBackups" in out.stderr


# -- as a process --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_dry_run_as_a_process_against_a_moto_server(moto_server: str, project_copy: Path) -> None:
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_server)
    client.create_table(
        TableName="legacy-users",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "team", "Value": "x"}],
    )
    proc = subprocess.run(
        [sys.executable, "-m", "safetynet.cli", "adopt", "-s", "prod", "--tag", "team=x", "--dry-run", "--json"],
        cwd=project_copy,
        env={**os.environ, "AWS_ENDPOINT_URL": moto_server, "SAFETYNET_PROJECT_DIR": str(project_copy)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["adopted"] == ["legacy-users"]

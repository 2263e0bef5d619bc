"""`safetynet restore-plan` writes what it can and reports the rest, refuses bad options before it
reads anything, and leaves the stack file untouched when interrupted (the rerun completes).
Every test asserts the exit code, the message (no traceback) and what the stack file holds."""

from __future__ import annotations

import json
import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from safetynet.cli import app
from tests.support import restore_fixtures as fx

runner = CliRunner()


@pytest.fixture
def account(aws: None, project_copy: Path) -> dict[str, Any]:
    """customers (live, PITR) with two valid exports; inventory (live, PITR), nothing else; orders
    (LSIs) deleted, leaving its system backup."""
    cfg = fx.prod_config(project_copy)
    fx.create_vault()
    customers = fx.create_table(cfg, "customers")
    old = fx.write_aged_export(customers, timedelta(days=2), fx.customer_items(5, "old"))
    new = fx.write_aged_export(customers, timedelta(days=1), fx.customer_items(6, "new"))
    fx.create_table(cfg, "inventory")
    orders = fx.create_table(cfg, "orders")
    system = fx.inject_system_backup(orders)
    fx.client("dynamodb").delete_table(TableName=orders)
    return {"old": old, "new": new, "system": system}


def run(project: Path, *args: str, stdin: str | None = None) -> Any:
    argv = ["restore-plan", "-s", "prod", "--project-dir", str(project), "--vault-bucket", fx.VAULT, *args]
    return runner.invoke(app, argv, input=stdin, env={"COLUMNS": "100"})


def stack_text(project: Path) -> str:
    return (project / "Pulumi.prod.yaml").read_text()


def block(project: Path) -> dict[str, Any]:
    doc = YAML(typ="safe").load(stack_text(project))
    return doc["config"].get("safetynet:restore") or {}


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


# --- write what can be written -------------------------------------------------------------------


def test_tables_with_a_source_are_written_and_the_others_reported(account: dict[str, Any], project_copy: Path) -> None:
    # When every table is planned from exports: only customers has one
    result = run(project_copy, "--source", "export", "--yes")
    # Then customers is written, orders (LSIs) and inventory (no export) are reported, exit 1
    no_traceback(result)
    assert result.exit_code == 1
    assert block(project_copy) == {"customers": {"export": account["new"].url}}
    assert "no usable source for orders, inventory" in result.output
    assert "written: Pulumi.prod.yaml (customers)" in result.output
    assert "not planned: orders, inventory" in result.output


def test_all_or_nothing_writes_nothing_when_a_table_has_no_source(account: dict[str, Any], project_copy: Path) -> None:
    before = stack_text(project_copy)
    result = run(project_copy, "--source", "export", "--all-or-nothing", "--yes")
    no_traceback(result)
    assert result.exit_code == 1
    assert "nothing written (--all-or-nothing): Pulumi.prod.yaml is unchanged" in result.output
    assert stack_text(project_copy) == before


def test_dry_run_prints_the_block_and_writes_nothing(account: dict[str, Any], project_copy: Path) -> None:
    before = stack_text(project_copy)
    result = run(project_copy, "--table", "customers", "--dry-run")
    assert result.exit_code == 0, result.output
    assert account["new"].url in result.output
    assert "dry run: nothing written" in result.output
    assert stack_text(project_copy) == before


# --- options checked before anything is read ---------------------------------------------------


@pytest.fixture
def no_inspection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if restore-plan starts reading AWS."""

    def inspected(*args: object, **kwargs: object) -> None:
        raise AssertionError("restore-plan inspected AWS before refusing an option")

    monkeypatch.setattr("safetynet.recovery.plan_run.plan_all", inspected)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-suffix", "-bad/suffix"], "--target-suffix '-bad/suffix': use 1-64 of a-z A-Z 0-9 _ . -"),
        (["--at", "yesterday"], "--at 'yesterday' is not an ISO-8601 time"),
        (["--at", "2026-11-27T08:00:00"], "needs a time zone"),
        (["--at", "2999-01-01T00:00:00Z"], "--at 2999-01-01T00:00:00Z is in the future"),
        (["--backup-arn", "arn:aws:dynamodb:eu-central-1:1:table/x"], "is not a DynamoDB backup ARN"),
        (
            ["--backup-arn", "arn:aws:backup:eu-central-1:123456789012:recovery-point:abc"],
            "AWS Backup recovery point (advanced features)",
        ),
        (["--source", "snapshot"], "Invalid value for '--source'"),
        (["--table", "custmers"], "unknown table(s) custmers"),
    ],
)
def test_a_bad_option_is_refused_at_once_with_exit_2(
    aws: None, project_copy: Path, no_inspection: None, args: list[str], message: str
) -> None:
    before = stack_text(project_copy)
    result = run(project_copy, *args, "--yes")
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert stack_text(project_copy) == before


def test_at_in_the_future_is_refused_without_source_too(aws: None, project_copy: Path, no_inspection: None) -> None:
    result = run(project_copy, "--table", "customers", "--at", "2999-01-01T00:00:00Z")
    assert result.exit_code == 2
    assert "leave --at out to restore the newest state" in result.output


def test_help_lists_the_source_choices() -> None:
    result = runner.invoke(app, ["restore-plan", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "latest|export|vault|pitr|backup" in result.output
    assert "--all-or-nothing" in result.output and "-s, --stack" in result.output and "-y, --yes" in result.output


# --- suggestions that apply to the table's state -------------------------------------------------


def test_a_deleted_table_without_a_usable_source_gets_no_suffix_advice(
    account: dict[str, Any], project_copy: Path
) -> None:
    # Given customers deleted (no system backup: PITR was never its source here), asked for an
    # export before the oldest one
    fx.client("dynamodb").delete_table(TableName="customers")
    at = (fx.NOW - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run(project_copy, "--table", "customers", "--source", "export", "--at", at, "--yes")
    no_traceback(result)
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "not planned: customers: no usable export at or before" in text
    assert "try: a later --at: the oldest such source is from" in text
    assert "--target-suffix" not in result.output
    assert block(project_copy) == {}


# --- conventions: --json on stdout, diagnostics on stderr -----------------------------------------


def test_json_is_one_camelcase_document_on_stdout(account: dict[str, Any], project_copy: Path) -> None:
    argv = ["restore-plan", "-s", "prod", "--project-dir", str(project_copy), "--vault-bucket", fx.VAULT]
    result = runner.invoke(app, [*argv, "--json", "--yes"], env={"COLUMNS": "100"})
    assert result.exit_code == 1  # inventory has no source without a suffix
    doc = json.loads(result.stdout)
    assert doc["written"] is True and doc["notPlanned"] == ["inventory"]
    tables = {t["table"]: t for t in doc["tables"]}
    assert tables["customers"]["entry"] == {"export": account["new"].url}
    assert tables["customers"]["chosen"]["status"] == "chosen" and tables["customers"]["physicalName"] == "customers"
    assert tables["orders"]["entry"] == {"backupArn": account["system"]}
    assert tables["inventory"]["hints"] == ["restore beside the live table from PITR: --target-suffix -restored"]
    assert doc["unavailable"] == ["AWS Backup: not available here (404: Not yet implemented); not considered"]
    assert "customers: live" in result.stderr  # the human tables went to stderr


# --- interruptions ---------------------------------------------------------------------------------


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, target: str, after: int = 0, *, sigterm: bool = False) -> None:
    """Make `target` (module.attr) raise KeyboardInterrupt (or deliver SIGTERM, which the CLI turns
    into one) on its call number `after + 1`; earlier calls go through."""
    module, attr = target.rsplit(".", 1)
    import importlib

    real = getattr(importlib.import_module(module), attr)
    calls = {"n": 0}

    def wrapper(*args: object, **kwargs: object) -> Any:
        calls["n"] += 1
        if calls["n"] > after:
            if sigterm:
                os.kill(os.getpid(), signal.SIGTERM)  # the handler raises here
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(target, wrapper)


@pytest.mark.parametrize(
    ("target", "after", "sigterm"),
    [
        ("safetynet.recovery.plan_run.inspect_table", 1, False),  # reading the second table
        ("safetynet.recovery.plan_run.validate_export", 0, False),  # validating the chosen export
        ("safetynet.recovery.plan_run.validate_export", 0, True),  # SIGTERM there
        ("safetynet.commands.restore_plan._confirm", 0, False),  # at the question
        ("safetynet.commands.restore_plan.atomic_write", 0, False),  # at the write itself
    ],
)
def test_an_interrupted_plan_leaves_the_file_as_it_was_and_a_rerun_completes(
    account: dict[str, Any], project_copy: Path, monkeypatch: pytest.MonkeyPatch, target: str, after: int, sigterm: bool
) -> None:
    from safetynet import cli

    before = stack_text(project_copy)
    # SIGTERM takes the path the console script installs: the CLI's handler raises KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, cli._terminate) if sigterm else None
    try:
        with monkeypatch.context() as m:
            _interrupt_at(m, target, after, sigterm=sigterm)
            result = run(project_copy, "--table", "customers", "--table", "orders", "--yes")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    no_traceback(result)
    assert result.exit_code == 130
    assert "restore-plan interrupted: nothing written, Pulumi.prod.yaml is unchanged" in result.output
    assert "run the same command again" in result.output
    assert stack_text(project_copy) == before
    assert not list(project_copy.glob(".Pulumi.prod.yaml.*"))  # no temporary file left behind
    # When the same command runs again, it completes: the block an uninterrupted run writes
    rerun = run(project_copy, "--table", "customers", "--table", "orders", "--yes")
    assert rerun.exit_code == 0, rerun.output
    assert block(project_copy) == {
        "customers": {"export": account["new"].url},
        "orders": {"backupArn": account["system"]},
    }
    assert stack_text(project_copy).startswith(before)


def test_no_answer_to_the_question_writes_nothing(account: dict[str, Any], project_copy: Path) -> None:
    before = stack_text(project_copy)
    # The input ends at the question (EOF): the prompt aborts without a KeyboardInterrupt
    result = run(project_copy, "--table", "customers", stdin="")
    no_traceback(result)
    assert result.exit_code == 1
    assert "nothing written: Pulumi.prod.yaml is unchanged" in result.output
    assert stack_text(project_copy) == before


def test_an_interruption_after_the_write_says_the_file_is_whole(
    account: dict[str, Any], project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Ctrl-C arriving while the next steps are printed, after the one-step replace
    _interrupt_at(monkeypatch, "safetynet.commands.restore_plan._next_steps")
    result = run(project_copy, "--table", "customers", "--yes")
    # Then it says the file was written in full, and it was
    no_traceback(result)
    assert result.exit_code == 130
    assert "restore-plan interrupted after Pulumi.prod.yaml was written in full" in result.output
    assert block(project_copy) == {"customers": {"export": account["new"].url}}

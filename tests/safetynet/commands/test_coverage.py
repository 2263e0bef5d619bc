"""`safetynet coverage -s STACK` against moto: the shipped prod stack's tables (protected and
degraded), excluded and unprotected tables and 40 more of mixed settings, each in the right
category, in text and JSON, with the exit codes; bad input and unreadable AWS as one message."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from handlers.exports import ExportRef, new_export_id, write_export
from safetynet.cli import app
from tests.support.coverage_fixtures import build_mixed_account
from tests.support.restore_fixtures import (
    REGION,
    VAULT,
    client,
    create_table,
    create_vault,
    customer_items,
    prod_config,
    table_arn,
)
from tests.support.stacks import PROJECT_DIR

runner = CliRunner()

EXCLUSIONS = """\
  safetynet:coverage:
    exclude:
      - pattern: "*-test"
        reason: the test stack's staging targets, refilled from prod's exports
      - pattern: etl-*
        reason: rebuilt from S3 by the nightly ETL
"""
EXCLUDED = ["customers-test", "etl-daily", "orders-test"]
UNPROTECTED = ["legacy-sessions", "reports"]


def export(physical: str, age: timedelta) -> ExportRef:
    """A valid export of the table in the vault, taken `age` before now (the test's now, so the
    ages the command computes a moment later round to the same tenth of an hour)."""
    at = datetime.now(UTC) - age
    return write_export(
        client("s3"),
        bucket=VAULT,
        prefix=f"exports/{physical}",
        table_arn=table_arn(physical),
        items=customer_items(3, physical),
        export_time=at,
        export_id=new_export_id(at),
    )


@pytest.fixture
def account(aws: None, project_copy: Path) -> Path:
    """The shipped prod stack (Pulumi.prod.yaml, eu-central-1) with the exclusions above; in the
    account: orders protected (PITR, deletion protection, a 2-hour-old export), customers with
    PITR off, inventory with a 40-hour-old export (limit: daily + 6h grace = 30h); the test
    stack's tables and an ETL table (excluded); two tables nobody protects."""
    stack_file = project_copy / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text() + EXCLUSIONS)
    cfg = prod_config(project_copy)
    ddb = client("dynamodb")
    create_vault()
    for logical, pitr, age_hours in (("orders", True, 2), ("customers", False, 3), ("inventory", True, 40)):
        physical = create_table(cfg, logical, pitr=pitr)
        ddb.update_table(TableName=physical, DeletionProtectionEnabled=True)
        export(physical, timedelta(hours=age_hours))
    for name in (*EXCLUDED, *UNPROTECTED):
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    # A PITR-protected table nobody declared is still unprotected: no export, no alarm, no drill.
    ddb.update_continuous_backups(
        TableName="reports", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    return project_copy


def invoke(project: Path, *args: str, vault: str | None = VAULT, env: dict[str, str] | None = None) -> Any:
    extra = ["--vault-bucket", vault] if vault else []
    return runner.invoke(
        app,
        ["coverage", "-s", "prod", "--project-dir", str(project), *extra, *args],
        env={"COLUMNS": "80", **(env or {})},
    )


def categories(doc: dict[str, Any]) -> dict[str, str]:
    return {t["name"]: t["category"] for t in doc["tables"]}


def reasons(doc: dict[str, Any]) -> dict[str, list[str]]:
    return {t["name"]: t["reasons"] for t in doc["tables"]}


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), result.exception


# -- the categories ---------------------------------------------------------------------------


def test_json_puts_every_table_in_its_category_and_exits_1(account: Path) -> None:
    result = invoke(account, "--json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert categories(doc) == {
        "orders": "protected",
        "customers": "degraded",
        "inventory": "degraded",
        **dict.fromkeys(EXCLUDED, "excluded"),
        **dict.fromkeys(UNPROTECTED, "unprotected"),
    }
    why = reasons(doc)
    assert why["customers"] == ["point-in-time recovery is off"]
    assert why["inventory"] == ["newest export is 40.0h old (limit 30h)"]
    assert why["orders"] == ["newest export 2.0h old (limit 30h)"]
    assert why["etl-daily"] == ["rebuilt from S3 by the nightly ETL"]
    assert why["reports"] == ["not a table of stack prod; no coverage.exclude pattern matches"]
    assert doc["counts"] == {"protected": 1, "excluded": 3, "degraded": 2, "unprotected": 2, "total": 8}
    assert (doc["stack"], doc["region"], doc["ok"], doc["vaultBucket"]) == ("prod", REGION, False, VAULT)
    orders = next(t for t in doc["tables"] if t["name"] == "orders")
    assert orders["stackTable"] == "orders" and orders["pitr"] is True and orders["deletionProtection"] is True
    assert orders["lastExportAgeHours"] == pytest.approx(2.0, abs=0.01) and orders["freshnessLimitHours"] == 30.0
    assert next(t for t in doc["tables"] if t["name"] == "orders-test")["excludedBy"] == "*-test"


def test_deletion_protection_off_degrades_a_prod_table(account: Path) -> None:
    client("dynamodb").update_table(TableName="orders", DeletionProtectionEnabled=False)
    doc = json.loads(invoke(account, "--json").stdout)
    assert reasons(doc)["orders"] == ["deletion protection is off"]
    assert categories(doc)["orders"] == "degraded"


def test_everything_covered_exits_0(account: Path) -> None:
    # Given the degraded tables repaired and the unprotected ones excluded
    ddb = client("dynamodb")
    ddb.update_continuous_backups(
        TableName="customers", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    export("inventory", timedelta(hours=1))
    stack_file = account / "Pulumi.prod.yaml"
    stack_file.write_text(
        stack_file.read_text()
        + "      - pattern: legacy-sessions\n        reason: sessions expire within a day\n"
        + "      - pattern: reports\n        reason: rebuilt from the warehouse\n"
    )
    # When coverage runs, Then nothing needs attention
    result = invoke(account, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["counts"] == {"protected": 3, "excluded": 5, "degraded": 0, "unprotected": 0, "total": 8}


def test_a_stack_table_missing_from_the_account_is_degraded(account: Path) -> None:
    ddb = client("dynamodb")
    ddb.update_table(TableName="orders", DeletionProtectionEnabled=False)
    ddb.delete_table(TableName="orders")
    doc = json.loads(invoke(account, "--json").stdout)
    orders = next(t for t in doc["tables"] if t["name"] == "orders")
    assert (orders["category"], orders["exists"], orders["reasons"]) == ("degraded", False, ["table does not exist"])


def test_text_is_a_table_in_80_columns_with_a_summary(account: Path) -> None:
    result = invoke(account)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(line for line in lines if len(line) > 80)
    text = " ".join(result.stdout.split())
    assert "coverage of stack prod in eu-central-1" in text
    for name, category in (("orders", "protected"), ("customers", "degraded"), ("reports", "unprotected")):
        assert any(name in line and category in line for line in lines), name
    assert "point-in-time recovery is off" in text
    assert "(*-test)" in text
    assert "8 table(s): 1 protected, 3 excluded, 2 degraded, 2 unprotected" in text
    # the ones that need attention come last, next to the summary
    order = [
        next(i for i, line in enumerate(lines) if f" {name} " in line) for name in ("orders", "etl-daily", "reports")
    ]
    assert order == sorted(order)


def test_forty_tables_of_mixed_settings_each_in_the_right_category(account: Path) -> None:
    # Given 40 more tables: PITR, deletion protection, keys, indexes, billing, TTL, streams and
    # tags varying; `etl-*` ones excluded by the stack, `cache-*` by a new pattern
    mixed = build_mixed_account(40, region=REGION)
    stack_file = account / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text() + "      - pattern: cache-??\n        reason: a cache\n")
    # When coverage runs
    result = invoke(account, "--json")
    doc = json.loads(result.stdout)
    # Then each generated table is excluded by its prefix or unprotected whatever its settings
    got = categories(doc)
    expected = {t.name: "excluded" if t.name.startswith(("etl-", "cache-")) else "unprotected" for t in mixed}
    assert {n: got[n] for n in expected} == expected
    assert sorted(expected.values()).count("excluded") == 16  # 8 etl + 8 cache of 40
    for t in mixed:
        row = next(r for r in doc["tables"] if r["name"] == t.name)
        assert (row["pitr"], row["deletionProtection"]) == (t.pitr, t.deletion_protection)
    assert doc["counts"]["total"] == 48
    assert result.exit_code == 1


def test_drill_scratch_tables_are_excluded(account: Path) -> None:
    ddb = client("dynamodb")
    ddb.create_table(
        TableName="safetynet-drill-orders-01700000000000-1",
        KeySchema=[{"AttributeName": "customerId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "customerId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    doc = json.loads(invoke(account, "--json").stdout)
    assert categories(doc)["safetynet-drill-orders-01700000000000-1"] == "excluded"


# -- bad input: exit 2, one message -------------------------------------------------------------


def test_a_stack_file_that_does_not_parse_names_file_and_line(project_copy: Path) -> None:
    path = project_copy / "Pulumi.prod.yaml"
    lines = path.read_text().splitlines()
    at = lines.index("      hashKey: {name: customerId, type: S}")
    lines[at] = "      hashKey: {name: customerId, type: S"  # the flow mapping left open
    path.write_text("\n".join(lines) + "\n")
    result = invoke(project_copy)
    assert result.exit_code == 2
    no_traceback(result)
    text = " ".join(result.output.split())
    assert f"coverage: {path}:{at + 2}:" in text  # where the parser notices: the next line
    assert "not valid YAML" in text and f"while parsing a flow mapping, line {at + 1}" in text


def test_an_unknown_stack(project_copy: Path) -> None:
    result = runner.invoke(app, ["coverage", "--stack", "nosuch", "--project-dir", str(project_copy)])
    assert result.exit_code == 2
    no_traceback(result)
    assert "Pulumi.nosuch.yaml not found" in " ".join(result.output.split())


def test_a_missing_stack_option_is_a_usage_error(project_copy: Path) -> None:
    result = runner.invoke(app, ["coverage", "--project-dir", str(project_copy)])
    assert result.exit_code == 2
    assert "--stack" in result.output


def test_invalid_coverage_config_names_the_key(project_copy: Path) -> None:
    path = project_copy / "Pulumi.prod.yaml"
    path.write_text(path.read_text() + "  safetynet:coverage:\n    exclude:\n      - pattern: tmp-*\n")
    result = invoke(project_copy)
    assert result.exit_code == 2
    no_traceback(result)
    assert "safetynet:coverage.exclude[0].reason: is required" in " ".join(result.output.split())


def test_a_test_stack_is_refused(project_copy: Path) -> None:
    shutil.copy(PROJECT_DIR / "Pulumi.test.yaml", project_copy / "Pulumi.test.yaml")
    result = runner.invoke(app, ["coverage", "-s", "test", "--project-dir", str(project_copy)])
    assert result.exit_code == 2
    assert "stack test is a test stack" in " ".join(result.output.split())


def test_the_vault_bucket_is_required(project_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFETYNET_VAULT_BUCKET", raising=False)
    result = invoke(project_copy, vault=None)
    assert result.exit_code == 2
    assert "--vault-bucket" in " ".join(result.output.split())


# -- AWS cannot be read: exit 1, one paragraph ----------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_endpoint(project_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.config import Config

    # One attempt instead of ten, so the test does not wait out the backoff.
    monkeypatch.setattr("handlers.clients.RETRIES", Config(retries={"total_max_attempts": 1}, connect_timeout=2))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    result = invoke(project_copy)
    assert result.exit_code == 1
    no_traceback(result)
    text = " ".join(result.output.split())
    assert text.startswith("coverage: the AWS endpoint cannot be reached (region eu-central-1): Could not connect")
    assert "check the network" in text
    assert len(result.output.strip().split("\n\n")) == 1


def test_no_credentials(project_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a new process: no credentials resolved before
    result = invoke(project_copy)
    assert result.exit_code == 1
    no_traceback(result)
    assert " ".join(result.output.split()).startswith("coverage: no AWS credentials found (region eu-central-1)")


def test_access_denied_lists_what_the_role_needs(account: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.stub import Stubber

    import handlers.clients

    real = handlers.clients.client

    def denied(service: str, region: str | None = None) -> Any:
        c = real(service, region)
        if service == "dynamodb":
            stub = Stubber(c)
            stub.add_client_error(
                "list_tables",
                service_error_code="AccessDeniedException",
                service_message="User: arn:aws:sts::123456789012:assumed-role/preview/x is not authorized "
                "to perform: dynamodb:ListTables",
                http_status_code=400,
            )
            stub.activate()
        return c

    monkeypatch.setattr(handlers.clients, "client", denied)
    result = invoke(account, "--json")
    assert result.exit_code == 1
    no_traceback(result)
    assert result.stdout == ""
    text = " ".join(result.output.split())
    assert text.startswith("coverage: access denied (region eu-central-1): AccessDeniedException: User: arn:aws:sts")
    assert "coverage only reads, and needs dynamodb:ListTables" in text


def test_a_vault_that_cannot_be_listed_is_one_message(account: Path) -> None:
    result = invoke(account, "--json", vault="no-such-vault-bucket")
    assert result.exit_code == 1
    no_traceback(result)
    assert "NoSuchBucket" in " ".join(result.output.split())


# -- as a process, as the drift workflow runs it --------------------------------------------------


@pytest.mark.slow
def test_coverage_as_a_process_against_a_moto_server(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, project_copy: Path
) -> None:
    # Given a moto server with the shipped prod stack's tables, all protected and fresh
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    cfg = prod_config(project_copy)
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=VAULT, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    for spec in cfg.tables:
        physical = create_table(cfg, spec.name)
        client("dynamodb").update_table(TableName=physical, DeletionProtectionEnabled=True)
        export(physical, timedelta(hours=1))
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server, "SAFETYNET_VAULT_BUCKET": VAULT}
    # When `safetynet coverage -s prod --json` runs as its own process
    proc = subprocess.run(
        [sys.executable, "-m", "safetynet.cli", "coverage", "-s", "prod", "--json", "--project-dir", str(project_copy)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # Then every table is protected and it exits 0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert categories(doc) == dict.fromkeys(("customers", "inventory", "orders"), "protected")

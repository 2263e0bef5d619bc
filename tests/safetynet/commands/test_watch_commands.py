"""`safetynet status` and `safetynet drill` against moto: output, JSON and exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from safetynet.cli import app
from tests.support.watch_fixtures import (
    REGION,
    VAULT,
    add_export,
    corrupt_first_data_file,
    customer,
    item,
    make_account,
    project_with_stack,
    protected_and_exported,
)

runner = CliRunner()


@pytest.fixture
def healthy(aws: None, tmp_path: Path) -> Path:
    """Both tables protected, filled (8 orders, 3 customers), and exported two hours ago."""
    return protected_and_exported(tmp_path, orders=8, customers=3, age_hours=2)


def _flat(text: str) -> str:
    """Rich wraps long lines at the terminal width; compare text with single spaces."""
    return " ".join(text.split())


def _run(project: Path, *args: str) -> object:
    return runner.invoke(app, [*args, "--project-dir", str(project), "--vault-bucket", VAULT])


# -- status -----------------------------------------------------------------------------------


def test_status_all_protected_and_fresh_exits_0(healthy: Path) -> None:
    result = _run(healthy, "status", "prod")
    assert result.exit_code == 0, result.output
    assert "orders (orders)  OK" in result.output
    assert "8 items" in result.output
    assert "all 2 table(s) protected and fresh" in result.output


def test_status_json_carries_every_fact(healthy: Path) -> None:
    result = _run(healthy, "status", "prod", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    orders = doc["tables"][0]
    assert orders["table"] == "orders" and orders["deletionProtection"] is True
    assert orders["pitr"]["status"] == "ENABLED"
    assert orders["freshness"]["itemCount"] == 8 and orders["freshness"]["stale"] is False
    assert orders["drill"] is None and orders["alarms"] == [] and orders["problems"] == []


def test_status_deletion_protection_off_exits_1(healthy: Path) -> None:
    boto3.client("dynamodb", region_name=REGION).update_table(TableName="customers", DeletionProtectionEnabled=False)
    result = _run(healthy, "status", "prod", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert doc["tables"][1]["problems"] == ["deletion protection is off"]


def test_status_pitr_off_exits_1(healthy: Path) -> None:
    boto3.client("dynamodb", region_name=REGION).update_continuous_backups(
        TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    result = _run(healthy, "status", "prod")
    assert result.exit_code == 1
    assert "point-in-time recovery is off" in result.output
    assert "1 of 2 table(s) unprotected or stale: orders" in result.output


def test_status_stale_export_exits_1(aws: None, tmp_path: Path) -> None:
    ctx = make_account()
    now = datetime.now(UTC)
    add_export(ctx.tables[0], [item(1)], age_hours=40, now=now)  # daily schedule + 6h grace = 30h
    add_export(ctx.tables[1], [customer(1)], age_hours=1, now=now)
    result = _run(project_with_stack(tmp_path), "status", "prod", "--json")
    assert result.exit_code == 1
    [orders, customers] = json.loads(result.stdout)["tables"]
    assert orders["problems"] == ["newest export is 40.0h old (limit 30h)"]
    assert customers["problems"] == []


def test_status_missing_table_is_unprotected(aws: None, tmp_path: Path) -> None:
    ctx = make_account()
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.update_table(TableName="customers", DeletionProtectionEnabled=False)
    ddb.delete_table(TableName="customers")
    add_export(ctx.tables[0], [item(1)], age_hours=1, now=datetime.now(UTC))
    result = _run(project_with_stack(tmp_path), "status", "prod", "--json")
    assert result.exit_code == 1
    customers = json.loads(result.stdout)["tables"][1]
    assert customers["exists"] is False
    assert customers["problems"] == ["table does not exist", "no complete export in the vault"]


def test_status_lists_the_tables_alarms_in_alarm(healthy: Path) -> None:
    cw = boto3.client("cloudwatch", region_name=REGION)
    for name in ("safetynet-prod-orders-items-dropped", "safetynet-prod-orders-archive-export-stale"):
        cw.put_metric_alarm(
            AlarmName=name,
            MetricName="ExportItemDropRatio",
            Namespace="safetynet",
            Statistic="Maximum",
            Period=3600,
            EvaluationPeriods=1,
            Threshold=0.2,
            ComparisonOperator="GreaterThanThreshold",
        )
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="drop of 60%")
    doc = json.loads(_run(healthy, "status", "prod", "--json").stdout)
    # Only orders' own alarm: orders-archive's shares the prefix but is another table's.
    assert doc["tables"][0]["alarms"] == [{"name": "safetynet-prod-orders-items-dropped", "reason": "drop of 60%"}]


def test_status_reports_the_watch_itself_impaired(healthy: Path) -> None:
    # Given alerts could not be delivered (DisasterWatch's own alarm)
    cw = boto3.client("cloudwatch", region_name=REGION)
    cw.put_metric_alarm(
        AlarmName="safetynet-prod-alerts-undelivered",
        MetricName="ApproximateNumberOfMessagesVisible",
        Namespace="AWS/SQS",
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cw.set_alarm_state(AlarmName="safetynet-prod-alerts-undelivered", StateValue="ALARM", StateReason="3 messages")
    # When status runs / Then it shows the alarm (the tables themselves are fine: exit 0)
    result = _run(healthy, "status", "prod")
    assert result.exit_code == 0
    assert "ALARM safetynet-prod-alerts-undelivered: 3 messages" in _flat(result.output)
    doc = json.loads(_run(healthy, "status", "prod", "--json").stdout)
    assert doc["stackAlarms"] == [{"name": "safetynet-prod-alerts-undelivered", "reason": "3 messages"}]


def test_status_without_vault_bucket_exits_2(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFETYNET_VAULT_BUCKET", raising=False)
    result = runner.invoke(app, ["status", "prod", "--project-dir", str(project_with_stack(tmp_path))])
    assert result.exit_code == 2
    assert "pulumi stack output vaultBucketName" in _flat(result.stderr)


def test_status_unknown_stack_exits_2(tmp_path: Path) -> None:
    result = _run(project_with_stack(tmp_path), "status", "staging")
    assert result.exit_code == 2
    assert "Pulumi.staging.yaml not found" in _flat(result.stderr)


# -- drill ------------------------------------------------------------------------------------


def test_drill_passes_and_status_then_shows_it(healthy: Path) -> None:
    result = _run(healthy, "drill", "prod", "--table", "orders", "--poll-seconds", "0.02")
    assert result.exit_code == 0, result.output
    assert "PASS orders" in result.output and "restored 8 of 8 items (ImportTable)" in result.output
    status = json.loads(_run(healthy, "status", "prod", "--json").stdout)
    assert status["tables"][0]["drill"]["ok"] is True
    assert status["tables"][0]["freshness"]["restoreAgeHours"] is not None


def test_drill_every_table_by_default_with_batch_write(healthy: Path) -> None:
    result = _run(healthy, "drill", "prod", "--load", "batch-write", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(d["table"], d["ok"], d["loadedWith"]) for d in doc["drills"]] == [
        ("orders", True, "BatchWriteItem"),
        ("customers", True, "BatchWriteItem"),
    ]


def test_drill_fails_loudly_on_a_corrupt_export(healthy: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    from handlers.exports import list_exports

    [(ref, _)] = list_exports(s3, VAULT, "exports/customers/")
    corrupt_first_data_file(ref)
    result = _run(healthy, "drill", "prod", "--poll-seconds", "0.02")
    assert result.exit_code == 1
    assert "PASS orders" in result.output
    assert "FAIL customers" in result.output and "is not restorable" in result.output


def test_drill_unknown_table_exits_2(healthy: Path) -> None:
    result = _run(healthy, "drill", "prod", "--table", "nope")
    assert result.exit_code == 2
    assert "unknown table 'nope'; this stack protects: orders, customers" in _flat(result.stderr)

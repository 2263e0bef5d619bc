"""`safetynet cost -s STACK`: offline when every input is an option, measured on moto otherwise
(DescribeTable; CloudWatch's ConsumedWriteCapacityUnits), tables that fit 80 columns, JSON with
camelCase keys, and every expected failure as one message with its exit code."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from botocore.exceptions import ClientError
from rich.console import Console
from typer.testing import CliRunner

from safetynet.commands.cost import cost
from safetynet.cost.inputs import chain_for, vault_of
from safetynet.cost.model import Chain, TableLoad, Vault, estimate
from safetynet.cost.prices import DEFAULT_PRICES
from safetynet.cost.report import Estimate, TableRow, render
from tests.support.restore_fixtures import REGION, client, copy_project, create_table, prod_config
from tests.support.stacks import PROJECT_DIR

runner = CliRunner()
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command(name="cost")(cost)


@app.callback()
def _root() -> None:
    """The command on its own (safetynet/cli.py registers it for users)."""


def run(*args: str, project: Path) -> Any:
    return runner.invoke(app, ["cost", *args, "--project-dir", str(project)], env={"COLUMNS": "80"})


STACK_FILE = """\
config:
  aws:region: eu-central-1
  safetynet:environment: prod
  safetynet:tables:
    - name: orders
      hashKey: {name: customerId, type: S}
      rangeKey: {name: orderId, type: S}
    - name: customers
      hashKey: {name: customerId, type: S}
    - name: inventory
      hashKey: {name: sku, type: S}
      rangeKey: {name: warehouse, type: N}
  safetynet:backup:
    retentionDays: 90
    coldStorageAfterDays: 30
"""
"""The figures below are for these settings (not the shipped stack's, which may change): nightly
exports kept 90 days (+30 noncurrent), Glacier IR after 30, no chain, no replica."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project whose Pulumi.prod.yaml is STACK_FILE."""
    copy = copy_project(tmp_path)
    (copy / "Pulumi.prod.yaml").write_text(STACK_FILE)
    return copy


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any client the command asks for fails the test: the estimate must not need AWS."""

    def refuse(self: Any, service: str) -> Any:
        raise AssertionError(f"the command created a {service} client")

    monkeypatch.setattr("safetynet.commands.common.Clients.get", refuse)


def test_every_input_as_an_option_needs_no_aws(project: Path, no_aws: None) -> None:
    result = run("-s", "prod", "--table-size", "10", "--writes-per-second", "1", "--every", "15m", project=project)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    # per table: 2.00 PITR, 30.00 exports, 2.8125 chain, 10.67 vault (test_model's small table)
    orders = next(line for line in lines if line.strip().startswith("orders") and "2.81" in line)
    assert orders.split() == ["orders", "2.00", "30.00", "2.81", "10.67", "0.00", "45.49"]
    total = next(line for line in lines if line.strip().startswith("total") and "136.46" in line)
    assert total.split() == ["total", "6.00", "90.00", "8.44", "32.02", "0.00", "136.46"]
    assert "- AWS Backup: every DynamoDB backup is a full copy" in result.stdout


def test_the_positional_stack_and_per_table_values(project: Path, no_aws: None) -> None:
    result = run("prod", "--table-size", "1", "--table-size", "orders=100", "--json", project=project)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    sizes = {t["table"]: t["sizeGb"] for t in doc["tables"]}
    assert sizes == {"orders": 100, "customers": 1, "inventory": 1}
    # no chain configured: the write rate changes nothing and is not asked for
    assert {t["writesSource"] for t in doc["tables"]} == {"not needed"}
    assert any(line.startswith("No incremental chain") for line in doc["assumptions"])


def test_json_has_camel_case_keys_and_the_models_figures(project: Path, no_aws: None) -> None:
    result = run(
        "-s", "prod", "--table-size", "10", "--writes-per-second", "1", "--every", "15m", "--json", project=project
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    expected = estimate(TableLoad(10, 1), Chain(15), Vault(30, 90, 30, cold_after_days=30), DEFAULT_PRICES)
    orders = doc["tables"][0]
    assert orders["table"] == "orders" and orders["sizeSource"] == "option"
    assert orders["chain"] == {
        "everyMinutes": 15,
        "view": "NEW_AND_OLD_IMAGES",
        "windowsPerMonth": 2880.0,
        "changedGbPerWindow": pytest.approx(921_600 / 2**30),
    }
    assert orders["costs"]["incrementalExports"] == pytest.approx(2.8125)
    assert orders["costs"]["total"] == pytest.approx(expected.total, abs=1e-4)
    assert orders["awsBackup"] == {"hourly": 2160.0, "daily": 90.0}
    assert doc["total"]["total"] == pytest.approx(3 * expected.total, abs=1e-3)
    assert doc["pricesAsOf"] == "2026-11-30" and doc["vault"]["coldClass"] == "GLACIER_IR"
    assert all("_" not in key for key in _keys(doc))
    assert result.stderr == ""


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for k, v in value.items() for k in (k, *_keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


def test_the_tables_fit_80_columns_with_long_names_and_big_figures() -> None:
    vault = Vault(30, 3650, 30, cold_after_days=30, cold_class="DEEP_ARCHIVE", replica=True)
    rows = [
        TableRow(
            name=f"a-very-long-table-name-of-the-payments-team-{i}",
            physical_name=f"physical-{i}",
            load=TableLoad(50_000, 20_000),
            size_source="DescribeTable",
            writes_source="CloudWatch",
            item_count=10**9,
            chain=Chain(15),
            protected=True,
            cost=estimate(TableLoad(50_000, 20_000), Chain(15), vault, DEFAULT_PRICES),
        )
        for i in range(3)
    ]
    out = io.StringIO()
    render(Estimate("prod", REGION, vault, DEFAULT_PRICES, rows, chain_configured=True), Console(file=out, width=80))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    # AWS Backup hourly, in full: 50,000 GB x 24 x 3,650 backups x 0.10 = 438,000,000, twice (replica
    # copies) + 50,000 GB x 720 copies x 0.02 transfer = 720,000 -> 876,720,000 a table
    assert "876,720,000" in text and "2,630,160,000" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--table-size", "x=1"], "--table-size x=1: the stack has no table 'x'"),
        (["--writes-per-second", "-3", "--table-size", "1"], "must be a number >= 0"),
        (["--every", "45m", "--table-size", "1"], "--every 45m: write one of 15m, 30m, 1h"),
        ([], "which stack?"),
    ],
)
def test_usage_errors_exit_2_with_one_message(project: Path, no_aws: None, args: list[str], message: str) -> None:
    stack = ["-s", "prod"] if args else []
    result = run(*stack, *args, project=project)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_a_prices_file_changes_the_figures(project: Path, tmp_path: Path, no_aws: None) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("asOf: 2027-01-01\nexportGb: 0.2\n")
    result = run("-s", "prod", "--table-size", "10", "--prices", str(prices), "--json", project=project)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["pricesAsOf"] == "2027-01-01"
    assert doc["tables"][0]["costs"]["fullExports"] == pytest.approx(30 * 10 * 0.2)
    assert "--prices" in doc["assumptions"][0]


@pytest.mark.parametrize(
    ("text", "message"),
    [("exportGB: 0.2\n", "exportGB: unknown key"), ("pitrGbMonth: -1\n", "pitrGbMonth: Input should be greater")],
)
def test_a_bad_prices_file_exits_2_naming_the_key(
    project: Path, tmp_path: Path, no_aws: None, text: str, message: str
) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(text)
    result = run("-s", "prod", "--table-size", "10", "--prices", str(prices), project=project)
    assert result.exit_code == 2
    assert message in result.stderr and str(prices) in result.stderr.replace("\n", "")


def test_a_cold_class_without_a_price_exits_2(project: Path, no_aws: None) -> None:
    (project / "Pulumi.prod.yaml").write_text(STACK_FILE + "    coldStorageClass: ONEZONE_IA\n")
    result = run("-s", "prod", "--table-size", "10", project=project)
    assert result.exit_code == 2
    assert "s3GbMonth.ONEZONE_IA" in result.stderr


def test_a_test_stack_is_refused(no_aws: None) -> None:
    result = run("-s", "test", "--table-size", "10", project=PROJECT_DIR)
    assert result.exit_code == 2
    assert "is a test stack" in result.stderr


def test_the_shipped_prod_stack_brings_its_chain_and_replica(no_aws: None) -> None:
    result = run("-s", "prod", "--table-size", "10", "--writes-per-second", "1", "--json", project=PROJECT_DIR)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    cfg = prod_config(PROJECT_DIR)
    vault = vault_of(cfg)
    for spec, row in zip(cfg.tables, doc["tables"], strict=True):
        chain = chain_for(cfg, spec)
        assert (row["chain"] or {}).get("everyMinutes") == (chain.every_minutes if chain else None)
        assert row["costs"]["total"] == pytest.approx(
            estimate(TableLoad(10, 1), chain, vault, DEFAULT_PRICES).total, abs=1e-4
        )
        assert (row["costs"]["replication"] > 0) == vault.replica


# -- measured on moto -----------------------------------------------------------------------


@pytest.fixture
def account(aws: None, project: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The prod stack's three tables in moto (eu-central-1). moto reports TableSizeBytes 0 (AWS
    updates it about every six hours); here it reports the sizes DynamoDB would, per table."""
    from moto.dynamodb.models.table import Table

    cfg = prod_config(project)
    sizes = {"orders": 5 * 2**30, "customers": 2**30, "inventory": 2**29}
    for logical in sizes:
        create_table(cfg, logical)
    describe = Table.describe

    def with_size(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = describe(self, *args, **kwargs)
        out["Table"]["TableSizeBytes"] = sizes[self.name]
        out["Table"]["ItemCount"] = sizes[self.name] // 1024
        return out

    monkeypatch.setattr(Table, "describe", with_size)
    return sizes


def put_writes(table: str, units_per_second: float, days: float = 7) -> None:
    """What DynamoDB publishes: ConsumedWriteCapacityUnits of the table, one sum per hour."""
    now = datetime.now(UTC)
    per_hour = units_per_second * 3600
    data = [
        {
            "MetricName": "ConsumedWriteCapacityUnits",
            "Dimensions": [{"Name": "TableName", "Value": table}],
            "Timestamp": now - timedelta(hours=h + 1),
            "Value": per_hour,
        }
        for h in range(int(days * 24) - 1)
    ]
    cw = client("cloudwatch")
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace="AWS/DynamoDB", MetricData=data[i : i + 500])


def test_sizes_from_describe_table_and_writes_from_cloudwatch(account: dict[str, int], project: Path) -> None:
    for table, rate in (("orders", 20.0), ("customers", 2.0), ("inventory", 0.5)):
        put_writes(table, rate)
    result = run("-s", "prod", "--every", "1h", "--json", project=project)
    assert result.exit_code == 0, result.output
    doc = {t["table"]: t for t in json.loads(result.stdout)["tables"]}
    assert doc["orders"]["sizeGb"] == 5 and doc["orders"]["sizeSource"] == "DescribeTable"
    assert doc["orders"]["itemCount"] == 5 * 2**20
    assert doc["inventory"]["sizeGb"] == 0.5
    # 167 hourly sums of 72,000 units over the 7-day window: 167 x 72,000 / 604,800 s = 19.88 units/s
    assert doc["orders"]["writesSource"] == "CloudWatch"
    assert doc["orders"]["writesPerSecond"] == pytest.approx(167 * 72_000 / 604_800)
    # 19.88 units/s x 3,600 s x 1,024 B = 0.0683 GB per window, above the 10 MB minimum
    assert doc["orders"]["costs"]["incrementalExports"] == pytest.approx(
        720 * 167 * 72_000 / 604_800 * 3600 * 1024 / 2**30 * 0.10, abs=1e-4
    )


def test_an_option_replaces_the_measurement_of_its_table_only(account: dict[str, int], project: Path) -> None:
    put_writes("customers", 2.0)
    put_writes("inventory", 2.0)
    options = ["--table-size", "orders=7", "--writes-per-second", "orders=3"]
    result = run("-s", "prod", "--every", "1h", *options, "--json", project=project)
    assert result.exit_code == 0, result.output
    doc = {t["table"]: t for t in json.loads(result.stdout)["tables"]}
    assert (doc["orders"]["sizeGb"], doc["orders"]["sizeSource"]) == (7, "option")
    assert (doc["orders"]["writesPerSecond"], doc["orders"]["writesSource"]) == (3, "option")
    assert doc["customers"]["sizeSource"] == "DescribeTable" and doc["customers"]["writesSource"] == "CloudWatch"


def test_no_write_metrics_is_said_not_printed_as_zero(account: dict[str, int], project: Path) -> None:
    put_writes("orders", 1.0)
    result = run("-s", "prod", "--every", "15m", project=project)
    assert result.exit_code == 1
    err = result.stderr.replace("\n", "")
    assert "no write metrics for customers, inventory" in err
    assert "pass --writes-per-second" in err
    assert result.stdout == "" and "Traceback" not in result.output


def test_without_a_chain_no_write_rate_is_read(account: dict[str, int], project: Path) -> None:
    result = run("-s", "prod", project=project)
    assert result.exit_code == 0, result.output
    assert "(no chain)" in result.stdout
    assert "5.0" in result.stdout and "DescribeTable" in result.stdout


def test_a_table_that_does_not_exist(aws: None, project: Path) -> None:
    result = run("-s", "prod", project=project)
    assert result.exit_code == 1
    assert "table orders does not exist in eu-central-1: pass --table-size orders=GB" in result.stderr.replace("\n", "")


def test_access_denied_is_one_paragraph(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(ddb: Any, physical: str) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "DescribeTable")

    monkeypatch.setattr("safetynet.cost.measure.table_size", denied)
    result = run("-s", "prod", project=project)
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    assert err.startswith("cost: access denied (region eu-central-1): AccessDeniedException: not allowed")
    assert "dynamodb:DescribeTable" in err and "cloudwatch:GetMetricStatistics" in err
    assert "Traceback" not in result.output

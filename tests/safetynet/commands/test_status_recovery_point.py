"""`safetynet status`: each table's recovery point (the newest full export and the contiguous chain
of incremental exports after it), in text and camelCase JSON, and where the chain breaks. moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from handlers.exports.incremental import Change
from handlers.exports.writer import write_incremental_export
from safetynet.cli import app
from tests.support.watch_fixtures import REGION, VAULT, add_export, customer, item, make_account, project_with_stack

runner = CliRunner()


def window(table: Any, start: datetime, hours: float = 1.0) -> datetime:
    """An incremental export of [start, start + hours) with one changed order; returns its end."""
    end = start + timedelta(hours=hours)
    write_incremental_export(
        boto3.client("s3", region_name=REGION),
        bucket=VAULT,
        prefix=table.export_prefix,
        table_arn=table.arn,
        changes=[
            Change(
                keys={"customerId": {"S": "c-1"}, "orderId": {"S": f"o-{start:%H%M}"}},
                new_image={"customerId": {"S": "c-1"}, "orderId": {"S": f"o-{start:%H%M}"}, "v": {"N": "1"}},
                old_image=None,
                write_micros=int(start.timestamp() * 1_000_000) + 1,
            )
        ],
        export_from_time=start,
        export_to_time=end,
    )
    return end


@pytest.fixture
def account(aws: None, tmp_path: Path) -> dict[str, Any]:
    """orders: a full export 3h ago and two contiguous hourly windows after it (recovery point 1h
    ago); customers: a full export 2h ago only."""
    ctx = make_account()
    now = datetime.now(UTC).replace(microsecond=0)
    orders, customers = ctx.tables
    full = add_export(orders, [item(i) for i in range(3)], age_hours=3, now=now)
    anchor = now - timedelta(hours=3)
    end = window(orders, window(orders, anchor))
    add_export(customers, [customer(i) for i in range(2)], age_hours=2, now=now)
    return {"project": project_with_stack(tmp_path), "orders": orders, "full": full, "end": end, "now": now}


def status(project: Path, *args: str) -> Any:
    argv = ["status", "-s", "prod", "--project-dir", str(project), "--vault-bucket", VAULT, *args]
    return runner.invoke(app, argv, env={"COLUMNS": "250"})


def test_the_json_carries_each_tables_recovery_point_in_camel_case(account: dict[str, Any]) -> None:
    result = status(account["project"], "--json")
    assert result.exit_code == 0, result.output
    orders, customers = json.loads(result.stdout)["tables"]
    point = orders["recoveryPoint"]
    assert point["time"] == account["end"].isoformat()
    assert point["fullExportId"] == account["full"].export_id and point["incrementalExports"] == 2
    assert 0.9 < point["ageHours"] < 1.1 and "gap" not in point
    assert customers["recoveryPoint"]["incrementalExports"] == 0
    assert customers["recoveryPoint"]["time"] == (account["now"] - timedelta(hours=2)).isoformat()
    # one key style everywhere: no snake_case key at any depth
    keys: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            keys.extend(value)
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    collect(json.loads(result.stdout))
    assert [k for k in keys if "_" in k] == []
    assert {"physicalName", "deletionProtection", "recoveryPoint", "checkedAt", "stackAlarms"} <= set(keys)


def test_a_gap_in_the_chain_is_named_and_the_point_stops_before_it(account: dict[str, Any]) -> None:
    # Given a window that starts an hour after the chain's end
    later = window(account["orders"], account["end"] + timedelta(hours=1), hours=0.5)
    result = status(account["project"], "--json")
    point = json.loads(result.stdout)["tables"][0]["recoveryPoint"]
    assert point["time"] == account["end"].isoformat() and point["incrementalExports"] == 2
    assert point["gap"] == {
        "kind": "gap",
        "after": account["end"].isoformat(),
        "nextStart": (later - timedelta(hours=0.5)).isoformat(),
    }
    text = " ".join(status(account["project"]).output.split())
    assert f"chain breaks after {account['end'].isoformat()} (gap)" in text


def test_the_text_shows_the_recovery_point(account: dict[str, Any]) -> None:
    result = status(account["project"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "recovery point" in line)
    assert account["end"].isoformat() in row and f"full export {account['full'].export_id} + 2" in " ".join(
        result.output.split()
    )


def test_status_lists_the_recent_rewinds_from_the_vaults_audit_trail(account: dict[str, Any]) -> None:
    """A rewind's summary.json in the vault (what `safetynet rewind` writes) is listed, newest
    first, in text and JSON; dry runs write nothing and so are not listed."""
    s3 = boto3.client("s3", region_name=REGION)
    for run, reverted in (("20261130T010000Z-aaaaaa", 3), ("20261130T020000Z-bbbbbb", 330)):
        summary = {
            "stack": "prod",
            "physicalName": "orders",
            "window": {"from": "2026-11-30T00:50:00Z", "to": "2026-11-30T00:55:00Z"},
            "status": "completed",
            "byOutcome": {"reverted": reverted, "conflict": 20, "failed": 0},
        }
        s3.put_object(
            Bucket=VAULT,
            Key=f"rewinds/orders/20261130T005000.000000Z_20261130T005500.000000Z/runs/{run}/summary.json",
            Body=json.dumps(summary).encode(),
        )
    result = status(account["project"], "--json")
    assert result.exit_code == 0, result.output
    rewinds = json.loads(result.stdout)["recentRewinds"]
    assert [r["byOutcome"]["reverted"] for r in rewinds] == [330, 3]
    assert rewinds[0]["auditUrl"].endswith("/runs/20261130T020000Z-bbbbbb/")
    text = status(account["project"])
    assert "recent rewinds" in text.stdout
    assert "orders 2026-11-30T00:50:00Z .. 2026-11-30T00:55:00Z: completed, 330 reverted, 20 conflicts" in text.stdout

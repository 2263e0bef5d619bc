"""The drill's state machine run end to end (a test interpreter of the definition, its tasks
the real Lambda handlers, its aws-sdk calls against moto): data flows between the states."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from components.drill_sfn import drill_definition
from handlers import watch_aws, watch_lambdas
from handlers.watch_aws import read_drill_record
from handlers.watch_model import WATCH_ENV, WatchContext
from tests import asl_sim
from tests.test_watch_entrypoints import LAMBDA_CONTEXT
from tests.watch_fixtures import REGION, VAULT, add_export, corrupt_first_data_file, fill, item, make_account

PREPARE = "arn:aws:lambda:us-east-1:123456789012:function:drill-prepare"
VERIFY = "arn:aws:lambda:us-east-1:123456789012:function:drill-verify"
DEFINITION = drill_definition(prepare_arn=PREPARE, verify_arn=VERIFY)


@pytest.fixture
def deployed(aws: None, monkeypatch: pytest.MonkeyPatch) -> WatchContext:
    ctx = make_account(drill_sample_size=4)
    monkeypatch.setenv(WATCH_ENV, ctx.to_json())
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(watch_lambdas, "_CONTEXT", None)
    watch_aws.client.cache_clear()
    items = [item(i) for i in range(9)]
    fill(ctx.tables[0], items)
    add_export(ctx.tables[0], items, age_hours=3)
    return ctx


def _execute() -> tuple[dict[str, Any], list[str]]:
    return asl_sim.run(
        DEFINITION,
        {"table": "orders"},
        lambdas={
            PREPARE: lambda p: watch_lambdas.drill_prepare_handler(p, LAMBDA_CONTEXT),
            VERIFY: lambda p: watch_lambdas.drill_verify_handler(p, LAMBDA_CONTEXT),
        },
        clients={"dynamodb": boto3.client("dynamodb", region_name=REGION)},
    )


def _record() -> dict[str, Any]:
    rec = read_drill_record(boto3.client("s3", region_name=REGION), VAULT, "orders")
    assert rec is not None
    return rec


def test_good_export_passes_through_every_state(deployed: WatchContext) -> None:
    out, visited = _execute()
    assert visited[:4] == ["Prepare", "Unwrap", "StartImport", "WaitForImport"]
    assert visited[-4:] == ["Verify", "DeleteScratchTable", "Outcome", "DrillPassed"]
    assert out["result"]["value"]["ok"] is True
    assert out["result"]["value"]["imported_item_count"] == 9
    assert _record()["ok"] is True
    assert sorted(boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]) == [
        "customers",
        "orders",
    ]


def test_corrupt_export_fails_the_execution_and_is_recorded(deployed: WatchContext) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    corrupt_first_data_file(watch_aws.vault_exports(s3, VAULT, "exports/orders")[0][0])
    with pytest.raises(asl_sim.ExecutionFailed) as exc:
        _execute()
    assert exc.value.error == "RestoreDrillFailed"
    assert exc.value.state["error"]["Error"] == "DrillError"
    rec = _record()
    assert rec["ok"] is False and "is not restorable" in rec["problems"][0]


def test_failed_import_still_deletes_the_scratch_table(deployed: WatchContext, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given DynamoDB reports the import FAILED (moto fails items it cannot parse)
    real = watch_lambdas.drill_prepare_handler

    def prepare_wrong_format(event: Any, context: Any) -> dict[str, Any]:
        plan = real(event, context)
        plan["importRequest"]["InputCompressionType"] = "NONE"  # gzip bytes read as text: unparseable
        return plan

    monkeypatch.setattr(watch_lambdas, "drill_prepare_handler", prepare_wrong_format)
    # When the drill runs
    with pytest.raises(asl_sim.ExecutionFailed) as exc:
        _execute()
    # Then it failed, recorded why, and the scratch table the import created is gone
    assert exc.value.error == "RestoreDrillFailed"
    assert any("import ended FAILED" in p or "imported" in p for p in _record()["problems"])
    assert sorted(boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]) == [
        "customers",
        "orders",
    ]

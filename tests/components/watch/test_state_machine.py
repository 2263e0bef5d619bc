"""The drill's state machine run end to end (a test interpreter of the definition, its tasks
the real Lambda handlers, its aws-sdk calls and the ValidateFiles map's ItemReader against moto):
data flows between the states, and a damaged data file's problems reach the drill record."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from components.watch.state_machine import drill_definition
from conventions.watch import WATCH_ENV, WatchContext
from handlers.watch import aws as watch_aws
from handlers.watch import entrypoints as watch_lambdas
from handlers.watch.aws import read_drill_record
from tests.support.asl_runner import Runner
from tests.support.watch_fixtures import (
    LAMBDA_CONTEXT,
    REGION,
    VAULT,
    add_export,
    corrupt_first_data_file,
    fill,
    item,
    make_account,
)

PREPARE = "arn:aws:lambda:us-east-1:123456789012:function:drill-prepare"
VALIDATE_FILE = "arn:aws:lambda:us-east-1:123456789012:function:drill-validate-file"
VERIFY = "arn:aws:lambda:us-east-1:123456789012:function:drill-verify"
DEFINITION = drill_definition(prepare_arn=PREPARE, validate_file_arn=VALIDATE_FILE, verify_arn=VERIFY)


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


def _runner() -> Runner:
    return Runner(
        DEFINITION,
        functions={
            PREPARE: lambda p: watch_lambdas.drill_prepare_handler(p, LAMBDA_CONTEXT),
            VALIDATE_FILE: lambda p: watch_lambdas.drill_validate_file_handler(p, LAMBDA_CONTEXT),
            VERIFY: lambda p: watch_lambdas.drill_verify_handler(p, LAMBDA_CONTEXT),
        },
        s3=boto3.client("s3", region_name=REGION),
        ddb=boto3.client("dynamodb", region_name=REGION),
    )


def _machine_states(run: Runner) -> list[str]:
    """The drill machine's own states, in order (the map's child state left out)."""
    return [s for s in run.visited if s != "ValidateFile"]


def _record() -> dict[str, Any]:
    rec = read_drill_record(boto3.client("s3", region_name=REGION), VAULT, "orders")
    assert rec is not None
    return rec


def test_good_export_passes_through_every_state(deployed: WatchContext) -> None:
    run = _runner()
    status, out = run.run({"table": "orders"})
    assert status == "SUCCEEDED"
    visited = _machine_states(run)
    assert visited[:5] == ["Prepare", "Unwrap", "ValidateFiles", "StartImport", "WaitForImport"]
    # One ValidateFiles child per data file (9 items, 4 per file), each checked by its own task
    assert run.visited.count("ValidateFile") == 3 and run.child_errors == []
    assert visited[-4:] == ["Verify", "DeleteScratchTable", "Outcome", "DrillPassed"]
    assert out["result"]["value"]["ok"] is True
    assert out["result"]["value"]["imported_item_count"] == 9
    assert _record()["ok"] is True
    assert sorted(boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]) == [
        "customers",
        "orders",
    ]


def test_damaged_data_file_fails_the_map_and_its_problems_reach_the_record(deployed: WatchContext) -> None:
    # Given the latest export's first data file no longer matches its MD5 (manifests still fine)
    s3 = boto3.client("s3", region_name=REGION)
    ref = watch_aws.vault_exports(s3, VAULT, "exports/orders")[0][0]
    key = corrupt_first_data_file(ref)
    # When the drill runs
    run = _runner()
    status, out = run.run({"table": "orders"})
    # Then the child rejected that file by name, the map failed with only AWS's generic error,
    # the failure was recorded without an import, and the record says which file and why
    assert status == "FAILED" and out["Error"] == "RestoreDrillFailed"
    assert run.child_errors[0].error == "DataFileRejected" and key in run.child_errors[0].cause
    assert ("ValidateFiles", "States.ExceedToleratedFailureThreshold") in run.caught
    assert "StartImport" not in run.visited
    assert run.visited[-2:] == ["RecordPrepareFailure", "DrillFailed"]
    [problem] = _record()["problems"]
    assert problem.startswith(f"the latest export {ref.url} is not restorable: ")
    assert f"data file s3://{VAULT}/{key} MD5 mismatch" in problem
    assert _record()["ok"] is False


def test_manifest_problem_fails_in_prepare_before_any_file_is_read(deployed: WatchContext) -> None:
    # Given a newer export whose summary names another table
    add_export(deployed.tables[0], [item(1)], age_hours=1, table_arn=deployed.tables[1].arn)
    run = _runner()
    assert run.run({"table": "orders"})[0] == "FAILED"
    # Then Prepare rejected it (no map run) and the record names the wrong source table
    assert run.visited == ["Prepare", "RecordPrepareFailure", "DrillFailed"]
    [problem] = _record()["problems"]
    assert problem.startswith("DrillError: the latest export") and deployed.tables[1].arn in problem


def test_failed_import_still_deletes_the_scratch_table(deployed: WatchContext, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given DynamoDB reports the import FAILED (moto fails items it cannot parse)
    real = watch_lambdas.drill_prepare_handler

    def prepare_wrong_format(event: Any, context: Any) -> dict[str, Any]:
        plan = real(event, context)
        plan["importRequest"]["InputCompressionType"] = "NONE"  # gzip bytes read as text: unparseable
        return plan

    monkeypatch.setattr(watch_lambdas, "drill_prepare_handler", prepare_wrong_format)
    # When the drill runs
    status, out = _runner().run({"table": "orders"})
    # Then it failed, recorded why, and the scratch table the import created is gone
    assert status == "FAILED" and out["Error"] == "RestoreDrillFailed"
    assert any("import ended FAILED" in p or "imported" in p for p in _record()["problems"])
    assert sorted(boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]) == [
        "customers",
        "orders",
    ]

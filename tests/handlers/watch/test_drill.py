"""The restore drill: passes on a good export (moto's ImportTable and the BatchWriteItem path),
fails loudly on a corrupt one, never leaves a scratch table behind, records its outcome."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.validate import validate_parameters

from conventions.watch import WatchContext
from handlers.watch import drill
from handlers.watch.aws import read_drill_record
from handlers.watch.drill import SampleResult, judge, run_drill
from tests.support.watch_fixtures import (
    NOW,
    REGION,
    VAULT,
    add_export,
    corrupt_first_data_file,
    fill,
    item,
    make_account,
)


def _clients() -> dict[str, Any]:
    return {
        "ddb": boto3.client("dynamodb", region_name=REGION),
        "s3": boto3.client("s3", region_name=REGION),
        "cw": boto3.client("cloudwatch", region_name=REGION),
    }


def _drill(ctx: WatchContext, **kwargs: Any) -> tuple[drill.DrillResult, str]:
    return run_drill(ctx, "orders", **_clients(), poll_seconds=0.02, clock=lambda: NOW, **kwargs)


def _tables() -> list[str]:
    return boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]


@pytest.fixture
def good(aws: None) -> WatchContext:
    """orders holds 10 items, and its latest export has the same 10."""
    ctx = make_account(drill_sample_size=5)
    items = [item(i) for i in range(10)]
    fill(ctx.tables[0], items)
    add_export(ctx.tables[0], items[:3], age_hours=30)
    add_export(ctx.tables[0], items, age_hours=4)
    return ctx


def test_drill_passes_on_a_good_export_with_import_table(good: WatchContext) -> None:
    # When the drill runs through moto's ImportTable
    result, method = _drill(good)
    # Then the import matched the manifest, the sample matched the live table, and it passed
    assert result.ok, result.problems
    assert method == "ImportTable"
    assert (result.expected_item_count, result.imported_item_count) == (10, 10)
    assert result.sample == SampleResult(sampled=5, equal=5, changed=0, missing=[])
    # And no scratch table is left behind
    assert sorted(_tables()) == ["customers", "orders"]


def test_drill_can_run_again(good: WatchContext) -> None:
    # Given a drill already ran (its scratch table is gone, its import token used)
    first, _ = _drill(good)
    # When it runs again an hour later / Then it imports afresh and passes again
    again, _ = run_drill(good, "orders", **_clients(), poll_seconds=0.02, clock=lambda: NOW + timedelta(hours=1))
    assert first.ok and again.ok, again.problems
    assert again.imported_item_count == 10


def test_scratch_table_names_are_valid_and_distinct() -> None:
    a = drill.scratch_table_name("x" * 255, "01795762800000-99a9fa31", NOW)
    b = drill.scratch_table_name("orders", "01795762800000-99a9fa31", NOW + timedelta(seconds=1))
    assert (
        len(a) == 255 and a.startswith("safetynet-drill-x") and a.endswith("-01795762800000-99a9fa31-20261127T120000")
    )
    assert b == "safetynet-drill-orders-01795762800000-99a9fa31-20261127T120001"


def test_drill_passes_with_batch_write_loading(good: WatchContext) -> None:
    result, method = _drill(good, use_import=False)
    assert result.ok, result.problems
    assert method == "BatchWriteItem"
    assert result.imported_item_count == 10
    assert sorted(_tables()) == ["customers", "orders"]


def test_successful_drill_is_recorded_and_published(good: WatchContext) -> None:
    result, _ = _drill(good)
    rec = read_drill_record(boto3.client("s3", region_name=REGION), VAULT, "orders")
    assert rec is not None
    assert rec["ok"] is True and rec["lastSuccessAt"] == NOW.isoformat()
    assert rec["lastSuccessExportId"] == result.export_id
    metrics = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="safetynet")["Metrics"]
    assert {m["MetricName"] for m in metrics} == {"DrillSucceeded", "LastVerifiedRestoreAgeHours"}


def test_drill_fails_loudly_on_a_corrupt_latest_export(good: WatchContext) -> None:
    # Given the latest export's first data file no longer matches its checksum
    ref = drill.vault_exports(boto3.client("s3", region_name=REGION), VAULT, "exports/orders")[0][0]
    key = corrupt_first_data_file(ref)
    # When the drill runs
    result, method = _drill(good)
    # Then it fails, names the export and the damaged file, and never fell back to the older export
    assert not result.ok
    assert method == "none"
    [problem] = result.problems
    assert problem.startswith(f"the latest export {ref.url} is not restorable")
    assert key.rsplit("/", 1)[-1] in problem
    assert sorted(_tables()) == ["customers", "orders"]


def test_failed_drill_keeps_the_last_success(good: WatchContext) -> None:
    # Given a successful drill, then a corrupt newer export
    _drill(good)
    newer = add_export(good.tables[0], [item(i) for i in range(10)], age_hours=1)
    corrupt_first_data_file(newer)
    # When the drill runs again
    result, _ = _drill(good)
    # Then the record shows the failure but still knows when a restore last worked
    rec = read_drill_record(boto3.client("s3", region_name=REGION), VAULT, "orders")
    assert rec is not None
    assert not result.ok and rec["ok"] is False
    assert rec["lastSuccessAt"] == NOW.isoformat()


def test_export_of_other_data_fails_the_sample(aws: None) -> None:
    # Given a live table whose keys are not those of the export
    ctx = make_account(drill_sample_size=4)
    fill(ctx.tables[0], [item(i) for i in range(100, 110)])
    add_export(ctx.tables[0], [item(i) for i in range(10)], age_hours=2)
    # When drilled / Then the sample check fails it
    result, _ = _drill(ctx)
    assert not result.ok
    assert result.problems == [
        "4 of 4 sampled keys are not in the live table: the export is not of this table, "
        "or the table lost most of its items since the export"
    ]


def test_no_export_fails_with_the_place_it_looked(aws: None) -> None:
    ctx = make_account()
    result, _ = _drill(ctx)
    assert not result.ok
    assert "no export of orders under s3://vault-bucket-test/exports/orders/" in result.problems[0]


# -- the pure verdict -------------------------------------------------------------------------


def test_count_mismatch_fails() -> None:
    desc = {"ImportStatus": "COMPLETED", "ImportedItemCount": 9, "ErrorCount": 0}
    r = judge("orders", export_id="e", expected=10, import_description=desc, sample=SampleResult(1, 1))
    assert r.problems == ["imported 9 items but the manifest says 10"]


def test_failed_import_fails_with_its_reason() -> None:
    desc = {"ImportStatus": "FAILED", "ImportedItemCount": 0, "ErrorCount": 3, "FailureMessage": "bad line"}
    r = judge("orders", export_id="e", expected=0, import_description=desc, sample=None)
    assert r.problems == ["import ended FAILED: bad line", "3 items could not be imported"]


def test_changed_items_are_churn_not_failure() -> None:
    desc = {"ImportStatus": "COMPLETED", "ImportedItemCount": 4, "ErrorCount": 0}
    r = judge("orders", export_id="e", expected=4, import_description=desc, sample=SampleResult(4, 1, 3, []))
    assert r.ok


def test_nothing_to_sample_from_a_non_empty_export_fails() -> None:
    desc = {"ImportStatus": "COMPLETED", "ImportedItemCount": 4, "ErrorCount": 0}
    r = judge("orders", export_id="e", expected=4, import_description=desc, sample=SampleResult())
    assert r.problems == ["the scratch table returned no items to sample"]


# -- the Step Functions tasks ------------------------------------------------------------------


def test_prepare_plans_the_import_of_the_data_folder(good: WatchContext) -> None:
    plan = drill.prepare(good, "orders", s3=boto3.client("s3", region_name=REGION), now=NOW)
    req = plan["importRequest"]
    assert plan["scratchTable"].startswith("safetynet-drill-orders-")
    assert plan["expectedItemCount"] == 10
    assert req["S3BucketSource"] == {
        "S3Bucket": VAULT,
        "S3KeyPrefix": plan["exportUrl"][len(f"s3://{VAULT}/") :] + "data/",
    }
    assert req["InputCompressionType"] == "GZIP" and req["InputFormat"] == "DYNAMODB_JSON"
    assert req["TableCreationParameters"]["KeySchema"] == good.tables[0].key_schema
    # botocore's service model accepts it as ImportTable input
    model = boto3.client("dynamodb", region_name=REGION).meta.service_model.operation_model("ImportTable")
    validate_parameters(req, model.input_shape)


def test_verify_records_a_failure_caught_by_the_state_machine(good: WatchContext) -> None:
    # Given the state machine caught an ImportTable error
    state = {
        "table": "orders",
        "error": {"Error": "DynamoDB.LimitExceededException", "Cause": "too many imports"},
    }
    # When the Verify task runs
    out = drill.verify_from_state(good, state, **_clients(), now=NOW)
    # Then the drill failed with that error, and it is recorded
    assert out["ok"] is False
    assert out["problems"] == ["DynamoDB.LimitExceededException: too many imports"]
    rec = read_drill_record(boto3.client("s3", region_name=REGION), VAULT, "orders")
    assert rec is not None and rec["ok"] is False and rec["lastSuccessAt"] is None


def test_verify_after_a_completed_import_samples_the_scratch_table(good: WatchContext) -> None:
    c = _clients()
    plan = drill.prepare(good, "orders", s3=c["s3"], now=NOW)
    arn = c["ddb"].import_table(**plan["importRequest"])["ImportTableDescription"]["ImportArn"]
    desc = c["ddb"].describe_import(ImportArn=arn)["ImportTableDescription"]
    for _ in range(200):
        if desc["ImportStatus"] != "IN_PROGRESS":
            break
        desc = c["ddb"].describe_import(ImportArn=arn)["ImportTableDescription"]
    out = drill.verify_from_state(
        good, {"table": "orders", "prepare": plan, "importStatus": {"description": desc}}, **c, now=NOW
    )
    assert out["ok"], out["problems"]
    assert out["sample"]["sampled"] == 5

"""The staging state machine definition: valid ASL (asl-validator), and the promised shape."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.staging.state_machine import staging_definition

ROOT = Path(__file__).resolve().parents[3]
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
FN = "arn:aws:lambda:eu-central-1:123456789012:function:staging-task"
TOPIC = "arn:aws:sns:eu-central-1:123456789012:staging"


@pytest.fixture
def definition() -> dict[str, Any]:
    return staging_definition(function_arn=FN, topic_arn=TOPIC, max_concurrency=7)


def test_the_definition_passes_asl_validator(definition: dict[str, Any], tmp_path: Path) -> None:
    assert VALIDATOR.exists() and shutil.which("node"), "run `make setup` (npm ci installs asl-validator)"
    path = tmp_path / "staging.asl.json"
    path.write_text(json.dumps(definition))
    out = subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_asl_validator_rejects_a_broken_definition(definition: dict[str, Any], tmp_path: Path) -> None:
    # The check above can fail: a dangling Next is reported.
    definition["States"]["Validate"]["Next"] = "Nowhere"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(definition))
    out = subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 1


def test_order_is_resolve_claim_validate_files_mask_mode_verify_record_notify(definition: dict[str, Any]) -> None:
    s = definition["States"]
    assert definition["StartAt"] == "Resolve"
    assert s["Resolve"]["Next"] == "StagedHere?" and s["StagedHere?"]["Choices"][0]["Next"] == "Target"
    assert s["Target"]["Next"] == "Claim"
    assert s["Claim"]["Next"] == "Claimed?" and s["Claimed?"]["Default"] == "Skipped"
    assert s["Claimed?"]["Choices"][0]["Next"] == "Validate"
    # Every data file is checked (ValidateFiles) before masking or anything touching the table.
    assert s["Validate"]["Next"] == "ValidateFiles" and s["ValidateFiles"]["Next"] == "Masked?"
    assert s["MaskFiles"]["Next"] == "PublishMasked" and s["PublishMasked"]["Next"] == "Mode?"
    # Both modes count the table before Verify; refill sweeps in between.
    assert s["FinishReplace"]["Next"] == "PlanCount" and s["RefillFiles"]["Next"] == "PlanCount"
    assert s["PlanCount"]["Next"] == "CountTable" and s["CountTable"]["Next"] == "Counted?"
    assert s["Counted?"]["Choices"][0]["Next"] == "Sweep" and s["Counted?"]["Default"] == "Verify"
    assert s["Sweep"]["Next"] == "Swept?" and s["Swept?"]["Default"] == "Verify"
    assert s["Verify"]["Next"] == "RecordSuccess" and s["RecordSuccess"]["Next"] == "NotifySuccess"
    assert s["NotifySuccess"]["Resource"] == "arn:aws:states:::sns:publish"
    assert s["NotifySuccess"]["Parameters"]["TopicArn"] == TOPIC


@pytest.mark.parametrize(
    ("state", "task", "files"),
    [
        ("ValidateFiles", "validate_file", "$.plan.source"),
        ("MaskFiles", "mask_file", "$.plan.source"),
        ("RefillFiles", "refill_file", "$.plan.data"),
    ],
)
def test_data_files_go_through_a_bounded_distributed_map(
    definition: dict[str, Any], state: str, task: str, files: str
) -> None:
    m = definition["States"][state]
    assert m["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert m["MaxConcurrency"] == 7
    assert m["ItemReader"]["ReaderConfig"]["InputType"] == "JSONL"
    assert m["ItemReader"]["Parameters"]["Key.$"] == f"{files}.filesKey"
    assert m["ItemSelector"]["task"] == task and m["ItemSelector"]["file.$"] == "$$.Map.Item.Value"
    assert m["ToleratedFailurePercentage"] == 0
    assert m["Catch"][0]["ErrorEquals"] == ["States.ALL"] and m["Catch"][0]["Next"] == "RecordFailure"


def test_the_first_task_finds_the_exports_table_from_the_events_bucket_and_key_alone(
    definition: dict[str, Any],
) -> None:
    s = definition["States"]
    resolve = s["Resolve"]
    assert resolve["Resource"] == FN and resolve["ResultPath"] == "$.resolved"
    assert resolve["Parameters"] == {"task": "resolve", "bucket.$": "$.bucket", "key.$": "$.key"}
    # Nothing is claimed yet: a failure is announced without a ledger record to finish.
    assert [c["Next"] for c in resolve["Catch"]] == ["NotifyUnclaimed"]
    (staged,) = s["StagedHere?"]["Choices"]
    assert staged == {"Variable": "$.resolved.staged", "BooleanEquals": True, "Next": "Target"}
    # An export of a table not staged here ends quietly, before anything is claimed or notified.
    assert s["StagedHere?"]["Default"] == "NotStagedHere" and s["NotStagedHere"]["Type"] == "Succeed"
    # Every later state reads the target as the per-table triggers used to pass it.
    assert s["Target"]["Type"] == "Pass" and "ResultPath" not in s["Target"]
    assert s["Target"]["Parameters"] == {"target.$": "$.resolved.target", "bucket.$": "$.bucket", "key.$": "$.key"}


def test_the_definition_does_not_grow_with_the_tables(definition: dict[str, Any]) -> None:
    # Its inputs are two ARNs, a concurrency and poll intervals: nothing per table.
    assert set(inspect.signature(staging_definition).parameters) == {
        "function_arn",
        "topic_arn",
        "max_concurrency",
        "delete_poll_seconds",
        "import_poll_seconds",
    }
    # About 19.8 KB with these ARNs (15.2 KB before the recovery states of a failed replace);
    # Step Functions allows 1 MB, and the limit-* rules check the synthesized stacks against it.
    assert len(json.dumps(definition).encode()) < 24_000


def test_waits_happen_in_step_functions_not_in_lambda(definition: dict[str, Any]) -> None:
    s = definition["States"]
    assert s["TableGone?"]["Resource"] == "arn:aws:states:::aws-sdk:dynamodb:describeTable"
    not_found = s["TableGone?"]["Catch"][0]
    assert not_found["ErrorEquals"] == ["DynamoDb.ResourceNotFoundException"] and not_found["Next"] == "StartImport"
    assert s["DescribeImport"]["Resource"] == "arn:aws:states:::aws-sdk:dynamodb:describeImport"
    choices = {c["StringEquals"]: c["Next"] for c in s["Imported?"]["Choices"]}
    assert choices == {"COMPLETED": "FinishReplace", "IN_PROGRESS": "WaitForImport"}
    assert s["Imported?"]["Default"] == "ImportFailed"


# After PrepareReplace deleted the table, every failure recovers it first.
AFTER_THE_DELETE = ("TableGone?", "StartImport", "DescribeImport", "FinishReplace")
SHARED_BY_BOTH_MODES = ("PlanCount", "CountTable", "Verify")
RECOVERY = ("Recover", "Recreate", "DescribeRecreate", "FinishRecreate")


def test_every_step_after_the_claim_fails_into_record_and_notify(definition: dict[str, Any]) -> None:
    s = definition["States"]
    for name, state in s.items():
        if state["Type"] in ("Task", "Map") and name not in (
            "Resolve",
            "Claim",
            "RecordFailure",
            "RecordRecovered",
            "NotifySuccess",
            "NotifyFailure",
            "NotifyUnclaimed",
        ):
            targets = [c["Next"] for c in state.get("Catch", [])]
            if name in AFTER_THE_DELETE:
                assert targets[-1] == "StartRecovery", name
            elif name in SHARED_BY_BOTH_MODES:
                assert targets == ["Recover?"], name
            elif name in RECOVERY:
                assert targets == ["RecoveryFailed"] and state["Catch"][0]["ResultPath"] == "$.recoveryError", name
            else:
                assert "RecordFailure" in targets, name
    assert s["Recover?"]["Choices"] == [{"Variable": "$.plan.mode", "StringEquals": "replace", "Next": "StartRecovery"}]
    assert s["Recover?"]["Default"] == "RecordFailure" and s["RecoveryFailed"]["Next"] == "RecordFailure"
    assert s["ImportFailed"]["Next"] == "StartRecovery"
    assert s["RecordFailure"]["Next"] == "NotifyFailure" and s["NotifyFailure"]["Next"] == "Failed"
    assert s["RecordRecovered"]["Next"] == "NotifyFailure" and s["Failed"]["Type"] == "Fail"


def test_the_recovery_deletes_the_leftover_then_imports_and_puts_the_configuration_back(
    definition: dict[str, Any],
) -> None:
    s = definition["States"]
    assert s["StartRecovery"]["Parameters"] == {"empty": False} and s["StartRecovery"]["Next"] == "Recover"
    assert s["Recover"]["Parameters"]["task"] == "recover" and s["Recover"]["Next"] == "Cleared?"
    assert s["Cleared?"]["Choices"][0] == {"Variable": "$.leftover.state", "StringEquals": "gone", "Next": "Recreate"}
    assert s["Cleared?"]["Default"] == "WaitForRecover" and s["WaitForRecover"]["Next"] == "Recover"
    assert s["Recreate"]["Parameters"]["recovering.$"] == "$.recovering"
    assert s["DescribeRecreate"]["Resource"] == "arn:aws:states:::aws-sdk:dynamodb:describeImport"
    nexts = [c["Next"] for c in s["Recreated?"]["Choices"]]
    assert (
        nexts == ["FinishRecreate", "WaitForRecreate", "RecreateEmpty"]
        and s["Recreated?"]["Default"] == "RecreateFailed"
    )
    # The last good export did not import: once more from an empty one, never a third time
    assert s["RecreateEmpty"]["Parameters"] == {"empty": True} and s["RecreateEmpty"]["Next"] == "Recover"
    assert s["FinishRecreate"]["Next"] == "RecordRecovered"
    assert s["RecordRecovered"]["Parameters"]["recovery.$"] == "$.recovered.note"


def test_putting_the_settings_back_is_retried_before_the_table_is_recovered(definition: dict[str, Any]) -> None:
    retry = definition["States"]["FinishReplace"]["Retry"]
    assert {"StagingError", "ClientError"} <= {e for r in retry for e in r["ErrorEquals"]}


def test_a_success_records_what_was_loaded_as_the_last_good_export(definition: dict[str, Any]) -> None:
    assert definition["States"]["RecordSuccess"]["Parameters"]["plan.$"] == "$.plan"


def test_the_table_is_counted_by_an_inline_map_one_lambda_per_segment(definition: dict[str, Any]) -> None:
    s = definition["States"]
    plan = s["PlanCount"]
    assert plan["Resource"] == FN and plan["Parameters"]["task"] == "plan_count"
    assert plan["ResultPath"] == "$.count" and plan["Retry"] == s["Verify"]["Retry"]
    m = s["CountTable"]
    assert m["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE" and m["ItemsPath"] == "$.count.segments"
    assert m["ItemSelector"] == {
        "task": "count_segment",
        "target.$": "$.target",
        "segment.$": "$$.Map.Item.Value",
        "totalSegments.$": "$.count.totalSegments",
    }
    child = m["ItemProcessor"]["States"][m["ItemProcessor"]["StartAt"]]
    assert child["Resource"] == FN and child["Retry"] == s["Verify"]["Retry"] and child["End"] is True
    assert m["MaxConcurrency"] == 7 and m["ResultPath"] == "$.count.counts"


def test_the_count_maps_concurrency_is_capped_at_what_an_inline_map_runs() -> None:
    definition = staging_definition(function_arn=FN, topic_arn=TOPIC, max_concurrency=500)
    assert definition["States"]["CountTable"]["MaxConcurrency"] == 40
    assert definition["States"]["RefillFiles"]["MaxConcurrency"] == 500


@pytest.mark.parametrize("state", ["Sweep", "Verify"])
def test_sweep_and_verify_get_the_segment_counts_instead_of_scanning(definition: dict[str, Any], state: str) -> None:
    params = definition["States"][state]["Parameters"]
    assert params["counts.$"] == "$.count.counts" and params["totalSegments.$"] == "$.count.totalSegments"


def test_only_an_unswept_refill_sweeps_and_only_a_sweep_that_deleted_recounts(definition: dict[str, Any]) -> None:
    s = definition["States"]
    (to_sweep,) = s["Counted?"]["Choices"]
    assert to_sweep["And"] == [
        {"Variable": "$.plan.mode", "StringEquals": "refill"},
        {"Variable": "$.sweep", "IsPresent": False},
    ]
    (recount,) = s["Swept?"]["Choices"]
    assert recount == {"Variable": "$.sweep.deleted", "NumericGreaterThan": 0, "Next": "PlanCount"}

"""The drill's per-data-file check (the ValidateFiles map's child task) and how a rejected file's
problems reach the drill record though the map itself reports only "threshold exceeded"."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from typing import Any

import boto3
import pytest

from conventions.watch import WatchContext
from handlers.exports import ExportRef, read_data_files, read_summary
from handlers.watch import drill, drill_files
from handlers.watch.aws import read_drill_record
from handlers.watch.drill_files import DataFileRejected, FileTask, check_file, recorded_file_problems
from tests.support.watch_fixtures import NOW, REGION, VAULT, add_export, fill, item, make_account


def _s3() -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def drilled(aws: None) -> tuple[WatchContext, dict[str, Any]]:
    """orders holds 9 items; its latest export has the same 9 in 3 data files; the state
    machine's Prepare task has planned the drill (manifests checked only)."""
    ctx = make_account(drill_sample_size=3)
    items = [item(i) for i in range(9)]
    fill(ctx.tables[0], items)
    add_export(ctx.tables[0], items, age_hours=2)
    plan = drill.prepare(ctx, "orders", s3=_s3(), now=NOW, check_data_files=False)
    return ctx, plan


def _files(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """manifest-files.json's lines, as the map's ItemReader hands them to the children."""
    ref = ExportRef.parse(plan["exportUrl"])
    return [f.to_json() for f in read_data_files(_s3(), ref, read_summary(_s3(), ref))]


def _task(plan: dict[str, Any], file: dict[str, Any]) -> FileTask:
    return FileTask.from_event({"table": "orders", "plan": plan, "file": file})


def _full_key(plan: dict[str, Any], file: dict[str, Any]) -> str:
    return ExportRef.parse(plan["exportUrl"]).resolve(file["dataFileS3Key"])


def test_prepare_for_the_state_machine_plans_the_map_without_reading_data_files(
    drilled: tuple[WatchContext, dict[str, Any]],
) -> None:
    ctx, plan = drilled
    # Given every data file of the export is gone
    s3 = _s3()
    for f in _files(plan):
        s3.delete_object(Bucket=VAULT, Key=_full_key(plan, f))
    # When the state machine's Prepare runs / Then it still passes: data files are the map's job
    again = drill.prepare(ctx, "orders", s3=s3, now=NOW, check_data_files=False)
    assert again["manifestFiles"] == {
        "bucket": VAULT,
        "key": ExportRef.parse(plan["exportUrl"]).key("manifest-files.json"),
    }
    assert again["outputFormat"] == "DYNAMODB_JSON" and again["expectedItemCount"] == 9
    # While the CLI's Prepare (not bound by Lambda's limits) still reads every file
    with pytest.raises(drill.DrillError, match="does not exist"):
        drill.prepare(ctx, "orders", s3=s3, now=NOW)


def test_a_sound_file_passes_and_records_nothing(drilled: tuple[WatchContext, dict[str, Any]]) -> None:
    ctx, plan = drilled
    first = _files(plan)[0]
    assert check_file(ctx, _task(plan, first), s3=_s3()) == {"key": _full_key(plan, first), "items": 4}
    assert recorded_file_problems(_s3(), VAULT, "orders", plan["scratchTable"]).problems == []


def test_a_flipped_byte_is_rejected_naming_the_file(drilled: tuple[WatchContext, dict[str, Any]]) -> None:
    ctx, plan = drilled
    # Given one byte of the second data file flipped
    second = _files(plan)[1]
    key = _full_key(plan, second)
    body = bytearray(_s3().get_object(Bucket=VAULT, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0x01
    _s3().put_object(Bucket=VAULT, Key=key, Body=bytes(body))
    # When its child checks it / Then it is rejected by name with the MD5 mismatch
    with pytest.raises(DataFileRejected) as exc:
        check_file(ctx, _task(plan, second), s3=_s3())
    assert str(exc.value).startswith(f"data file s3://{VAULT}/{key} of {plan['exportUrl']} is not restorable: ")
    assert f"data file s3://{VAULT}/{key} MD5 mismatch: manifest says {second['md5Checksum']}" in str(exc.value)


def test_a_missing_file_is_rejected_naming_the_file(drilled: tuple[WatchContext, dict[str, Any]]) -> None:
    ctx, plan = drilled
    last = _files(plan)[-1]
    key = _full_key(plan, last)
    _s3().delete_object(Bucket=VAULT, Key=key)
    with pytest.raises(
        DataFileRejected, match=re.escape(f"data file s3://{VAULT}/{key} listed in manifest-files.json does not exist")
    ):
        check_file(ctx, _task(plan, last), s3=_s3())


def test_a_count_mismatch_is_rejected_naming_the_file(drilled: tuple[WatchContext, dict[str, Any]]) -> None:
    ctx, plan = drilled
    # Given the manifest line claims one item more than the (intact) file holds
    first = {**_files(plan)[0], "itemCount": 5}
    key = _full_key(plan, first)
    with pytest.raises(DataFileRejected) as exc:
        check_file(ctx, _task(plan, first), s3=_s3())
    assert f"data file s3://{VAULT}/{key} holds 4 items, manifest-files.json says 5" in str(exc.value)
    assert "MD5" not in str(exc.value)


def test_an_invalid_item_is_rejected_naming_the_file_and_line(drilled: tuple[WatchContext, dict[str, Any]]) -> None:
    ctx, plan = drilled
    # Given a data file whose MD5 and count are right but whose second line is not an item
    lines = b'{"Item":{"customerId":{"S":"c1"},"orderId":{"S":"o1"}}}\n{"Item":{"customerId":{"Q":"1"}}}\n'
    raw = gzip.compress(lines)
    key = ExportRef.parse(plan["exportUrl"]).key("data/odd.json.gz")
    _s3().put_object(Bucket=VAULT, Key=key, Body=raw)
    md5 = base64.b64encode(hashlib.md5(raw, usedforsecurity=False).digest()).decode()
    file = {"dataFileS3Key": key, "itemCount": 2, "md5Checksum": md5, "etag": "x"}
    with pytest.raises(DataFileRejected, match=re.escape(f"data file s3://{VAULT}/{key} line 2 is not a valid item")):
        check_file(ctx, _task(plan, file), s3=_s3())


def test_malformed_child_input_names_what_is_expected() -> None:
    with pytest.raises(ValueError, match=r"not a ValidateFiles item .*plan\.exportUrl"):
        FileTask.from_event({"table": "orders", "plan": {}, "file": {}})


def _reject(ctx: WatchContext, plan: dict[str, Any], file: dict[str, Any]) -> str:
    """Delete the file, let its child reject it, return its key."""
    key = _full_key(plan, file)
    _s3().delete_object(Bucket=VAULT, Key=key)
    with pytest.raises(DataFileRejected):
        check_file(ctx, _task(plan, file), s3=_s3())
    return key


def _verify(ctx: WatchContext, state: dict[str, Any]) -> dict[str, Any]:
    """The RecordPrepareFailure task (the Verify Lambda's logic) on a state."""
    ddb, cw = boto3.client("dynamodb", region_name=REGION), boto3.client("cloudwatch", region_name=REGION)
    return drill.verify_from_state(ctx, state, ddb=ddb, s3=_s3(), cw=cw, now=NOW)


def test_the_failure_record_says_which_file_was_wrong(drilled: tuple[WatchContext, dict[str, Any]]) -> None:
    ctx, plan = drilled
    # Given a child rejected a data file and the map failed with AWS's generic error
    key = _reject(ctx, plan, _files(plan)[0])
    state = {
        "table": "orders",
        "prepare": plan,
        "error": {
            "Error": "States.ExceedToleratedFailureThreshold",
            "Cause": "The specified tolerated failure threshold was exceeded",
        },
    }
    # When RecordPrepareFailure (the Verify task) records the drill
    result = _verify(ctx, state)
    # Then the drill record names the export and the file and says what was wrong
    record = read_drill_record(_s3(), VAULT, "orders")
    assert record is not None and record["problems"] == result["problems"]
    [problem] = record["problems"]
    assert problem == (
        f"the latest export {plan['exportUrl']} is not restorable: "
        f"data file s3://{VAULT}/{key} listed in manifest-files.json does not exist"
    )
    assert record["ok"] is False


def test_without_recorded_problems_the_map_error_is_kept(drilled: tuple[WatchContext, dict[str, Any]]) -> None:
    # Given the map failed but no child recorded anything (e.g. a Lambda timed out)
    ctx, plan = drilled
    state = {
        "table": "orders",
        "prepare": plan,
        "error": {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "c"},
    }
    result = _verify(ctx, state)
    # Then the record keeps the error it has rather than inventing one
    assert result["problems"] == ["States.ExceedToleratedFailureThreshold: c"]


def test_reading_back_is_bounded_however_many_files_failed(drilled: tuple[WatchContext, dict[str, Any]]) -> None:
    ctx, plan = drilled
    keys = [_reject(ctx, plan, f) for f in _files(plan)]
    found = recorded_file_problems(_s3(), VAULT, "orders", plan["scratchTable"], limit=2)
    assert len(found.problems) == 2 and found.more_files
    assert all(any(k in p for k in keys) for p in found.problems)
    # And another run's folder is not read
    assert recorded_file_problems(_s3(), VAULT, "orders", plan["scratchTable"] + "-other").problems == []


def test_a_run_with_more_damaged_files_than_read_says_where_the_rest_are(
    drilled: tuple[WatchContext, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the children recorded more damaged files than the recording step reads
    ctx, plan = drilled
    found = drill_files.RecordedProblems(problems=["data file s3://v/k MD5 mismatch"], more_files=True)
    monkeypatch.setattr(drill, "recorded_file_problems", lambda *_a, **_k: found)
    state = {"table": "orders", "prepare": plan, "error": {"Error": "States.ExceedToleratedFailureThreshold"}}
    # When the failure is recorded / Then the record lists what was read and where the rest are
    [problem] = _verify(ctx, state)["problems"]
    assert problem == (
        f"the latest export {plan['exportUrl']} is not restorable: data file s3://v/k MD5 mismatch; "
        f"more damaged data files than the {drill_files.MAX_REPORTED_FILES} read: "
        f"see s3://{VAULT}/{drill_files.run_folder('orders', plan['scratchTable'])}"
    )

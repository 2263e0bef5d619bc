"""What a run of the generated state machine checks, against the real Lambda task code on moto:
every data file validated by its own map child before the table is touched, Verify's bounded
sample, and the table counted in parallel segments (one Lambda each)."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from handlers import exports
from handlers.staging import count
from handlers.staging import entrypoints as staging_tasks
from handlers.staging.count import MAX_SEGMENTS
from handlers.staging.exceptions import VerificationFailed
from handlers.staging.files import SAMPLE_FILES
from tests.support.staging_fixtures import (
    MASK,
    MASK_BUCKET,
    VAULT,
    as_set,
    customer_items,
    data_keys,
    gz,
    prod_spec,
    replace_data_file,
    rewrite_files_manifest,
    scan_all,
    target_for,
    write_prod_export,
)
from tests.support.staging_machine import FakeContext, event, ledger, runner, staged_table

# -- every data file checked by its own map child, before the table is touched ------------------


def _flip_byte(s3: Any, ref: Any) -> str:
    key = data_keys(s3, ref)[0]
    body = bytearray(s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    s3.put_object(Bucket=ref.bucket, Key=key, Body=bytes(body))
    return key


def _delete_file(s3: Any, ref: Any) -> str:
    key = data_keys(s3, ref)[1]
    s3.delete_object(Bucket=ref.bucket, Key=key)
    return key


def _shift_count(s3: Any, ref: Any) -> str:
    # The listed total still equals the summary's: only reading the files shows the mismatch.
    def edit(lines: list[dict[str, Any]]) -> None:
        lines[0]["itemCount"] += 1
        lines[1]["itemCount"] -= 1

    rewrite_files_manifest(s3, ref, edit)
    return data_keys(s3, ref)[0]


def _malformed_line(s3: Any, ref: Any) -> str:
    key = data_keys(s3, ref)[0]
    lines = gzip.decompress(s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read()).splitlines()
    lines[3] = b'{"Item": {"customerId": {"S": "x"'
    replace_data_file(s3, ref, key, gz(lines), fix_manifest=True)
    return key


DAMAGE = {
    "flipped byte": (_flip_byte, "MD5 mismatch"),
    "missing data file": (_delete_file, "does not exist"),
    "count mismatch": (_shift_count, "manifest-files.json says"),
    "malformed line": (_malformed_line, "is not a valid item"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_data_file_fails_at_validate_files_naming_the_file_and_problem(
    machine_env: tuple[Any, Any], damage: str
) -> None:
    # Given a test table with data and an export whose manifests are fine but one data file is not
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="replace")
    staged_table(ddb, target)
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    created = ddb.describe_table(TableName=target.name)["Table"]["CreationDateTime"]
    ref = write_prod_export(s3, customer_items(60, big=False))
    corrupt, problem = DAMAGE[damage]
    key = corrupt(s3, ref)
    # When the machine runs
    run = runner(s3, ddb)
    status, out = run.run(event(ref))
    # Then the manifest step passed, the file map failed the run, and nothing touched the table
    assert status == "FAILED" and out["Error"] == "StagingFailed"
    assert run.visited[: run.visited.index("ValidateFiles")] == [
        "Resolve",
        "StagedHere?",
        "Target",
        "Claim",
        "Claimed?",
        "Validate",
    ]
    assert run.failed_children == 1
    assert run.visited[-3:] == ["RecordFailure", "NotifyFailure", "Failed"]
    assert "PrepareReplace" not in run.visited and "Masked?" not in run.visited
    assert ddb.describe_table(TableName=target.name)["Table"]["CreationDateTime"] == created
    assert scan_all(ddb, target.name) == [{"customerId": {"S": "keep"}}]
    # And the notification and the ledger say which file and what is wrong with it
    message = run.published[-1]["Message"]
    assert "States.ExceedToleratedFailureThreshold" in message
    assert f"1 data file(s) failed:\n  - data file s3://{VAULT}/{key}" in message
    assert problem in message
    record = ledger(ddb, "customers")
    assert record["status"] == {"S": "FAILED"} and key in record["detail"]["S"] and problem in record["detail"]["S"]


def test_a_damaged_file_stops_a_masked_refill_before_any_masking(machine_env: tuple[Any, Any]) -> None:
    # Given a masked refill target and an export with a flipped byte in one file
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="refill", mask=MASK)
    staged_table(ddb, target)
    ref = write_prod_export(s3, customer_items(40, big=False))
    key = _flip_byte(s3, ref)
    # When the machine runs
    run = runner(s3, ddb)
    status, _ = run.run(event(ref))
    # Then it fails at ValidateFiles: no masked copy is written, no item reaches the table
    assert status == "FAILED" and "MaskFiles" not in run.visited and "RefillFiles" not in run.visited
    assert s3.list_objects_v2(Bucket=MASK_BUCKET).get("KeyCount") == 0
    assert scan_all(ddb, target.name) == []
    assert key in run.published[-1]["Message"]


def test_a_retried_export_reports_only_its_own_new_problems(machine_env: tuple[Any, Any]) -> None:
    # Given a run that failed on a damaged file, then the file repaired and the export retried
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="refill")
    staged_table(ddb, target)
    ref = write_prod_export(s3, customer_items(30, big=False))
    key = data_keys(s3, ref)[0]
    good = s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read()
    _flip_byte(s3, ref)
    assert runner(s3, ddb).run(event(ref))[0] == "FAILED"
    s3.put_object(Bucket=ref.bucket, Key=key, Body=good)
    # When the same export's event comes again
    run = runner(s3, ddb)
    status, out = run.run(event(ref))
    # Then it is claimed again (a FAILED record may be), stages, and the old problems are gone
    assert status == "SUCCEEDED", out
    record = ledger(ddb, "customers")
    assert record["status"] == {"S": "SUCCEEDED"} and "problems" not in record and "failedFiles" not in record
    assert "data file" not in run.published[-1]["Message"]


# -- verify reads a bounded number of data files -------------------------------------------------


def _stage_many_files(machine_env: tuple[Any, Any]) -> tuple[Any, Any, dict[str, Any], list[str], list[str]]:
    """A refill of an export with 40 small data files, recording which data files each task read.
    Returns (target, ref, machine output, all data keys, data keys read by Verify)."""
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="refill")
    staged_table(ddb, target)
    ref = write_prod_export(s3, customer_items(120, big=False), items_per_file=3)
    task = {"name": ""}
    reads: list[tuple[str, str]] = []

    def count_get(params: dict[str, Any], **_: Any) -> None:
        if "/data/" in params["Key"]:
            reads.append((task["name"], params["Key"]))

    staging_tasks._client("s3").meta.events.register("before-parameter-build.s3.GetObject", count_get)

    def note_task(ev: dict[str, Any]) -> None:
        task["name"] = ev["task"]

    run = runner(s3, ddb, before=note_task)
    status, out = run.run(event(ref))
    assert status == "SUCCEEDED", out
    return target, ref, out, data_keys(s3, ref), [key for name, key in reads if name == "verify"]


def test_verify_reads_at_most_eight_data_files_of_a_large_export(machine_env: tuple[Any, Any]) -> None:
    # Given / When an export of 40 data files (and an empty one) is staged by the machine
    _, _, out, keys, verify_reads = _stage_many_files(machine_env)
    # Then Verify read 8 distinct data files, each once, and sampled all their items
    assert len(keys) == 41
    assert len(verify_reads) == len(set(verify_reads)) == SAMPLE_FILES
    assert set(verify_reads) <= set(keys)
    assert out["verify"] == {"tableCount": 120, "exportCount": 120, "sampled": SAMPLE_FILES * 3}


def test_verify_still_catches_a_changed_item_in_a_sampled_file(machine_env: tuple[Any, Any]) -> None:
    # Given a staged table, then one item of a file Verify samples changed in the table
    s3, ddb = machine_env
    target, ref, out, _, verify_reads = _stage_many_files(machine_env)
    files = exports.read_data_files(s3, ref, exports.read_summary(s3, ref))
    data_file = next(f for f in files if ref.resolve(f.data_file_s3_key) == verify_reads[0])
    item = next(exports.iter_file_items(s3, ref, data_file))
    ddb.put_item(TableName=target.name, Item={**item, "email": {"S": "changed@example.org"}})
    # When Verify runs again (a retry of the same state, with CountTable's segment counts)
    retry = {**out, "task": "verify", "export": out["claim"]["export"]}
    retry.update(counts=out["count"]["counts"], totalSegments=out["count"]["totalSegments"])
    with pytest.raises(VerificationFailed) as err:
        staging_tasks.handler(retry, FakeContext())
    # Then the change is found, the count still matching
    assert f"item with key {{'customerId': '{item['customerId']['S']}'}} differs from the export" in str(err.value)
    assert "holds" not in str(err.value)


def test_a_refill_child_that_fails_names_its_file_in_the_notification(machine_env: tuple[Any, Any]) -> None:
    # Given an export that validates, then loses a data file before the refill map reaches it
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="refill")
    staged_table(ddb, target)
    ref = write_prod_export(s3, customer_items(60, big=False))
    lost = data_keys(s3, ref)[1]

    def lose_a_file(ev: dict[str, Any]) -> None:
        if ev["task"] == "refill_file":
            s3.delete_object(Bucket=ref.bucket, Key=lost)

    run = runner(s3, ddb, before=lose_a_file)
    # When the machine runs
    status, _ = run.run(event(ref))
    # Then the refill map fails the run, and the message names the file and the error
    assert status == "FAILED" and "RefillFiles" in run.visited and "Sweep" not in run.visited
    message = run.published[-1]["Message"]
    assert "States.ExceedToleratedFailureThreshold" in message
    assert "1 data file(s) failed:\n  - ExportCorrupt: " in message
    assert f"data file s3://{VAULT}/{lost} listed in manifest-files.json does not exist" in message


# -- the table is counted in parallel segments, one Lambda each ------------------------------------


@pytest.mark.parametrize("mode", ["replace", "refill"])
def test_both_modes_count_the_table_in_segments_and_verify_the_sum(
    machine_env: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # Given a 4 KiB segment size, so this export's ~20 KB make several segments
    monkeypatch.setattr(count, "SEGMENT_BYTES", 4096)
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode=mode)
    staged_table(ddb, target)
    items = customer_items(60, big=False)
    ref = write_prod_export(s3, items)
    size = exports.read_summary(s3, ref).billed_size_bytes
    assert size is not None
    expected = -(-size // 4096)
    run = runner(s3, ddb)
    # When the machine stages the export
    status, out = run.run(event(ref))
    # Then one Lambda counted each segment, the segments held every item once, and Verify used the sum
    assert status == "SUCCEEDED", out
    assert 1 < expected <= MAX_SEGMENTS
    assert ("CountTable", expected) in run.map_items and run.visited.count("CountSegment") == expected
    counts = out["count"]["counts"]
    assert sorted(c["segment"] for c in counts) == list(range(expected))
    assert sum(c["count"] for c in counts) == len(items) and max(c["count"] for c in counts) < len(items)
    assert out["verify"] == {"tableCount": len(items), "exportCount": len(items), "sampled": len(items)}
    # And a refill counted once: nothing extra, so Sweep read no export key and nothing was recounted
    assert run.visited.count("PlanCount") == 1
    if mode == "refill":
        assert out["sweep"] == {"deleted": 0} and run.visited[run.visited.index("Sweep") + 2] == "Verify"


@pytest.mark.parametrize(
    ("mode", "change", "held"),
    [("replace", "extra", 31), ("refill", "missing", 29)],
)
def test_a_table_count_off_by_one_fails_verify_with_both_counts_in_the_notification(
    machine_env: tuple[Any, Any], mode: str, change: str, held: int
) -> None:
    # Given a staging run during which, right before the count, an item appears (replace: no
    # Sweep follows) or disappears (refill: fewer than the export, nothing to sweep)
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode=mode)
    staged_table(ddb, target)
    items = customer_items(30, big=False)
    ref = write_prod_export(s3, items)

    def before(ev: dict[str, Any]) -> None:
        if ev["task"] == "plan_count" and change == "extra":
            ddb.put_item(TableName=target.name, Item={"customerId": {"S": "not-in-the-export"}})
        elif ev["task"] == "plan_count":
            ddb.delete_item(TableName=target.name, Key={"customerId": items[7]["customerId"]})

    run = runner(s3, ddb, before=before)
    # When the machine runs
    status, out = run.run(event(ref))
    # Then Verify fails on the count, and the notification and ledger give both numbers; a replace
    # then recovers the table it deleted (the first run: recreated empty, with its configuration)
    assert status == "FAILED" and out["Error"] == "StagingFailed"
    assert run.visited[run.visited.index("CountTable") :][:3] == ["CountTable", "CountSegment", "Counted?"]
    after_verify = run.visited[run.visited.index("Verify") :]
    if mode == "replace":
        assert after_verify[:3] == ["Verify", "Recover?", "StartRecovery"]
        assert after_verify[-4:] == ["FinishRecreate", "RecordRecovered", "NotifyFailure", "Failed"]
        assert scan_all(ddb, target.name) == [] and "was recreated empty" in run.published[-1]["Message"]
    else:
        assert after_verify == ["Verify", "Recover?", "RecordFailure", "NotifyFailure", "Failed"]
    message = run.published[-1]["Message"]
    assert "VerificationFailed" in message
    assert f"{target.name} holds {held} items, the export 30" in message
    assert f"holds {held} items, the export 30" in ledger(ddb, "customers")["detail"]["S"]


def test_a_refill_with_an_item_not_in_the_export_is_swept_and_counted_again(machine_env: tuple[Any, Any]) -> None:
    # Given a refill during which an item not in the export is in the table when it is counted
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="refill")
    staged_table(ddb, target)
    items = customer_items(30, big=False)
    ref = write_prod_export(s3, items)
    planned: list[int] = []

    def before(ev: dict[str, Any]) -> None:
        if ev["task"] == "plan_count":
            planned.append(1)
            if len(planned) == 1:
                ddb.put_item(TableName=target.name, Item={"customerId": {"S": "left-over"}})

    run = runner(s3, ddb, before=before)
    # When the machine runs
    status, out = run.run(event(ref))
    # Then Sweep deleted it, the table was counted again, and Verify saw the new count
    assert status == "SUCCEEDED", out
    assert out["sweep"] == {"deleted": 1}
    i = run.visited.index("Sweep")
    assert run.visited[i : i + 3] == ["Sweep", "Swept?", "PlanCount"] and run.visited.count("PlanCount") == 2
    assert out["verify"]["tableCount"] == 30
    assert as_set(scan_all(ddb, target.name)) == as_set(items)


def test_a_segment_that_cannot_be_counted_fails_the_run_with_its_own_error(machine_env: tuple[Any, Any]) -> None:
    # Given a replace during which the table disappears once the count is planned
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="replace")
    staged_table(ddb, target)
    ref = write_prod_export(s3, customer_items(10, big=False))

    def before(ev: dict[str, Any]) -> None:
        if ev["task"] == "count_segment":
            ddb.delete_table(TableName=target.name)

    run = runner(s3, ddb, before=before)
    # When the machine runs
    status, _ = run.run(event(ref))
    # Then the inline map fails with the segment's DynamoDB error (not a generic threshold error),
    # and the replace recovers the table it had deleted
    assert status == "FAILED" and "Verify" not in run.visited
    assert run.visited[run.visited.index("CountSegment") :][:3] == ["CountSegment", "Recover?", "StartRecovery"]
    assert run.visited[-3:] == ["RecordRecovered", "NotifyFailure", "Failed"]
    assert ddb.describe_table(TableName=target.name)["Table"]["TableStatus"] == "ACTIVE"
    message = run.published[-1]["Message"]
    assert "ResourceNotFoundException" in message and "ExceedToleratedFailureThreshold" not in message

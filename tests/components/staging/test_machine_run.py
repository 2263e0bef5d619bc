"""The generated state machine run against the real Lambda task code on moto (through
tests/support/asl_runner.py): both modes, masking, duplicate and out-of-order events, failures."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest

from components.staging.state_machine import staging_definition
from handlers import exports
from handlers.staging import core as staging
from handlers.staging import entrypoints as staging_tasks
from handlers.staging.core import MAX_SEGMENTS, VerificationFailed
from handlers.staging.files import SAMPLE_FILES
from tests.safetynet.staging.test_flow import MASK
from tests.support.asl_runner import Runner
from tests.support.staging_fixtures import (
    EXPORT_TIME,
    LEDGER,
    MASK_BUCKET,
    REGION,
    STACK,
    VAULT,
    as_set,
    create_ledger,
    create_test_table,
    customer_items,
    data_keys,
    gz,
    patch_moto_import_empty_files,
    prod_spec,
    replace_data_file,
    rewrite_files_manifest,
    scan_all,
    target_for,
    vault_clients,
    write_prod_export,
)

FN = "arn:aws:lambda:us-east-1:123456789012:function:staging-task"
TOPIC = "arn:aws:sns:us-east-1:123456789012:staging"


@dataclass
class FakeContext:
    function_name: str = "staging-task"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = FN
    aws_request_id: str = "req-1"


@pytest.fixture(autouse=True)
def _moto_import_reads_empty_files(monkeypatch: pytest.MonkeyPatch) -> None:
    patch_moto_import_empty_files(monkeypatch)


@pytest.fixture
def env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    s3, ddb = vault_clients()
    create_ledger(ddb)
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="masking-key", SecretString="machine-test-masking-key-0123"
    )["ARN"]
    monkeypatch.setenv("STAGING_STACK", STACK)
    monkeypatch.setenv("LEDGER_TABLE", LEDGER)
    monkeypatch.setenv("MASK_BUCKET", MASK_BUCKET)
    monkeypatch.setenv("MASKING_KEY_SECRET_ARN", secret)
    for cached in (staging_tasks._client, staging_tasks._env, staging_tasks._masking_key):
        cached.cache_clear()
    yield s3, ddb
    for cached in (staging_tasks._client, staging_tasks._env, staging_tasks._masking_key):
        cached.cache_clear()


def runner(s3: Any, ddb: Any) -> Runner:
    definition = staging_definition(function_arn=FN, topic_arn=TOPIC, max_concurrency=4)
    return Runner(definition, {FN: lambda ev: staging_tasks.handler(ev, FakeContext())}, s3, ddb)


def event(target: Any, ref: Any) -> dict[str, Any]:
    """What the StagedTable's EventBridge rule sends."""
    return {"target": target.to_json(), "bucket": ref.bucket, "key": ref.summary_key}


def ledger(ddb: Any, table: str) -> dict[str, Any]:
    return ddb.get_item(TableName=LEDGER, Key={"table": {"S": table}})["Item"]


def test_refill_with_masking_runs_through_the_distributed_maps(env: tuple[Any, Any]) -> None:
    # Given a masked refill target and a prod export
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="refill", mask=MASK)
    create_test_table(ddb, target)
    items = customer_items(40, big=False)
    ref = write_prod_export(s3, items)
    run = runner(s3, ddb)
    # When the export's event starts the machine
    status, out = run.run(event(target, ref))
    # Then every file was masked and refilled, verified, recorded and announced
    assert status == "SUCCEEDED", out
    assert run.visited.count("ValidateFileFile") == len(data_keys(s3, ref))
    assert run.visited.count("MaskFileFile") == len(data_keys(s3, ref)) and "PublishMasked" in run.visited
    assert run.visited.count("RefillFileFile") >= 2 and "Sweep" in run.visited
    staged = scan_all(ddb, target.name)
    assert len(staged) == len(items)
    assert not {i["email"]["S"] for i in items} & {i["email"]["S"] for i in staged}
    assert ledger(ddb, "customers")["status"] == {"S": "SUCCEEDED"}
    assert run.published[-1]["Subject"].startswith("safetynet staging succeeded")


def test_replace_polls_for_deletion_and_import_then_reapplies_settings(env: tuple[Any, Any]) -> None:
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    items = customer_items(30, big=False)
    run = runner(s3, ddb)
    ref = write_prod_export(s3, items)
    status, out = run.run(event(target, ref))
    assert status == "SUCCEEDED", out
    assert run.visited.count("ValidateFileFile") == len(data_keys(s3, ref))
    for state in (
        "ValidateFiles",
        "PrepareReplace",
        "TableGone?",
        "StartImport",
        "DescribeImport",
        "FinishReplace",
        "Verify",
    ):
        assert state in run.visited, state
    assert as_set(scan_all(ddb, target.name)) == as_set(items)
    arn = ddb.describe_table(TableName=target.name)["Table"]["TableArn"]
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags["safetynet:staging-target"] == STACK


def test_a_table_with_lsis_is_refilled_even_when_replace_is_configured(env: tuple[Any, Any]) -> None:
    s3, ddb = env
    target = target_for(prod_spec("orders"), mode="replace")
    create_test_table(ddb, target)
    items = [{"customerId": {"S": f"c{i}"}, "orderId": {"S": f"o{i}"}, "createdAt": {"N": str(i)}} for i in range(30)]
    ref = write_prod_export(s3, items, table="orders")
    run = runner(s3, ddb)
    status, out = run.run(event(target, ref))
    assert status == "SUCCEEDED", out
    assert out["plan"]["mode"] == "refill" and "local secondary indexes" in out["plan"]["modeReason"]
    assert "PrepareReplace" not in run.visited
    assert as_set(scan_all(ddb, target.name)) == as_set(items)


def test_a_duplicate_event_is_skipped_without_touching_the_table(env: tuple[Any, Any]) -> None:
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="refill")
    create_test_table(ddb, target)
    ref = write_prod_export(s3, customer_items(10, big=False))
    assert runner(s3, ddb).run(event(target, ref))[0] == "SUCCEEDED"
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "written-since"}})
    # When the same event is delivered again
    run = runner(s3, ddb)
    status, out = run.run(event(target, ref))
    # Then the second run stops at the claim
    assert status == "SUCCEEDED" and run.visited[-1] == "Skipped"
    assert "duplicate" in out["claim"]["reason"]
    assert len(scan_all(ddb, target.name)) == 11


def test_an_export_older_than_the_last_staged_is_skipped(env: tuple[Any, Any]) -> None:
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="refill")
    create_test_table(ddb, target)
    newer = write_prod_export(s3, customer_items(5, big=False), export_time=EXPORT_TIME + timedelta(days=1))
    older = write_prod_export(s3, customer_items(9, big=False))
    assert runner(s3, ddb).run(event(target, newer))[0] == "SUCCEEDED"
    run = runner(s3, ddb)
    status, out = run.run(event(target, older))
    assert status == "SUCCEEDED" and run.visited[-1] == "Skipped"
    assert "not newer than" in out["claim"]["reason"]
    assert len(scan_all(ddb, target.name)) == 5


def test_a_corrupt_export_fails_records_and_notifies_without_touching_the_table(env: tuple[Any, Any]) -> None:
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    ref = write_prod_export(s3, customer_items(30, big=False))

    def corrupt(lines: list[dict[str, Any]]) -> None:
        lines[0]["itemCount"] += 1

    rewrite_files_manifest(s3, ref, corrupt)
    run = runner(s3, ddb)
    status, out = run.run(event(target, ref))
    assert status == "FAILED" and out["Error"] == "StagingFailed"
    assert run.visited[-3:] == ["RecordFailure", "NotifyFailure", "Failed"]
    assert "PrepareReplace" not in run.visited
    assert scan_all(ddb, target.name) == [{"customerId": {"S": "keep"}}]
    assert ledger(ddb, "customers")["status"] == {"S": "FAILED"}
    assert "ExportRejected" in run.published[-1]["Message"]


def test_an_untagged_table_is_refused_by_the_task_code(env: tuple[Any, Any]) -> None:
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target, tags={"safetynet:environment": "test"})
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    run = runner(s3, ddb)
    status, _ = run.run(event(target, write_prod_export(s3, customer_items(3, big=False))))
    assert status == "FAILED" and "NotAStagingTarget" in run.published[-1]["Message"]
    assert scan_all(ddb, target.name) == [{"customerId": {"S": "keep"}}]


def test_a_target_of_another_stack_is_refused_before_any_work(env: tuple[Any, Any]) -> None:
    s3, ddb = env
    target = target_for(prod_spec("customers"))
    other = type(target)(**{**target.__dict__, "stack": "someone/else"})
    create_test_table(ddb, target)
    run = runner(s3, ddb)
    status, _ = run.run(event(other, write_prod_export(s3, customer_items(1, big=False))))
    assert status == "FAILED" and run.visited == ["Claim", "NotifyUnclaimed", "Failed"]
    assert "belongs to someone/else" in run.published[-1]["Message"]
    assert scan_all(ddb, target.name) == []


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
    env: tuple[Any, Any], damage: str
) -> None:
    # Given a test table with data and an export whose manifests are fine but one data file is not
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    created = ddb.describe_table(TableName=target.name)["Table"]["CreationDateTime"]
    ref = write_prod_export(s3, customer_items(60, big=False))
    corrupt, problem = DAMAGE[damage]
    key = corrupt(s3, ref)
    # When the machine runs
    run = runner(s3, ddb)
    status, out = run.run(event(target, ref))
    # Then the manifest step passed, the file map failed the run, and nothing touched the table
    assert status == "FAILED" and out["Error"] == "StagingFailed"
    assert run.visited[: run.visited.index("ValidateFiles")] == ["Claim", "Claimed?", "Validate"]
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


def test_a_damaged_file_stops_a_masked_refill_before_any_masking(env: tuple[Any, Any]) -> None:
    # Given a masked refill target and an export with a flipped byte in one file
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="refill", mask=MASK)
    create_test_table(ddb, target)
    ref = write_prod_export(s3, customer_items(40, big=False))
    key = _flip_byte(s3, ref)
    # When the machine runs
    run = runner(s3, ddb)
    status, _ = run.run(event(target, ref))
    # Then it fails at ValidateFiles: no masked copy is written, no item reaches the table
    assert status == "FAILED" and "MaskFiles" not in run.visited and "RefillFiles" not in run.visited
    assert s3.list_objects_v2(Bucket=MASK_BUCKET).get("KeyCount") == 0
    assert scan_all(ddb, target.name) == []
    assert key in run.published[-1]["Message"]


def test_a_retried_export_reports_only_its_own_new_problems(env: tuple[Any, Any]) -> None:
    # Given a run that failed on a damaged file, then the file repaired and the export retried
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="refill")
    create_test_table(ddb, target)
    ref = write_prod_export(s3, customer_items(30, big=False))
    key = data_keys(s3, ref)[0]
    good = s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read()
    _flip_byte(s3, ref)
    assert runner(s3, ddb).run(event(target, ref))[0] == "FAILED"
    s3.put_object(Bucket=ref.bucket, Key=key, Body=good)
    # When the same export's event comes again
    run = runner(s3, ddb)
    status, out = run.run(event(target, ref))
    # Then it is claimed again (a FAILED record may be), stages, and the old problems are gone
    assert status == "SUCCEEDED", out
    record = ledger(ddb, "customers")
    assert record["status"] == {"S": "SUCCEEDED"} and "problems" not in record and "failedFiles" not in record
    assert "data file" not in run.published[-1]["Message"]


# -- verify reads a bounded number of data files -------------------------------------------------


def _stage_many_files(env: tuple[Any, Any]) -> tuple[Any, Any, dict[str, Any], list[str], list[str]]:
    """A refill of an export with 40 small data files, recording which data files each task read.
    Returns (target, ref, machine output, all data keys, data keys read by Verify)."""
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="refill")
    create_test_table(ddb, target)
    ref = write_prod_export(s3, customer_items(120, big=False), items_per_file=3)
    task = {"name": ""}
    reads: list[tuple[str, str]] = []

    def count_get(params: dict[str, Any], **_: Any) -> None:
        if "/data/" in params["Key"]:
            reads.append((task["name"], params["Key"]))

    staging_tasks._client("s3").meta.events.register("before-parameter-build.s3.GetObject", count_get)

    def invoke(ev: dict[str, Any]) -> Any:
        task["name"] = ev["task"]
        return staging_tasks.handler(ev, FakeContext())

    run = Runner(staging_definition(function_arn=FN, topic_arn=TOPIC, max_concurrency=4), {FN: invoke}, s3, ddb)
    status, out = run.run(event(target, ref))
    assert status == "SUCCEEDED", out
    return target, ref, out, data_keys(s3, ref), [key for name, key in reads if name == "verify"]


def test_verify_reads_at_most_eight_data_files_of_a_large_export(env: tuple[Any, Any]) -> None:
    # Given / When an export of 40 data files (and an empty one) is staged by the machine
    _, _, out, keys, verify_reads = _stage_many_files(env)
    # Then Verify read 8 distinct data files, each once, and sampled all their items
    assert len(keys) == 41
    assert len(verify_reads) == len(set(verify_reads)) == SAMPLE_FILES
    assert set(verify_reads) <= set(keys)
    assert out["verify"] == {"tableCount": 120, "exportCount": 120, "sampled": SAMPLE_FILES * 3}


def test_verify_still_catches_a_changed_item_in_a_sampled_file(env: tuple[Any, Any]) -> None:
    # Given a staged table, then one item of a file Verify samples changed in the table
    s3, ddb = env
    target, ref, out, _, verify_reads = _stage_many_files(env)
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


def test_a_refill_child_that_fails_names_its_file_in_the_notification(env: tuple[Any, Any]) -> None:
    # Given an export that validates, then loses a data file before the refill map reaches it
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="refill")
    create_test_table(ddb, target)
    ref = write_prod_export(s3, customer_items(60, big=False))
    lost = data_keys(s3, ref)[1]

    def invoke(ev: dict[str, Any]) -> Any:
        if ev["task"] == "refill_file":
            s3.delete_object(Bucket=ref.bucket, Key=lost)
        return staging_tasks.handler(ev, FakeContext())

    run = Runner(staging_definition(function_arn=FN, topic_arn=TOPIC, max_concurrency=4), {FN: invoke}, s3, ddb)
    # When the machine runs
    status, _ = run.run(event(target, ref))
    # Then the refill map fails the run, and the message names the file and the error
    assert status == "FAILED" and "RefillFiles" in run.visited and "Sweep" not in run.visited
    message = run.published[-1]["Message"]
    assert "States.ExceedToleratedFailureThreshold" in message
    assert "1 data file(s) failed:\n  - ExportCorrupt: " in message
    assert f"data file s3://{VAULT}/{lost} listed in manifest-files.json does not exist" in message


# -- the table is counted in parallel segments, one Lambda each ------------------------------------


def _count_task_spy(s3: Any, ddb: Any, on_task: Any) -> Runner:
    """A runner whose task function first calls `on_task(event)` (to change the table mid-run)."""

    def invoke(ev: dict[str, Any]) -> Any:
        on_task(ev)
        return staging_tasks.handler(ev, FakeContext())

    return Runner(staging_definition(function_arn=FN, topic_arn=TOPIC, max_concurrency=4), {FN: invoke}, s3, ddb)


@pytest.mark.parametrize("mode", ["replace", "refill"])
def test_both_modes_count_the_table_in_segments_and_verify_the_sum(
    env: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # Given a 4 KiB segment size, so this export's ~20 KB make several segments
    monkeypatch.setattr(staging, "SEGMENT_BYTES", 4096)
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode=mode)
    create_test_table(ddb, target)
    items = customer_items(60, big=False)
    ref = write_prod_export(s3, items)
    size = exports.read_summary(s3, ref).billed_size_bytes
    assert size is not None
    expected = -(-size // 4096)
    run = runner(s3, ddb)
    # When the machine stages the export
    status, out = run.run(event(target, ref))
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
    env: tuple[Any, Any], mode: str, change: str, held: int
) -> None:
    # Given a staging run during which, right before the count, an item appears (replace: no
    # Sweep follows) or disappears (refill: fewer than the export, nothing to sweep)
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode=mode)
    create_test_table(ddb, target)
    items = customer_items(30, big=False)
    ref = write_prod_export(s3, items)

    def before(ev: dict[str, Any]) -> None:
        if ev["task"] == "plan_count" and change == "extra":
            ddb.put_item(TableName=target.name, Item={"customerId": {"S": "not-in-the-export"}})
        elif ev["task"] == "plan_count":
            ddb.delete_item(TableName=target.name, Key={"customerId": items[7]["customerId"]})

    run = _count_task_spy(s3, ddb, before)
    # When the machine runs
    status, out = run.run(event(target, ref))
    # Then Verify fails on the count, and the notification and ledger give both numbers
    assert status == "FAILED" and out["Error"] == "StagingFailed"
    assert run.visited[run.visited.index("CountTable") :][:3] == ["CountTable", "CountSegment", "Counted?"]
    assert run.visited[-4:] == ["Verify", "RecordFailure", "NotifyFailure", "Failed"]
    message = run.published[-1]["Message"]
    assert "VerificationFailed" in message
    assert f"{target.name} holds {held} items, the export 30" in message
    assert f"holds {held} items, the export 30" in ledger(ddb, "customers")["detail"]["S"]


def test_a_refill_with_an_item_not_in_the_export_is_swept_and_counted_again(env: tuple[Any, Any]) -> None:
    # Given a refill during which an item not in the export is in the table when it is counted
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="refill")
    create_test_table(ddb, target)
    items = customer_items(30, big=False)
    ref = write_prod_export(s3, items)
    planned: list[int] = []

    def before(ev: dict[str, Any]) -> None:
        if ev["task"] == "plan_count":
            planned.append(1)
            if len(planned) == 1:
                ddb.put_item(TableName=target.name, Item={"customerId": {"S": "left-over"}})

    run = _count_task_spy(s3, ddb, before)
    # When the machine runs
    status, out = run.run(event(target, ref))
    # Then Sweep deleted it, the table was counted again, and Verify saw the new count
    assert status == "SUCCEEDED", out
    assert out["sweep"] == {"deleted": 1}
    i = run.visited.index("Sweep")
    assert run.visited[i : i + 3] == ["Sweep", "Swept?", "PlanCount"] and run.visited.count("PlanCount") == 2
    assert out["verify"]["tableCount"] == 30
    assert as_set(scan_all(ddb, target.name)) == as_set(items)


def test_a_segment_that_cannot_be_counted_fails_the_run_with_its_own_error(env: tuple[Any, Any]) -> None:
    # Given a replace during which the table disappears once the count is planned
    s3, ddb = env
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    ref = write_prod_export(s3, customer_items(10, big=False))

    def before(ev: dict[str, Any]) -> None:
        if ev["task"] == "count_segment":
            ddb.delete_table(TableName=target.name)

    run = _count_task_spy(s3, ddb, before)
    # When the machine runs
    status, _ = run.run(event(target, ref))
    # Then the inline map fails with the segment's DynamoDB error (not a generic threshold error)
    assert status == "FAILED" and "Verify" not in run.visited
    assert run.visited[-4:] == ["CountSegment", "RecordFailure", "NotifyFailure", "Failed"]
    message = run.published[-1]["Message"]
    assert "ResourceNotFoundException" in message and "ExceedToleratedFailureThreshold" not in message

"""The state machine's replace path never leaves a test table worse than it found it (through
tests/support/asl_runner.py, the real task code on moto): items that do not fit the table's key
schema fail ValidateFiles and an export of another table fails PrepareReplace, both before the
delete; a failure after the delete recreates the table with its configuration and refills it from
the ledger's last good export (or, without one, from an empty export), and the notification says
so. Each test checks the table's items, tags and PITR afterwards."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from typing import Any

import pytest

from handlers.staging.exceptions import StagingError
from tests.support.staging_fixtures import (
    EXPORT_TIME,
    LEDGER,
    MASK_BUCKET,
    configure_like_the_stack,
    data_keys,
    gz,
    light_customers,
    prod_arn,
    prod_spec,
    replace_data_file,
    rewrite_summary,
    scan_all,
    table_state,
    target_for,
    write_prod_export,
)
from tests.support.staging_machine import event, ledger, runner, staged_table

TABLE = "customers-test"


def staged_once(s3: Any, ddb: Any) -> tuple[Any, dict[str, Any], Any]:
    """customers-test (replace, PITR as the stack declares) staged by a first successful run:
    (its target, its state, that export)."""
    target = target_for(prod_spec("customers"), mode="replace")
    staged_table(ddb, target)
    configure_like_the_stack(ddb, target)
    first = write_prod_export(s3, light_customers(12))
    status, out = runner(s3, ddb).run(event(first))
    assert status == "SUCCEEDED", out
    return target, table_state(ddb, target.name), first


def newer(s3: Any, n: int = 20) -> Any:
    return write_prod_export(s3, light_customers(n), export_time=EXPORT_TIME + timedelta(days=1))


def bad_object_under(s3: Any, bucket: str, prefix: str) -> None:
    """One more object where ImportTable reads, with an item that has no table key: the import
    loads the other files, then fails (a partly loaded table remains)."""
    body = gzip.compress(b'{"Item":{"email":{"S":"no-key@example.org"}}}\n')
    s3.put_object(Bucket=bucket, Key=f"{prefix}data/zz-injected.json.gz", Body=body)


# -- before the delete -------------------------------------------------------------------------------


def test_items_that_do_not_fit_the_key_schema_fail_validate_files_before_the_delete(
    machine_env: tuple[Any, Any],
) -> None:
    s3, ddb = machine_env
    _, before, _ = staged_once(s3, ddb)
    ref = newer(s3, 30)
    key = data_keys(s3, ref)[0]
    lines = gzip.decompress(s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read()).splitlines()
    lines[4] = json.dumps({"Item": {"sku": {"S": "x"}, "warehouse": {"N": "1"}}}).encode()
    replace_data_file(s3, ref, key, gz(lines), fix_manifest=True)
    run = runner(s3, ddb)
    status, _ = run.run(event(ref))
    assert status == "FAILED" and "PrepareReplace" not in run.visited
    message = run.published[-1]["Message"]
    assert (
        f"{key} line 5 is not a valid item: does not fit {TABLE}'s key: expected customerId (S), found no " in message
    )
    assert table_state(ddb, TABLE) == before


def test_an_export_of_another_table_is_refused_at_prepare_replace_before_the_delete(
    machine_env: tuple[Any, Any],
) -> None:
    # Given an export whose summary is changed to another table's after Validate read it
    s3, ddb = machine_env
    _, before, _ = staged_once(s3, ddb)
    ref = newer(s3)

    def swap(ev: dict[str, Any]) -> None:
        if ev["task"] == "prepare_replace":
            rewrite_summary(s3, ref, tableArn=prod_arn("orders"))

    run = runner(s3, ddb, before=swap)
    status, _ = run.run(event(ref))
    # Then the last check before the delete refuses it: the table is as it was
    assert status == "FAILED" and "TableGone?" not in run.visited
    assert run.visited[run.visited.index("PrepareReplace") + 1] == "RecordFailure"
    message = run.published[-1]["Message"]
    assert f"export is of table {prod_arn('orders')}, expected {prod_arn('customers')}" in message
    assert table_state(ddb, TABLE) == before


# -- after the delete ---------------------------------------------------------------------------------


def _bad_import(s3: Any, ref: Any) -> Any:
    def before(ev: dict[str, Any]) -> None:
        if ev["task"] == "start_import":
            bad_object_under(s3, ref.bucket, ref.prefix)

    return before


def _raise_in(task: str) -> Any:
    def before(ev: dict[str, Any]) -> None:
        if ev["task"] == task:
            raise StagingError(f"injected failure of {task}")

    return before


def _extra_item(ddb: Any) -> Any:
    def before(ev: dict[str, Any]) -> None:
        if ev["task"] == "plan_count":
            ddb.put_item(TableName=TABLE, Item={"customerId": {"S": "not-in-the-export"}})

    return before


FAILURES = {
    "import fails mid-way": (lambda s3, ddb, ref: _bad_import(s3, ref), "import failed: ImportTable ended FAILED"),
    "import cannot start": (lambda s3, ddb, ref: _raise_in("start_import"), "injected failure of start_import"),
    "settings cannot be put back": (lambda s3, ddb, ref: _raise_in("finish_replace"), "injected failure of finish"),
    "verify fails": (lambda s3, ddb, ref: _extra_item(ddb), "holds 21 items, the export 20"),
}


@pytest.mark.parametrize("point", list(FAILURES))
def test_a_failure_after_the_delete_recreates_the_table_from_the_last_good_export(
    machine_env: tuple[Any, Any], point: str
) -> None:
    # Given customers-test staged successfully once, and a newer export
    s3, ddb = machine_env
    _, before, first = staged_once(s3, ddb)
    ref = newer(s3)
    make, reason = FAILURES[point]
    # When the run of the newer export fails after PrepareReplace deleted the table
    run = runner(s3, ddb, before=make(s3, ddb, ref))
    status, _ = run.run(event(ref))
    # Then the table is recreated and refilled from the first export: as it was, tags and PITR
    assert status == "FAILED"
    assert run.visited[-5:] == ["Recreated?", "FinishRecreate", "RecordRecovered", "NotifyFailure", "Failed"]
    assert table_state(ddb, TABLE) == before
    # And the notification and the ledger say what failed and what the table now holds
    message = run.published[-1]["Message"]
    assert reason in message
    assert f"{TABLE} was recreated and refilled from {first.url} (staged " in message
    record = ledger(ddb, "customers")
    assert record["status"] == {"S": "FAILED"} and json.loads(record["lastGood"]["S"])["url"] == first.url


def test_without_a_last_good_export_the_table_is_recreated_empty_from_an_empty_export(
    machine_env: tuple[Any, Any],
) -> None:
    # Given a test table nothing was staged into yet, holding local data
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="replace")
    staged_table(ddb, target)
    configure_like_the_stack(ddb, target)
    ddb.put_item(TableName=TABLE, Item={"customerId": {"S": "local"}})
    before = table_state(ddb, TABLE)
    # When its first replace fails once the table is gone
    run = runner(s3, ddb, before=_raise_in("start_import"))
    status, _ = run.run(event(newer(s3)))
    # Then it exists again, empty, with its tags and PITR; the import came from an empty export
    assert status == "FAILED" and "was recreated empty with its configuration and tags" in run.published[-1]["Message"]
    after = table_state(ddb, TABLE)
    assert after["items"] == [] and {k: after[k] for k in ("tags", "pitr", "keys", "indexes")} == {
        k: before[k] for k in ("tags", "pitr", "keys", "indexes")
    }
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=MASK_BUCKET, Prefix="masked/customers/recovery/")["Contents"]]
    assert any(k.endswith("manifest-summary.json") for k in keys)
    # And the next export is staged into it as into any staging target
    status, out = runner(s3, ddb).run(
        event(write_prod_export(s3, light_customers(4), export_time=EXPORT_TIME + timedelta(days=2)))
    )
    assert status == "SUCCEEDED", out
    assert len(scan_all(ddb, TABLE)) == 4


def test_when_the_last_good_export_does_not_import_either_the_table_is_recreated_empty(
    machine_env: tuple[Any, Any],
) -> None:
    s3, ddb = machine_env
    _, before, first = staged_once(s3, ddb)

    def before_task(ev: dict[str, Any]) -> None:
        if ev["task"] == "start_import":
            raise StagingError("injected failure of start_import")
        if ev["task"] == "recreate" and not ev["recovering"]["empty"]:
            bad_object_under(s3, first.bucket, first.prefix)  # the last good export's data, damaged

    run = runner(s3, ddb, before=before_task)
    status, _ = run.run(event(newer(s3)))
    assert status == "FAILED" and "RecreateEmpty" in run.visited and "RecreateFailed" not in run.visited
    message = run.published[-1]["Message"]
    assert "was recreated empty with its configuration and tags (importing the last good export failed too)" in message
    after = table_state(ddb, TABLE)
    assert after["items"] == [] and after["tags"] == before["tags"] and after["pitr"] == before["pitr"]


def test_a_success_keeps_what_was_loaded_as_the_last_good_export(machine_env: tuple[Any, Any]) -> None:
    s3, ddb = machine_env
    _, _, first = staged_once(s3, ddb)
    good = json.loads(ledger(ddb, "customers")["lastGood"]["S"])
    assert good["url"] == first.url and good["data"] == first.url and good["exportId"] == first.export_id
    assert good["inputFormat"] == "DYNAMODB_JSON" and good["stagedAt"]
    # A newer claim keeps it until that run succeeds
    item = ddb.get_item(TableName=LEDGER, Key={"table": {"S": "customers"}})["Item"]
    assert "lastGood" in item

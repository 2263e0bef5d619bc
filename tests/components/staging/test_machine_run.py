"""The generated state machine run against the real Lambda task code on moto (through
tests/support/asl_runner.py): both modes, masking, duplicate and out-of-order events, the targets
it refuses, and the exports of tables not staged here. What a run checks (data files, verify, the
count) is in test_machine_checks.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support.staging_fixtures import (
    EXPORT_TIME,
    LEDGER,
    MASK,
    STACK,
    as_set,
    create_test_table,
    customer_items,
    data_keys,
    prod_spec,
    rewrite_files_manifest,
    scan_all,
    target_for,
    write_prod_export,
)
from tests.support.staging_machine import event, ledger, register_target, runner, staged_table


def test_refill_with_masking_runs_through_the_distributed_maps(machine_env: tuple[Any, Any]) -> None:
    # Given a masked refill target and a prod export
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="refill", mask=MASK)
    staged_table(ddb, target)
    items = customer_items(40, big=False)
    ref = write_prod_export(s3, items)
    run = runner(s3, ddb)
    # When the export's event starts the machine
    status, out = run.run(event(ref))
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


def test_replace_polls_for_deletion_and_import_then_reapplies_settings(machine_env: tuple[Any, Any]) -> None:
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="replace")
    staged_table(ddb, target)
    items = customer_items(30, big=False)
    run = runner(s3, ddb)
    ref = write_prod_export(s3, items)
    status, out = run.run(event(ref))
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


def test_a_table_with_lsis_is_refilled_even_when_replace_is_configured(machine_env: tuple[Any, Any]) -> None:
    s3, ddb = machine_env
    target = target_for(prod_spec("orders"), mode="replace")
    staged_table(ddb, target)
    items = [{"customerId": {"S": f"c{i}"}, "orderId": {"S": f"o{i}"}, "createdAt": {"N": str(i)}} for i in range(30)]
    ref = write_prod_export(s3, items, table="orders")
    run = runner(s3, ddb)
    status, out = run.run(event(ref))
    assert status == "SUCCEEDED", out
    assert out["plan"]["mode"] == "refill" and "local secondary indexes" in out["plan"]["modeReason"]
    assert "PrepareReplace" not in run.visited
    assert as_set(scan_all(ddb, target.name)) == as_set(items)


def test_a_duplicate_event_is_skipped_without_touching_the_table(machine_env: tuple[Any, Any]) -> None:
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="refill")
    staged_table(ddb, target)
    ref = write_prod_export(s3, customer_items(10, big=False))
    assert runner(s3, ddb).run(event(ref))[0] == "SUCCEEDED"
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "written-since"}})
    # When the same event is delivered again
    run = runner(s3, ddb)
    status, out = run.run(event(ref))
    # Then the second run stops at the claim
    assert status == "SUCCEEDED" and run.visited[-1] == "Skipped"
    assert "duplicate" in out["claim"]["reason"]
    assert len(scan_all(ddb, target.name)) == 11


def test_an_export_older_than_the_last_staged_is_skipped(machine_env: tuple[Any, Any]) -> None:
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="refill")
    staged_table(ddb, target)
    newer = write_prod_export(s3, customer_items(5, big=False), export_time=EXPORT_TIME + timedelta(days=1))
    older = write_prod_export(s3, customer_items(9, big=False))
    assert runner(s3, ddb).run(event(newer))[0] == "SUCCEEDED"
    run = runner(s3, ddb)
    status, out = run.run(event(older))
    assert status == "SUCCEEDED" and run.visited[-1] == "Skipped"
    assert "not newer than" in out["claim"]["reason"]
    assert len(scan_all(ddb, target.name)) == 5


def test_a_corrupt_export_fails_records_and_notifies_without_touching_the_table(machine_env: tuple[Any, Any]) -> None:
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="replace")
    staged_table(ddb, target)
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    ref = write_prod_export(s3, customer_items(30, big=False))

    def corrupt(lines: list[dict[str, Any]]) -> None:
        lines[0]["itemCount"] += 1

    rewrite_files_manifest(s3, ref, corrupt)
    run = runner(s3, ddb)
    status, out = run.run(event(ref))
    assert status == "FAILED" and out["Error"] == "StagingFailed"
    assert run.visited[-3:] == ["RecordFailure", "NotifyFailure", "Failed"]
    assert "PrepareReplace" not in run.visited
    assert scan_all(ddb, target.name) == [{"customerId": {"S": "keep"}}]
    assert ledger(ddb, "customers")["status"] == {"S": "FAILED"}
    assert "ExportRejected" in run.published[-1]["Message"]


def test_an_untagged_table_is_refused_by_the_task_code(machine_env: tuple[Any, Any]) -> None:
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="replace")
    staged_table(ddb, target, tags={"safetynet:environment": "test"})
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    run = runner(s3, ddb)
    status, _ = run.run(event(write_prod_export(s3, customer_items(3, big=False))))
    assert status == "FAILED" and "NotAStagingTarget" in run.published[-1]["Message"]
    assert scan_all(ddb, target.name) == [{"customerId": {"S": "keep"}}]


def test_a_target_of_another_stack_is_refused_before_any_work(machine_env: tuple[Any, Any]) -> None:
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"))
    other = type(target)(**{**target.__dict__, "stack": "someone/else"})
    create_test_table(ddb, target)
    register_target(ddb, other)
    run = runner(s3, ddb)
    status, _ = run.run(event(write_prod_export(s3, customer_items(1, big=False))))
    assert status == "FAILED" and run.visited == ["Resolve", "NotifyUnclaimed", "Failed"]
    assert "belongs to someone/else" in run.published[-1]["Message"]
    assert scan_all(ddb, target.name) == []


# -- the one trigger sees every prod export: the tables not staged here ------------------------------


def test_an_export_of_a_table_not_staged_here_is_refused_quietly(machine_env: tuple[Any, Any]) -> None:
    # Given a test stack that stages customers only, whose table holds an item
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="replace")
    staged_table(ddb, target)
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    # When prod's export of orders completes (the trigger matches every table's exports)
    ref = write_prod_export(s3, [{"customerId": {"S": "c1"}, "orderId": {"S": "o1"}}], table="orders")
    run = runner(s3, ddb)
    status, out = run.run(event(ref))
    # Then the run ends at the first task: nothing claimed, touched or announced
    assert status == "SUCCEEDED" and run.visited == ["Resolve", "StagedHere?", "NotStagedHere"]
    assert out["resolved"]["staged"] is False and "exports/orders/" in out["resolved"]["reason"]
    assert run.published == []
    assert "Item" not in ddb.get_item(TableName=LEDGER, Key={"table": {"S": "orders"}})
    assert "Item" not in ddb.get_item(TableName=LEDGER, Key={"table": {"S": "customers"}})
    assert scan_all(ddb, target.name) == [{"customerId": {"S": "keep"}}]


def test_a_removed_staged_table_no_longer_receives_its_exports(machine_env: tuple[Any, Any]) -> None:
    # Given customers was staged here, then removed from the test stack (its target item deleted)
    s3, ddb = machine_env
    target = target_for(prod_spec("customers"), mode="refill")
    staged_table(ddb, target)
    ddb.delete_item(TableName=LEDGER, Key={"table": {"S": "exports/customers"}})
    # When its next export completes
    run = runner(s3, ddb)
    status, _ = run.run(event(write_prod_export(s3, customer_items(3, big=False))))
    # Then it is not staged, though the table still exists and is tagged
    assert status == "SUCCEEDED" and run.visited[-1] == "NotStagedHere"
    assert scan_all(ddb, target.name) == []


def test_an_export_is_staged_into_the_table_registered_for_its_prefix(machine_env: tuple[Any, Any]) -> None:
    # Given two staged tables
    s3, ddb = machine_env
    customers = target_for(prod_spec("customers"), mode="refill")
    orders = target_for(prod_spec("orders"), mode="refill")
    staged_table(ddb, customers)
    staged_table(ddb, orders)
    items = customer_items(5, big=False)
    # When customers' export completes
    status, out = runner(s3, ddb).run(event(write_prod_export(s3, items)))
    # Then it goes to customers-test, and orders-test is untouched
    assert status == "SUCCEEDED", out
    assert out["target"]["name"] == customers.name
    assert as_set(scan_all(ddb, customers.name)) == as_set(items)
    assert scan_all(ddb, orders.name) == []

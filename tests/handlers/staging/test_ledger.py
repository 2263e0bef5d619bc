"""The staging ledger on moto: claims make duplicate and out-of-order events no-ops, and the
problems of failed data files are kept, bounded, for the failure notification."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from handlers.staging.ledger import (
    MAX_RECORDED_PROBLEMS,
    PROBLEM_CHARS,
    PROBLEMS_PER_FILE,
    claim,
    problems_recorded,
    record_outcome,
    record_problems,
    record_result,
    recorded_problems,
)
from tests.support.staging_fixtures import EXPORT_TIME, LEDGER, claimed

# -- claims: duplicate and out-of-order events ------------------------------------------------


def test_a_duplicate_event_does_not_start_a_second_run(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    assert claim(ddb, LEDGER, "customers", "01-a", EXPORT_TIME).claimed
    again = claim(ddb, LEDGER, "customers", "01-a", EXPORT_TIME)
    assert not again.claimed and "duplicate" in again.reason


def test_an_export_older_than_the_last_staged_is_skipped(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    assert claim(ddb, LEDGER, "customers", "02-new", EXPORT_TIME).claimed
    late = claim(ddb, LEDGER, "customers", "01-old", EXPORT_TIME - timedelta(days=1))
    assert not late.claimed and "not newer than 02-new" in late.reason


def test_a_newer_export_and_a_failed_run_may_be_claimed(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    assert claim(ddb, LEDGER, "customers", "01", EXPORT_TIME).claimed
    record_result(ddb, LEDGER, "customers", "01", status="FAILED", detail="import failed")
    assert claim(ddb, LEDGER, "customers", "01", EXPORT_TIME).claimed
    assert claim(ddb, LEDGER, "customers", "02", EXPORT_TIME + timedelta(hours=1)).claimed
    assert claim(ddb, LEDGER, "orders", "01", EXPORT_TIME).claimed  # per table


# -- the problem list of failed data files -------------------------------------------------------


def test_a_file_keeps_its_first_problems_and_marks_the_rest_left_out(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    export_id = claimed(ddb)
    problems = [f"problem {i}" for i in range(PROBLEMS_PER_FILE + 2)] + ["x" * 5000]
    assert record_problems(ddb, LEDGER, "customers", export_id, problems)
    got = recorded_problems(ddb, LEDGER, "customers", export_id)
    assert got.problems == problems[:PROBLEMS_PER_FILE] and got.failed_files == 1 and got.truncated


def test_a_long_problem_is_cut(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    export_id = claimed(ddb)
    record_problems(ddb, LEDGER, "customers", export_id, ["y" * 5000])
    (problem,) = recorded_problems(ddb, LEDGER, "customers", export_id).problems
    assert len(problem) == PROBLEM_CHARS and problem.endswith("...")


def test_the_record_never_holds_more_than_the_cap_but_counts_every_file(clients: tuple[Any, Any]) -> None:
    # Given many failing files, each with two problems
    _, ddb = clients
    export_id = claimed(ddb)
    stored = [record_problems(ddb, LEDGER, "customers", export_id, [f"file {i} a", f"file {i} b"]) for i in range(30)]
    # Then whole files are kept up to the cap, later ones only counted
    got = recorded_problems(ddb, LEDGER, "customers", export_id)
    assert stored == [True] * (MAX_RECORDED_PROBLEMS // 2) + [False] * (30 - MAX_RECORDED_PROBLEMS // 2)
    assert len(got.problems) == MAX_RECORDED_PROBLEMS and got.problems[:2] == ["file 0 a", "file 0 b"]
    assert got.failed_files == 30 and got.truncated
    assert "30 data file(s) failed:" in got.text() and "task logs have every one" in got.text()


def test_problems_of_another_export_are_not_recorded(clients: tuple[Any, Any]) -> None:
    # Given a ledger record claimed by a newer export
    _, ddb = clients
    newer = claimed(ddb, "01800000000000-bbbbbbbb")
    # When a child of an older run records problems
    assert not record_problems(ddb, LEDGER, "customers", "01700000000000-aaaaaaaa", ["late"])
    # Then the newer run's record is unchanged
    assert recorded_problems(ddb, LEDGER, "customers", newer).failed_files == 0
    assert recorded_problems(ddb, LEDGER, "customers", "01700000000000-aaaaaaaa").text() == ""


def test_a_new_claim_starts_without_problems(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    export_id = claimed(ddb)
    record_problems(ddb, LEDGER, "customers", export_id, ["old"] * 9)
    ddb.update_item(
        TableName=LEDGER,
        Key={"table": {"S": "customers"}},
        UpdateExpression="SET #s = :f",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":f": {"S": "FAILED"}},
    )
    # When the failed export is claimed again
    claimed(ddb, export_id)
    # Then nothing of the earlier run is left
    got = recorded_problems(ddb, LEDGER, "customers", export_id)
    assert (got.problems, got.failed_files, got.truncated) == ([], 0, False)


# -- a map child's failure, and the run's outcome ------------------------------------------------


def test_a_map_childs_error_is_recorded_with_its_file_and_raised_unchanged(clients: tuple[Any, Any]) -> None:
    # Given a claimed run
    _, ddb = clients
    export_id = claimed(ddb)
    # When a map child fails on one data file
    with (
        pytest.raises(ValueError, match=r"^bad line$"),
        problems_recorded(ddb, LEDGER, "customers", export_id, "data/file-1.json.gz"),
    ):
        raise ValueError("bad line")
    # Then the ledger names the file and the error
    got = recorded_problems(ddb, LEDGER, "customers", export_id)
    assert got.problems == ["data file data/file-1.json.gz: ValueError: bad line"] and got.failed_files == 1


def test_a_failed_outcome_says_why_and_lists_the_recorded_problems(clients: tuple[Any, Any]) -> None:
    # Given a run whose map recorded a damaged file
    _, ddb = clients
    export_id = claimed(ddb)
    record_problems(ddb, LEDGER, "customers", export_id, ["file 3: MD5 mismatch"])
    # When the run is recorded as failed
    text = record_outcome(
        ddb,
        LEDGER,
        table="customers-test",
        logical_name="customers",
        export_id=export_id,
        url="s3://vault/x/",
        status="FAILED",
        detail={"Error": "States.ExceedToleratedFailureThreshold", "Cause": "threshold exceeded"},
    )
    # Then the text carries the outcome, the error and the problems, and the ledger record holds it
    assert text.splitlines() == [
        "FAILED: customers-test from s3://vault/x/",
        "States.ExceedToleratedFailureThreshold: threshold exceeded",
        "1 data file(s) failed:",
        "  - file 3: MD5 mismatch",
    ]
    record = ddb.get_item(TableName=LEDGER, Key={"table": {"S": "customers"}}, ConsistentRead=True)["Item"]
    assert record["status"] == {"S": "FAILED"} and record["detail"] == {"S": text}


# -- the last good export ----------------------------------------------------------------------------


def test_a_success_records_the_last_good_export_and_later_claims_and_failures_keep_it(clients: tuple[Any, Any]) -> None:
    from handlers.staging.ledger import last_good

    _, ddb = clients
    assert last_good(ddb, LEDGER, "customers") is None
    assert claim(ddb, LEDGER, "customers", "01-a", EXPORT_TIME).claimed
    record_result(ddb, LEDGER, "customers", "01-a", status="SUCCEEDED", detail="ok", last_good='{"data":"s3://a/"}')
    # A newer export is claimed and fails: what the table was last refilled from is still known
    assert claim(ddb, LEDGER, "customers", "02-b", EXPORT_TIME + timedelta(days=1)).claimed
    record_result(ddb, LEDGER, "customers", "02-b", status="FAILED", detail="import failed")
    assert last_good(ddb, LEDGER, "customers") == {"data": "s3://a/"}


def test_the_cli_sets_the_last_good_export_without_touching_the_claim(clients: tuple[Any, Any]) -> None:
    from handlers.staging.ledger import last_good, record_last_good

    _, ddb = clients
    assert claim(ddb, LEDGER, "customers", "01-a", EXPORT_TIME).claimed
    record_last_good(ddb, LEDGER, "customers", '{"data":"s3://cli/"}')
    item = ddb.get_item(TableName=LEDGER, Key={"table": {"S": "customers"}})["Item"]
    assert item["exportId"] == {"S": "01-a"} and item["status"] == {"S": "RUNNING"}
    assert last_good(ddb, LEDGER, "customers") == {"data": "s3://cli/"}

"""The generated rewind state machine run against the real task code on moto (through
tests/support/asl_runner.py, which executes the Distributed Map's ItemReader): a window export of
several data files with a conflict, a failed file, a refused run, and a rerun."""

from __future__ import annotations

import pytest

from components.recovery.rewind import rewind_definition
from tests.handlers.rewind.support import create_table, get, item, key
from tests.handlers.rewind.test_entrypoints import (
    BUCKET,
    FN,
    RUN_ID,
    FakeContext,
    World,
    change,
    window_changes,
    world,
)
from tests.support.asl_runner import Runner

__all__ = ["world"]  # the fixture, shared with the task's own tests


def runner(w: World) -> Runner:
    """The machine (at most 4 files at once) whose one function is the rewind task."""
    definition = rewind_definition(function_arn=FN, max_concurrency=4)
    return Runner(definition, {FN: lambda event: w.invoke(event, FakeContext())}, w.s3, w.ddb)


def test_a_window_of_several_data_files_is_rewound_one_child_per_file(world: World) -> None:
    # Given a bad window of 12 changed keys in 4 data files, one key written again after it
    changes = window_changes(world, 9)
    ref = world.export(changes, items_per_file=3)
    files = world.files(ref)
    run = runner(world)
    # When the machine runs
    status, out = run.run(world.run(ref))
    # Then each file had its own child, every key is back to its state before the window but the
    # conflict, which keeps its later write
    assert status == "SUCCEEDED", out
    assert len(files) == 4 and run.map_items == [("RewindFiles", 4)]
    assert run.visited.count("RewindFile") == 4 and "RecordFileProblem" not in run.visited
    assert all(get(world.ddb, key(f"k{i:03d}")) == item(f"k{i:03d}", v=1) for i in range(9))
    assert get(world.ddb, key("created")) is None and get(world.ddb, key("deleted")) == item("deleted", v=1)
    assert get(world.ddb, key("again")) == item("again", v=3)
    # And the summary is in the vault, the state keeps only its status, and the topic was told
    summary = world.summary()
    assert out["summary"] == {
        "status": "completed",
        "summaryKey": world.location().summary_key,
        "byOutcome": summary["byOutcome"],
    }
    assert summary["byOutcome"]["reverted"] == 11 and summary["byOutcome"]["conflict"] == 1
    assert summary["files"] == {"total": 4, "settled": 4, "failed": 0}
    [note] = world.notifications()
    assert note["Subject"] == "[INFO] safetynet prod: rewind completed: orders 11 reverted, 1 conflicts"


def test_a_failed_file_ends_the_run_failed_with_the_file_named_and_the_others_rewound(world: World) -> None:
    # Given a window export whose second data file is gone from the vault
    ref = world.export(window_changes(world, 9), items_per_file=3)
    files = world.files(ref)
    lost = files[1]
    world.s3.delete_object(Bucket=BUCKET, Key=ref.resolve(lost.data_file_s3_key))
    run = runner(world)
    # When the machine runs
    status, out = run.run(world.run(ref))
    # Then every other file was rewound, the lost one's problem recorded, and the run failed
    # naming that file (not only "threshold exceeded")
    assert status == "FAILED"
    assert out["Error"] == "RewindFailed" and lost.data_file_s3_key in out["Cause"]
    assert run.visited.count("RewindFile") == 4 and run.visited.count("RecordFileProblem") == 1
    summary = world.summary()
    assert summary["status"] == "failed" and summary["files"] == {"total": 4, "settled": 3, "failed": 1}
    assert [p["file"] for p in summary["failedFiles"]] == [lost.data_file_s3_key]
    assert summary["total"] == 12 - lost.item_count
    assert "rewind failed" in world.notifications()[0]["Subject"]


def test_a_refused_run_changes_nothing_and_fails_with_the_reason(world: World) -> None:
    # Given a table of the account that is not the stack's, with a window export in the vault
    create_table(world.ddb, "payments")
    arn = world.ddb.describe_table(TableName="payments")["Table"]["TableArn"]
    world.ddb.put_item(TableName="payments", Item=item("a", v=2))
    ref = world.export([change(item("a", v=1), item("a", v=2))], table="payments", table_arn=arn)
    run = runner(world)
    # When the machine is started for it
    status, out = run.run(world.run(ref, table="payments"))
    # Then Prepare refuses it, no file is touched, and the run fails saying why
    assert status == "FAILED" and out["Error"] == "RewindFailed"
    assert "payments is not one of this stack's tables" in out["Cause"]
    assert "RewindFiles" not in run.visited and run.caught == [("Prepare", "RewindRefused")]
    assert world.ddb.get_item(TableName="payments", Key=key("a"))["Item"] == item("a", v=2)


def test_a_rerun_of_a_finished_rewind_writes_nothing_and_reports_every_key_unchanged(world: World) -> None:
    ref = world.export(window_changes(world, 5), items_per_file=4)
    assert runner(world).run(world.run(ref))[0] == "SUCCEEDED"
    status, _ = runner(world).run(world.run(ref, run_id="20261126T040000Z-cccccc"))
    assert status == "SUCCEEDED"
    again = world.summary("20261126T040000Z-cccccc")["byOutcome"]
    assert (again["unchanged"], again["conflict"], again["reverted"]) == (7, 1, 0)
    assert world.summary(RUN_ID)["byOutcome"]["reverted"] == 7


@pytest.mark.parametrize("where", ['NewImage.v = "nope"', "OldImage.v = 1"])
def test_the_filter_reaches_every_child(world: World, where: str) -> None:
    ref = world.export(window_changes(world, 4), items_per_file=2)
    status, _ = runner(world).run(world.run(ref, filter=where))
    assert status == "SUCCEEDED"
    by = world.summary()["byOutcome"]
    if where.startswith("NewImage"):
        assert by["filtered"] == 7 and get(world.ddb, key("k000")) == item("k000", v=2)
    else:
        # Keys with an OldImage v = 1: the overwritten ones, the deleted one and the conflict.
        assert (by["filtered"], by["reverted"], by["conflict"]) == (1, 5, 1)
        assert get(world.ddb, key("created")) == item("created", v=1)

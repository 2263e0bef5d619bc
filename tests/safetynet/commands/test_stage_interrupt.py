"""Ctrl-C or SIGTERM (both arrive as KeyboardInterrupt) at any point of `safetynet stage`: the
command says what state the table is in and the exact command that finishes the job, exits 130,
and that command, run again, ends with the table exactly as an uninterrupted run leaves it
(items, tags, PITR, TTL, stream) - without a second import, and from where the refill stopped."""

from __future__ import annotations

import contextlib
import re
import shlex
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from safetynet.cli import app
from tests.support.staging_fixtures import (
    EXPORT_TIME,
    FaultyClient,
    configure_like_the_stack,
    create_test_table,
    faulty_cli_clients,
    interrupt,
    light_customers,
    prod_spec,
    stage_cli,
    table_state,
    target_for,
    write_prod_export,
)

runner = CliRunner()
__all__ = ["stage_cli"]
TABLE = "customers-test"


def fresh_table(ddb: Any) -> None:
    """customers-test as the stack declares it, with TTL, a stream and local test data."""
    with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
        ddb.delete_table(TableName=TABLE)
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target)
    configure_like_the_stack(ddb, target)
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    ddb.update_table(TableName=TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    for i in range(3):
        ddb.put_item(TableName=TABLE, Item={"customerId": {"S": f"local-{i}"}, "email": {"S": f"l{i}@test"}})


def finish_command(output: str) -> list[str]:
    """The arguments of the command an interrupted run printed (without `safetynet`)."""
    line = " ".join(output.split())  # the console may wrap a long line
    found = re.search(r"(?:finish with|Stage it with): (safetynet stage .*? -y)", line)
    assert found, output
    return shlex.split(found.group(1))[1:]


# (mode, the DynamoDB call interrupted, on which call, before or after it went through, the state said)
POINTS = {
    "replace: before the delete": ("replace", "delete_table", 1, False, "is being deleted (or is gone)"),
    "replace: right after the delete": ("replace", "delete_table", 1, True, "is being deleted (or is gone)"),
    "replace: waiting for the import": ("replace", "describe_import", 1, False, "is loading customers-test"),
    "replace: putting back PITR": (
        "replace",
        "update_continuous_backups",
        1,
        False,
        "its tags, PITR, TTL and stream are not all back",
    ),
    "replace: verifying": ("replace", "get_item", 1, False, "loaded and configured, not yet verified"),
    "refill: first data file": ("refill", "batch_write_item", 1, True, "holds a mix of its previous items"),
    "refill: third data file": ("refill", "batch_write_item", 3, False, "holds a mix of its previous items"),
    "refill: deleting what the export lacks": ("refill", "scan", 1, False, "holds a mix of its previous items"),
    "before anything changed": ("replace", "describe_time_to_live", 1, False, "customers-test was not changed"),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_an_interrupted_stage_says_where_it_stopped_and_its_command_finishes_the_job(
    stage_cli: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    mode, method, nth, after, state = POINTS[point]
    s3, ddb = stage_cli
    # 60 items in 25-item data files: three files, three BatchWriteItem calls in a refill
    ref = write_prod_export(s3, light_customers(60), export_time=EXPORT_TIME + timedelta(days=1))
    # A refill unmasked: the masked copy would hold the 60 items in one file
    args = ["stage", ref.url, "--table", TABLE, "--mode", mode, *(["--unmasked"] if mode == "refill" else []), "-y"]
    # Given the end state of an uninterrupted run
    fresh_table(ddb)
    assert runner.invoke(app, args).exit_code == 0
    uninterrupted = table_state(ddb, TABLE)
    # When the same run on the same table is interrupted
    fresh_table(ddb)
    faulty_cli_clients(monkeypatch, dynamodb=FaultyClient(ddb).on(method, interrupt, nth=nth, after=after))
    out = runner.invoke(app, args)
    # Then it exits 130, saying what state the table is in and the command that finishes the job
    assert out.exit_code == 130, out.output
    assert "interrupted" in out.output and state in " ".join(out.output.split())
    assert "Traceback" not in out.output
    command = finish_command(out.output)
    assert command[:3] == ["stage", ref.url, "--table"] and command[-1] == "-y"
    # And that command completes the job: the table ends as the uninterrupted run left it
    rerun = FaultyClient(ddb)
    faulty_cli_clients(monkeypatch, dynamodb=rerun)
    done = runner.invoke(app, command)
    assert done.exit_code == 0, done.output
    assert table_state(ddb, TABLE) == uninterrupted
    if method == "describe_import":  # it waited for the running import instead of starting another
        assert rerun.calls["import_table"] == 0 and "resuming" in done.output
    if point == "refill: third data file":  # it wrote only the third file, then deleted the 3 local items
        assert rerun.calls["batch_write_item"] == 2


def test_a_table_a_replace_left_without_tags_is_recognised_not_refused(
    stage_cli: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a replace interrupted while ImportTable loads the table: it has no tags at all
    s3, ddb = stage_cli
    fresh_table(ddb)
    ref = write_prod_export(s3, light_customers(20))
    faulty_cli_clients(monkeypatch, dynamodb=FaultyClient(ddb).on("describe_import", interrupt))
    out = runner.invoke(app, ["stage", ref.url, "--table", TABLE, "-y"])
    assert out.exit_code == 130
    arn = ddb.describe_table(TableName=TABLE)["Table"]["TableArn"]
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == []
    # When another export is staged into it, or the untagged table is staged with --force-untagged
    other = write_prod_export(s3, light_customers(5), export_time=EXPORT_TIME + timedelta(days=2))
    refused = runner.invoke(app, ["stage", other.url, "--table", TABLE, "-y"])
    # Then it is neither refused as untagged nor overwritten: the interrupted run must finish first
    assert refused.exit_code == 1 and "in the middle of staging another export" in refused.output
    assert " ".join(finish_command(out.output)) in " ".join(refused.output.split())
    # And the interrupted run's command finishes it, tags included
    assert runner.invoke(app, finish_command(out.output)).exit_code == 0
    assert table_state(ddb, TABLE)["tags"]["safetynet:staging-target"] == "safetynet/test"

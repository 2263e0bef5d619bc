"""An interrupted `safetynet refill` (Ctrl-C or SIGTERM, both a KeyboardInterrupt) says what state
the table is in and the command that finishes the job; that command resumes from the table's
journal and ends with exactly the table an uninterrupted refill leaves (items, tags, PITR, TTL,
stream). moto in-process; one test runs the CLI as a process and sends it SIGTERM."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from components.config.loading import decode_pulumi_config, parse_stack_config
from safetynet.cli import app
from safetynet.recovery import refill as refill_module
from safetynet.recovery.refill import JOURNAL_TAG, Journal
from safetynet.synth import read_stack_config
from tests.support import restore_fixtures as fx
from tests.support.interrupt import Interrupter, interrupt_commands
from tests.support.stacks import PROJECT_DIR

DR_REGION = "eu-west-1"
ITEMS, PER_FILE = 300, 60  # five data files of three BatchWriteItem calls (25 + 25 + 10 items)
runner = CliRunner()


def order(i: int) -> dict[str, Any]:
    return {
        "customerId": {"S": f"c-{i % 3}"},
        "orderId": {"S": f"o-{i:04d}"},
        "createdAt": {"N": str(1700000000 + i)},
        "status": {"S": "open"},
        "total": {"N": str(i)},
    }


def dr_project(tmp: Path) -> tuple[Path, Any]:
    project = fx.copy_project(tmp)
    shutil.copy(PROJECT_DIR / "Pulumi.dr.yaml", project / "Pulumi.dr.yaml")
    cfg = parse_stack_config(decode_pulumi_config(read_stack_config(project, "dr")[0]))
    return project, cfg


def create_orders(ddb: Any, cfg: Any) -> None:
    """orders as `pulumi up` of the DR stack leaves it: empty, with its LSI, a stream, TTL, PITR and
    the stack's tags."""
    spec = next(t for t in cfg.tables if t.name == "orders")
    request = spec.create_table_request("orders")
    request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    request["Tags"] = [{"Key": "safetynet:stack", "Value": "safetynet/dr"}, {"Key": "team", "Value": "orders"}]
    ddb.create_table(**request)
    ddb.update_time_to_live(TableName="orders", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})
    ddb.update_continuous_backups(
        TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


@pytest.fixture
def dr(aws: None, tmp_path: Path) -> dict[str, Any]:
    """The DR project, the replica bucket with one export of prod's orders in six data files, and
    orders created empty."""
    from handlers.exports import new_export_id, write_export

    project, cfg = dr_project(tmp_path)
    bucket = cfg.disaster_recovery.replica_bucket
    s3 = boto3.client("s3", region_name=DR_REGION)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": DR_REGION})
    at = fx.NOW - timedelta(hours=3)
    ref = write_export(
        s3,
        bucket=bucket,
        prefix="exports/orders",
        table_arn=fx.table_arn("orders"),
        items=[order(i) for i in range(ITEMS)],
        export_time=at,
        export_id=new_export_id(at),
        items_per_file=PER_FILE,
    )
    ddb = boto3.client("dynamodb", region_name=DR_REGION)
    create_orders(ddb, cfg)
    return {"project": project, "cfg": cfg, "ref": ref, "ddb": ddb}


def refill(project: Path, *args: str) -> Any:
    argv = ["refill", "-s", "dr", "--table", "orders", "--project-dir", str(project), *args]
    return runner.invoke(app, argv, env={"COLUMNS": "300"})


def table_state(ddb: Any) -> dict[str, Any]:
    """What a refill must leave: the items, and every setting it must not change."""
    desc = ddb.describe_table(TableName="orders")["Table"]
    pitr = ddb.describe_continuous_backups(TableName="orders")["ContinuousBackupsDescription"]
    return {
        "items": sorted(
            (i["customerId"]["S"], i["orderId"]["S"], i["total"]["N"]) for i in ddb.scan(TableName="orders")["Items"]
        ),
        "tags": sorted((t["Key"], t["Value"]) for t in ddb.list_tags_of_resource(ResourceArn=desc["TableArn"])["Tags"]),
        "pitr": pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"],
        "ttl": ddb.describe_time_to_live(TableName="orders")["TimeToLiveDescription"],
        "stream": desc.get("StreamSpecification"),
        "lsi": [i["IndexName"] for i in desc.get("LocalSecondaryIndexes", [])],
    }


def journal_of(ddb: Any) -> Journal | None:
    arn = ddb.describe_table(TableName="orders")["Table"]["TableArn"]
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    return Journal.parse(tags[JOURNAL_TAG]) if JOURNAL_TAG in tags else None


@pytest.fixture
def uninterrupted(dr: dict[str, Any]) -> dict[str, Any]:
    """The end state of a refill nobody interrupted; then orders is created empty again."""
    result = refill(dr["project"], "--yes")
    assert result.exit_code == 0, result.output
    state = table_state(dr["ddb"])
    assert len(state["items"]) == ITEMS and JOURNAL_TAG not in dict(state["tags"])
    dr["ddb"].delete_table(TableName="orders")
    create_orders(dr["ddb"], dr["cfg"])
    return state


def flat(text: str) -> str:
    return " ".join(text.split())


def finish_command(output: str) -> list[str]:
    """The command the interruption message says finishes the job, as argv after `safetynet`."""
    text = flat(output)
    line = text[text.index("Finish with: ") + len("Finish with: ") :]
    argv = shlex.split(line)
    assert argv[0] == "safetynet"
    return argv[1:]


# -- where it is interrupted ------------------------------------------------------------------------

# (service, operation, call number, after the call?, data files a rerun finds journaled)
POINTS = {
    # while the export is validated: nothing written, no journal
    "validating": ("s3", "get_object", 4, False, None),
    # the journal is on the table, the first batch of file 1 was never sent
    "journal written": ("dynamodb", "tag_resource", 1, True, 0),
    # in the middle of data file 3 (files 1-2 and the first batch of file 3 written)
    "mid-file": ("dynamodb", "batch_write_item", 8, False, 2),
    # every item written, the journal not yet removed (it records 4: the last advance)
    "before the journal is removed": ("dynamodb", "untag_resource", 1, False, 4),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_an_interrupted_refill_says_where_it_stopped_and_its_command_finishes_the_job(
    point: str, dr: dict[str, Any], uninterrupted: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, operation, at, after, journaled = POINTS[point]
    # Given a refill interrupted at that point (a journal entry per data file)
    with monkeypatch.context() as patch:
        patch.setattr(refill_module, "JOURNAL_EVERY_SECONDS", 0.0)
        interrupter = interrupt_commands(patch, Interrupter(service, operation, at, after=after))
        result = refill(dr["project"], "--yes")
    assert interrupter.fired, interrupter
    # Then it exits 130 with the table's state and the command that finishes the job, no traceback
    assert result.exit_code == 130, result.output
    text = flat(result.output)
    assert "Traceback" not in text
    if journaled is None:
        assert "interrupted: nothing was written: orders is as it was" in text
        assert journal_of(dr["ddb"]) is None
    else:
        assert "interrupted: orders is incomplete, do not point applications at it" in text
        assert f"its journal (tag safetynet:refill) records {journaled}," in text
        assert f"--export {dr['ref'].url}" in text
        assert journal_of(dr["ddb"]) == Journal(dr["ref"].export_id, journaled, ITEMS // PER_FILE)
    # When the printed command runs (uninterrupted)
    again = runner.invoke(app, [*finish_command(result.output), "--yes", "--json"])
    # Then the table ends exactly as after an uninterrupted refill, having skipped the files written
    assert again.exit_code == 0, again.output
    assert table_state(dr["ddb"]) == uninterrupted
    doc = json.loads(again.stdout)
    assert doc["items"] == ITEMS and doc["resumedAfterFiles"] == (journaled or 0), again.output
    assert doc["itemsWritten"] == ITEMS - PER_FILE * (journaled or 0)


def test_a_rerun_with_another_export_is_refused_while_a_refill_is_unfinished(
    dr: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers.exports import new_export_id, write_export

    with monkeypatch.context() as patch:
        patch.setattr(refill_module, "JOURNAL_EVERY_SECONDS", 0.0)
        interrupt_commands(patch, Interrupter("dynamodb", "batch_write_item", 8))
        assert refill(dr["project"], "--yes").exit_code == 130
    at = fx.NOW - timedelta(hours=1)
    newer = write_export(
        boto3.client("s3", region_name=DR_REGION),
        bucket=dr["ref"].bucket,
        prefix="exports/orders",
        table_arn=fx.table_arn("orders"),
        items=[order(i) for i in range(5)],
        export_time=at,
        export_id=new_export_id(at),
    )
    before = table_state(dr["ddb"])
    # When run with the newer export named
    result = refill(dr["project"], "--yes", "--export", newer.url)
    # Then it is refused and nothing changes
    assert result.exit_code == 1
    assert f"in the middle of a refill from export {dr['ref'].export_id}" in flat(result.output)
    assert table_state(dr["ddb"]) == before
    # And without --export the journal's export is resumed, not the newer one
    resumed = refill(dr["project"], "--yes")
    assert resumed.exit_code == 0, resumed.output
    assert len(table_state(dr["ddb"])["items"]) == ITEMS and journal_of(dr["ddb"]) is None


def test_a_non_empty_table_without_a_journal_is_still_refused(dr: dict[str, Any]) -> None:
    dr["ddb"].put_item(TableName="orders", Item=order(999))
    result = refill(dr["project"], "--yes")
    assert result.exit_code == 1
    assert "table orders is not empty" in flat(result.output)
    assert "journal (tag safetynet:refill) may not be visible yet" in flat(result.output)


def test_a_declined_question_writes_nothing(dr: dict[str, Any]) -> None:
    result = runner.invoke(
        app, ["refill", "-s", "dr", "--table", "orders", "--project-dir", str(dr["project"])], input="n\n"
    )
    assert result.exit_code == 1
    assert f"Write the {ITEMS} items of export" in result.output and "declined; orders unchanged" in flat(result.output)
    assert table_state(dr["ddb"])["items"] == [] and journal_of(dr["ddb"]) is None


@pytest.mark.slow
def test_sigterm_mid_refill_exits_130_and_the_printed_command_finishes(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the DR setup on a moto server, with an export big enough to take a while
    from handlers.exports import new_export_id, write_export

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    project, cfg = dr_project(tmp_path)
    s3 = boto3.client("s3", region_name=DR_REGION)
    bucket = cfg.disaster_recovery.replica_bucket
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": DR_REGION})
    at = fx.NOW - timedelta(hours=3)
    count = 3000
    write_export(
        s3,
        bucket=bucket,
        prefix="exports/orders",
        table_arn=fx.table_arn("orders"),
        items=[order(i) for i in range(count)],
        export_time=at,
        export_id=new_export_id(at),
        items_per_file=500,
    )
    ddb = boto3.client("dynamodb", region_name=DR_REGION)
    create_orders(ddb, cfg)
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server, "COLUMNS": "300"}
    argv = ["refill", "-s", "dr", "--table", "orders", "--project-dir", str(project), "--yes"]
    # When SIGTERM arrives once the refill is writing (its journal is on the table)
    proc = subprocess.Popen(
        [sys.executable, "-m", "safetynet.cli", *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while journal_of(ddb) is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    # Then it exits 130 saying what the table holds and how to finish
    stderr = err.decode()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "orders is incomplete" in flat(stderr), stderr
    # And the printed command finishes the job
    again = subprocess.run(
        [sys.executable, "-m", "safetynet.cli", *finish_command(stderr), "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, stderr + "\n----\n" + again.stderr
    assert ddb.scan(TableName="orders", Select="COUNT")["Count"] == count
    assert journal_of(ddb) is None


def test_ctrl_c_at_the_question_writes_nothing_and_exits_130(
    dr: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    def ctrl_c(*_: Any, **__: Any) -> bool:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise typer.Abort from None  # what typer's prompt does with Ctrl-C

    monkeypatch.setattr(typer, "confirm", ctrl_c)
    result = refill(dr["project"])
    assert result.exit_code == 130, result.output
    assert "interrupted: nothing was written: orders is as it was" in flat(result.output)
    assert table_state(dr["ddb"])["items"] == [] and journal_of(dr["ddb"]) is None


def test_without_a_terminal_to_answer_it_writes_nothing_and_says_to_pass_yes(
    dr: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from safetynet.cli import run

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # a script: end of input at the question
    code = run(["refill", "-s", "dr", "--table", "orders", "--project-dir", str(dr["project"])])
    err = capsys.readouterr().err
    assert code == 1
    assert "refill: aborted; nothing changed (pass -y/--yes to run without a question)" in flat(err)
    assert "Traceback" not in err
    assert table_state(dr["ddb"])["items"] == [] and journal_of(dr["ddb"]) is None

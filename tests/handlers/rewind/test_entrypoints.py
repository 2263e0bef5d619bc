"""The rewind state machine's task (handlers/rewind/entrypoints.py) on moto, one task at a time:
prepare and its refusals, one data file (and one stopped at Lambda's time limit), a child's
problem, the summary and its notification. `world` is also the machine tests' world
(tests/components/recovery/test_rewind_machine_run.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from conventions.tags import STACK_TAG
from handlers.exports import ExportRef, read_data_files, read_summary
from handlers.exports.layout import format_time
from handlers.exports.writer import write_incremental_export
from handlers.rewind import entrypoints
from handlers.rewind.audit import RunLocation, put_json, read_outcomes, window_id
from tests.handlers.rewind.support import T1, T2, TABLE, WINDOW, change, create_table, get, item, key, put

REGION = "us-east-1"
BUCKET = "vault"
STACK = "prod"
STACK_TAG_VALUE = "safetynet/prod"
RUN_ID = "20261126T031500Z-abcdef"
WHO = "arn:aws:iam::123456789012:user/ops"
FN = "arn:aws:lambda:us-east-1:123456789012:function:rewind-task"
WINDOW_PREFIX = f"rewinds/{TABLE}/{window_id(WINDOW)}"


@dataclass
class FakeContext:
    """The Lambda context: what Powertools logs, and the time left."""

    remaining_ms: int = 900_000
    function_name: str = "rewind-task"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = FN
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class World:
    """The task's world on moto: the vault, the stack's `orders` table, the alert topic (read
    through an SQS subscription) and the task's environment."""

    s3: Any
    ddb: Any
    sqs: Any
    queue_url: str
    topic_arn: str
    table_arn: str
    calls: list[str] = field(default_factory=list)

    def export(
        self,
        changes: list[Any],
        *,
        items_per_file: int = 1000,
        table: str = TABLE,
        table_arn: str | None = None,
        to: Any = T2,
    ) -> ExportRef:
        """The window's incremental export (ending at `to`), where `safetynet rewind` puts it."""
        return write_incremental_export(
            self.s3,
            bucket=BUCKET,
            prefix=f"rewinds/{table}/{window_id(WINDOW)}",
            table_arn=table_arn or self.table_arn,
            changes=changes,
            export_from_time=T1,
            export_to_time=to,
            items_per_file=items_per_file,
        )

    def files(self, ref: ExportRef) -> list[Any]:
        return read_data_files(self.s3, ref, read_summary(self.s3, ref))

    def run(self, ref: ExportRef, *, run_id: str = RUN_ID, **overrides: Any) -> dict[str, Any]:
        """The execution input `safetynet rewind` starts the machine with."""
        doc = {
            "table": TABLE,
            "window": {"from": format_time(T1), "to": format_time(T2)},
            "export": {"bucket": ref.bucket, "prefix": ref.prefix},
            "filter": None,
            "overrideConflicts": False,
            "runId": run_id,
            "who": WHO,
        }
        return {**doc, **overrides}

    def location(self, run_id: str = RUN_ID) -> RunLocation:
        return RunLocation(BUCKET, WINDOW_PREFIX, run_id)

    def invoke(self, event: dict[str, Any], context: FakeContext | None = None) -> Any:
        """The Lambda as Step Functions calls it."""
        self.calls.append(str(event.get("task")))
        return entrypoints.handler(event, context or FakeContext())

    def summary(self, run_id: str = RUN_ID) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=BUCKET, Key=self.location(run_id).summary_key)["Body"].read()
        return dict(json.loads(body))

    def notifications(self) -> list[dict[str, Any]]:
        """The SNS messages published to the alert topic so far (their envelopes)."""
        out = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(m["Body"]) for m in out.get("Messages", [])]


def _reset() -> None:
    entrypoints._env.cache_clear()
    entrypoints._client.cache_clear()


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    from handlers.clients import client

    s3, ddb = client("s3", REGION), client("dynamodb", REGION)
    s3.create_bucket(Bucket=BUCKET)
    create_table(ddb)
    table_arn = ddb.describe_table(TableName=TABLE)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=table_arn, Tags=[{"Key": STACK_TAG, "Value": STACK_TAG_VALUE}])
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="watch-alerts-1a2b3c")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    for name, value in {
        "SAFETYNET_STACK": STACK,
        "SAFETYNET_STACK_TAG": STACK_TAG_VALUE,
        "VAULT_BUCKET": BUCKET,
        "ALERT_TOPIC_ARN": topic_arn,
        "FILE_CONCURRENCY": "2",
    }.items():
        monkeypatch.setenv(name, value)
    _reset()
    yield World(s3, ddb, sqs, queue_url, topic_arn, table_arn)
    _reset()


def window_changes(world: World, n: int) -> list[Any]:
    """n keys the bad window overwrote (each still as the window left it), one it created, one it
    deleted, and one written again after the window (a conflict); the table set up to match."""
    changes = [change(item(f"k{i:03d}", v=1), item(f"k{i:03d}", v=2)) for i in range(n)]
    put(world.ddb, *(item(f"k{i:03d}", v=2) for i in range(n)))
    changes.append(change(None, item("created", v=1)))
    put(world.ddb, item("created", v=1))
    changes.append(change(item("deleted", v=1), None))
    changes.append(change(item("again", v=1), item("again", v=2)))
    put(world.ddb, item("again", v=3))
    return changes


# -- prepare ---------------------------------------------------------------------------------------


def test_prepare_returns_where_the_map_reads_its_files(world: World) -> None:
    # Given the window's export in three data files
    ref = world.export(window_changes(world, 7), items_per_file=4)
    # When the machine prepares the run
    prepared = world.invoke({"task": "prepare", "run": world.run(ref)})
    # Then the map reads the export's own manifest-files.json
    assert prepared == {
        "bucket": BUCKET,
        "filesKey": ref.key("manifest-files.json"),
        "files": 3,
        "changes": 10,
        "exportId": ref.export_id,
    }


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ([], "is not one of this stack's tables"),
        ([{"Key": STACK_TAG, "Value": "safetynet/staging"}], "is not one of this stack's tables"),
    ],
)
def test_prepare_refuses_a_table_without_the_stacks_tag(world: World, tags: list[Any], why: str) -> None:
    other = create_table(world.ddb, "payments")
    arn = world.ddb.describe_table(TableName=other)["Table"]["TableArn"]
    if tags:
        world.ddb.tag_resource(ResourceArn=arn, Tags=tags)
    ref = world.export([change(item("a", v=1), item("a", v=2))], table="payments", table_arn=arn)
    with pytest.raises(entrypoints.RewindRefused, match=why):
        world.invoke({"task": "prepare", "run": world.run(ref, table="payments")})


def test_prepare_refuses_an_export_of_another_table(world: World) -> None:
    ref = world.export([change(item("a", v=1), item("a", v=2))], table_arn=world.table_arn.replace("orders", "other"))
    with pytest.raises(entrypoints.RewindRefused, match=r"it is an export of .*table/other, not of .*table/orders"):
        world.invoke({"task": "prepare", "run": world.run(ref)})


def test_prepare_refuses_an_export_that_does_not_cover_the_window(world: World) -> None:
    # Given an export in the window's folder that ends before the window does
    ref = world.export([change(item("a", v=1), item("a", v=2))], to=T1 + (T2 - T1) / 2)
    with pytest.raises(
        entrypoints.RewindRefused, match=r"not the window 2026-11-26T03:00:00\.000Z \.\. 2026-11-26T03:10"
    ):
        world.invoke({"task": "prepare", "run": world.run(ref)})


def test_prepare_refuses_an_export_outside_the_windows_folder(world: World) -> None:
    ref = world.export([change(item("a", v=1), item("a", v=2))])
    elsewhere = {"bucket": BUCKET, "prefix": f"exports/{TABLE}/AWSDynamoDB/{ref.export_id}/"}
    with pytest.raises(entrypoints.RewindRefused, match=f"not under the window's folder {WINDOW_PREFIX}/"):
        world.invoke({"task": "prepare", "run": world.run(ref, export=elsewhere)})


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"runId": "../other"}, "is not a run id"),
        ({"table": "../exports"}, "is not a DynamoDB table name"),
        ({"filter": 'NewImage.v = "2'}, "--where"),
        ({"export": {"bucket": "elsewhere", "prefix": "x/AWSDynamoDB/01234567890123-abcdef01/"}}, "not in this stack"),
        ({"window": {"from": format_time(T2), "to": format_time(T1)}}, "not a rewind run"),
        ({"table": None, "window": None}, "not a rewind run"),
    ],
)
def test_prepare_refuses_a_malformed_run(world: World, overrides: dict[str, Any], why: str) -> None:
    ref = world.export([change(item("a", v=1), item("a", v=2))])
    with pytest.raises(entrypoints.RewindRefused, match=why):
        world.invoke({"task": "prepare", "run": world.run(ref, **overrides)})


# -- one data file ---------------------------------------------------------------------------------


def test_a_data_file_is_rewound_with_its_outcome_lines_and_its_tally_in_the_audit(world: World) -> None:
    # Given an export in one file, with a conflict
    ref = world.export(window_changes(world, 3))
    [data_file] = world.files(ref)
    # When one map child rewinds it
    out = world.invoke({"task": "rewind_file", "run": world.run(ref), "file": data_file.to_json()})
    # Then every key is settled as the engine settles it, and the audit holds each key and the tally
    assert out["keys"] == 6 and out["byOutcome"]["reverted"] == 5 and out["byOutcome"]["conflict"] == 1
    assert get(world.ddb, key("k000")) == item("k000", v=1) and get(world.ddb, key("created")) is None
    assert get(world.ddb, key("deleted")) == item("deleted", v=1) and get(world.ddb, key("again")) == item("again", v=3)
    part = data_file.data_file_s3_key.rsplit("/", 1)[-1].split(".")[0]
    location = world.location()
    assert len(read_outcomes(world.s3, BUCKET, location.outcomes_key(part))) == 6
    tally = json.loads(world.s3.get_object(Bucket=BUCKET, Key=f"{location.prefix}tallies/{part}.json")["Body"].read())
    assert (tally["file"], tally["complete"], tally["total"]) == (data_file.data_file_s3_key, True, 6)


def test_a_file_stops_before_lambdas_time_limit_and_a_rerun_finishes_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file of 300 keys, settled one chunk at a time by a child 50 ms from its deadline margin
    ref = world.export(window_changes(world, 297))
    [data_file] = world.files(ref)
    monkeypatch.setenv("FILE_CONCURRENCY", "1")
    _reset()
    short = FakeContext(remaining_ms=int(entrypoints.DEADLINE_MARGIN_SECONDS * 1000) + 50)
    # When it runs
    with pytest.raises(entrypoints.FileIncomplete, match="stopped before Lambda's time limit") as stopped:
        world.invoke({"task": "rewind_file", "run": world.run(ref), "file": data_file.to_json()}, short)
    # Then it stopped early, and everything it settled is in the audit and in its tally
    part = data_file.data_file_s3_key.rsplit("/", 1)[-1].split(".")[0]
    location = world.location()
    tally = json.loads(world.s3.get_object(Bucket=BUCKET, Key=f"{location.prefix}tallies/{part}.json")["Body"].read())
    first = tally["byOutcome"]
    settled = tally["total"] - first["not-reached"]
    assert tally["complete"] is False and settled < 300
    assert f"with {settled:,} of 300 keys settled" in str(stopped.value)
    lines = read_outcomes(world.s3, BUCKET, location.outcomes_key(part))
    assert sum(line["outcome"] != "not-reached" for line in lines) == settled
    # And a rerun (a new run) settles the rest: the keys reverted before show as unchanged
    rerun = world.run(ref, run_id="20261126T032000Z-bbbbbb")
    second = world.invoke({"task": "rewind_file", "run": rerun, "file": data_file.to_json()})["byOutcome"]
    assert second["unchanged"] + second["reverted"] == 299 and second["conflict"] == 1
    # The key being written when the stop landed counts not-reached, written or not (the engine's
    # rule, handlers.rewind.apply): the rerun finds it unchanged or reverts it.
    assert 0 <= second["unchanged"] - first["reverted"] <= 1
    assert all(get(world.ddb, key(f"k{i:03d}")) == item(f"k{i:03d}", v=1) for i in range(297))


def test_record_problem_keeps_the_file_and_the_lambda_errors_message(world: World) -> None:
    ref = world.export([change(item("a", v=1), item("a", v=2))])
    [data_file] = world.files(ref)
    cause = json.dumps({"errorMessage": "NoSuchKey: the data file is gone", "errorType": "ExportError"})
    world.invoke(
        {
            "task": "record_problem",
            "run": world.run(ref),
            "file": data_file.to_json(),
            "error": {"Error": "ExportError", "Cause": cause},
        }
    )
    part = data_file.data_file_s3_key.rsplit("/", 1)[-1].split(".")[0]
    key_ = f"{world.location().prefix}problems/{part}.json"
    problem = json.loads(world.s3.get_object(Bucket=BUCKET, Key=key_)["Body"].read())
    assert problem == {
        "file": data_file.data_file_s3_key,
        "itemCount": 1,
        "error": "ExportError",
        "cause": "NoSuchKey: the data file is gone",
    }


# -- summary ----------------------------------------------------------------------------------------


def _plan(world: World, ref: ExportRef) -> dict[str, Any]:
    """What the CLI writes as plan.json before starting the machine (the fields the summary keeps)."""
    doc = {
        "runId": RUN_ID,
        "status": "planned",
        "stack": STACK,
        "table": "orders",
        "physicalName": TABLE,
        "window": {"from": format_time(T1), "to": format_time(T2)},
        "export": ref.url,
        "exportSource": "incremental export",
        "changes": 6,
        "filter": None,
        "overrideConflicts": False,
        "who": WHO,
        "startedAt": "2026-11-26T03:15:00+00:00",
        "notes": [],
        "auditUrl": world.location().url,
    }
    put_json(world.s3, BUCKET, world.location().plan_key, doc)
    return doc


def test_the_summary_merges_every_files_tally_writes_summary_json_and_notifies(world: World) -> None:
    # Given every file of a run rewound
    ref = world.export(window_changes(world, 3), items_per_file=2)
    files = world.files(ref)
    plan = _plan(world, ref)
    for f in files:
        world.invoke({"task": "rewind_file", "run": world.run(ref), "file": f.to_json()})
    # When the summary step runs
    state = {"run": world.run(ref), "prepared": {"files": len(files), "changes": 6}}
    out = world.invoke({"task": "summarize", "state": state})
    # Then summary.json is the plan with the run's counts, and the alert topic has the outcome
    summary = world.summary()
    assert out == {"status": "completed", "summaryKey": world.location().summary_key, "byOutcome": summary["byOutcome"]}
    assert summary["byOutcome"]["reverted"] == 5 and summary["byOutcome"]["conflict"] == 1
    assert {k: summary[k] for k in ("stack", "table", "exportSource", "who", "startedAt")} == {
        k: plan[k] for k in ("stack", "table", "exportSource", "who", "startedAt")
    }
    assert summary["files"] == {"total": 3, "settled": 3, "failed": 0} and summary["failedFiles"] == []
    assert "again" in summary["conflicts"][0]["key"]
    [note] = world.notifications()
    assert note["Subject"].startswith(f"[INFO] safetynet {STACK}: rewind completed: {TABLE} 5 reverted, 1 conflicts")
    assert json.loads(note["Message"])["audit"] == world.location().url


def test_a_failed_file_fails_the_run_naming_the_file_and_counting_the_others(world: World) -> None:
    ref = world.export(window_changes(world, 3), items_per_file=2)
    files = world.files(ref)
    for f in files[1:]:
        world.invoke({"task": "rewind_file", "run": world.run(ref), "file": f.to_json()})
    cause = json.dumps({"errorMessage": "Task timed out after 900.00 seconds"})
    error = {"Error": "States.Timeout", "Cause": cause}
    world.invoke({"task": "record_problem", "run": world.run(ref), "file": files[0].to_json(), "error": error})
    state = {"run": world.run(ref), "prepared": {"files": len(files), "changes": 6}}
    with pytest.raises(entrypoints.RewindFailed) as failed:
        world.invoke({"task": "summarize", "state": state})
    assert f"{files[0].data_file_s3_key}: States.Timeout: Task timed out after 900.00 seconds" in str(failed.value)
    summary = world.summary()
    assert summary["status"] == "failed" and summary["files"] == {"total": 3, "settled": 2, "failed": 1}
    assert summary["failedFiles"][0]["file"] == files[0].data_file_s3_key
    assert summary["byOutcome"]["reverted"] + summary["byOutcome"]["conflict"] == 6 - files[0].item_count
    assert "rewind failed" in world.notifications()[0]["Subject"]


def test_a_run_refused_before_its_files_is_summarized_with_its_reason(world: World) -> None:
    ref = world.export([change(item("a", v=1), item("a", v=2))])
    error = {
        "Error": "RewindRefused",
        "Cause": json.dumps({"errorMessage": "orders is not one of this stack's tables"}),
    }
    with pytest.raises(entrypoints.RewindFailed, match="RewindRefused: orders is not one of this stack's tables"):
        world.invoke({"task": "summarize", "state": {"run": world.run(ref), "error": error}})
    summary = world.summary()
    assert summary["status"] == "failed" and summary["total"] == 0
    assert summary["error"] == {"error": "RewindRefused", "cause": "orders is not one of this stack's tables"}
    # Without plan.json (a run started by other means), the summary says what the input said
    assert (summary["stack"], summary["physicalName"], summary["who"]) == (STACK, TABLE, WHO)


def test_a_file_never_reached_fails_the_run(world: World) -> None:
    ref = world.export(window_changes(world, 3), items_per_file=2)
    files = world.files(ref)
    world.invoke({"task": "rewind_file", "run": world.run(ref), "file": files[0].to_json()})
    state = {"run": world.run(ref), "prepared": {"files": len(files), "changes": 6}}
    with pytest.raises(entrypoints.RewindFailed, match="2 data files were not reached"):
        world.invoke({"task": "summarize", "state": state})
    assert world.summary()["files"] == {"total": 3, "settled": 1, "failed": 0}


# -- the function ----------------------------------------------------------------------------------


def test_an_unknown_task_and_a_missing_environment_are_configuration_errors(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(entrypoints.ConfigurationError, match="unknown task 'sweep'"):
        world.invoke({"task": "sweep"})
    monkeypatch.delenv("ALERT_TOPIC_ARN")
    _reset()
    with pytest.raises(entrypoints.ConfigurationError, match="missing environment variables ALERT_TOPIC_ARN"):
        world.invoke({"task": "prepare", "run": {}})

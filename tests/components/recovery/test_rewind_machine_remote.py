"""safetynet/recovery/rewind_remote.py: starting the rewind machine for a planned run (idempotent,
on moto's Step Functions), following it, and returning the summary the in-process path returns
(the machine itself run on tests/support/asl_runner.py, as the machine tests run it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from components.recovery.rewind import rewind_definition
from handlers.rewind import RewindSpec, parse_filter
from handlers.rewind.audit import RunLocation, put_json
from safetynet.recovery import rewind_remote as remote
from tests.handlers.rewind.support import WINDOW, get, item, key
from tests.handlers.rewind.test_entrypoints import (
    BUCKET,
    FN,
    REGION,
    RUN_ID,
    WHO,
    WINDOW_PREFIX,
    FakeContext,
    World,
    window_changes,
    world,
)
from tests.support.asl_runner import Runner

__all__ = ["world"]  # the fixture, shared with the task's own tests

ACCOUNT = "123456789012"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:safetynet-prod-rewind"


@dataclass
class Execution:
    name: str
    input: str
    status: str
    error: str | None
    cause: str | None
    files: int
    failed_files: int
    polls_left: int


@dataclass
class FakeStepFunctions:
    """Step Functions for `run_remote`: StartExecution runs the real definition on the ASL runner
    (`invoke` is the task function, on moto) and follows AWS's rules for names; an execution
    reads RUNNING for `polls` descriptions before its end; DescribeMapRun's itemCounts come from
    the run."""

    invoke: Callable[[dict[str, Any]], Any]
    s3: Any
    ddb: Any
    polls: int = 2
    executions: dict[str, Execution] = field(default_factory=dict)
    meta: Any = field(default_factory=lambda: SimpleNamespace(region_name=REGION))

    @classmethod
    def of(cls, world: World, polls: int = 2) -> FakeStepFunctions:
        return cls(lambda event: world.invoke(event, FakeContext()), world.s3, world.ddb, polls)

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        arn = remote.execution_arn(stateMachineArn, name)
        if arn in self.executions:
            running = self.executions[arn].status == "RUNNING"
            if running and self.executions[arn].input == input:
                return {"executionArn": arn}
            raise ClientError({"Error": {"Code": "ExecutionAlreadyExists", "Message": arn}}, "StartExecution")
        runner = Runner(rewind_definition(function_arn=FN), {FN: self.invoke}, self.s3, self.ddb)
        status, out = runner.run(json.loads(input))
        files = dict(runner.map_items).get("RewindFiles", 0)
        self.executions[arn] = Execution(
            name, input, status, out.get("Error"), out.get("Cause"), files, len(runner.child_errors), self.polls
        )
        return {"executionArn": arn}

    def describe_execution(self, *, executionArn: str) -> dict[str, Any]:
        e = self.executions[executionArn]
        done = e.polls_left <= 0
        e.polls_left -= 1
        desc = {"executionArn": executionArn, "name": e.name, "input": e.input, "status": "RUNNING"}
        if done:
            desc.update(status=e.status, **({"error": e.error, "cause": e.cause} if e.error else {}))
        return desc

    def list_map_runs(self, *, executionArn: str) -> dict[str, Any]:
        return {
            "mapRuns": [{"executionArn": executionArn, "mapRunArn": executionArn.replace(":execution:", ":mapRun:")}]
        }

    def describe_map_run(self, *, mapRunArn: str) -> dict[str, Any]:
        e = self.executions[mapRunArn.replace(":mapRun:", ":execution:")]
        done = e.files if e.polls_left < 0 else e.files // 2
        return {
            "itemCounts": {"succeeded": done - e.failed_files, "failed": e.failed_files, "running": 0, "total": e.files}
        }


class Clients:
    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def get(self, service: str) -> Any:
        return self.clients[service]


def _plan(world: World, ref: Any) -> dict[str, Any]:
    """The plan.json `safetynet rewind` writes before it starts the machine."""
    doc = {"runId": RUN_ID, "status": "planned", "stack": "prod", "table": "orders", "physicalName": "orders",
           "window": {"from": "2026-11-26T03:00:00.000Z", "to": "2026-11-26T03:10:00.000Z"}, "export": ref.url,
           "exportSource": "incremental export", "changes": 9, "filter": None, "overrideConflicts": False, "who": WHO,
           "startedAt": "2026-11-26T03:15:00+00:00", "notes": [], "auditUrl": world.location().url}  # fmt: skip
    put_json(world.s3, ref.bucket, world.location().plan_key, doc)
    return doc


def _input(ref: Any, **spec: Any) -> dict[str, Any]:
    prepared = SimpleNamespace(target=SimpleNamespace(physical="orders"), ref=ref, window=WINDOW)
    return remote.execution_input(
        prepared=prepared, spec=RewindSpec(window=WINDOW, **spec), run=_location(), caller=WHO
    )


def _location() -> RunLocation:
    return RunLocation(BUCKET, WINDOW_PREFIX, RUN_ID)


def test_a_planned_rewind_runs_on_the_machine_and_returns_the_in_process_summary(world: World) -> None:
    # Given a planned rewind of a window in three data files
    ref = world.export(window_changes(world, 6), items_per_file=3)
    plan = _plan(world, ref)
    sfn = FakeStepFunctions.of(world)
    seen: list[remote.Progress] = []
    started: list[tuple[str, bool]] = []
    # When it runs remotely
    summary = remote.run_remote(
        Clients(stepfunctions=sfn, s3=world.s3), machine_arn=MACHINE_ARN, doc=_input(ref), run=_location(),
        on_start=lambda arn, new: started.append((arn, new)), on_progress=seen.append, sleep=lambda _s: None,
    )  # fmt: skip
    # Then the execution is named after the run, its progress was followed to the end, and the
    # summary is the plan with the run's counts (as the CLI's own summary would be)
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:safetynet-prod-rewind:rewind-{RUN_ID}"
    assert started == [(arn, True)] and summary["executionArn"] == arn
    assert [p.status for p in seen] == ["RUNNING", "RUNNING", "SUCCEEDED"] and seen[-1].files_done == 3
    assert summary["status"] == "completed" and summary["byOutcome"]["reverted"] == 8
    assert summary["byOutcome"]["conflict"] == 1 and summary["who"] == plan["who"]
    assert "executionError" not in summary
    assert get(world.ddb, key("k000")) == item("k000", v=1)


def test_a_failed_execution_returns_its_summary_with_the_error(world: World) -> None:
    ref = world.export(window_changes(world, 6), items_per_file=3)
    _plan(world, ref)
    lost = world.files(ref)[0]
    world.s3.delete_object(Bucket=ref.bucket, Key=ref.resolve(lost.data_file_s3_key))
    summary = remote.run_remote(
        Clients(stepfunctions=FakeStepFunctions.of(world), s3=world.s3), machine_arn=MACHINE_ARN, doc=_input(ref),
        run=_location(), sleep=lambda _s: None,
    )  # fmt: skip
    assert summary["status"] == "failed" and summary["failedFiles"][0]["file"] == lost.data_file_s3_key
    assert (
        summary["executionError"].startswith("RewindFailed: rewind ")
        and lost.data_file_s3_key in summary["executionError"]
    )


def test_an_execution_that_ended_without_a_summary_is_an_error_naming_it(world: World) -> None:
    # Given an input the machine cannot even summarize (no window: no run folder to write to)
    ref = world.export(window_changes(world, 2))
    doc = {**_input(ref), "window": None}
    with pytest.raises(remote.RemoteFailed, match=f"rewind-{RUN_ID} ended FAILED without a summary: RewindRefused"):
        remote.run_remote(Clients(stepfunctions=FakeStepFunctions.of(world), s3=world.s3), machine_arn=MACHINE_ARN,
                          doc=doc, run=_location(), sleep=lambda _s: None)  # fmt: skip


# -- starting, on moto's Step Functions -------------------------------------------------------------


@pytest.fixture
def sfn(aws: None) -> Any:
    client = boto3.client("stepfunctions", region_name=REGION)
    client.create_state_machine(
        name="safetynet-prod-rewind",
        definition=json.dumps(rewind_definition(function_arn=FN)),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/rewind-machine-role",
    )
    return client


def test_starting_the_same_run_twice_starts_one_execution(sfn: Any) -> None:
    doc = {"runId": RUN_ID, "table": "orders"}
    first = remote.start(sfn, MACHINE_ARN, remote.execution_name(RUN_ID), doc)
    again = remote.start(sfn, MACHINE_ARN, remote.execution_name(RUN_ID), dict(reversed(list(doc.items()))))
    assert first == (remote.execution_arn(MACHINE_ARN, f"rewind-{RUN_ID}"), True)
    assert again[0] == first[0] and len(sfn.list_executions(stateMachineArn=MACHINE_ARN)["executions"]) == 1


def test_a_finished_execution_of_the_run_is_followed_and_another_input_refused(sfn: Any) -> None:
    doc = {"runId": RUN_ID, "table": "orders"}
    arn, _ = remote.start(sfn, MACHINE_ARN, remote.execution_name(RUN_ID), doc)
    sfn.stop_execution(executionArn=arn)
    assert remote.start(sfn, MACHINE_ARN, remote.execution_name(RUN_ID), doc) == (arn, False)
    with pytest.raises(remote.RemoteRefused, match="exists with another input"):
        remote.start(sfn, MACHINE_ARN, remote.execution_name(RUN_ID), {**doc, "filter": "OldImage.v = 1"})


def test_the_input_carries_the_run_as_the_machine_reads_it() -> None:
    ref = SimpleNamespace(bucket="vault", prefix="rewinds/orders/w/AWSDynamoDB/01796017832154-72621017/")
    doc = _input(ref, where=parse_filter('NewImage.by = "svc@2.3.1"'), override_conflicts=True)
    assert doc == {
        "table": "orders",
        "window": {"from": "2026-11-26T03:00:00.000Z", "to": "2026-11-26T03:10:00.000Z"},
        "export": {"bucket": "vault", "prefix": ref.prefix},
        "filter": 'NewImage.by = "svc@2.3.1"',
        "overrideConflicts": True,
        "runId": RUN_ID,
        "who": WHO,
    }


def test_the_machine_is_found_by_option_environment_or_its_name(sfn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clients = Clients(stepfunctions=sfn, sts=boto3.client("sts", region_name=REGION))
    assert remote.find_machine(clients, "prod") == MACHINE_ARN
    assert remote.find_machine(clients, "dr") is None  # no such machine (as on an emulator)
    monkeypatch.setenv(remote.MACHINE_ENV, "arn:aws:states:eu-west-1:1:stateMachine:x")
    assert remote.find_machine(clients, "dr") == "arn:aws:states:eu-west-1:1:stateMachine:x"
    assert remote.find_machine(clients, "dr", given="given") == "given"


@pytest.mark.parametrize(
    ("changes", "flag", "machine", "expected"),
    [
        (remote.REMOTE_THRESHOLD + 1, None, MACHINE_ARN, True),
        (remote.REMOTE_THRESHOLD, None, MACHINE_ARN, False),
        (remote.REMOTE_THRESHOLD + 1, None, None, False),
        (10, True, MACHINE_ARN, True),
        (10**8, False, MACHINE_ARN, False),
    ],
)
def test_remote_above_the_threshold_when_the_machine_is_known(
    changes: int, flag: bool | None, machine: str | None, expected: bool
) -> None:
    assert remote.use_remote(changes, remote=flag, machine=machine) is expected


def test_remote_without_a_machine_is_refused() -> None:
    with pytest.raises(remote.RemoteRefused, match="--state-machine ARN"):
        remote.use_remote(10, remote=True, machine=None)

"""`safetynet rewind` applying on the stack's rewind state machine: the same moto account as
test_rewind_command.py, the machine's real definition and task code run by a Step Functions
stand-in (tests/components/recovery/test_rewind_machine_remote.py's FakeStepFunctions, on
tests/support/asl_runner.py). The plan is made in process; the apply, the summary and the
notification come from the machine."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from conventions.tags import STACK_TAG
from handlers.rewind import entrypoints, recent_rewinds
from safetynet.commands import common
from safetynet.recovery import rewind_remote as remote
from tests.components.recovery.test_rewind_machine_remote import MACHINE_ARN, FakeStepFunctions
from tests.handlers.rewind.emulator import clock, emulator, moto_streams
from tests.handlers.rewind.test_entrypoints import FakeContext
from tests.safetynet.recovery.test_rewind_command import REGION, VAULT, account, args, command, item

__all__ = ["account", "clock", "command", "emulator", "moto_streams"]  # the command tests' fixtures

TOPIC = "watch-alerts-1a2b3c4"


@pytest.fixture
def machine(account: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> FakeStepFunctions:
    """The prod stack's rewind machine, deployed: its task's environment, the stack-tagged table,
    the alert topic; the CLI's Step Functions client is the stand-in that runs it."""
    ddb = account["ddb"]
    arn = ddb.describe_table(TableName="orders")["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": STACK_TAG, "Value": "safetynet/prod"}])
    topic = boto3.client("sns", region_name=REGION).create_topic(Name=TOPIC)["TopicArn"]
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "SAFETYNET_STACK": "prod",
        "SAFETYNET_STACK_TAG": "safetynet/prod",
        "VAULT_BUCKET": VAULT,
        "ALERT_TOPIC_ARN": topic,
        "FILE_CONCURRENCY": "2",
    }.items():
        monkeypatch.setenv(name, value)
    entrypoints._env.cache_clear()
    entrypoints._client.cache_clear()
    sfn = FakeStepFunctions(lambda event: entrypoints.handler(event, FakeContext()), account["s3"], ddb, polls=1)
    real_get = common.Clients.get

    def get(self: common.Clients, service: str) -> Any:
        return sfn if service == "stepfunctions" else real_get(self, service)

    monkeypatch.setattr(common.Clients, "get", get)
    return sfn


def test_remote_applies_on_the_machine_and_reports_its_summary(
    command: Any, account: dict[str, Any], machine: FakeStepFunctions, capsys: Any
) -> None:
    # When the planned rewind is applied on the machine
    assert command([*args(account), "--yes", "--remote", "--state-machine", MACHINE_ARN, "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    # Then it ran there (one execution, named after the run), with the in-process path's result
    [execution] = machine.executions
    assert doc["executionArn"] == execution and execution.endswith(f":rewind-{doc['runId']}")
    assert "started" in captured.err
    assert {k: v for k, v in doc["byOutcome"].items() if v} == {"reverted": 8, "conflict": 1}
    assert doc["files"]["failed"] == 0 and doc["stack"] == "prod" and doc["exportSource"] == "stream"
    for c in ("c0", "c1", "c2", "c4", "c5"):
        assert item(account, c) == account["before"][c]
    assert item(account, "c3")["status"] == {"S": "REFUNDED"}
    # And `status` sees the run (its plan says where it ran)
    [run] = recent_rewinds(account["s3"], VAULT, "rewinds/orders")
    assert run["status"] == "completed" and run["mode"] == "remote" and run["stateMachineArn"] == MACHINE_ARN


def test_above_the_threshold_a_found_machine_is_used_without_asking(
    command: Any, account: dict[str, Any], machine: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(remote, "REMOTE_THRESHOLD", 5)
    monkeypatch.setenv(remote.MACHINE_ENV, MACHINE_ARN)
    assert command([*args(account), "--yes"]) == 0
    assert len(machine.executions) == 1 and "audit:" in capsys.readouterr().out
    # --local keeps it in this process
    assert command([*args(account), "--yes", "--local"]) == 0
    assert len(machine.executions) == 1


def test_remote_without_a_machine_is_a_usage_error(command: Any, account: dict[str, Any], capsys: Any) -> None:
    # moto has no such machine, and none is given
    assert command([*args(account), "--yes", "--remote"]) == 2
    assert "--remote needs the stack's rewind state machine" in capsys.readouterr().err
    assert item(account, "c0")["status"] == {"S": "LOST"}


def test_ctrl_c_stops_following_not_the_rewind(
    command: Any, account: dict[str, Any], machine: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    def interrupted(**_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(machine, "describe_execution", interrupted)
    assert command([*args(account), "--yes", "--remote", "--state-machine", MACHINE_ARN]) == 130
    err = capsys.readouterr().err
    assert "stopped following" in err and "stop-execution --execution-arn" in err


def test_a_failed_data_file_exits_1_naming_it(
    command: Any, account: dict[str, Any], machine: FakeStepFunctions, capsys: Any
) -> None:
    def lose_the_data(event: dict[str, Any]) -> Any:
        if event.get("task") == "rewind_file":
            raise RuntimeError("AccessDenied: s3:GetObject on the data file")
        return entrypoints.handler(event, FakeContext())

    machine.invoke = lose_the_data
    assert command([*args(account), "--yes", "--remote", "--state-machine", MACHINE_ARN]) == 1
    out = capsys.readouterr().out
    assert "failed data file" in out and "AccessDenied: s3:GetObject on the data file" in out
    assert item(account, "c0")["status"] == {"S": "LOST"}

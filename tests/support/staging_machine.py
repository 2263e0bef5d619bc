"""Runs of the generated staging state machine against the real Lambda task code on moto
(through tests/support/asl_runner.py), for the tests of the machine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components.staging.state_machine import staging_definition
from handlers.staging import entrypoints as staging_tasks
from tests.support.asl_runner import Runner
from tests.support.staging_fixtures import LEDGER

FN = "arn:aws:lambda:us-east-1:123456789012:function:staging-task"
TOPIC = "arn:aws:sns:us-east-1:123456789012:staging"


@dataclass
class FakeContext:
    """The Lambda context the task code logs."""

    function_name: str = "staging-task"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = FN
    aws_request_id: str = "req-1"


def runner(s3: Any, ddb: Any, before: Callable[[dict[str, Any]], None] | None = None) -> Runner:
    """The machine (max concurrency 4) whose one function is the staging task handler; with
    `before`, each task's event goes to it first (e.g. to change the table or the export mid-run)."""

    def invoke(ev: dict[str, Any]) -> Any:
        if before is not None:
            before(ev)
        return staging_tasks.handler(ev, FakeContext())

    definition = staging_definition(function_arn=FN, topic_arn=TOPIC, max_concurrency=4)
    return Runner(definition, {FN: invoke}, s3, ddb)


def event(target: Any, ref: Any) -> dict[str, Any]:
    """What the StagedTable's EventBridge rule sends."""
    return {"target": target.to_json(), "bucket": ref.bucket, "key": ref.summary_key}


def ledger(ddb: Any, table: str) -> dict[str, Any]:
    """The staging ledger's record of a table."""
    item: dict[str, Any] = ddb.get_item(TableName=LEDGER, Key={"table": {"S": table}})["Item"]
    return item

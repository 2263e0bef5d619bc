"""Runs of the generated staging state machine against the real Lambda task code on moto
(through tests/support/asl_runner.py), for the tests of the machine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components.staging.state_machine import staging_definition
from components.staging.targets import target_item
from conventions.vault import export_prefix
from handlers.staging import entrypoints as staging_tasks
from tests.support.asl_runner import Runner
from tests.support.staging_fixtures import LEDGER, create_test_table

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


def event(ref: Any) -> dict[str, Any]:
    """What the pipeline's EventBridge rule sends for a completed export."""
    return {"bucket": ref.bucket, "key": ref.summary_key}


def register_target(ddb: Any, target: Any, prod_table: str | None = None) -> None:
    """Put the target item a StagedTable declares into the ledger (built by the component's own
    `target_item`): `target` stages the exports of `prod_table` (default: its logical name)."""
    prefix = export_prefix(prod_table or target.logical_name)
    ddb.put_item(TableName=LEDGER, Item=target_item(prefix, target.to_json()))


def staged_table(ddb: Any, target: Any, *, tags: dict[str, str] | None = None) -> str:
    """What a StagedTable declares: the test table (tagged as the stack does unless `tags`) and its
    target in the ledger. Returns the table's ARN."""
    arn = create_test_table(ddb, target, tags=tags)
    register_target(ddb, target)
    return arn


def ledger(ddb: Any, table: str) -> dict[str, Any]:
    """The staging ledger's record of a table."""
    item: dict[str, Any] = ddb.get_item(TableName=LEDGER, Key={"table": {"S": table}})["Item"]
    return item

"""A small Amazon States Language interpreter for tests: runs a definition's states in order
with real data flow (Parameters, ResultSelector, ResultPath, Choice, Catch), invoking Python
callables for Lambda tasks and boto3 (moto) for `aws-sdk:` integrations. Wait states pause
WAIT_SECONDS, not their Seconds. Only the subset safetynet's definitions use is supported;
anything else raises.

Distributed Maps (the drill's ValidateFiles): an ItemReader reading JSON lines from S3, an
ItemSelector with `$$.Map.Item.Value`, one child workflow per item, ToleratedFailurePercentage.
As in AWS, a Map Run over its failure threshold fails with States.ExceedToleratedFailureThreshold,
naming neither the child nor its cause (those are only in the child execution's history, kept
here in `child_errors` for assertions); children run one after another and the run stops at the
first failure over the threshold (the least AWS guarantees to have run)."""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

LambdaFn = Callable[[dict[str, Any]], Any]


class TaskFailed(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class ExecutionFailed(Exception):
    def __init__(self, error: str, cause: str, state: dict[str, Any]) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.state = state


def get_path(data: Any, path: str) -> Any:
    if path == "$":
        return data
    assert path.startswith("$."), path
    for part in path[2:].split("."):
        if not isinstance(data, dict) or part not in data:
            raise TaskFailed("States.Runtime", f"path {path} not found")
        data = data[part]
    return data


def set_path(data: dict[str, Any], path: str | None, value: Any) -> dict[str, Any]:
    if path is None:
        return data
    if path == "$":
        return value
    out = copy.deepcopy(data)
    node = out
    parts = path[2:].split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _choice_matches(rule: dict[str, Any], data: Any) -> bool:
    if "Or" in rule:
        return any(_choice_matches(r, data) for r in rule["Or"])
    try:
        value = get_path(data, rule["Variable"])
    except TaskFailed:
        return False
    if "StringEquals" in rule:
        return value == rule["StringEquals"]
    if "BooleanEquals" in rule:
        return value is rule["BooleanEquals"]
    raise NotImplementedError(rule)


_SDK = re.compile(r"^arn:aws:states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>[a-zA-Z]+)$")


def _task(resource: str, params: dict[str, Any], lambdas: dict[str, LambdaFn], clients: dict[str, Any]) -> Any:
    if resource == "arn:aws:states:::lambda:invoke":
        fn = lambdas[params["FunctionName"]]
        try:
            return {"Payload": fn(params["Payload"]), "StatusCode": 200}
        except Exception as exc:  # noqa: BLE001 (a Lambda error becomes the task's error, as in AWS)
            raise TaskFailed(type(exc).__name__, str(exc)) from None
    m = _SDK.match(resource)
    if not m:
        raise NotImplementedError(resource)
    client = clients[m["service"]]
    method = re.sub(r"(?<!^)(?=[A-Z])", "_", m["action"]).lower()
    try:
        return getattr(client, method)(**params)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        raise TaskFailed(f"DynamoDb.{code}", str(exc)) from None


EXCEEDED = "States.ExceedToleratedFailureThreshold"
WAIT_SECONDS = 0.01


def _get(data: Any, path: str, context: dict[str, Any]) -> Any:
    if not path.startswith("$$."):
        return get_path(data, path)
    node: Any = context
    for part in path[3:].split("."):
        if not isinstance(node, dict) or part not in node:
            raise TaskFailed("States.Runtime", f"context path {path} not found")
        node = node[part]
    return node


def _resolve(template: Any, data: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {
            (k[:-2] if k.endswith(".$") else k): (
                _get(data, v, context) if k.endswith(".$") else _resolve(v, data, context)
            )
            for k, v in template.items()
        }
    if isinstance(template, list):
        return [_resolve(v, data, context) for v in template]
    return template


@dataclass
class Execution:
    """One run of a definition: visited state names (the parent's; children's separately)."""

    lambdas: dict[str, LambdaFn]
    clients: dict[str, Any]
    max_steps: int = 500
    visited: list[str] = field(default_factory=list)
    child_visited: list[str] = field(default_factory=list)
    child_errors: list[ExecutionFailed] = field(default_factory=list)

    def machine(self, machine: dict[str, Any], data: Any, visited: list[str]) -> Any:
        states = machine["States"]
        name = machine["StartAt"]
        for _ in range(self.max_steps):
            visited.append(name)
            st = states[name]
            kind = st["Type"]
            if kind == "Succeed":
                return data
            if kind == "Fail":
                raise ExecutionFailed(st["Error"], st["Cause"], data)
            if kind == "Wait":
                # A token wait: moto's ImportTable runs on a thread, which a loop polling
                # DescribeImport without ever pausing can starve of the GIL.
                time.sleep(WAIT_SECONDS)
                name = st["Next"]
                continue
            if kind == "Pass":
                data = set_path(data, st.get("ResultPath", "$"), _resolve(st["Parameters"], data, {}))
                name = st["Next"]
                continue
            if kind == "Choice":
                name = next((c["Next"] for c in st["Choices"] if _choice_matches(c, data)), st["Default"])
                continue
            try:
                if kind == "Map":
                    result = self.map(st, data)
                else:
                    assert kind == "Task", kind
                    result = _task(st["Resource"], _resolve(st["Parameters"], data, {}), self.lambdas, self.clients)
                if "ResultSelector" in st:
                    result = _resolve(st["ResultSelector"], result, {})
                data = set_path(data, st.get("ResultPath", "$"), result)
            except TaskFailed as exc:
                catch = next(
                    (c for c in st.get("Catch", []) if {"States.ALL", exc.error} & set(c["ErrorEquals"])), None
                )
                if catch is None:
                    raise ExecutionFailed(exc.error, exc.cause, data) from None
                data = set_path(data, catch.get("ResultPath", "$"), {"Error": exc.error, "Cause": exc.cause})
                name = catch["Next"]
                continue
            if st.get("End"):
                return data
            name = st["Next"]
        raise AssertionError("execution did not finish")

    def map(self, st: dict[str, Any], data: Any) -> list[Any]:
        processor = st["ItemProcessor"]
        assert processor["ProcessorConfig"]["Mode"] == "DISTRIBUTED", "only Distributed Maps are simulated"
        reader = st["ItemReader"]
        assert reader["Resource"] == "arn:aws:states:::s3:getObject", reader
        assert reader["ReaderConfig"]["InputType"] == "JSONL", reader
        where = _resolve(reader["Parameters"], data, {})
        body = self.clients["s3"].get_object(Bucket=where["Bucket"], Key=where["Key"])["Body"].read().decode()
        items = [json.loads(line) for line in body.splitlines() if line.strip()]
        tolerated = float(st.get("ToleratedFailurePercentage", 0))
        results, failed = [], 0
        for index, value in enumerate(items):
            context = {"Map": {"Item": {"Index": index, "Value": value}}}
            child_input = _resolve(st["ItemSelector"], data, context) if "ItemSelector" in st else value
            try:
                results.append(self.machine(processor, child_input, self.child_visited))
            except ExecutionFailed as exc:
                self.child_errors.append(exc)
                failed += 1
                if 100 * failed / len(items) > tolerated:
                    raise TaskFailed(EXCEEDED, "The specified tolerated failure threshold was exceeded") from None
        return results


def run(
    definition: dict[str, Any],
    execution_input: dict[str, Any],
    *,
    lambdas: dict[str, LambdaFn],
    clients: dict[str, Any],
    execution: Execution | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Run to Succeed; returns the final state data and the parent's visited state names.
    Raises ExecutionFailed on a Fail state or an uncaught error. Pass `execution` to inspect the
    Distributed Map children afterwards."""
    ex = execution or Execution(lambdas=lambdas, clients=clients)
    ex.lambdas, ex.clients = lambdas, clients
    return ex.machine(definition, execution_input, ex.visited), ex.visited

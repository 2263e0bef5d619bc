"""A small Amazon States Language interpreter for tests: runs a definition's states in order
with real data flow (Parameters, ResultSelector, ResultPath, OutputPath, Choice, Catch), invoking
Python callables for Lambda tasks and boto3 (moto) for `aws-sdk:` integrations. Wait states do
not wait. Only the subset safetynet's definitions use is supported; anything else raises."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
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


def resolve(template: Any, data: Any) -> Any:
    if isinstance(template, dict):
        out = {}
        for k, v in template.items():
            if k.endswith(".$"):
                out[k[:-2]] = get_path(data, v)
            else:
                out[k] = resolve(v, data)
        return out
    if isinstance(template, list):
        return [resolve(v, data) for v in template]
    return template


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


def run(
    definition: dict[str, Any],
    execution_input: dict[str, Any],
    *,
    lambdas: dict[str, LambdaFn],
    clients: dict[str, Any],
    max_steps: int = 500,
) -> tuple[dict[str, Any], list[str]]:
    """Run to Succeed; returns the final state data and the visited state names. Raises
    ExecutionFailed on a Fail state or an uncaught error."""
    states = definition["States"]
    name = definition["StartAt"]
    data: Any = execution_input
    visited: list[str] = []
    for _ in range(max_steps):
        visited.append(name)
        st = states[name]
        kind = st["Type"]
        if kind == "Succeed":
            return data, visited
        if kind == "Fail":
            raise ExecutionFailed(st["Error"], st["Cause"], data)
        if kind == "Wait":
            name = st["Next"]
            continue
        if kind == "Pass":
            data = set_path(data, st.get("ResultPath", "$"), resolve(st["Parameters"], data))
            name = st["Next"]
            continue
        if kind == "Choice":
            name = next((c["Next"] for c in st["Choices"] if _choice_matches(c, data)), st["Default"])
            continue
        assert kind == "Task", kind
        try:
            params = resolve(st["Parameters"], data)
            result = _task(st["Resource"], params, lambdas, clients)
            if "ResultSelector" in st:
                result = resolve(st["ResultSelector"], result)
            data = set_path(data, st.get("ResultPath", "$"), result)
            name = st["Next"]
        except TaskFailed as exc:
            catch = next((c for c in st.get("Catch", []) if {"States.ALL", exc.error} & set(c["ErrorEquals"])), None)
            if catch is None:
                raise ExecutionFailed(exc.error, exc.cause, data) from None
            data = set_path(data, catch.get("ResultPath", "$"), {"Error": exc.error, "Cause": exc.cause})
            name = catch["Next"]
    raise AssertionError("execution did not finish")


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

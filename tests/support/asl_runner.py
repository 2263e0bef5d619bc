"""A minimal interpreter for the subset of Amazon States Language the staging and drill machines
use, to run the generated definitions against the real task code on moto (moto's own Step
Functions cannot run Lambda functions without Docker, nor Distributed Maps reading S3).

Supported: Task (a Lambda ARN, or `lambda:invoke` with its FunctionName -> a Python callable;
`sns:publish`; `aws-sdk:dynamodb:*`), Choice (BooleanEquals/StringEquals/NumericGreaterThan/
IsPresent, And, Or), Wait (a token WAIT_SECONDS pause, not its Seconds: moto's ImportTable runs
on a thread that a poll loop which never paused could starve of the GIL), Pass,
Map (a Distributed one with an S3 JSONL ItemReader, or an inline one over ItemsPath), Succeed,
Fail; Parameters/ItemSelector with `.$` paths, ResultSelector, ResultPath, Catch, and the
intrinsics States.Format and States.JsonToString. Retries are not simulated. A Distributed
Map whose failed children exceed ToleratedFailurePercentage fails with
States.ExceedToleratedFailureThreshold, as in AWS, not with the child's error; an inline Map
fails with its first failing iteration's own error, as in AWS. Iterations run one after another
(MaxConcurrency is not simulated). For assertions: `visited` (every state entered, children
included, in order), `map_items` (each Map's item count), `child_errors` (the errors of failed
Distributed Map children, which AWS keeps only in their own histories) and `caught` (each Catch
taken: the state and the error).

Why not the npm package aws-local-stepfunctions (3.0.0 tried; see the README): it has no
Distributed mode nor ItemReader (our file maps fail with States.Runtime "Input of Map state must
be an array or ItemsPath property must point to an array"), no ToleratedFailurePercentage (a
failed child fails the Map with its own error), needs Node >= 22 ("Promise.withResolvers is not a
function" on CI's Node 20), and reaches our Python tasks only through a node subprocess and an
HTTP callback (about 0.9 s per drill run against 0.03-0.09 s here).
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

WAIT_SECONDS = 0.01
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


class StatesError(Exception):
    def __init__(self, error: str, cause: str):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


def _get(path: str, data: Any, context: dict[str, Any]) -> Any:
    if path.startswith("$$."):
        node: Any = context
        parts = path[3:].split(".")
    else:
        node = data
        parts = [p for p in path[2:].split(".") if p] if path != "$" else []
    for p in parts:
        node = node[p]
    return node


def _intrinsic(expr: str, data: Any, ctx: dict[str, Any]) -> Any:
    m = re.fullmatch(r"States\.(\w+)\((.*)\)", expr)
    assert m, expr
    fn, raw_args = m.group(1), m.group(2)
    args = [a.strip() for a in re.split(r",(?=(?:[^']*'[^']*')*[^']*$)", raw_args)]
    values = [a[1:-1] if a.startswith("'") else _get(a, data, ctx) for a in args]
    if fn == "Format":
        out = values[0]
        for v in values[1:]:
            out = out.replace("{}", str(v), 1)
        return out
    if fn == "JsonToString":
        return json.dumps(values[0])
    raise NotImplementedError(fn)


def _resolve(template: Any, data: Any, ctx: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        out = {}
        for k, v in template.items():
            if k.endswith(".$"):
                out[k[:-2]] = _intrinsic(v, data, ctx) if v.startswith("States.") else _get(v, data, ctx)
            else:
                out[k] = _resolve(v, data, ctx)
        return out
    if isinstance(template, list):
        return [_resolve(v, data, ctx) for v in template]
    return template


def _put(data: Any, path: str | None, result: Any) -> Any:
    if path is None:
        return data
    if path == "$":
        return result
    out = copy.deepcopy(data)
    node = out
    parts = path[2:].split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = result
    return out


@dataclass
class Runner:
    """Runs a definition; `functions` maps Lambda ARNs to `fn(event) -> result`."""

    definition: dict[str, Any]
    functions: dict[str, Callable[[dict[str, Any]], Any]]
    s3: Any
    ddb: Any
    published: list[dict[str, Any]] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)
    failed_children: int = 0
    map_items: list[tuple[str, int]] = field(default_factory=list)
    child_errors: list[StatesError] = field(default_factory=list)
    caught: list[tuple[str, str]] = field(default_factory=list)

    def run(self, data: Any) -> tuple[str, Any]:
        """Returns ("SUCCEEDED" | "FAILED", output)."""
        try:
            return "SUCCEEDED", self._machine(self.definition, data, {})
        except StatesError as exc:
            return "FAILED", {"Error": exc.error, "Cause": exc.cause}

    def _machine(self, machine: dict[str, Any], data: Any, ctx: dict[str, Any]) -> Any:
        name = machine["StartAt"]
        states = machine["States"]
        for _ in range(100_000):
            state = states[name]
            self.visited.append(name)
            kind = state["Type"]
            if kind == "Succeed":
                return data
            if kind == "Fail":
                raise StatesError(state.get("Error", "Failed"), state.get("Cause", ""))
            if kind == "Choice":
                name = self._choose(state, data)
                continue
            if kind == "Wait":
                time.sleep(WAIT_SECONDS)
                name = state["Next"]
                continue
            try:
                if kind == "Pass":
                    result = _resolve(state.get("Parameters", {}), data, ctx)
                elif kind == "Task":
                    result = self._task(state, data, ctx)
                elif kind == "Map":
                    result = self._map(name, state, data)
                else:
                    raise NotImplementedError(kind)
            except StatesError as exc:
                for c in state.get("Catch", []):
                    if "States.ALL" in c["ErrorEquals"] or exc.error in c["ErrorEquals"]:
                        self.caught.append((name, exc.error))
                        data = _put(data, c.get("ResultPath", "$"), {"Error": exc.error, "Cause": exc.cause})
                        name = c["Next"]
                        break
                else:
                    raise
                continue
            if "ResultSelector" in state:
                result = _resolve(state["ResultSelector"], result, ctx)
            data = _put(data, state.get("ResultPath", "$"), result)
            if state.get("End"):
                return data
            name = state["Next"]
        raise AssertionError("state machine did not finish")

    def _choose(self, state: dict[str, Any], data: Any) -> str:
        for c in state["Choices"]:
            if self._matches(c, data):
                return str(c["Next"])
        return str(state["Default"])

    def _matches(self, rule: dict[str, Any], data: Any) -> bool:
        if "And" in rule:
            return all(self._matches(r, data) for r in rule["And"])
        if "Or" in rule:
            return any(self._matches(r, data) for r in rule["Or"])
        try:
            value = _get(rule["Variable"], data, {})
            present = True
        except (KeyError, TypeError):
            value, present = None, False
        if "IsPresent" in rule:
            return present is rule["IsPresent"]
        if not present:  # as in AWS: a comparison on a missing path is a runtime error
            raise StatesError("States.Runtime", f"Invalid path {rule['Variable']}: no such field")
        if "BooleanEquals" in rule:
            return value is rule["BooleanEquals"]
        if "StringEquals" in rule:
            return bool(value == rule["StringEquals"])
        if "NumericGreaterThan" in rule:
            return isinstance(value, int | float) and value > rule["NumericGreaterThan"]
        raise NotImplementedError(rule)

    def _task(self, state: dict[str, Any], data: Any, ctx: dict[str, Any]) -> Any:
        params = _resolve(state.get("Parameters"), data, ctx) if "Parameters" in state else data
        resource = state["Resource"]
        if resource in self.functions:
            return self._call(resource, params)
        if resource == LAMBDA_INVOKE:
            return {"Payload": self._call(params["FunctionName"], params["Payload"]), "StatusCode": 200}
        if resource == "arn:aws:states:::sns:publish":
            self.published.append(params)
            return {"MessageId": str(len(self.published))}
        if resource.startswith("arn:aws:states:::aws-sdk:dynamodb:"):
            action = resource.rsplit(":", 1)[-1]
            method = re.sub(r"(?<!^)([A-Z])", r"_\1", action).lower()
            try:
                return getattr(self.ddb, method)(**params)
            except ClientError as exc:
                raise StatesError(f"DynamoDb.{exc.response['Error']['Code']}", str(exc)) from exc
        raise NotImplementedError(resource)

    def _call(self, function_arn: str, event: Any) -> Any:
        try:
            return self.functions[function_arn](event)
        except Exception as exc:  # a Lambda error becomes a States error, as in AWS
            raise StatesError(type(exc).__name__, str(exc)) from exc

    def _map(self, name: str, state: dict[str, Any], data: Any) -> Any:
        distributed = state["ItemProcessor"].get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
        if "ItemReader" in state:
            reader = state["ItemReader"]
            assert distributed and reader["ReaderConfig"]["InputType"] == "JSONL"
            params = _resolve(reader["Parameters"], data, {})
            body = self.s3.get_object(Bucket=params["Bucket"], Key=params["Key"])["Body"].read().decode()
            values = [json.loads(x) for x in body.splitlines() if x.strip()]
        else:
            values = _get(state.get("ItemsPath", "$"), data, {})
            if not isinstance(values, list):
                raise StatesError("States.Runtime", f"{name}: ItemsPath does not select an array")
        self.map_items.append((name, len(values)))
        tolerated = float(state.get("ToleratedFailurePercentage", 0))
        results, failed = [], 0
        for i, value in enumerate(values):
            ctx = {"Map": {"Item": {"Index": i, "Value": value}}}
            item = _resolve(state["ItemSelector"], data, ctx) if "ItemSelector" in state else value
            try:
                results.append(self._machine(state["ItemProcessor"], item, ctx))
            except StatesError as exc:
                if not distributed:
                    raise
                self.child_errors.append(exc)
                failed += 1
                self.failed_children += 1
                # As in AWS, a Map Run over its threshold fails with a generic error that names
                # neither the child nor its cause (those are only in the child's own history).
                # It stops at the first such failure: the least AWS guarantees to have run.
                if 100 * failed / len(values) > tolerated:
                    raise StatesError(
                        "States.ExceedToleratedFailureThreshold",
                        "The specified tolerated failure threshold was exceeded",
                    ) from None
        return results

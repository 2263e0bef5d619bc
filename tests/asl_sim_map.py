"""tests/asl_sim.py's interpreter plus the Distributed Map the drill's ValidateFiles state uses:
an ItemReader reading JSON lines from S3 (moto), ItemSelector with `$$.Map.Item.Value`, one child
workflow per item, ToleratedFailurePercentage. Everything else (Task, Pass, Choice, Wait, Catch,
lambda:invoke, aws-sdk integrations) behaves exactly as in asl_sim, whose helpers it reuses.

As in AWS, a Map Run over its failure threshold fails with States.ExceedToleratedFailureThreshold,
naming neither the child nor its cause (those are only in the child execution's history, kept
here in `child_errors` for assertions); children run one after another and the run stops at the
first failure over the threshold (the least AWS guarantees to have run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.asl_sim import (
    ExecutionFailed,
    LambdaFn,
    TaskFailed,
    _choice_matches,
    _task,
    get_path,
    set_path,
)

__all__ = ["Execution", "ExecutionFailed", "TaskFailed", "run"]

EXCEEDED = "States.ExceedToleratedFailureThreshold"


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
    """As asl_sim.run (final data and the parent's visited states; ExecutionFailed on failure).
    Pass `execution` to inspect the children afterwards."""
    ex = execution or Execution(lambdas=lambdas, clients=clients)
    ex.lambdas, ex.clients = lambdas, clients
    return ex.machine(definition, execution_input, ex.visited), ex.visited

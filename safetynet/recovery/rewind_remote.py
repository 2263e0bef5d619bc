"""A planned rewind run on the stack's Step Functions (components/recovery/rewind.py) instead of
in this process: the same engine, one Distributed Map child per data file.

`safetynet rewind` prepares the window's export and plans as always, writes plan.json, then, for a
window of more than REMOTE_THRESHOLD changed keys (or with `--remote`), calls `run_remote`:

1. `start`: StartExecution named after the run id (`rewind-<runId>`), with the run as input. Step
   Functions treats the same name and input as the same execution, so a retried call starts
   nothing twice; a name already used by a closed execution is followed if its input is this run's.
2. `follow`: DescribeExecution until the execution ends, the map's progress (ListMapRuns,
   DescribeMapRun: data files done and failed) reported as it goes.
3. the run's summary.json, written by the machine's Summarize task: the document the in-process
   path writes (counts, samples, conflicts), plus `files`, `failedFiles` and `executionArn`.

Ctrl-C stops following, not the execution: it goes on and writes its summary; the command says
where. The machine notifies the alert topic itself.

What the caller needs: states:StartExecution on the machine; states:DescribeExecution and
states:ListMapRuns on its executions; states:DescribeMapRun on its map runs;
states:DescribeStateMachine when the machine is found by its name; s3:GetObject on the run's
summary.json (and kms:Decrypt on the vault key).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from components.recovery.rewind import state_machine_name
from handlers.exports.layout import format_time
from handlers.exports.manifests import read_object
from handlers.rewind import RewindSpec, RunLocation

REMOTE_THRESHOLD = 100_000
"""Changed keys above which a rewind runs on Step Functions by default: a choice, not a measurement.
In process each key costs a strongly consistent read (per chunk of 25) and a conditional write, a network
round trip of milliseconds, with 8 chunks in flight; the machine runs up to 20 data files at once,
each with its own 8."""
MACHINE_ENV = "SAFETYNET_REWIND_STATE_MACHINE"
"""The machine's ARN (stack output rewindStateMachineArn), when not given as an option."""
POLL_SECONDS = 5.0
FINISHED_STATES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class RemoteRefused(ValueError):
    """The machine cannot run this rewind as asked (exit 2); the message says why."""


class RemoteFailed(RuntimeError):
    """The execution ended without a summary (stopped, timed out, or its last step failed)."""


@dataclass(frozen=True)
class Progress:
    """How far an execution is, from its Map Run's item counts (files)."""

    status: str
    """The execution's status (RUNNING, SUCCEEDED, ...)."""
    files_done: int = 0
    """Data files finished, successfully or not."""
    files_failed: int = 0
    """Data files that failed (their problem is in the run's audit)."""
    files_running: int = 0


def execution_name(run_id: str) -> str:
    """`rewind-<runId>`: one execution per run (Step Functions names hold at most 80 characters)."""
    return f"rewind-{run_id}"[:80]


def execution_arn(machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution `name` of `machine_arn`."""
    return machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def machine_arn_of(region: str, account: str, stack: str) -> str:
    """The stack's rewind machine, by its fixed name."""
    return f"arn:aws:states:{region}:{account}:stateMachine:{state_machine_name(stack)}"


def execution_input(*, prepared: Any, spec: RewindSpec, run: RunLocation, caller: str | None) -> dict[str, Any]:
    """The machine's input for a prepared rewind (`safetynet.recovery.rewind.Prepared`)."""
    return {
        "table": prepared.target.physical,
        # The prepared window: the one its export's folder is named after.
        "window": {"from": format_time(prepared.window.start), "to": format_time(prepared.window.end)},
        "export": {"bucket": prepared.ref.bucket, "prefix": prepared.ref.prefix},
        "filter": spec.where.text if spec.where is not None else None,
        "overrideConflicts": spec.override_conflicts,
        "runId": run.run_id,
        "who": caller,
    }


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def find_machine(clients: Any, stack: str, given: str | None = None) -> str | None:
    """The rewind machine's ARN: `given`, else $SAFETYNET_REWIND_STATE_MACHINE, else the stack's
    machine by its fixed name when it exists in this account and region (None when it does not,
    as on an emulator, or when it cannot be described)."""
    arn = given or os.environ.get(MACHINE_ENV)
    if arn:
        return arn
    try:
        account = clients.get("sts").get_caller_identity()["Account"]
        sfn = clients.get("stepfunctions")
        candidate = machine_arn_of(sfn.meta.region_name, account, stack)
        sfn.describe_state_machine(stateMachineArn=candidate)
    except (ClientError, BotoCoreError):
        return None
    return candidate


def use_remote(changes: int, *, remote: bool | None, machine: str | None, threshold: int | None = None) -> bool:
    """Whether to run on the machine: `remote` True (--remote) needs a machine (RemoteRefused
    otherwise), False (--local) never; None: when the machine is known and there are more than
    `threshold` (default REMOTE_THRESHOLD) changed keys."""
    if remote is True and machine is None:
        raise RemoteRefused(
            f"--remote needs the stack's rewind state machine: pass --state-machine ARN (stack output "
            f"rewindStateMachineArn) or set {MACHINE_ENV}"
        )
    if remote is None:
        return machine is not None and changes > (REMOTE_THRESHOLD if threshold is None else threshold)
    return remote


def start(sfn: Any, machine_arn: str, name: str, doc: dict[str, Any]) -> tuple[str, bool]:
    """Start the execution `name` with `doc`; (its ARN, True when started by this call). An
    execution of that name with the same input is taken over (a retry); with another input,
    RemoteRefused."""
    body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()
    try:
        return str(sfn.start_execution(stateMachineArn=machine_arn, name=name, input=body)["executionArn"]), True
    except ClientError as exc:
        if _error_code(exc) != "ExecutionAlreadyExists":
            raise
    arn = execution_arn(machine_arn, name)
    existing = sfn.describe_execution(executionArn=arn)
    if orjson.loads(existing.get("input") or "null") != orjson.loads(body):
        raise RemoteRefused(f"an execution named {name} exists with another input ({arn}); start a new run")
    return arn, False


def progress(sfn: Any, arn: str, status: str) -> Progress:
    """The execution's progress: its Map Run's item counts, once the map has started."""
    runs = sfn.list_map_runs(executionArn=arn).get("mapRuns", [])
    if not runs:
        return Progress(status)
    counts = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"]).get("itemCounts", {})
    failed = sum(int(counts.get(k, 0)) for k in ("failed", "timedOut", "aborted"))
    return Progress(
        status,
        files_done=int(counts.get("succeeded", 0)) + failed,
        files_failed=failed,
        files_running=int(counts.get("running", 0)),
    )


def follow(
    sfn: Any,
    arn: str,
    *,
    poll_seconds: float = POLL_SECONDS,
    on_progress: Callable[[Progress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """DescribeExecution until the execution has ended; its last description."""
    while True:
        desc: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        status = str(desc.get("status"))
        if on_progress is not None:
            on_progress(progress(sfn, arn, status))
        if status in FINISHED_STATES:
            return desc
        sleep(poll_seconds)


def _error_text(desc: dict[str, Any]) -> str:
    """An execution's error and cause (a Lambda error's cause is a JSON document)."""
    cause = str(desc.get("cause") or "")
    try:
        parsed = orjson.loads(cause)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        cause = str(parsed["errorMessage"])
    return f"{desc.get('error') or desc.get('status')}: {cause}".rstrip(": ")


def run_remote(
    clients: Any,
    *,
    machine_arn: str,
    doc: dict[str, Any],
    run: RunLocation,
    poll_seconds: float = POLL_SECONDS,
    on_start: Callable[[str, bool], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Run `doc` (execution_input) on the machine and return its summary.json, with
    `executionArn`. RemoteFailed when the execution ended without writing one."""
    sfn = clients.get("stepfunctions")
    arn, started = start(sfn, machine_arn, execution_name(run.run_id), doc)
    if on_start is not None:
        on_start(arn, started)
    desc = follow(sfn, arn, poll_seconds=poll_seconds, on_progress=on_progress, sleep=sleep)
    raw = read_object(clients.get("s3"), run.bucket, run.summary_key)
    if raw is None:
        raise RemoteFailed(
            f"the rewind execution {arn} ended {desc.get('status')} without a summary: {_error_text(desc)}; the "
            f"outcome of every key it settled is in {run.url}outcomes/"
        )
    summary: dict[str, Any] = orjson.loads(raw)
    summary["executionArn"] = arn
    if desc.get("status") != "SUCCEEDED":
        summary["executionError"] = _error_text(desc)
    return summary

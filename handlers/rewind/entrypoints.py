"""Lambda entrypoint of the rewind state machine (components/recovery/rewind.py): one function,
one `task` per state. Thin by design: parse the event, read the environment once, run the rewind
engine's own code (`rewind_data_file`, the same as `safetynet rewind` runs in process).

    prepare         the run's table is the stack's and its export is that table's incremental
                    export of the window; where manifest-files.json is (for the map's ItemReader)
    rewind_file     one Distributed Map child: one data file, end to end; its tally to the audit
    record_problem  a child's error, recorded in the audit (a Map Run reports only counts)
    summarize       the tallies merged into summary.json, the outcome on the alert topic;
                    RewindFailed, naming every failed file, when a file or a key failed

Beside the audit `handlers.rewind.audit` describes, a run on Step Functions writes one object
per data file, so the summary needs nothing of the 256 KB execution state:

    rewinds/<table>/<window>/runs/<run>/tallies/<part>.json    the file's Tally, complete or not
    rewinds/<table>/<window>/runs/<run>/problems/<part>.json   why the file failed

A child stops settling keys DEADLINE_MARGIN_SECONDS before Lambda's time limit, as Ctrl-C stops
the CLI: running chunks finish, the rest is `not-reached`, the outcome lines are uploaded; the
file then fails, and a rerun of the rewind finishes it (reverted keys then show as unchanged).

Environment (validated on a cold start): SAFETYNET_STACK, SAFETYNET_STACK_TAG, VAULT_BUCKET,
ALERT_TOPIC_ARN, FILE_CONCURRENCY (chunks of keys, `handlers.rewind.apply.CHUNK`, a child settles
at once).
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from conventions.tags import STACK_TAG
from conventions.vault import rewind_prefix
from handlers import clients
from handlers.exports import DataFile, ExportRef, read_data_files, read_summary
from handlers.exports.incremental import require_incremental
from handlers.exports.layout import NEW_AND_OLD_IMAGES, format_time, parse_time
from handlers.exports.manifests import files_key, read_object
from handlers.rewind.apply import DEFAULT_CONCURRENCY
from handlers.rewind.audit import RunLocation, notify, part_name, put_json, window_id
from handlers.rewind.files import rewind_data_file
from handlers.rewind.filters import FilterError, parse_filter
from handlers.rewind.plan import Outcome, RewindSpec, Window
from handlers.rewind.tally import LISTED, Tally

logger = Logger(service="safetynet-rewind")

DEADLINE_MARGIN_SECONDS = 90.0
"""Left for the running chunks, the outcome lines' upload and the tally (of a 900 s limit)."""
TALLIES = "tallies"
PROBLEMS = "problems"
CAUSE_CHARS = 1000
READERS = 16
_RUN_ID = re.compile(r"[0-9A-Za-z._-]{1,64}")
_TABLE_NAME = re.compile(r"[0-9A-Za-z._-]{3,255}")  # DynamoDB's table names


class ConfigurationError(RuntimeError):
    """The function's environment is incomplete (a deployment problem): redeploy the stack."""


class RewindRefused(ValueError):
    """The run asks for what the task may not do; the message says why."""


class FileIncomplete(RuntimeError):
    """A data file stopped before its end (Lambda's time limit); its tally counts what was settled."""


class RewindFailed(RuntimeError):
    """The run ended with a failed file or key (summary.json written, alert topic notified)."""


class DeadlineReached(KeyboardInterrupt):
    """Raised on the main thread shortly before Lambda's time limit. A KeyboardInterrupt, so the
    rewind engine stops as on Ctrl-C: running chunks finish, outcome lines are uploaded."""


@dataclass(frozen=True)
class Env:
    """The validated environment."""

    stack: str
    stack_tag: str
    vault_bucket: str
    topic_arn: str
    file_concurrency: int

    @classmethod
    def load(cls, environ: Mapping[str, str]) -> Env:
        names = ("SAFETYNET_STACK", "SAFETYNET_STACK_TAG", "VAULT_BUCKET", "ALERT_TOPIC_ARN")
        missing = [n for n in names if not environ.get(n)]
        if missing:
            raise ConfigurationError(f"missing environment variables {', '.join(missing)}; redeploy the stack")
        concurrency = environ.get("FILE_CONCURRENCY") or str(DEFAULT_CONCURRENCY)
        if not concurrency.isdigit() or int(concurrency) < 1:
            raise ConfigurationError(f"FILE_CONCURRENCY is {concurrency!r}, not a positive number; redeploy the stack")
        return cls(
            stack=environ["SAFETYNET_STACK"],
            stack_tag=environ["SAFETYNET_STACK_TAG"],
            vault_bucket=environ["VAULT_BUCKET"],
            topic_arn=environ["ALERT_TOPIC_ARN"],
            file_concurrency=int(concurrency),
        )


@cache
def _env() -> Env:
    return Env.load(os.environ)


@cache
def _client(service: str) -> Any:
    """One lazily created client per service, shared by warm invocations."""
    return clients.client(service)


@dataclass(frozen=True)
class Run:
    """The execution input: what to rewind, and where its audit goes."""

    table: str
    window: Window
    export: ExportRef
    filter_text: str | None
    override_conflicts: bool
    run_id: str
    who: str | None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], env: Env) -> Run:
        """Parse and check the input; RewindRefused says what is wrong."""
        try:
            table = str(doc["table"])
            start, end = parse_time(doc["window"]["from"]), parse_time(doc["window"]["to"])
            if start is None or end is None:
                raise ValueError("the window needs both `from` and `to`")
            window = Window.of(start, end)
            export = ExportRef(str(doc["export"]["bucket"]), str(doc["export"]["prefix"]))
            run_id = str(doc["runId"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RewindRefused(f"the execution input is not a rewind run ({type(exc).__name__}: {exc})") from None
        if not _TABLE_NAME.fullmatch(table):
            raise RewindRefused(f"{table!r} is not a DynamoDB table name")
        if not _RUN_ID.fullmatch(run_id):
            raise RewindRefused(f"runId {run_id!r} is not a run id (letters, digits, '.', '_', '-')")
        if export.bucket != env.vault_bucket:
            raise RewindRefused(f"the export is in {export.bucket}, not in this stack's vault {env.vault_bucket}")
        run = cls(
            table=table,
            window=window,
            export=export,
            filter_text=doc.get("filter") or None,
            override_conflicts=bool(doc.get("overrideConflicts", False)),
            run_id=run_id,
            who=doc.get("who"),
        )
        if not export.prefix.startswith(run.window_prefix + "/"):
            raise RewindRefused(f"the export {export.url} is not under the window's folder {run.window_prefix}/")
        return run

    @property
    def window_prefix(self) -> str:
        return f"{rewind_prefix(self.table)}/{window_id(self.window)}"

    @property
    def location(self) -> RunLocation:
        return RunLocation(self.export.bucket, self.window_prefix, self.run_id)

    def spec(self) -> RewindSpec:
        try:
            where = parse_filter(self.filter_text) if self.filter_text else None
        except FilterError as exc:
            raise RewindRefused(str(exc)) from None
        return RewindSpec(window=self.window, where=where, override_conflicts=self.override_conflicts)


def _tags(ddb: Any, arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    kwargs: dict[str, Any] = {"ResourceArn": arn}
    while True:
        page = ddb.list_tags_of_resource(**kwargs)
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        if not page.get("NextToken"):
            return tags
        kwargs["NextToken"] = page["NextToken"]


# -- tasks ---------------------------------------------------------------------------------------


def task_prepare(event: Mapping[str, Any], env: Env, _context: Any) -> dict[str, Any]:
    """Check the run (the second lock behind the role's tag condition) and return where the map
    reads its items. Reads the manifests, never a data file (the CLI validated them all)."""
    run = Run.from_json(event["run"], env)
    run.spec()
    ddb, s3 = _client("dynamodb"), _client("s3")
    arn = ddb.describe_table(TableName=run.table)["Table"]["TableArn"]
    owner = _tags(ddb, arn).get(STACK_TAG)
    if owner != env.stack_tag:
        raise RewindRefused(f"{run.table} is not one of this stack's tables ({STACK_TAG} is {owner!r})")
    summary = read_summary(s3, run.export)
    require_incremental(run.export, summary)
    problems = []
    if summary.table_arn != arn:
        problems.append(f"it is an export of {summary.table_arn}, not of {arn}")
    if summary.output_view != NEW_AND_OLD_IMAGES:
        problems.append(f"its view is {summary.output_view}: a rewind needs NEW_AND_OLD_IMAGES (the OldImage)")
    start, end = summary.export_from_time, summary.export_to_time
    if start is None or end is None or start > run.window.start or end < run.window.end:
        window = f"{format_time(run.window.start)} .. {format_time(run.window.end)}"
        problems.append(f"it covers {start} .. {end}, not the window {window}")
    if problems:
        raise RewindRefused(f"the export {run.export.url} cannot rewind this window: " + "; ".join(problems))
    files = read_data_files(s3, run.export, summary)
    prepared = {
        "bucket": run.export.bucket,
        "filesKey": files_key(run.export, summary),
        "files": len(files),
        "changes": summary.item_count,
        "exportId": run.export.export_id,
    }
    logger.info({"message": "rewind prepared", "table": run.table, "runId": run.run_id, **prepared})
    return prepared


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise DeadlineReached on this (main) thread after `seconds`; no deadline off the main
    thread (signals reach only it) or with None."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(_signum: int, _frame: Any) -> None:
        raise DeadlineReached()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _seconds_left(context: Any) -> float | None:
    remaining: Callable[[], int] | None = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else remaining() / 1000 - DEADLINE_MARGIN_SECONDS


def task_rewind_file(event: Mapping[str, Any], env: Env, context: Any) -> dict[str, Any]:
    """One Distributed Map child: settle every change of one data file against the table, each
    key's outcome line in the audit, the file's tally beside them (also when it stops early)."""
    run = Run.from_json(event["run"], env)
    data_file = DataFile.from_json(event["file"])
    key, part = data_file.data_file_s3_key, part_name(data_file.data_file_s3_key)
    location = run.location
    tally = Tally()
    complete = False
    try:
        with deadline(_seconds_left(context)):
            rewind_data_file(
                _client("dynamodb"),
                _client("s3"),
                run.export,
                data_file,
                run.spec(),
                table=run.table,
                dry_run=False,
                run=location,
                concurrency=env.file_concurrency,
                on_result=tally.add,
            )
        complete = True
    except DeadlineReached:
        settled = tally.total - tally.count(Outcome.NOT_REACHED)
        raise FileIncomplete(
            f"{key}: stopped before Lambda's time limit with {settled:,} of {data_file.item_count:,} keys settled; "
            "run the rewind again to finish it (keys already reverted then show as unchanged)"
        ) from None
    finally:
        # Also when the file stops early or fails: every key settled so far is in the summary.
        doc = {"file": key, "itemCount": data_file.item_count, "complete": complete, **tally.to_json()}
        put_json(_client("s3"), location.bucket, f"{location.prefix}{TALLIES}/{part}.json", doc)
        logger.info({"message": "data file rewound", "file": key, "complete": complete, **tally.by_outcome()})
    return {"file": key, "keys": tally.total, "byOutcome": tally.by_outcome()}


def _cause_text(error: Mapping[str, Any]) -> str:
    """A child error's cause, readable: a Lambda error's Cause is a JSON document."""
    cause = str(error.get("Cause") or "")
    try:
        parsed = orjson.loads(cause)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        cause = str(parsed["errorMessage"])
    return cause[:CAUSE_CHARS]


def task_record_problem(event: Mapping[str, Any], env: Env, _context: Any) -> dict[str, Any]:
    """A map child failed: its file and error go to the audit, where the summary finds them."""
    run = Run.from_json(event["run"], env)
    file = event.get("file") or {}
    key = str(file.get("dataFileS3Key", "?"))
    error = event.get("error") or {}
    doc = {
        "file": key,
        "itemCount": file.get("itemCount"),
        "error": str(error.get("Error") or "Error"),
        "cause": _cause_text(error),
    }
    location = run.location
    put_json(_client("s3"), location.bucket, f"{location.prefix}{PROBLEMS}/{part_name(key)}.json", doc)
    logger.warning({"message": "data file failed", **doc})
    return {"file": key}


def _documents(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every JSON document under `prefix` (one per data file: thousands for a large export, read
    READERS at a time)."""
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        bodies = list(pool.map(lambda key: read_object(s3, bucket, key), keys))
    return [orjson.loads(body) for body in bodies if body is not None]


def _base_doc(s3: Any, run: Run, env: Env, prepared: Mapping[str, Any] | None) -> dict[str, Any]:
    """The plan.json the CLI wrote before starting the machine, or what the input says."""
    raw = read_object(s3, run.location.bucket, run.location.plan_key)
    if raw is not None:
        doc: dict[str, Any] = orjson.loads(raw)
        return doc
    return {
        "stack": env.stack,
        "table": run.table,
        "physicalName": run.table,
        "window": {"from": format_time(run.window.start), "to": format_time(run.window.end)},
        "export": run.export.url,
        "changes": (prepared or {}).get("changes"),
        "filter": run.filter_text,
        "overrideConflicts": run.override_conflicts,
        "who": run.who,
        "startedAt": None,
        "notes": [],
    }


def task_summarize(event: Mapping[str, Any], env: Env, _context: Any) -> dict[str, Any]:
    """Merge the files' tallies into summary.json (the CLI's document, with `files` and
    `failedFiles`), notify the alert topic, and fail the run when a file or a key failed."""
    state = event["state"]
    run = Run.from_json(state["run"], env)
    s3, location = _client("s3"), run.location
    tally, settled = Tally(), 0
    for doc in _documents(s3, location.bucket, f"{location.prefix}{TALLIES}/"):
        tally.merge(Tally.from_json(doc))
        settled += bool(doc.get("complete"))
    problems = sorted(_documents(s3, location.bucket, f"{location.prefix}{PROBLEMS}/"), key=lambda p: p["file"])
    prepared, error = state.get("prepared"), state.get("error")
    total = prepared.get("files") if prepared else None
    failed = bool(error or problems or (total is not None and settled < total))
    doc = {
        **_base_doc(s3, run, env, prepared),
        **tally.to_json(),
        "runId": run.run_id,
        "status": "failed" if failed else "completed",
        "endedAt": datetime.now(UTC).isoformat(),
        "auditUrl": location.url,
        "files": {"total": total, "settled": settled, "failed": len(problems)},
        "failedFiles": problems[:LISTED],
        "error": {"error": error.get("Error"), "cause": _cause_text(error)} if error else None,
    }
    put_json(s3, location.bucket, location.summary_key, doc)
    try:
        notify(_client("sns"), env.topic_arn, doc)
    except (ClientError, BotoCoreError) as exc:
        # The summary is in the vault: a failed notification is logged, not a failed rewind.
        logger.warning({"message": "the notification failed", "error": str(exc)})
    failed_keys = tally.count(Outcome.FAILED)
    logger.info({"message": "rewind summarized", "runId": run.run_id, "status": doc["status"], **tally.by_outcome()})
    if failed or failed_keys:
        reasons = [f"{p['file']}: {p['error']}: {p['cause']}" for p in problems[:LISTED]]
        if error:
            reasons.insert(0, f"{error.get('Error')}: {_cause_text(error)}")
        if total is not None and settled + len(problems) < total:
            reasons.append(f"{total - settled - len(problems):,} data files were not reached")
        if failed_keys:
            reasons.append(f"{failed_keys:,} keys failed (their errors are in the outcome lines)")
        raise RewindFailed(f"rewind {run.run_id} of {run.table}: " + "; ".join(reasons) + f" (summary {location.url})")
    return {"status": doc["status"], "summaryKey": location.summary_key, "byOutcome": tally.by_outcome()}


TASKS: dict[str, Callable[[Mapping[str, Any], Env, Any], dict[str, Any]]] = {
    "prepare": task_prepare,
    "rewind_file": task_rewind_file,
    "record_problem": task_record_problem,
    "summarize": task_summarize,
}


@logger.inject_lambda_context
def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Step Functions -> the state's task (event["task"])."""
    task = TASKS.get(str(event.get("task")))
    if task is None:
        raise ConfigurationError(f"unknown task {event.get('task')!r}; expected one of {', '.join(TASKS)}")
    return task(event, _env(), context)

"""The staging ledger: one record per test table, so runs are idempotent and in order, and so a
failed run's notification can say which data files failed and why. (The same table holds the
targets the stack registers, keyed by export prefix: `handlers.staging.targets`.)

EventBridge delivers at least once and in any order: `claim` makes a duplicate event, and an
export older than the last one staged, a no-op. A Distributed Map that fails reports only that its
failure threshold was exceeded, so each failing child adds its problems to the record
(`record_problems`, bounded) and the final `record_outcome` puts them in the notification.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger(service="safetynet-staging", child=True)

# Data file problems kept in the ledger for the failure notification (see record_problems).
PROBLEMS_PER_FILE = 3
MAX_RECORDED_PROBLEMS = 20
PROBLEM_CHARS = 400
# The run record's attribute holding the table's last good export (LastGood JSON).
LAST_GOOD = "lastGood"


@dataclass(frozen=True)
class Claim:
    """Whether this run may stage the export, and why (logged and recorded)."""

    claimed: bool
    reason: str


def claim(ddb: Any, ledger: str, table: str, export_id: str, export_time: datetime) -> Claim:
    """Record that `export_id` is being staged into `table`, atomically; refuse duplicates and
    exports older than the last one claimed (EventBridge delivers at least once, in any order).

    A failed run may be retried for the same export (its record says FAILED)."""
    when = export_time.astimezone(UTC).isoformat()
    try:
        ddb.update_item(
            TableName=ledger,
            Key={"table": {"S": table}},
            # A new claim starts with no data file problems (a retried FAILED run included).
            UpdateExpression=(
                "SET exportId = :id, exportTime = :t, #s = :running, claimedAt = :now "
                "REMOVE problems, failedFiles, problemsTruncated"
            ),
            ConditionExpression=(
                "attribute_not_exists(exportTime) OR exportTime < :t OR (exportId = :id AND #s = :failed)"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":id": {"S": export_id},
                ":t": {"S": when},
                ":running": {"S": "RUNNING"},
                ":failed": {"S": "FAILED"},
                ":now": {"S": datetime.now(UTC).isoformat()},
            },
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        current = ddb.get_item(TableName=ledger, Key={"table": {"S": table}}, ConsistentRead=True).get("Item", {})
        last_id = current.get("exportId", {}).get("S")
        last_time = current.get("exportTime", {}).get("S")
        if last_id == export_id:
            reason = f"export {export_id} was already staged or is being staged into {table} (duplicate event)"
        else:
            reason = (
                f"export {export_id} ({when}) is not newer than {last_id} ({last_time}), the last export "
                f"staged into {table}; skipped"
            )
        logger.info({"message": "staging skipped", "table": table, "reason": reason})
        return Claim(False, reason)
    return Claim(True, f"claimed {export_id} for {table}")


def record_result(
    ddb: Any, ledger: str, table: str, export_id: str, *, status: str, detail: str, last_good: str | None = None
) -> None:
    """Finish the ledger record of this export (SUCCEEDED or FAILED). A success also records
    what was loaded as the table's last good export (`last_good`, LastGood JSON): a later replace
    that fails after its delete refills the table from it (`handlers.staging.recovery`). A new
    claim keeps it."""
    values: dict[str, Any] = {
        ":status": {"S": status},
        ":detail": {"S": detail[:2000]},
        ":now": {"S": datetime.now(UTC).isoformat()},
        ":id": {"S": export_id},
    }
    update = "SET #s = :status, detail = :detail, finishedAt = :now"
    if last_good is not None:
        update += f", {LAST_GOOD} = :good"
        values[":good"] = {"S": last_good}
    ddb.update_item(
        TableName=ledger,
        Key={"table": {"S": table}},
        UpdateExpression=update,
        ConditionExpression="exportId = :id",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=values,
    )


def last_good(ddb: Any, ledger: str, table: str) -> dict[str, Any] | None:
    """The LastGood JSON of a table's record (None when nothing was staged into it yet)."""
    item = ddb.get_item(TableName=ledger, Key={"table": {"S": table}}, ConsistentRead=True).get("Item", {})
    raw = item.get(LAST_GOOD, {}).get("S")
    if not raw:
        return None
    doc: dict[str, Any] = json.loads(raw)
    return doc


def record_last_good(ddb: Any, ledger: str, table: str, last_good: str) -> None:
    """Set a table's last good export outside a claimed run (`safetynet stage`), keeping the
    run record's claim (export, time, status) as it is."""
    ddb.update_item(
        TableName=ledger,
        Key={"table": {"S": table}},
        UpdateExpression=f"SET {LAST_GOOD} = :good",
        ExpressionAttributeValues={":good": {"S": last_good}},
    )


def record_problems(
    ddb: Any,
    ledger: str,
    table: str,
    export_id: str,
    problems: Sequence[str],
    *,
    per_file: int = PROBLEMS_PER_FILE,
    cap: int = MAX_RECORDED_PROBLEMS,
) -> bool:
    """Add one failed data file's problems to the ledger record of this (table, export), for the
    failure notification: a Distributed Map that fails reports only that its failure threshold was
    exceeded, not which child failed or why.

    Bounded: at most `per_file` problems (each cut to PROBLEM_CHARS) per call and never more than
    `cap` in the record; every call counts in `failedFiles`, and `problemsTruncated` marks that
    some were left out. Only a RUNNING record of this export is changed. Returns whether the
    problems were stored."""
    new = [{"S": p if len(p) <= PROBLEM_CHARS else p[: PROBLEM_CHARS - 3] + "..."} for p in problems[:per_file]]
    names = {"#s": "status"}
    values: dict[str, Any] = {":id": {"S": export_id}, ":running": {"S": "RUNNING"}, ":one": {"N": "1"}}
    this_run = "exportId = :id AND #s = :running"
    key = {"table": {"S": table}}
    append = "SET problems = list_append(if_not_exists(problems, :empty), :new)"
    if len(problems) > per_file:
        append += ", problemsTruncated = :true"
        values_append = {**values, ":true": {"BOOL": True}}
    else:
        values_append = dict(values)
    try:
        ddb.update_item(
            TableName=ledger,
            Key=key,
            UpdateExpression=f"{append} ADD failedFiles :one",
            # Room for all of `new`: the record never holds more than `cap` problems.
            ConditionExpression=f"{this_run} AND (attribute_not_exists(problems) OR size(problems) <= :room)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                **values_append,
                ":empty": {"L": []},
                ":new": {"L": new},
                ":room": {"N": str(cap - len(new))},
            },
        )
        return True
    except ddb.exceptions.ConditionalCheckFailedException:
        pass
    try:  # the record is full (or not this run's): count the file only
        ddb.update_item(
            TableName=ledger,
            Key=key,
            UpdateExpression="SET problemsTruncated = :true ADD failedFiles :one",
            ConditionExpression=this_run,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":true": {"BOOL": True}},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        logger.warning({"message": "ledger record is not this run's; problems not recorded", "table": table})
    return False


@dataclass(frozen=True)
class RecordedProblems:
    """What the map children recorded in the ledger with `record_problems`."""

    problems: list[str]
    failed_files: int
    truncated: bool

    def text(self) -> str:
        """For the notification: how many files failed and their first problems."""
        if not self.failed_files:
            return ""
        lines = [f"{self.failed_files} data file(s) failed" + (":" if self.problems else " (see the task logs)")]
        lines += [f"  - {p}" for p in self.problems]
        if self.truncated:
            lines.append(
                f"  (at most {PROBLEMS_PER_FILE} problems per file and {MAX_RECORDED_PROBLEMS} in all are "
                "kept here; the task logs have every one)"
            )
        return "\n".join(lines)


def recorded_problems(ddb: Any, ledger: str, table: str, export_id: str) -> RecordedProblems:
    """The problems `record_problems` stored for this export (none when the record is another's)."""
    item = ddb.get_item(TableName=ledger, Key={"table": {"S": table}}, ConsistentRead=True).get("Item", {})
    if item.get("exportId", {}).get("S") != export_id:
        return RecordedProblems([], 0, truncated=False)
    return RecordedProblems(
        problems=[str(p.get("S", "")) for p in item.get("problems", {}).get("L", [])],
        failed_files=int(item.get("failedFiles", {}).get("N", "0")),
        truncated=bool(item.get("problemsTruncated", {}).get("BOOL", False)),
    )


@contextmanager
def problems_recorded(ddb: Any, ledger: str, table: str, export_id: str, data_file_key: str) -> Iterator[None]:
    """A map child's error, added to the ledger record for the failure notification (the failed
    map itself reports only that its failure threshold was exceeded), then raised unchanged."""
    try:
        yield
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
        if data_file_key not in problem:
            problem = f"data file {data_file_key}: {problem}"
        try:
            record_problems(ddb, ledger, table, export_id, [problem])
        except (ClientError, BotoCoreError) as ledger_exc:  # the original error matters more
            logger.warning({"message": "could not record the problem", "error": str(ledger_exc)})
        raise


def record_outcome(
    ddb: Any,
    ledger: str,
    *,
    table: str,
    logical_name: str,
    export_id: str,
    url: str,
    status: str,
    detail: Any,
    last_good: str | None = None,
    recovery: str | None = None,
) -> str:
    """Finish the ledger record of this export and return the notification text: the outcome,
    the state machine's error or verify result (`detail`), what a failed replace left the table
    holding (`recovery`), and for a failed run the problems the map children recorded."""
    text = f"{status}: {table} from {url}"
    if recovery:
        text += f"\n{recovery}"
    if isinstance(detail, Mapping) and detail.get("Cause"):
        text += f"\n{detail.get('Error')}: {detail['Cause']}"
    elif detail:
        text += f"\n{detail}"
    if status == "FAILED":
        problems = recorded_problems(ddb, ledger, logical_name, export_id).text()
        text += f"\n{problems}" if problems else ""
    record_result(ddb, ledger, logical_name, export_id, status=status, detail=text, last_good=last_good)
    return text

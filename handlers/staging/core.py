"""Staging: load a validated (optionally masked) prod export into a test table.

Two modes:

- `replace`: disable deletion protection, delete the test table, ImportTable from the export
  (the table's full schema), then re-apply what an import does not carry (TTL, PITR, tags,
  streams, table class, deletion protection) so a `pulumi refresh` shows no drift. ImportTable
  cannot create local secondary indexes: such tables fall back to `refill`, with a logged reason.
- `refill`: keep the table (ARN, stream, event source mappings); BatchWriteItem the export's
  items (25 per request, `UnprocessedItems` retried with backoff until written, or the run fails
  loudly - never dropped), delete the items that are not in the export, check the count.

Safety, in order: an export is validated completely before any table is touched
(`handlers.exports.validate_export` in one process; in the state machine the manifest checks,
then one Distributed Map child per data file, `handlers.staging.files`); every task refuses a
table that is not tagged as a staging target of this stack, and any prod-tagged table
(`guard_table`); a ledger record per table makes duplicate events and exports older than the
last staged one no-ops (`claim`).

This module is the pure logic plus a small AWS layer (clients passed in). The Lambda
entrypoint is `handlers.staging.entrypoints`, the CLI is `safetynet stage`; both call these functions.
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from aws_lambda_powertools import Logger

from conventions.tags import ENVIRONMENT_TAG, PRODUCTION_ENVIRONMENTS, STAGING_TARGET_TAG
from handlers.exports.batch_writer import BATCH_SIZE, DynamoDBSink, Request, delete_request, write_batch

logger = Logger(service="safetynet-staging", child=True)

Mode = Literal["replace", "refill"]
Item = dict[str, Any]

DEFAULT_SAMPLE_SIZE = 100
# Data file problems kept in the ledger for the failure notification (see record_problems).
PROBLEMS_PER_FILE = 3
MAX_RECORDED_PROBLEMS = 20
PROBLEM_CHARS = 400
# Counting the table: one parallel-scan segment per GiB (a COUNT scan of 1 GiB is ~1,000
# consistent pages of 1 MB, for one Lambda with 15 minutes; an estimate, not measured on AWS),
# at most 1,000 segments (the CountTable map's results stay under ~40 KB, its ~7 history events
# per segment far below Step Functions' 25,000). Beyond 1,000 GiB the segments grow instead.
SEGMENT_BYTES = 1024**3
MAX_SEGMENTS = 1000
SCAN_MAX_TOTAL_SEGMENTS = 1_000_000  # the Scan API's limit on TotalSegments


# -- errors ---------------------------------------------------------------------------------


class StagingError(Exception):
    """Base of staging failures; messages say what happened and what to do."""


class NotAStagingTarget(StagingError):
    """The guard refused a table (untagged, tagged for another stack, or prod)."""


class ExportRejected(StagingError):
    """The export failed validation; no table was touched."""

    def __init__(self, url: str, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(
            f"export {url} rejected, test table left untouched:\n" + "\n".join(f"  - {p}" for p in problems)
        )


class VerificationFailed(StagingError):
    """The staged table does not match the export (count or sampled items)."""


# -- the target table ------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetTable:
    """A test table and everything staging must restore on it, as the test stack declares it.

    The test stack passes this (as JSON) in each execution's input; the CLI builds it from the
    live table. `schema` is a CreateTable request (prod's `tables.<name>.schema` output with the
    test table's name)."""

    name: str
    """Physical name of the test table."""
    logical_name: str
    """The table's name in config (`customers`)."""
    stack: str
    """`project/stack` of the test stack: the value of the staging-target tag it must carry."""
    schema: Mapping[str, Any]
    """CreateTable request: keys, attribute definitions, indexes, billing, streams, class."""
    source_table_arn: str | None = None
    """The prod table whose exports may be staged here (validation checks the summary)."""
    mode: Mode = "replace"
    ttl_attribute: str | None = None
    point_in_time_recovery_days: int | None = None
    """None: PITR off."""
    deletion_protection: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    """Every tag the table carries in the stack (restored after an import)."""
    mask: Sequence[Mapping[str, Any]] = ()
    """Masking rules `[{path, action, value?}]` (empty: stage unmasked)."""

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TargetTable:
        """From the execution input (camelCase keys)."""
        pitr = doc.get("pointInTimeRecoveryDays")
        return cls(
            name=str(doc["name"]),
            logical_name=str(doc.get("logicalName") or doc["name"]),
            stack=str(doc["stack"]),
            schema=_integral_numbers(dict(doc["schema"])),
            source_table_arn=doc.get("sourceTableArn"),
            mode=doc.get("mode") or "replace",
            ttl_attribute=doc.get("ttlAttribute") or None,
            point_in_time_recovery_days=int(pitr) if pitr else None,
            deletion_protection=bool(doc.get("deletionProtection", False)),
            tags=dict(doc.get("tags") or {}),
            mask=list(doc.get("mask") or []),
        )

    def to_json(self) -> dict[str, Any]:
        """The execution-input form."""
        return {
            "name": self.name,
            "logicalName": self.logical_name,
            "stack": self.stack,
            "schema": dict(self.schema),
            "sourceTableArn": self.source_table_arn,
            "mode": self.mode,
            "ttlAttribute": self.ttl_attribute,
            "pointInTimeRecoveryDays": self.point_in_time_recovery_days,
            "deletionProtection": self.deletion_protection,
            "tags": dict(self.tags),
            "mask": [dict(r) for r in self.mask],
        }

    @property
    def key_names(self) -> list[str]:
        """The primary key attribute names (hash, then range)."""
        return [k["AttributeName"] for k in self.schema["KeySchema"]]

    @property
    def key_types(self) -> dict[str, str]:
        """Every table and index key attribute -> S|N|B."""
        return {a["AttributeName"]: a["AttributeType"] for a in self.schema["AttributeDefinitions"]}


def _integral_numbers(value: Any) -> Any:
    """Stack outputs cross Pulumi's wire format as floats (10 -> 10.0); DynamoDB's capacity
    units are integers and boto3 refuses floats, so whole numbers become ints again."""
    if isinstance(value, Mapping):
        return {k: _integral_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def effective_mode(target: TargetTable) -> tuple[Mode, str]:
    """The mode to run and why: ImportTable cannot create LSIs, so such tables are refilled."""
    if target.mode == "replace" and target.schema.get("LocalSecondaryIndexes"):
        names = ", ".join(i["IndexName"] for i in target.schema["LocalSecondaryIndexes"])
        return "refill", (
            f"replace requested but {target.name} has local secondary indexes ({names}), which "
            "ImportTable cannot create; refilling the existing table instead"
        )
    return target.mode, f"mode {target.mode} as configured"


# -- the guard -------------------------------------------------------------------------------


def table_tags(ddb: Any, table_arn: str) -> dict[str, str]:
    """All tags of a table (paginated)."""
    tags: dict[str, str] = {}
    kwargs: dict[str, Any] = {"ResourceArn": table_arn}
    while True:
        page = ddb.list_tags_of_resource(**kwargs)
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        if not page.get("NextToken"):
            return tags
        kwargs["NextToken"] = page["NextToken"]


def check_tags(table: str, tags: Mapping[str, str], stack: str, *, force_untagged: bool = False) -> None:
    """The second lock (the first is IAM): refuse prod-tagged tables always, and tables not
    tagged `safetynet:staging-target=<stack>` unless the operator forces it explicitly."""
    environment = tags.get(ENVIRONMENT_TAG)
    if environment in PRODUCTION_ENVIRONMENTS:
        raise NotAStagingTarget(
            f"{table} is tagged {ENVIRONMENT_TAG}={environment}: staging never writes to a production table"
        )
    target = tags.get(STAGING_TARGET_TAG)
    if target == stack:
        return
    if target is None and force_untagged:
        logger.warning({"message": "staging into an untagged table (forced)", "table": table})
        return
    if target is None:
        raise NotAStagingTarget(
            f"{table} is not tagged {STAGING_TARGET_TAG}={stack}; staging would overwrite it. Tag it "
            "(the test stack's StagedTable does), or pass --force-untagged if you really mean it"
        )
    raise NotAStagingTarget(f"{table} is a staging target of {target}, not of {stack}; refusing to stage into it")


def guard_table(ddb: Any, table: str, stack: str, *, force_untagged: bool = False) -> dict[str, Any] | None:
    """Describe the table and apply `check_tags`. Returns the table description, or None when
    the table does not exist (a replace interrupted after the delete: the import recreates it)."""
    try:
        desc: dict[str, Any] = ddb.describe_table(TableName=table)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        return None
    check_tags(table, table_tags(ddb, desc["TableArn"]), stack, force_untagged=force_untagged)
    return desc


# -- idempotency and ordering ------------------------------------------------------------------


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


def record_result(ddb: Any, ledger: str, table: str, export_id: str, *, status: str, detail: str) -> None:
    """Finish the ledger record of this export (SUCCEEDED or FAILED)."""
    ddb.update_item(
        TableName=ledger,
        Key={"table": {"S": table}},
        UpdateExpression="SET #s = :status, detail = :detail, finishedAt = :now",
        ConditionExpression="exportId = :id",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":status": {"S": status},
            ":detail": {"S": detail[:2000]},
            ":now": {"S": datetime.now(UTC).isoformat()},
            ":id": {"S": export_id},
        },
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


# -- writing -----------------------------------------------------------------------------------


# -- comparing items ---------------------------------------------------------------------------


def _norm(av: Mapping[str, Any]) -> Any:  # noqa: PLR0911 (one return per DynamoDB type)
    """A comparable form of an attribute value: numbers by value, sets unordered, binary as bytes."""
    ((typ, val),) = av.items()
    if typ == "N":
        return ("N", Decimal(val))
    if typ == "B":
        return ("B", base64.b64decode(val) if isinstance(val, str) else bytes(val))
    if typ == "NS":
        return ("NS", frozenset(Decimal(v) for v in val))
    if typ == "SS":
        return ("SS", frozenset(val))
    if typ == "BS":
        return ("BS", frozenset(base64.b64decode(v) if isinstance(v, str) else bytes(v) for v in val))
    if typ == "M":
        return ("M", tuple(sorted((k, _norm(v)) for k, v in val.items())))
    if typ == "L":
        return ("L", tuple(_norm(v) for v in val))
    return (typ, val)


def normalize_item(item: Mapping[str, Any]) -> Any:
    """Items compare equal under this exactly when DynamoDB considers them the same data."""
    return tuple(sorted((k, _norm(v)) for k, v in item.items()))


def key_of(item: Mapping[str, Any], key_names: Sequence[str]) -> dict[str, Any]:
    """The primary key of an item."""
    return {k: item[k] for k in key_names}


def key_digest(item: Mapping[str, Any], key_names: Sequence[str]) -> int:
    """A 64-bit digest of an item's primary key (numbers by value, binary as bytes)."""
    h = hashlib.blake2b(digest_size=8)
    for name in key_names:
        h.update(repr(_norm(item[name])).encode())
        h.update(b"\x00")
    return int.from_bytes(h.digest(), "big")


# -- refill: sweep and count -------------------------------------------------------------------


def scan_keys(ddb: Any, table: str, key_names: Sequence[str], segments: int = 1) -> Iterator[Item]:
    """Every primary key in the table (keys only, paginated)."""
    names = {f"#k{i}": k for i, k in enumerate(key_names)}
    for segment in range(segments):
        kwargs: dict[str, Any] = {
            "TableName": table,
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "ConsistentRead": True,
        }
        if segments > 1:
            kwargs.update(Segment=segment, TotalSegments=segments)
        while True:
            page = ddb.scan(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def choose_segments(size_bytes: int | None, *, per_segment: int | None = None, limit: int = MAX_SEGMENTS) -> int:
    """How many parallel Scan segments to count a table of `size_bytes` in: one per
    `per_segment` bytes (SEGMENT_BYTES, read at call time), at least 1, at most `limit`.

    Unknown size (None) counts as 0. Past `limit` segments the segments grow instead: each
    Lambda then counts more than SEGMENT_BYTES."""
    per = SEGMENT_BYTES if per_segment is None else per_segment
    if per < 1 or not 1 <= limit <= SCAN_MAX_TOTAL_SEGMENTS:
        raise ValueError(f"per_segment must be >= 1 and limit within 1..{SCAN_MAX_TOTAL_SEGMENTS}")
    size = size_bytes or 0
    if size < 0:
        raise ValueError(f"a table size cannot be negative ({size})")
    return max(1, min(limit, -(-size // per)))


def count_segment(ddb: Any, table: str, segment: int, total: int) -> int:
    """The exact item count of one segment of a parallel Scan (`Select: COUNT`, consistent,
    every page); the counts of segments 0..total-1 add up to the table's item count."""
    if not 1 <= total <= SCAN_MAX_TOTAL_SEGMENTS or not 0 <= segment < total:
        raise ValueError(f"segment {segment} of {total}: need 0 <= segment < total <= {SCAN_MAX_TOTAL_SEGMENTS}")
    count = 0
    kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT", "ConsistentRead": True}
    if total > 1:  # one segment is the plain sequential scan (as before, for any emulator too)
        kwargs.update(Segment=segment, TotalSegments=total)
    while True:
        page = ddb.scan(**kwargs)
        count += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_items(ddb: Any, table: str, *, segments: int = 1, workers: int = 1) -> int:
    """The exact item count (consistent COUNT scans; DescribeTable's count lags by hours): the
    sum over `segments` parallel-scan segments, `workers` of them at a time in this process.
    The state machine counts each segment in its own Lambda instead (`count_segment`)."""
    if workers <= 1 or segments == 1:
        return sum(count_segment(ddb, table, s, segments) for s in range(segments))
    with ThreadPoolExecutor(max_workers=min(workers, segments)) as pool:
        return sum(pool.map(lambda s: count_segment(ddb, table, s, segments), range(segments)))


def sum_segment_counts(results: Sequence[Mapping[str, Any]], total: int) -> int:
    """The table's item count from the CountTable map's results (`{"segment", "count"}` each).
    Refuses a list that does not hold every segment 0..total-1 exactly once: a partial sum
    would look like missing items."""
    seen = sorted(int(r["segment"]) for r in results)
    if seen != list(range(total)):
        raise StagingError(
            f"the table count has {len(results)} segment results for {total} segments "
            f"(expected each of 0..{total - 1} once); count the table again"
        )
    return sum(int(r["count"]) for r in results)


def delete_extra_items(
    ddb: Any,
    table: str,
    key_names: Sequence[str],
    export_items: Callable[[], Iterable[Item]],
    export_count: int,
    *,
    table_count: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Delete the table's items whose key is not in the export. Returns how many were deleted.

    After a refill the table holds every exported key, so it has extra items exactly when it
    counts more than the export: the common case costs one COUNT (`table_count` when the caller
    counted already, as the state machine's CountTable map does; else one scan here) and no
    memory. Otherwise the export's keys are collected as 64-bit digests (8 bytes per item), all
    in this process, and the table is swept."""
    counted = count_items(ddb, table) if table_count is None else table_count
    if counted <= export_count:
        return 0
    digests = array("Q", (key_digest(it, key_names) for it in export_items()))
    known = set(digests)
    del digests
    doomed = (k for k in scan_keys(ddb, table, key_names) if key_digest(k, key_names) not in known)
    deleted = 0
    sink = DynamoDBSink(ddb, table)
    batch: list[Request] = []
    for key in doomed:
        batch.append(delete_request(key))
        if len(batch) == BATCH_SIZE:
            write_batch(sink, batch, sleep=sleep)
            deleted += len(batch)
            batch = []
    if batch:
        write_batch(sink, batch, sleep=sleep)
        deleted += len(batch)
    logger.info({"message": "deleted items not in the export", "table": table, "deleted": deleted})
    return deleted


# -- verify ------------------------------------------------------------------------------------


def reservoir_sample(items: Iterable[Item], k: int, seed: str) -> list[Item]:
    """k items chosen uniformly in one pass with bounded memory (deterministic for a seed)."""
    rng = random.Random(seed)  # noqa: S311 (sampling, not cryptography)
    sample: list[Item] = []
    for i, it in enumerate(items):
        if i < k:
            sample.append(it)
        else:
            j = rng.randint(0, i)
            if j < k:
                sample[j] = it
    return sample


@dataclass(frozen=True)
class Verification:
    """The verify step's findings."""

    table_count: int
    export_count: int
    sampled: int
    mismatches: list[str]

    @property
    def ok(self) -> bool:
        return self.table_count == self.export_count and not self.mismatches


def verify_table(
    ddb: Any,
    table: str,
    key_names: Sequence[str],
    export_items: Iterable[Item],
    export_count: int,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: str = "",
    table_count: int | None = None,
) -> Verification:
    """Count check plus a sample of exported items read back and compared exactly. The count is
    `table_count` when the caller counted already (the state machine's CountTable map), else
    one consistent COUNT scan here."""
    if table_count is None:
        table_count = count_items(ddb, table)
    sample = reservoir_sample(export_items, sample_size, seed)
    mismatches = []
    for it in sample:
        key = key_of(it, key_names)
        got = ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        if got is None:
            mismatches.append(f"missing item {key_digest(it, key_names):016x} (key {_short(key)})")
        elif normalize_item(got) != normalize_item(it):
            mismatches.append(f"item with key {_short(key)} differs from the export")
    return Verification(table_count, export_count, len(sample), mismatches)


def _short(key: Mapping[str, Any]) -> str:
    text = repr({k: next(iter(v.values())) for k, v in key.items()})
    return text if len(text) < 120 else text[:117] + "..."


def require_verified(v: Verification, table: str) -> None:
    """Raise VerificationFailed with every finding."""
    if v.ok:
        return
    problems = []
    if v.table_count != v.export_count:
        problems.append(f"{table} holds {v.table_count} items, the export {v.export_count}")
    problems += v.mismatches[:20]
    raise VerificationFailed(f"{table} does not match the export:\n" + "\n".join(f"  - {p}" for p in problems))


# -- replace -----------------------------------------------------------------------------------


def delete_for_replace(ddb: Any, target: TargetTable, *, force_untagged: bool = False) -> bool:
    """Guard, switch deletion protection off if set, delete the table. Returns False when the
    table was already gone."""
    desc = guard_table(ddb, target.name, target.stack, force_untagged=force_untagged)
    if desc is None:
        return False
    if desc.get("DeletionProtectionEnabled"):
        logger.info({"message": "disabling deletion protection for replace", "table": target.name})
        ddb.update_table(TableName=target.name, DeletionProtectionEnabled=False)
        ddb.get_waiter("table_exists").wait(TableName=target.name, WaiterConfig={"Delay": 2, "MaxAttempts": 60})
    ddb.delete_table(TableName=target.name)
    return True


def import_request(
    target: TargetTable,
    bucket: str,
    export_prefix: str,
    client_token: str,
    input_format: str = "DYNAMODB_JSON",
) -> dict[str, Any]:
    """The ImportTable request: the export's data files, the table's full schema (minus what
    ImportTable cannot carry, which `finish_replace` re-applies)."""
    s = target.schema
    params: dict[str, Any] = {
        "TableName": target.name,
        "AttributeDefinitions": s["AttributeDefinitions"],
        "KeySchema": s["KeySchema"],
        "BillingMode": s.get("BillingMode", "PAY_PER_REQUEST"),
        # Same as the stack declares (server_side_encryption enabled: AWS managed KMS key).
        "SSESpecification": {"Enabled": True, "SSEType": "KMS"},
    }
    if s.get("ProvisionedThroughput"):
        params["ProvisionedThroughput"] = s["ProvisionedThroughput"]
    if s.get("GlobalSecondaryIndexes"):
        params["GlobalSecondaryIndexes"] = s["GlobalSecondaryIndexes"]
    return {
        "ClientToken": client_token[:64],
        "S3BucketSource": {"S3Bucket": bucket, "S3KeyPrefix": f"{export_prefix}data/"},
        "InputFormat": input_format,
        "InputCompressionType": "GZIP",
        "TableCreationParameters": params,
    }


def start_import(
    ddb: Any,
    target: TargetTable,
    bucket: str,
    export_prefix: str,
    export_id: str,
    *,
    input_format: str = "DYNAMODB_JSON",
) -> str:
    """Start ImportTable; returns the ImportArn. The client token makes a retried task start
    the same import, not a second one."""
    token = hashlib.sha256(f"{target.name}/{export_id}".encode()).hexdigest()
    out = ddb.import_table(**import_request(target, bucket, export_prefix, token, input_format))
    return str(out["ImportTableDescription"]["ImportArn"])


def finish_replace(ddb: Any, target: TargetTable) -> list[str]:
    """Re-apply what ImportTable does not carry, so the table matches the stack again.
    Returns the settings applied (for the log)."""
    applied = []
    waiter = ddb.get_waiter("table_exists")

    def active() -> None:
        waiter.wait(TableName=target.name, WaiterConfig={"Delay": 2, "MaxAttempts": 150})

    active()
    arn = ddb.describe_table(TableName=target.name)["Table"]["TableArn"]
    if target.tags:
        tags = [{"Key": k, "Value": v} for k, v in sorted(target.tags.items())]
        for i in range(0, len(tags), 50):
            ddb.tag_resource(ResourceArn=arn, Tags=tags[i : i + 50])
        applied.append("tags")
    stream = target.schema.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        ddb.update_table(TableName=target.name, StreamSpecification=stream)
        active()
        applied.append("stream")
    table_class = target.schema.get("TableClass")
    if table_class and table_class != "STANDARD":
        ddb.update_table(TableName=target.name, TableClass=table_class)
        active()
        applied.append("table class")
    if target.ttl_attribute:
        ddb.update_time_to_live(
            TableName=target.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": target.ttl_attribute},
        )
        applied.append("ttl")
    if target.point_in_time_recovery_days:
        ddb.update_continuous_backups(
            TableName=target.name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True,
                "RecoveryPeriodInDays": target.point_in_time_recovery_days,
            },
        )
        applied.append("pitr")
    if target.deletion_protection:
        ddb.update_table(TableName=target.name, DeletionProtectionEnabled=True)
        active()
        applied.append("deletion protection")
    logger.info({"message": "re-applied table settings after import", "table": target.name, "applied": applied})
    return applied


def wait_deleted(ddb: Any, table: str) -> None:
    """Block until the table is gone (the CLI; the state machine polls instead)."""
    ddb.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 300})


def wait_import(
    ddb: Any, import_arn: str, *, sleep: Callable[[float], None] = time.sleep, poll: float = 5.0
) -> dict[str, Any]:
    """Block until the import ends (the CLI); raise StagingError when it did not complete."""
    while True:
        desc: dict[str, Any] = ddb.describe_import(ImportArn=import_arn)["ImportTableDescription"]
        status = desc["ImportStatus"]
        if status == "COMPLETED":
            return desc
        if status in ("FAILED", "CANCELLED", "CANCELLING"):
            raise StagingError(
                f"ImportTable {import_arn} {status}: {desc.get('FailureCode')} {desc.get('FailureMessage')}"
            )
        sleep(poll)


def now() -> datetime:
    """The current time (a seam for tests)."""
    return datetime.now(UTC)

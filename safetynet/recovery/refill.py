"""Refill an empty table from an export with BatchWriteItem: the way back for tables ImportTable
cannot create (local secondary indexes) when PITR and backups are out of reach, e.g. in a DR
region where only the replicated vault survived.

- `check_target` (reads DynamoDB): the table exists, is ACTIVE, has the configured key schema,
  and is empty unless the caller allows otherwise or the table carries a refill journal.
- `choose_export` (reads S3): the given export, the journal's export when a refill is being
  resumed, or the newest full export under the table's prefix that validates completely
  (manifests, checksums, every data file, the expected source table).
- `refill` writes the export's data files in manifest order (batch_writer retries unprocessed
  items and fails loudly), checks each file's count and the total against the export's.

Resuming: before the first item is written the table gets the tag `safetynet:refill` =
`<ExportId> <files done>/<files>` (the journal), advanced as data files are completely written and
removed when the refill is complete. An interrupted refill (Ctrl-C, SIGTERM, a lost session) rerun
with the same command finds the journal, loads the same export and skips the files already
written. Re-writing a file is harmless (a PutRequest of the same item), so a journal that lags
behind the table only costs time; that is why it is advanced at most every few seconds
(TagResource: five calls per second per account) and why reading a stale one is safe. The tag lives
and dies with the table: a table deleted and created again has no journal and must be empty.

No Pulumi imports; `safetynet refill` drives this module.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.exports.batch_writer import DynamoDBSink, write_requests
from handlers.exports.layout import FULL_EXPORT, ExportRef
from handlers.exports.listing import list_exports
from handlers.exports.reader import iter_file_requests
from handlers.exports.validation import ValidationReport, validate_export

logger = logging.getLogger(__name__)

JOURNAL_TAG = "safetynet:refill"
"""The table tag holding an unfinished refill's progress (`<ExportId> <done>/<files>`)."""
JOURNAL_EVERY_SECONDS = 5.0
"""At most one journal update per this many seconds (TagResource allows 5 calls/s per account)."""
_JOURNAL_RE = re.compile(r"(?P<export>[0-9A-Za-z_.-]+) (?P<done>\d+)/(?P<total>\d+)")


class RefillError(Exception):
    """The refill cannot run or did not complete; the message says what to do."""


@dataclass(frozen=True)
class Journal:
    """An unfinished refill as the table's tag records it: `done` of `total` data files of the
    export (in manifest order) are completely written."""

    export_id: str
    done: int
    total: int

    def value(self) -> str:
        """The tag value: only characters DynamoDB allows in tags (letters, digits, space, - /)."""
        return f"{self.export_id} {self.done}/{self.total}"

    @classmethod
    def parse(cls, value: str) -> Journal | None:
        match = _JOURNAL_RE.fullmatch(value.strip())
        if match is None:
            return None
        return cls(match["export"], int(match["done"]), int(match["total"]))


def read_journal(ddb: Any, table_arn: str) -> Journal | None:
    """The table's refill journal, or None (no tag, or a value this version cannot read)."""
    kwargs: dict[str, Any] = {"ResourceArn": table_arn}
    value = None
    while True:
        page = ddb.list_tags_of_resource(**kwargs)
        for tag in page.get("Tags", []):
            # AWS keeps one value per key; moto 5.1 appends a retagged key, the newest last.
            if tag["Key"] == JOURNAL_TAG:
                value = tag["Value"]
        if not page.get("NextToken"):
            return None if value is None else Journal.parse(value)
        kwargs["NextToken"] = page["NextToken"]


def write_journal(ddb: Any, table_arn: str, journal: Journal) -> None:
    ddb.tag_resource(ResourceArn=table_arn, Tags=[{"Key": JOURNAL_TAG, "Value": journal.value()}])


def clear_journal(ddb: Any, table_arn: str) -> None:
    ddb.untag_resource(ResourceArn=table_arn, TagKeys=[JOURNAL_TAG])


@dataclass
class ExportChoice:
    """The export to load, and the newer ones skipped with why."""

    report: ValidationReport
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(export URL, reason) of newer exports that failed validation."""


def choose_export(
    s3: Any,
    *,
    bucket: str,
    prefix: str,
    expected_table_arn: str,
    export_url: str | None = None,
    journal: Journal | None = None,
) -> ExportChoice:
    """The given export (must validate), else the journal's export (a refill being resumed), else
    the newest full export under `prefix` that validates. A given export other than the
    journal's is refused: the table already holds part of the journal's."""
    if journal is not None and export_url is not None and ExportRef.parse(export_url).export_id != journal.export_id:
        raise RefillError(
            f"the table is in the middle of a refill from export {journal.export_id} ({journal.done} of "
            f"{journal.total} data files written), not from {export_url}: finish that one (run without "
            "--export, or with its URL), or delete the table, let pulumi up create it again and refill it"
        )
    if export_url is not None:
        return ExportChoice(_usable(s3, ExportRef.parse(export_url), expected_table_arn))
    skipped: list[tuple[str, str]] = []
    for ref, summary in list_exports(s3, bucket, prefix.rstrip("/") + "/"):
        if journal is not None:
            if ref.export_id == journal.export_id:
                return ExportChoice(_usable(s3, ref, expected_table_arn))
            continue
        if summary.export_type != FULL_EXPORT:
            continue  # an incremental export holds changes, not the table
        report = validate_export(s3, ref, expected_table_arn=expected_table_arn)
        if report.ok:
            return ExportChoice(report, skipped)
        skipped.append((ref.url, report.problems[0]))
    if journal is not None:
        raise RefillError(
            f"the table is in the middle of a refill from export {journal.export_id}, which is no longer "
            f"under s3://{bucket}/{prefix}: pass its URL with --export, or delete the table, let pulumi up "
            "create it again and refill it"
        )
    why = "; ".join(f"{url}: {reason}" for url, reason in skipped) or "none found"
    raise RefillError(f"no valid export of {expected_table_arn} under s3://{bucket}/{prefix} ({why})")


def _usable(s3: Any, ref: ExportRef, expected_table_arn: str) -> ValidationReport:
    report = validate_export(s3, ref, expected_table_arn=expected_table_arn)
    if not report.ok:
        raise RefillError(f"{ref.url} is not usable: {'; '.join(report.problems[:3])}")
    if report.export_type != FULL_EXPORT:
        raise RefillError(f"{ref.url} is an incremental export (changes only): a refill needs a full export")
    return report


@dataclass(frozen=True)
class Target:
    """The table to refill, as checked."""

    arn: str
    journal: Journal | None
    """The unfinished refill the table carries, if any: the refill resumes it."""


def check_target(ddb: Any, table: str, key_schema: Sequence[dict[str, str]], *, allow_non_empty: bool) -> Target:
    """Refuse a missing, not yet ACTIVE, differently keyed or (by default) non-empty table; a
    table with a refill journal is being refilled and may hold items."""
    try:
        desc = ddb.describe_table(TableName=table)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        raise RefillError(f"table {table} does not exist: create it first (pulumi up)") from None
    if desc.get("TableStatus") != "ACTIVE":
        raise RefillError(f"table {table} is {desc.get('TableStatus')}: wait until it is ACTIVE")
    if list(desc.get("KeySchema", [])) != list(key_schema):
        raise RefillError(f"table {table} has the key schema {desc.get('KeySchema')}, not the configured {key_schema}")
    arn = str(desc["TableArn"])
    journal = read_journal(ddb, arn)
    if journal is None and not allow_non_empty and ddb.scan(TableName=table, Limit=1, Select="COUNT").get("Count", 0):
        raise RefillError(
            f"table {table} is not empty: a refill would mix the export with newer writes; refill only "
            "a freshly created table (or pass --allow-non-empty to overwrite items with the same keys). "
            f"If a refill of it was interrupted seconds ago, its journal (tag {JOURNAL_TAG}) may not be "
            "visible yet (DynamoDB tags are eventually consistent): wait a few seconds and run again"
        )
    return Target(arn=arn, journal=journal)


@dataclass
class RefillState:
    """How far a refill got: read by the caller when it is interrupted."""

    export_id: str = ""
    files_total: int = 0
    files_done: int = 0
    """Data files completely written (in manifest order), by this run or an earlier one."""
    files_journaled: int = 0
    """What the table's journal records: a rerun skips these files."""
    journal_exists: bool = False
    """The table carries the journal (written before the first item, removed at the end)."""
    resumed_from: int = 0
    """Files an earlier run had written (skipped by this one)."""
    items_written: int = 0
    """Items this run wrote (batches acknowledged by DynamoDB)."""
    complete: bool = False


def refill(
    ddb: Any,
    s3: Any,
    table: str,
    report: ValidationReport,
    *,
    table_arn: str,
    journal: Journal | None = None,
    state: RefillState | None = None,
    on_progress: Callable[[int], None] | None = None,
    journal_every: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Write every item of the (validated) export into `table`, data file by data file, and
    return the export's item count; a `journal` of this export resumes after its files.
    `state` (optional) is kept up to date for a caller that is interrupted."""
    state = state if state is not None else RefillState()
    every = JOURNAL_EVERY_SECONDS if journal_every is None else journal_every
    files = list(report.files)
    fmt = report.summary.output_format if report.summary else None
    start = journal.done if journal is not None and journal.export_id == report.ref.export_id else 0
    if journal is not None and journal.total != len(files):
        raise RefillError(
            f"the journal of {table} says export {journal.export_id} has {journal.total} data files, its "
            f"manifest lists {len(files)}: delete the table, let pulumi up create it again and refill it"
        )
    state.export_id, state.files_total, state.files_done = report.ref.export_id, len(files), start
    state.resumed_from = state.files_journaled = start
    state.journal_exists = True  # from here on the table may carry it, and hold items
    if journal is None:  # before the first item: an interrupted run is then always recognised
        write_journal(ddb, table_arn, Journal(report.ref.export_id, 0, len(files)))
    last = clock()

    def progress(n: int) -> None:
        state.items_written += n
        if on_progress is not None:
            on_progress(n)

    sink = DynamoDBSink(ddb, table)
    for index in range(start, len(files)):
        data_file = files[index]
        written = write_requests(
            sink, iter_file_requests(s3, report.ref, data_file, output_format=fmt), on_progress=progress
        )
        if written != data_file.item_count:  # the reader checks it too; a refill never assumes
            raise RefillError(
                f"{written} items written from {data_file.data_file_s3_key}, its manifest says "
                f"{data_file.item_count}: run the refill again"
            )
        state.files_done = index + 1
        if state.files_done < len(files) and clock() - last >= every:
            _advance(ddb, table_arn, Journal(report.ref.export_id, state.files_done, len(files)), state)
            last = clock()
    total = sum(f.item_count for f in files)
    if total != report.item_count:
        raise RefillError(
            f"the data files of {report.ref.url} hold {total} items but validation read {report.item_count}: "
            "run the refill again"
        )
    clear_journal(ddb, table_arn)
    state.journal_exists, state.complete = False, True
    logger.info(
        "table refilled",
        extra={"table": table, "export": report.ref.url, "items": total, "resumedFromFile": start},
    )
    return total


def _advance(ddb: Any, table_arn: str, journal: Journal, state: RefillState) -> None:
    """Record progress; a journal that cannot be updated only makes a rerun redo more files."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        write_journal(ddb, table_arn, journal)
        state.files_journaled = journal.done
    except (ClientError, BotoCoreError) as exc:
        logger.warning("refill journal not updated", extra={"table": table_arn, "error": str(exc)})

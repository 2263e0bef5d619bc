"""Refill an empty table from an export with BatchWriteItem: the way back for tables ImportTable
cannot create (local secondary indexes) when PITR and backups are out of reach, e.g. in a DR
region where only the replicated vault survived.

- `choose_export` (reads S3): the given export, or the newest one under the table's prefix that
  validates completely (manifests, checksums, every data file, the expected source table).
- `check_target` (reads DynamoDB): the table exists, is ACTIVE, has the configured key schema,
  and is empty unless the caller allows otherwise.
- `refill` writes every item (batch_writer retries unprocessed items and fails loudly) and
  checks the count against the export's.

No Pulumi imports; `safetynet refill` drives this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.exports.batch_writer import DynamoDBSink, write_requests
from handlers.exports.layout import ExportRef
from handlers.exports.listing import list_exports
from handlers.exports.reader import iter_requests
from handlers.exports.validation import ValidationReport, validate_export

logger = logging.getLogger(__name__)


class RefillError(Exception):
    """The refill cannot run or did not complete; the message says what to do."""


@dataclass
class ExportChoice:
    """The export to load, and the newer ones skipped with why."""

    report: ValidationReport
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(export URL, reason) of newer exports that failed validation."""


def choose_export(
    s3: Any, *, bucket: str, prefix: str, expected_table_arn: str, export_url: str | None = None
) -> ExportChoice:
    """The given export (must validate) or the newest valid export under `prefix`."""
    if export_url is not None:
        report = validate_export(s3, ExportRef.parse(export_url), expected_table_arn=expected_table_arn)
        if not report.ok:
            raise RefillError(f"{export_url} is not usable: {'; '.join(report.problems[:3])}")
        return ExportChoice(report)
    skipped: list[tuple[str, str]] = []
    for ref, _summary in list_exports(s3, bucket, prefix.rstrip("/") + "/"):
        report = validate_export(s3, ref, expected_table_arn=expected_table_arn)
        if report.ok:
            return ExportChoice(report, skipped)
        skipped.append((ref.url, report.problems[0]))
    why = "; ".join(f"{url}: {reason}" for url, reason in skipped) or "none found"
    raise RefillError(f"no valid export of {expected_table_arn} under s3://{bucket}/{prefix} ({why})")


def check_target(ddb: Any, table: str, key_schema: Sequence[dict[str, str]], *, allow_non_empty: bool) -> None:
    """Refuse a missing, not yet ACTIVE, differently keyed or (by default) non-empty table."""
    try:
        desc = ddb.describe_table(TableName=table)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        raise RefillError(f"table {table} does not exist: create it first (pulumi up)") from None
    if desc.get("TableStatus") != "ACTIVE":
        raise RefillError(f"table {table} is {desc.get('TableStatus')}: wait until it is ACTIVE")
    if list(desc.get("KeySchema", [])) != list(key_schema):
        raise RefillError(f"table {table} has the key schema {desc.get('KeySchema')}, not the configured {key_schema}")
    if not allow_non_empty and ddb.scan(TableName=table, Limit=1, Select="COUNT").get("Count", 0):
        raise RefillError(
            f"table {table} is not empty: a refill would mix the export with newer writes; refill only "
            "a freshly created table (or pass --allow-non-empty to overwrite items with the same keys)"
        )


def refill(
    ddb: Any,
    s3: Any,
    table: str,
    report: ValidationReport,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write every item of the (validated) export into `table`; returns the count, which must
    equal the export's."""
    written = write_requests(
        DynamoDBSink(ddb, table), iter_requests(s3, report.ref, report.files or None), on_progress=on_progress
    )
    if written != report.item_count:
        raise RefillError(
            f"{written} items written to {table} but the export holds {report.item_count}: rerun the refill"
        )
    logger.info("table refilled", extra={"table": table, "export": report.ref.url, "items": written})
    return written

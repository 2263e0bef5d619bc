"""Restore drill: prove that a table's latest export really restores.

    prepare   validate the newest export in the vault (manifests, checksums, counts, source
              table) and build the ImportTable request of a scratch table; in the state machine
              it checks the manifests only and a Distributed Map checks each data file in its own
              Lambda (handlers.watch.drill_files), so no Lambda reads a whole export
    (import)  DynamoDB ImportTable; Step Functions starts it and waits (never a Lambda)
    verify    imported item count == the manifest's, no import errors, and a sample of items
              (by key) compared with the live table
    (delete)  the scratch table is deleted whatever happened
    record    `drills/<table>/latest.json` in the vault + CloudWatch metrics (DrillSucceeded,
              LastVerifiedRestoreAgeHours); the freshness task keeps publishing the age

The drill fails loudly: a corrupt latest export is a failed drill, never skipped in favour of an
older one (that would hide exactly the problem the drill exists to find).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from conventions.watch import SCRATCH_PREFIX, WatchContext, WatchedTable
from handlers.exports import ExportRef, ManifestSummary, iter_requests, validate_export, validate_manifests
from handlers.exports.batch_writer import DynamoDBSink, write_requests
from handlers.watch.aws import (
    AWS_ERRORS,
    error_text,
    put_metrics,
    read_drill_record,
    vault_exports,
    write_drill_record,
)
from handlers.watch.drill_files import MAX_REPORTED_FILES, recorded_file_problems, run_folder

# A sample where most keys are missing from the live table means the export is not of this
# table (or the table lost most of its items since): either way the drill must fail.
MAX_MISSING_RATIO = 0.5


class DrillError(Exception):
    """The drill cannot run or failed; the message says what and what to check."""


def scratch_table_name(physical_table: str, export_id: str, at: datetime) -> str:
    """`safetynet-drill-<table>-<export id>-<run time>`: IAM scopes drill permissions to the
    prefix; the run time keeps a re-run (or a leftover table of a crashed run) from colliding."""
    safe = re.sub(r"[^a-zA-Z0-9_.-]", "-", export_id)
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    # Keep the export id and time whole: shorten the table part if the name would pass 255.
    head = f"{SCRATCH_PREFIX}{physical_table}"[: 255 - len(safe) - len(stamp) - 2]
    return f"{head}-{safe}-{stamp}"


def import_request(table: WatchedTable, ref: ExportRef, summary: ManifestSummary, scratch: str) -> dict[str, Any]:
    """The ImportTable request: the export's data files into an on-demand scratch table with the
    live table's keys (indexes are not needed to prove the data restorable)."""
    key_names = {k["AttributeName"] for k in table.key_schema}
    return {
        "S3BucketSource": {"S3Bucket": ref.bucket, "S3KeyPrefix": ref.key("data/")},
        "InputFormat": "ION" if summary.output_format == "ION" else "DYNAMODB_JSON",
        "InputCompressionType": "GZIP",
        "TableCreationParameters": {
            "TableName": scratch,
            "KeySchema": list(table.key_schema),
            "AttributeDefinitions": [a for a in table.attribute_definitions if a["AttributeName"] in key_names],
            "BillingMode": "PAY_PER_REQUEST",
        },
        # Idempotent per run (a retried StartImport returns the same import), new for every run.
        "ClientToken": hashlib.sha256(scratch.encode()).hexdigest()[:32],
    }


def not_restorable(url: str, problems: Iterable[str]) -> str:
    """The one wording of a rejected export, whichever step found its problems."""
    return f"the latest export {url} is not restorable: " + "; ".join(problems)


def prepare(
    ctx: WatchContext, table_name: str, *, s3: Any, now: datetime, check_data_files: bool = True
) -> dict[str, Any]:
    """Validate the newest export of a table and plan its import. Raises DrillError.

    `check_data_files=False` (the state machine's Prepare task) checks the manifests only
    (summary, source table, format, files listed once, per-file counts adding up to the summary)
    and leaves every data file to the ValidateFiles map, whose children read one file each; the
    CLI keeps reading the whole export here, as it is not bound by Lambda's 15 minutes."""
    table = ctx.table(table_name)
    exports = vault_exports(s3, ctx.vault_bucket, table.export_prefix)
    if not exports:
        raise DrillError(
            f"no export of {table.physical_name} under s3://{ctx.vault_bucket}/{table.export_prefix}/: "
            "check the nightly export schedule and its dead-letter queue"
        )
    ref, summary = exports[0]
    if check_data_files:
        report = validate_export(s3, ref, expected_table_arn=table.arn)
    else:
        report = validate_manifests(s3, ref, expected_table_arn=table.arn)
    if not report.ok:
        raise DrillError(not_restorable(ref.url, report.problems))
    scratch = scratch_table_name(table.physical_name, ref.export_id, now)
    return {
        "table": table.name,
        "physicalName": table.physical_name,
        "exportId": ref.export_id,
        "exportUrl": ref.url,
        "exportTime": summary.export_time.isoformat(),
        "outputFormat": summary.output_format,
        "expectedItemCount": summary.item_count,
        # What the ValidateFiles map's ItemReader reads: one JSON line per data file.
        "manifestFiles": {"bucket": ref.bucket, "key": ref.resolve(summary.manifest_files_s3_key)},
        "scratchTable": scratch,
        "importRequest": import_request(table, ref, summary, scratch),
        "preparedAt": now.isoformat(),
    }


# -- verification -----------------------------------------------------------------------------


@dataclass
class SampleResult:
    """Sampled scratch items compared with the live table by key."""

    sampled: int = 0
    equal: int = 0
    changed: int = 0
    """Present in the live table with other values (normal churn since the export)."""
    missing: list[dict[str, Any]] = field(default_factory=list)
    """Keys not in the live table."""


@dataclass
class DrillResult:
    """The outcome of one drill."""

    table: str
    ok: bool
    problems: list[str]
    export_id: str | None = None
    expected_item_count: int | None = None
    imported_item_count: int | None = None
    sample: SampleResult | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def judge(
    table: str,
    *,
    export_id: str | None,
    expected: int | None,
    import_description: Mapping[str, Any] | None,
    sample: SampleResult | None,
    error: str | None = None,
) -> DrillResult:
    """Pure: the verdict from the import's description, the manifest count and the sample."""
    problems: list[str] = []
    imported = None
    if error:
        problems.append(error)
    if import_description is not None:
        status = import_description.get("ImportStatus")
        imported = import_description.get("ImportedItemCount")
        if status != "COMPLETED":
            reason = import_description.get("FailureMessage") or import_description.get("FailureCode") or ""
            problems.append(f"import ended {status}{': ' + str(reason) if reason else ''}")
        if import_description.get("ErrorCount"):
            problems.append(f"{import_description['ErrorCount']} items could not be imported")
        if expected is not None and imported != expected:
            problems.append(f"imported {imported} items but the manifest says {expected}")
    elif not error:
        problems.append("no import description: the import never ran")
    if sample is not None and sample.sampled:
        if len(sample.missing) / sample.sampled > MAX_MISSING_RATIO:
            problems.append(
                f"{len(sample.missing)} of {sample.sampled} sampled keys are not in the live table: "
                "the export is not of this table, or the table lost most of its items since the export"
            )
    elif sample is not None and expected:
        problems.append("the scratch table returned no items to sample")
    return DrillResult(
        table=table,
        ok=not problems,
        problems=problems,
        export_id=export_id,
        expected_item_count=expected,
        imported_item_count=imported if isinstance(imported, int) else None,
        sample=sample,
    )


def _key_of(item: Mapping[str, Any], key_names: Iterable[str]) -> dict[str, Any]:
    return {k: item[k] for k in key_names}


def sample_compare(ddb: Any, scratch: str, live: str, key_names: list[str], size: int) -> SampleResult:
    """Read up to `size` items of the scratch table and look each up by key in the live table.

    Bounded by `size` (at most 1000, `safetynet:drill.sampleSize`), not by the export: one Scan
    page with `Limit=size` and `size` GetItem calls, so the Verify task stays within Lambda's
    limits for a table of any size. The sample is the Scan's first page (the first items in
    DynamoDB's hash order, not a random draw); the import's item count covers every item."""
    result = SampleResult()
    items = ddb.scan(TableName=scratch, Limit=size).get("Items", [])
    for item in items[:size]:
        result.sampled += 1
        key = _key_of(item, key_names)
        found = ddb.get_item(TableName=live, Key=key, ConsistentRead=True).get("Item")
        if found is None:
            result.missing.append(key)
        elif found == item:
            result.equal += 1
        else:
            result.changed += 1
    return result


def record(
    ctx: WatchContext, table: WatchedTable, result: DrillResult, *, s3: Any, cw: Any, now: datetime
) -> dict[str, Any]:
    """Keep the outcome in the vault (carrying the last success forward) and publish metrics."""
    previous = read_drill_record(s3, ctx.vault_bucket, table.physical_name) or {}
    doc = {
        **result.to_json(),
        "ranAt": now.isoformat(),
        "lastSuccessAt": now.isoformat() if result.ok else previous.get("lastSuccessAt"),
        "lastSuccessExportId": result.export_id if result.ok else previous.get("lastSuccessExportId"),
    }
    write_drill_record(s3, ctx.vault_bucket, table.physical_name, doc)
    dims = [{"Name": "Table", "Value": table.physical_name}]
    data: list[dict[str, Any]] = [
        {
            "MetricName": "DrillSucceeded",
            "Dimensions": dims,
            "Timestamp": now,
            "Value": 1.0 if result.ok else 0.0,
        }
    ]
    if result.ok:
        data.append({"MetricName": "LastVerifiedRestoreAgeHours", "Dimensions": dims, "Timestamp": now, "Value": 0.0})
    put_metrics(cw, data)
    return doc


def _with_file_problems(ctx: WatchContext, table: WatchedTable, plan: Mapping[str, Any], error: str, *, s3: Any) -> str:
    """The ValidateFiles map fails with only "threshold exceeded": the problems its children
    recorded say what was wrong, so they replace that error in the drill record."""
    if not plan.get("scratchTable") or not plan.get("exportUrl"):
        return error
    try:
        found = recorded_file_problems(s3, ctx.vault_bucket, table.physical_name, str(plan["scratchTable"]))
    except AWS_ERRORS as exc:
        return f"{error}; reading the data file checks failed: {error_text(exc)}"
    if not found.problems:
        return error
    problems = list(found.problems)
    if found.more_files:
        problems.append(
            f"more damaged data files than the {MAX_REPORTED_FILES} read: see "
            f"s3://{ctx.vault_bucket}/{run_folder(table.physical_name, str(plan['scratchTable']))}"
        )
    return not_restorable(str(plan["exportUrl"]), problems)


def verify_from_state(
    ctx: WatchContext, state: Mapping[str, Any], *, ddb: Any, s3: Any, cw: Any, now: datetime
) -> dict[str, Any]:
    """The Step Functions Verify task (and RecordPrepareFailure): state = {table, prepare?,
    importStatus?, error?}. Bounded whatever the export's size: it reads the import's description,
    one Scan page of at most `drill_sample_size` scratch items and as many live items by key
    (`sample_compare`), and after a failed ValidateFiles map at most `MAX_REPORTED_FILES` records
    of damaged data files; never the export itself."""
    table = ctx.table(str(state["table"]))
    plan = state.get("prepare") or {}
    error = None
    if state.get("error"):
        err = state["error"]
        error = f"{err.get('Error', 'Error')}: {err.get('Cause', '')}" if isinstance(err, Mapping) else str(err)
        error = _with_file_problems(ctx, table, plan, error, s3=s3)
    desc = (state.get("importStatus") or {}).get("description")
    sample = None
    if desc and desc.get("ImportStatus") == "COMPLETED" and plan.get("scratchTable"):
        try:
            sample = sample_compare(
                ddb,
                plan["scratchTable"],
                table.physical_name,
                [k["AttributeName"] for k in table.key_schema],
                ctx.drill_sample_size,
            )
        except AWS_ERRORS as exc:
            error = (error + "; " if error else "") + f"sampling failed: {error_text(exc)}"
    result = judge(
        table.name,
        export_id=plan.get("exportId"),
        expected=plan.get("expectedItemCount"),
        import_description=desc,
        sample=sample,
        error=error,
    )
    record(ctx, table, result, s3=s3, cw=cw, now=now)
    return result.to_json()


# -- the whole drill in one process (CLI) -----------------------------------------------------

Progress = Callable[[str, int, int], None]
"""(step description, done, total) -> None."""


def _load_by_batch_write(ddb: Any, s3: Any, plan: Mapping[str, Any], table: WatchedTable) -> dict[str, Any]:
    """Create the scratch table and fill it from the export with BatchWriteItem (for endpoints
    without ImportTable). Returns an ImportTable-like description."""
    params = plan["importRequest"]["TableCreationParameters"]
    ddb.create_table(**params)
    ddb.get_waiter("table_exists").wait(TableName=params["TableName"])
    ref = ExportRef.parse(plan["exportUrl"])
    # The export passed validation in prepare: its lines go out as they are (handlers.exports.batch_writer).
    count = write_requests(DynamoDBSink(ddb, params["TableName"]), iter_requests(s3, ref))
    return {"ImportStatus": "COMPLETED", "ImportedItemCount": count, "ErrorCount": 0}


def run_drill(
    ctx: WatchContext,
    table_name: str,
    *,
    ddb: Any,
    s3: Any,
    cw: Any,
    progress: Progress | None = None,
    use_import: bool | Literal["auto"] = True,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 6 * 3600,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[DrillResult, str]:
    """Run a drill end to end (the CLI's path). Returns the result and how the scratch table was
    loaded ("ImportTable" or "BatchWriteItem"). The scratch table is always deleted.

    `use_import="auto"` falls back to BatchWriteItem when the endpoint does not implement
    ImportTable (DynamoDB Local, some emulators)."""
    step = progress or (lambda _msg, _done, _total: None)
    table = ctx.table(table_name)
    total = 5
    step("validating the latest export", 0, total)
    try:
        plan = prepare(ctx, table.name, s3=s3, now=clock())
    except DrillError as exc:
        result = judge(table.name, export_id=None, expected=None, import_description=None, sample=None, error=str(exc))
        record(ctx, table, result, s3=s3, cw=cw, now=clock())
        step("export is not restorable", total, total)
        return result, "none"
    scratch = plan["scratchTable"]
    method = "ImportTable"
    desc: dict[str, Any] | None = None
    sample = None
    error = None
    try:
        step(f"importing into {scratch}", 1, total)
        arn = _start_import(ddb, plan) if use_import else None
        if arn is None and use_import is True:
            raise DrillError("this endpoint does not implement ImportTable; load with BatchWriteItem instead")
        if arn is not None:
            started = time.monotonic()
            while True:
                desc = ddb.describe_import(ImportArn=arn)["ImportTableDescription"]
                if desc["ImportStatus"] not in ("IN_PROGRESS", "CANCELLING"):
                    break
                if time.monotonic() - started > timeout_seconds:
                    raise DrillError(f"import {arn} still running after {timeout_seconds:.0f}s")
                time.sleep(poll_seconds)
        else:
            method = "BatchWriteItem"
            desc = _load_by_batch_write(ddb, s3, plan, table)
        step("sampling items against the live table", 2, total)
        if desc.get("ImportStatus") == "COMPLETED":
            keys = [k["AttributeName"] for k in table.key_schema]
            sample = sample_compare(ddb, scratch, table.physical_name, keys, ctx.drill_sample_size)
    except (DrillError, *AWS_ERRORS) as exc:
        error = str(exc) if isinstance(exc, DrillError) else error_text(exc)
    finally:
        step(f"deleting {scratch}", 3, total)
        _delete_quietly(ddb, scratch)
    result = judge(
        table.name,
        export_id=plan["exportId"],
        expected=plan["expectedItemCount"],
        import_description=desc,
        sample=sample,
        error=error,
    )
    step("recording the result", 4, total)
    record(ctx, table, result, s3=s3, cw=cw, now=clock())
    step("done", total, total)
    return result, method


# What endpoints without ImportTable answer (DynamoDB Local: UnknownOperationException).
_NO_IMPORT = {"UnknownOperationException", "NotImplemented", "NotImplementedException"}


def _start_import(ddb: Any, plan: Mapping[str, Any]) -> str | None:
    """Start ImportTable; None when this endpoint does not implement it."""
    try:
        return str(ddb.import_table(**plan["importRequest"])["ImportTableDescription"]["ImportArn"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _NO_IMPORT:
            return None
        raise


def _delete_quietly(ddb: Any, table: str) -> None:
    try:
        ddb.delete_table(TableName=table)
    except AWS_ERRORS as exc:
        if "ResourceNotFound" not in error_text(exc):
            raise

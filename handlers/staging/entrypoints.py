"""Lambda entrypoint of the staging state machine: one function, one `task` per state.

Thin by design: parse the event, read the environment once, call `handlers.staging.core` /
`handlers.staging.masking`, return a small JSON result for the next state. Long waits (table deletion,
ImportTable) are Step Functions Wait/poll loops, never waits in here.

Environment (validated on cold start):
    STAGING_STACK          project/stack of the test stack (the staging-target tag value)
    LEDGER_TABLE           the idempotency/order ledger table
    MASK_BUCKET            the test stack's bucket for masked copies
    MASK_KMS_KEY_ARN       key of the masking bucket (optional; bucket default encryption otherwise)
    MASKING_KEY_SECRET_ARN Secrets Manager secret holding safetynet:maskingKey (when masking)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from conventions.masking import MaskRule
from conventions.vault import MASK_PREFIX
from handlers import clients, exports
from handlers.exports.batch_writer import DynamoDBSink, write_requests
from handlers.staging.core import (
    ExportRejected,
    StagingError,
    TargetTable,
    choose_segments,
    claim,
    count_segment,
    delete_extra_items,
    delete_for_replace,
    effective_mode,
    finish_replace,
    guard_table,
    record_problems,
    record_result,
    recorded_problems,
    require_verified,
    start_import,
    sum_segment_counts,
    verify_table,
)
from handlers.staging.files import sample_source, validate_data_file
from handlers.staging.masking import Masker, mask_data_file, masked_ref, masking_key, publish_masked_export

logger = Logger(service="safetynet-staging")


class ConfigurationError(StagingError):
    """The function's environment is incomplete (a deployment problem, not a data problem)."""


@dataclass(frozen=True)
class Env:
    """The validated environment."""

    stack: str
    ledger_table: str
    mask_bucket: str | None
    mask_kms_key_arn: str | None
    masking_key_secret_arn: str | None

    @classmethod
    def load(cls, environ: Mapping[str, str]) -> Env:
        missing = [k for k in ("STAGING_STACK", "LEDGER_TABLE") if not environ.get(k)]
        if missing:
            raise ConfigurationError(f"missing environment variables {', '.join(missing)}; redeploy the test stack")
        return cls(
            stack=environ["STAGING_STACK"],
            ledger_table=environ["LEDGER_TABLE"],
            mask_bucket=environ.get("MASK_BUCKET") or None,
            mask_kms_key_arn=environ.get("MASK_KMS_KEY_ARN") or None,
            masking_key_secret_arn=environ.get("MASKING_KEY_SECRET_ARN") or None,
        )


@cache
def _client(service: str) -> Any:
    """One lazily created client per service, shared by warm invocations."""
    return clients.client(service)


@cache
def _masking_key(secret_arn: str) -> bytes:
    value = _client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    return masking_key(value)


def _ref(doc: Mapping[str, Any]) -> exports.ExportRef:
    return exports.ExportRef(str(doc["bucket"]), str(doc["prefix"]))


def _target(event: Mapping[str, Any], env: Env) -> TargetTable:
    target = TargetTable.from_json(event["target"])
    if target.stack != env.stack:
        raise StagingError(f"target {target.name} belongs to {target.stack}, this pipeline to {env.stack}")
    return target


def _masker(target: TargetTable, env: Env) -> Masker:
    rules = [MaskRule(r["path"], r["action"], r.get("value")) for r in target.mask]
    needs_key = any(r.action in ("hash", "fake") for r in rules)
    if needs_key and not env.masking_key_secret_arn:
        raise ConfigurationError("masking rules hash or fake, but MASKING_KEY_SECRET_ARN is not set")
    key = _masking_key(env.masking_key_secret_arn) if needs_key and env.masking_key_secret_arn else b""
    return Masker(rules, key, target.key_types)


# -- tasks ---------------------------------------------------------------------------------------


def task_claim(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """Parse the S3 event's key, read the export time, claim it in the ledger."""
    target = _target(event, env)
    ref = exports.ExportRef.parse(f"s3://{event['bucket']}/{event['key']}")
    summary = exports.read_summary(_client("s3"), ref)
    result = claim(_client("dynamodb"), env.ledger_table, target.logical_name, ref.export_id, summary.export_time)
    return {
        "claimed": result.claimed,
        "reason": result.reason,
        "export": {
            "bucket": ref.bucket,
            "prefix": ref.prefix,
            "exportId": ref.export_id,
            "exportTime": summary.export_time.isoformat(),
            "url": ref.url,
        },
    }


def task_validate(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """The guard and the manifest checks (summary, source table, format, files listed once,
    counts adding up); decides the mode and the data to load. Reads no data file: the
    ValidateFiles map checks each one in its own child (`task_validate_file`)."""
    target = _target(event, env)
    ddb, s3 = _client("dynamodb"), _client("s3")
    guard_table(ddb, target.name, target.stack)
    ref = _ref(event["export"])
    report = exports.validate_manifests(s3, ref, expected_table_arn=target.source_table_arn)
    if not report.ok or report.summary is None:
        raise ExportRejected(ref.url, report.problems)
    summary = report.summary
    mode, reason = effective_mode(target)
    logger.info(
        {
            "message": "manifests valid",
            "export": ref.url,
            "items": summary.item_count,
            "dataFiles": len(report.files),
            "warnings": report.warnings,
            "mode": mode,
        }
    )
    masked = bool(target.mask)
    data = ref
    if masked:
        if not env.mask_bucket:
            raise ConfigurationError("masking rules configured but MASK_BUCKET is not set")
        data = masked_ref(ref, env.mask_bucket, f"{MASK_PREFIX}/{target.logical_name}")
    return {
        "mode": mode,
        "modeReason": reason,
        # Equal to the sum of the per-file counts (checked above), each of which ValidateFiles
        # checks against the file's lines.
        "itemCount": summary.item_count,
        # What the export says the table's data weighs (None when unknown): CountTable sizes its
        # segments by it too, as a freshly loaded table's TableSizeBytes lags by hours.
        "sizeBytes": summary.billed_size_bytes,
        "sourceFormat": summary.output_format,
        "outputFormat": "DYNAMODB_JSON" if masked else summary.output_format,
        "masked": masked,
        "source": {
            "bucket": ref.bucket,
            "prefix": ref.prefix,
            "filesKey": ref.resolve(summary.manifest_files_s3_key),
        },
        "data": {"bucket": data.bucket, "prefix": data.prefix, "filesKey": data.key("manifest-files.json")},
    }


def task_validate_file(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """One Distributed Map child: check one source data file completely; a damaged file's
    problems are recorded in the ledger (for the notification) and fail the run."""
    target = _target(event, env)
    plan = event["plan"]
    src = _ref(plan["source"])
    check = validate_data_file(
        _client("s3"),
        _client("dynamodb"),
        ledger=env.ledger_table,
        table=target.logical_name,
        ref=src,
        data_file=exports.DataFile.from_json(event["file"]),
        output_format=plan["sourceFormat"],
    )
    return {"key": check.key, "items": check.items}


@contextmanager
def _failure_recorded(
    target: TargetTable, env: Env, plan: Mapping[str, Any], file: Mapping[str, Any]
) -> Iterator[None]:
    """A map child's error, added to the ledger record for the failure notification (the failed
    map itself reports only that its failure threshold was exceeded), then raised unchanged."""
    try:
        yield
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
        name = str(file.get("dataFileS3Key"))
        if name not in problem:
            problem = f"data file {name}: {problem}"
        try:
            record_problems(
                _client("dynamodb"), env.ledger_table, target.logical_name, _ref(plan["source"]).export_id, [problem]
            )
        except (ClientError, BotoCoreError) as ledger_exc:  # the original error matters more
            logger.warning({"message": "could not record the problem", "error": str(ledger_exc)})
        raise


def task_mask_file(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """One Distributed Map child: mask one data file into the masked copy."""
    target = _target(event, env)
    plan = event["plan"]
    src, dst = _ref(plan["source"]), _ref(plan["data"])
    data_file = exports.DataFile.from_json(event["file"])
    with _failure_recorded(target, env, plan, event["file"]):
        out = mask_data_file(_client("s3"), src, data_file, dst, _masker(target, env), kms_key_id=env.mask_kms_key_arn)
    return {"dataFileS3Key": out.data_file_s3_key, "itemCount": out.item_count}


def task_publish_masked(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """After the mask map: write the masked export's manifests (summary last)."""
    plan = event["plan"]
    ref = publish_masked_export(
        _client("s3"), _ref(plan["source"]), _ref(plan["data"]), kms_key_id=env.mask_kms_key_arn
    )
    return {"url": ref.url}


def task_prepare_replace(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """Guard, deletion protection off, DeleteTable (the state machine then polls until gone)."""
    target = _target(event, env)
    existed = delete_for_replace(_client("dynamodb"), target)
    return {"deleted": existed}


def task_start_import(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """ImportTable from the (masked) export with the table's full schema."""
    target = _target(event, env)
    plan = event["plan"]
    data = _ref(plan["data"])
    arn = start_import(
        _client("dynamodb"),
        target,
        data.bucket,
        data.prefix,
        data.export_id,
        input_format=plan["outputFormat"],
    )
    return {"importArn": arn}


def task_finish_replace(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """Re-apply TTL, PITR, tags, streams, table class, deletion protection."""
    return {"applied": finish_replace(_client("dynamodb"), _target(event, env))}


def task_refill_file(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """One Distributed Map child: BatchWriteItem one data file's items."""
    target = _target(event, env)
    ddb = _client("dynamodb")
    guard_table(ddb, target.name, target.stack)
    plan = event["plan"]
    data = _ref(plan["data"])
    data_file = exports.DataFile.from_json(event["file"])
    with _failure_recorded(target, env, plan, event["file"]):
        requests = exports.iter_file_requests(_client("s3"), data, data_file, output_format=plan["outputFormat"])
        written = write_requests(DynamoDBSink(ddb, target.name), requests, concurrency=4)
    return {"written": written}


def task_plan_count(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """Guard, then how many parallel-scan segments the CountTable map counts the table in:
    sized by the larger of DescribeTable's TableSizeBytes (updated only every few hours) and
    the export's size, so a freshly refilled or imported table is not counted as empty."""
    target = _target(event, env)
    desc = guard_table(_client("dynamodb"), target.name, target.stack)
    if desc is None:
        raise StagingError(f"{target.name} does not exist; nothing to count (was it deleted during staging?)")
    table_bytes = int(desc.get("TableSizeBytes") or 0)
    export_bytes = int(event["plan"].get("sizeBytes") or 0)
    total = choose_segments(max(table_bytes, export_bytes))
    logger.info(
        {"message": "counting in segments", "segments": total, "tableBytes": table_bytes, "exportBytes": export_bytes}
    )
    return {"totalSegments": total, "segments": list(range(total))}


def task_count_segment(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """One CountTable map iteration: the consistent COUNT of one parallel-scan segment."""
    target = _target(event, env)
    segment, total = int(event["segment"]), int(event["totalSegments"])
    return {"segment": segment, "count": count_segment(_client("dynamodb"), target.name, segment, total)}


def _table_count(event: Mapping[str, Any]) -> int:
    """The CountTable map's segment counts, summed (every segment present exactly once)."""
    return sum_segment_counts(event["counts"], int(event["totalSegments"]))


def task_sweep(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """Delete the items not in the export (refill). Nothing to do, and no key read, when the
    CountTable map counted no more items than the export has; otherwise the export's keys are
    collected in this one Lambda (see `delete_extra_items`)."""
    target = _target(event, env)
    ddb, s3 = _client("dynamodb"), _client("s3")
    guard_table(ddb, target.name, target.stack)
    data = _ref(event["plan"]["data"])
    deleted = delete_extra_items(
        ddb,
        target.name,
        target.key_names,
        lambda: exports.iter_items(s3, data, check_items=False),
        int(event["plan"]["itemCount"]),
        table_count=_table_count(event),
    )
    return {"deleted": deleted}


def task_verify(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """Count equals the export's; a sample of items read back equal. The count is the sum of
    the CountTable map's segment counts, the sample comes from at most SAMPLE_FILES data files
    (`sample_source`): no Lambda scans the table or reads the whole export."""
    target = _target(event, env)
    plan = event["plan"]
    data = _ref(plan["data"])
    v = verify_table(
        _client("dynamodb"),
        target.name,
        target.key_names,
        sample_source(_client("s3"), data, seed=data.export_id),
        int(plan["itemCount"]),
        seed=data.export_id,
        table_count=_table_count(event),
    )
    require_verified(v, target.name)
    return {"tableCount": v.table_count, "exportCount": v.export_count, "sampled": v.sampled}


def task_record(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """Finish the ledger record and build the notification text."""
    target = _target(event, env)
    export = event["claim"]["export"]
    status = str(event["status"])
    detail = event.get("error") or event.get("verify") or {}
    text = f"{status}: {target.name} from {export['url']}"
    if isinstance(detail, Mapping) and detail.get("Cause"):
        text += f"\n{detail.get('Error')}: {detail['Cause']}"
    elif detail:
        text += f"\n{detail}"
    ddb = _client("dynamodb")
    if status == "FAILED":
        problems = recorded_problems(ddb, env.ledger_table, target.logical_name, export["exportId"]).text()
        text += f"\n{problems}" if problems else ""
    record_result(
        ddb,
        env.ledger_table,
        target.logical_name,
        export["exportId"],
        status=status,
        detail=text,
    )
    return {"subject": f"safetynet staging {status.lower()}: {target.logical_name}"[:99], "message": text}


TASKS: dict[str, Callable[[Mapping[str, Any], Env], dict[str, Any]]] = {
    "claim": task_claim,
    "validate": task_validate,
    "validate_file": task_validate_file,
    "mask_file": task_mask_file,
    "publish_masked": task_publish_masked,
    "prepare_replace": task_prepare_replace,
    "start_import": task_start_import,
    "finish_replace": task_finish_replace,
    "refill_file": task_refill_file,
    "plan_count": task_plan_count,
    "count_segment": task_count_segment,
    "sweep": task_sweep,
    "verify": task_verify,
    "record": task_record,
}


@cache
def _env() -> Env:
    return Env.load(os.environ)


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entrypoint: `event["task"]` names the step."""
    task = event.get("task")
    fn = TASKS.get(str(task))
    if fn is None:
        raise ValueError(f"unknown staging task {task!r}; expected one of {', '.join(TASKS)}")
    logger.append_keys(task=task)
    return fn(event, _env())

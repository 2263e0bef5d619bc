"""Lambda entrypoint of the staging state machine: one function, one `task` per state.

Thin by design: parse the event, read the environment once, call the logic modules of
`handlers.staging` (see its docstring), return a small JSON result for the next state. Long waits
(table deletion, ImportTable) are Step Functions Wait/poll loops, never waits in here.

Environment (validated on cold start):
    STAGING_STACK          project/stack of the test stack (the staging-target tag value)
    LEDGER_TABLE           the idempotency/order ledger table, also holding the registered targets
    MASK_BUCKET            the test stack's bucket for masked copies
    MASK_KMS_KEY_ARN       key of the masking bucket (optional; bucket default encryption otherwise)
    MASKING_KEY_SECRET_ARN Secrets Manager secret holding safetynet:maskingKey (when masking)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from conventions.vault import MASK_PREFIX
from handlers import clients, exports
from handlers.staging.count import count_segment, plan_segments, sum_segment_counts
from handlers.staging.exceptions import ConfigurationError, ExportRejected, StagingError
from handlers.staging.files import sample_source, validate_data_file
from handlers.staging.fit import KeySchema, SourceCheck, check_source
from handlers.staging.ledger import claim, last_good, problems_recorded, record_outcome
from handlers.staging.masking import Masker, mask_data_file, masking_key, publish_masked_export
from handlers.staging.plan import validate_and_plan
from handlers.staging.recovery import LastGood, clear_leftover, recovery_note, start_recreate, write_empty_export
from handlers.staging.refill import delete_extra_items, refill_file
from handlers.staging.replace import delete_for_replace, finish_replace, start_import
from handlers.staging.target import TargetTable, guard_table
from handlers.staging.targets import resolve
from handlers.staging.verify import require_verified, verify_table

logger = Logger(service="safetynet-staging")


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
    return _this_stacks(TargetTable.from_json(event["target"]), env)


def _this_stacks(target: TargetTable, env: Env) -> TargetTable:
    if target.stack != env.stack:
        raise StagingError(f"target {target.name} belongs to {target.stack}, this pipeline to {env.stack}")
    return target


def _source(target: TargetTable) -> SourceCheck:
    """The prod table whose exports the target stages (its registered target item says)."""
    if not target.source_table_arn:
        raise ConfigurationError(
            f"the target of {target.name} names no sourceTableArn, so no export can be checked against it; "
            "redeploy the test stack"
        )
    return SourceCheck(
        table_arn=target.source_table_arn,
        why=f"{target.name} stages the exports of {target.source_table_arn}, as its target in the ledger says",
    )


def _masker(target: TargetTable, env: Env) -> Masker:
    rules = target.mask_rules
    needs_key = any(r.action in ("hash", "fake") for r in rules)
    if needs_key and not env.masking_key_secret_arn:
        raise ConfigurationError("masking rules hash or fake, but MASKING_KEY_SECRET_ARN is not set")
    key = _masking_key(env.masking_key_secret_arn) if needs_key and env.masking_key_secret_arn else b""
    return Masker(rules, key, target.key_types)


# -- tasks ---------------------------------------------------------------------------------------


def task_resolve(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """Which test table the export of the event goes to, among the targets this stack registered
    in the ledger; an export of a table not staged here is refused (`staged` false, the reason)."""
    found = resolve(_client("dynamodb"), env.ledger_table, str(event["bucket"]), str(event["key"]))
    if found.target is None:
        return {"staged": False, "reason": found.reason}
    return {"staged": True, "reason": found.reason, "target": _this_stacks(found.target, env).to_json()}


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
    """The guard and the manifest checks; decides the mode and the data to load (the plan).
    Reads no data file: the ValidateFiles map checks each one in its own child
    (`task_validate_file`)."""
    target = _target(event, env)
    _source(target)
    return validate_and_plan(
        _client("dynamodb"), _client("s3"), target, _ref(event["export"]), mask_bucket=env.mask_bucket
    )


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
        keys=KeySchema.of(target.name, target.schema),
    )
    return {"key": check.key, "items": check.items}


def _problems_recorded(
    target: TargetTable, env: Env, plan: Mapping[str, Any], file: Mapping[str, Any]
) -> AbstractContextManager[None]:
    """A map child's error goes to the ledger record for the failure notification, then is raised."""
    return problems_recorded(
        _client("dynamodb"),
        env.ledger_table,
        target.logical_name,
        _ref(plan["source"]).export_id,
        str(file.get("dataFileS3Key")),
    )


def task_mask_file(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """One Distributed Map child: mask one data file into the masked copy."""
    target = _target(event, env)
    plan = event["plan"]
    src, dst = _ref(plan["source"]), _ref(plan["data"])
    data_file = exports.DataFile.from_json(event["file"])
    with _problems_recorded(target, env, plan, event["file"]):
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
    """The source table once more (the export's summary against the target's), then the guard,
    deletion protection off, DeleteTable (the state machine then polls until gone). The key
    schema was checked item by item in ValidateFiles."""
    target = _target(event, env)
    ref = _ref(event["export"])
    problem = check_source(_client("s3"), ref, _source(target))
    if problem:
        raise ExportRejected(ref.url, [problem])
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


def task_recover(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """A replace failed after its delete: delete what it left under the table's name (`gone`,
    `deleting` or `busy`; the state machine polls until `gone`)."""
    return {"state": clear_leftover(_client("dynamodb"), _target(event, env))}


def task_recreate(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """ImportTable the (gone) table from its last good export (the ledger's), or from an empty
    export when there is none or `recovering.empty` says the last good one failed to import."""
    target = _target(event, env)
    s3 = _client("s3")
    good = (
        None
        if event["recovering"].get("empty")
        else last_good(_client("dynamodb"), env.ledger_table, target.logical_name)
    )

    def empty() -> exports.ExportRef:
        if not env.mask_bucket:
            raise ConfigurationError("MASK_BUCKET is not set: no empty export can recreate the table")
        prefix = f"{MASK_PREFIX}/{target.logical_name}/recovery"
        return write_empty_export(s3, env.mask_bucket, prefix, target, kms_key_id=env.mask_kms_key_arn)

    result = start_recreate(_client("dynamodb"), s3, target, LastGood.from_json(good), empty_export=empty)
    if event["recovering"].get("empty"):
        result["why"] = "importing the last good export failed too"
    return result


def task_finish_recreate(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """Put back the recreated table's configuration; the note says what it now holds."""
    target = _target(event, env)
    finish_replace(_client("dynamodb"), target)
    error = event.get("error") or {}
    kind, cause = str(error.get("Error", "")), str(error.get("Cause", ""))
    reason = f"import failed: {cause}" if kind == "ImportFailed" else f"replace failed: {kind}: {cause}"
    return {"note": recovery_note(reason, target, event["recovery"])}


def task_refill_file(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """One Distributed Map child: BatchWriteItem one data file's items."""
    target = _target(event, env)
    ddb = _client("dynamodb")
    guard_table(ddb, target.name, target.stack)
    plan = event["plan"]
    data = _ref(plan["data"])
    data_file = exports.DataFile.from_json(event["file"])
    with _problems_recorded(target, env, plan, event["file"]):
        written = refill_file(ddb, _client("s3"), target.name, data, data_file, output_format=plan["outputFormat"])
    return {"written": written}


def task_plan_count(event: Mapping[str, Any], env: Env) -> dict[str, Any]:
    """Guard, then how many parallel-scan segments the CountTable map counts the table in."""
    target = _target(event, env)
    total = plan_segments(_client("dynamodb"), target, int(event["plan"].get("sizeBytes") or 0))
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
    good = None
    if status == "SUCCEEDED" and event.get("plan"):
        data = _ref(event["plan"]["data"])
        good = LastGood.now(export["exportId"], export["url"], data.url, event["plan"]["outputFormat"]).dumps()
    text = record_outcome(
        _client("dynamodb"),
        env.ledger_table,
        table=target.name,
        logical_name=target.logical_name,
        export_id=export["exportId"],
        url=export["url"],
        status=status,
        detail=event.get("error") or event.get("verify") or {},
        last_good=good,
        recovery=event.get("recovery"),
    )
    return {"subject": f"safetynet staging {status.lower()}: {target.logical_name}"[:99], "message": text}


TASKS: dict[str, Callable[[Mapping[str, Any], Env], dict[str, Any]]] = {
    "resolve": task_resolve,
    "claim": task_claim,
    "validate": task_validate,
    "validate_file": task_validate_file,
    "mask_file": task_mask_file,
    "publish_masked": task_publish_masked,
    "prepare_replace": task_prepare_replace,
    "start_import": task_start_import,
    "finish_replace": task_finish_replace,
    "recover": task_recover,
    "recreate": task_recreate,
    "finish_recreate": task_finish_recreate,
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

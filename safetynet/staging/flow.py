"""One staging run end to end in a single process: what `safetynet stage` runs, and what the
tests run against moto. The state machine runs the same steps as separate tasks
(`handlers.staging.entrypoints`), with its waits in Step Functions instead of here.

    guard -> validate -> [mask] -> replace | refill -> verify
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from handlers import exports
from handlers.exports.batch_writer import DynamoDBSink, write_requests
from handlers.staging.exceptions import ExportRejected, StagingError
from handlers.staging.masking import mask_export
from handlers.staging.refill import delete_extra_items
from handlers.staging.replace import delete_for_replace, finish_replace, start_import, wait_deleted, wait_import
from handlers.staging.target import Mode, TargetTable, effective_mode, guard_table, table_tags
from handlers.staging.verify import Verification, require_verified, verify_table

logger = Logger(service="safetynet-staging", child=True)

Progress = Callable[[str, int, int | None], None]
"""on_progress(phase, items_done_delta, total): phases validate, mask, write, import, verify."""


@dataclass
class StageResult:
    """What a staging run did."""

    table: str
    export: str
    staged_from: str
    mode: Mode
    mode_reason: str
    items: int
    deleted: int = 0
    verification: Verification | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        v = self.verification
        return {
            "table": self.table,
            "export": self.export,
            "stagedFrom": self.staged_from,
            "mode": self.mode,
            "modeReason": self.mode_reason,
            "items": self.items,
            "deleted": self.deleted,
            "verified": bool(v and v.ok),
            "tableCount": v.table_count if v else None,
            "sampled": v.sampled if v else None,
            "notes": list(self.notes),
        }


def validate_or_reject(s3: Any, ref: exports.ExportRef, expected_table_arn: str | None) -> exports.ValidationReport:
    """The full validation; raises ExportRejected listing every problem."""
    report = exports.validate_export(s3, ref, expected_table_arn=expected_table_arn)
    if not report.ok:
        raise ExportRejected(ref.url, report.problems)
    return report


def stage_export(
    s3: Any,
    ddb: Any,
    ref: exports.ExportRef,
    target: TargetTable,
    *,
    masking_key: bytes | None = None,
    mask_bucket: str | None = None,
    mask_prefix: str = "masked",
    force_untagged: bool = False,
    concurrency: int = 4,
    sample_size: int = 100,
    on_progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> StageResult:
    """Stage one export into `target`. The test table is touched only after the export (and
    the target) passed every check; a failure before that leaves it exactly as it was."""

    def progress(phase: str, n: int, total: int | None = None) -> None:
        if on_progress:
            on_progress(phase, n, total)

    # 1. The guard: refuse a wrong table before reading gigabytes.
    guard_table(ddb, target.name, target.stack, force_untagged=force_untagged)
    # 2. Validate the whole export (manifests, checksums, counts, source table).
    report = validate_or_reject(s3, ref, target.source_table_arn)
    assert report.summary is not None
    total = report.item_count
    progress("validate", total, total)
    mode, reason = effective_mode(target)
    logger.info({"message": "staging", "table": target.name, "export": ref.url, "mode": mode, "reason": reason})

    # 3. Mask into the test stack's own bucket, when rules are configured.
    data_ref = ref
    input_format = report.summary.output_format
    if target.mask:
        if mask_bucket is None:
            raise StagingError(f"{target.logical_name} has masking rules: a bucket for the masked copy is required")
        data_ref = mask_export(
            s3,
            ref,
            mask_bucket,
            f"{mask_prefix.strip('/')}/{target.logical_name}",
            target.mask_rules,
            masking_key or b"",
            key_attributes=target.key_types,
            on_item=lambda n: progress("mask", 1, total),
        )
        input_format = "DYNAMODB_JSON"

    # 4. Replace or refill.
    result = StageResult(target.name, ref.url, data_ref.url, mode, reason, items=0)
    if mode == "replace":
        if input_format not in ("DYNAMODB_JSON", "ION"):
            raise StagingError(f"ImportTable cannot read {input_format}")
        delete_for_replace(ddb, target, force_untagged=force_untagged)
        wait_deleted(ddb, target.name)
        arn = start_import(ddb, target, data_ref.bucket, data_ref.prefix, ref.export_id, input_format=input_format)
        desc = wait_import(ddb, arn, sleep=sleep, poll=1.0)
        result.items = int(desc.get("ImportedItemCount", total))
        progress("import", result.items, total)
        result.notes.append("re-applied: " + ", ".join(finish_replace(ddb, target)))
    else:
        sink = DynamoDBSink(ddb, target.name)
        result.items = write_requests(
            sink,
            exports.iter_requests(s3, data_ref),
            concurrency=concurrency,
            on_progress=lambda n: progress("write", n, total),
            sleep=sleep,
        )
        result.deleted = delete_extra_items(
            ddb,
            target.name,
            target.key_names,
            lambda: exports.iter_items(s3, data_ref, check_items=False),
            total,
            sleep=sleep,
        )

    # 5. Verify: count and a sample read back.
    result.verification = verify_table(
        ddb,
        target.name,
        target.key_names,
        exports.iter_items(s3, data_ref, check_items=False),
        total,
        sample_size=sample_size,
        seed=ref.export_id,
    )
    progress("verify", 0, total)
    require_verified(result.verification, target.name)
    return result


def target_from_table(ddb: Any, table: str, *, stack: str, mode: Mode, source_table_arn: str | None) -> TargetTable:
    """A TargetTable from a live table (the CLI): its schema, TTL, PITR, tags and streams, so a
    replace puts back exactly what was there."""
    desc = ddb.describe_table(TableName=table)["Table"]
    schema: dict[str, Any] = {
        "TableName": table,
        "KeySchema": desc["KeySchema"],
        "AttributeDefinitions": desc["AttributeDefinitions"],
        "BillingMode": desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
    }
    if schema["BillingMode"] == "PROVISIONED":
        pt = desc["ProvisionedThroughput"]
        schema["ProvisionedThroughput"] = {
            "ReadCapacityUnits": pt["ReadCapacityUnits"],
            "WriteCapacityUnits": pt["WriteCapacityUnits"],
        }
    gsis = []
    for g in desc.get("GlobalSecondaryIndexes", []):
        out = {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
        if schema["BillingMode"] == "PROVISIONED":
            out["ProvisionedThroughput"] = {
                "ReadCapacityUnits": g["ProvisionedThroughput"]["ReadCapacityUnits"],
                "WriteCapacityUnits": g["ProvisionedThroughput"]["WriteCapacityUnits"],
            }
        gsis.append(out)
    if gsis:
        schema["GlobalSecondaryIndexes"] = gsis
    lsis = [
        {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
        for i in desc.get("LocalSecondaryIndexes", [])
    ]
    if lsis:
        schema["LocalSecondaryIndexes"] = lsis
    stream = desc.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        schema["StreamSpecification"] = stream
    if desc.get("TableClassSummary", {}).get("TableClass"):
        schema["TableClass"] = desc["TableClassSummary"]["TableClass"]
    ttl = ddb.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
    backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {})
    return TargetTable(
        name=table,
        logical_name=table,
        stack=stack,
        schema=schema,
        source_table_arn=source_table_arn,
        mode=mode,
        ttl_attribute=ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None,
        point_in_time_recovery_days=(
            int(pitr.get("RecoveryPeriodInDays", 35)) if pitr.get("PointInTimeRecoveryStatus") == "ENABLED" else None
        ),
        deletion_protection=bool(desc.get("DeletionProtectionEnabled")),
        tags=table_tags(ddb, desc["TableArn"]),
    )

"""The validate step: guard the table, check the export's manifests, and decide the run's plan
(the mode, the data to load, the item count and size), the JSON every later state of the state
machine reads as `plan`. No data file is read here: the ValidateFiles map checks each one in its
own child (`handlers.staging.files`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from conventions.vault import MASK_PREFIX
from handlers import exports
from handlers.staging.exceptions import ConfigurationError, ExportRejected
from handlers.staging.masking import masked_ref
from handlers.staging.target import TargetTable, effective_mode, guard_table

logger = Logger(service="safetynet-staging", child=True)


def validate_and_plan(
    ddb: Any, s3: Any, target: TargetTable, ref: exports.ExportRef, *, mask_bucket: str | None
) -> dict[str, Any]:
    """The guard and the manifest checks (summary, source table, format, files listed once,
    counts adding up), then the plan: the mode, and where the data to load is (the export, or
    its masked copy in `mask_bucket` when the target has masking rules). Raises ExportRejected
    with every problem found, before any table is touched."""
    guard_table(ddb, target.name, target.stack)
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
        if not mask_bucket:
            raise ConfigurationError("masking rules configured but MASK_BUCKET is not set")
        data = masked_ref(ref, mask_bucket, f"{MASK_PREFIX}/{target.logical_name}")
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

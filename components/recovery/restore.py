"""The `aws.dynamodb.Table` inputs that make a table start from a restore source.

Pure functions over the typed config (no Pulumi import), used by BackedUpTable and tested on
their own. The inputs only act when the table is created; BackedUpTable keeps them in
`ignoreChanges` (components.backup.table.RESTORE_INPUTS), so they never replace a live table.
"""

from __future__ import annotations

from typing import Any

from components.config.restore import TableRestore, export_data_prefix

# What a native export writes (and what safetynet's own exporters write): DynamoDB JSON, gzip.
IMPORT_INPUT_FORMAT = "DYNAMODB_JSON"
IMPORT_COMPRESSION = "GZIP"


def restore_inputs(entry: TableRestore, source_table_name: str) -> dict[str, Any]:
    """snake_case `aws.dynamodb.Table` arguments for one restore source.

    `source_table_name` is the live table a PITR restore reads when no `sourceTableArn` is given
    (the original table when restoring beside it with a targetSuffix).
    """
    kind = entry.source_kind()
    if kind == "export":
        assert entry.export is not None
        bucket, key_prefix = export_data_prefix(entry.export)
        return {
            "import_table": {
                "input_format": IMPORT_INPUT_FORMAT,
                "input_compression_type": IMPORT_COMPRESSION,
                "s3_bucket_source": {"bucket": bucket, "key_prefix": key_prefix},
            }
        }
    if kind == "backup":
        return {"restore_backup_arn": entry.backup_arn}
    if kind == "pitr":
        out: dict[str, Any] = {}
        if entry.source_table_arn:
            out["restore_source_table_arn"] = entry.source_table_arn
        else:
            out["restore_source_name"] = source_table_name
        if entry.latest_restorable_time:
            out["restore_to_latest_time"] = True
        else:
            out["restore_date_time"] = entry.restore_time_text()
        return out
    # `latest` never passes config validation; reaching here is a programming error.
    raise ValueError("latest is resolved by `safetynet restore-plan`, not by the program")

"""Recovery of a replace that failed after its delete: the test table is recreated with its full
configuration and refilled from the last export staged into it successfully, never left missing,
empty and untagged (which the guard would then refuse for good).

A replace deletes the table before ImportTable recreates it (an import cannot write into an
existing table). When anything fails after that delete - the import cannot start, it fails
mid-way (AWS may leave a partly loaded table), putting back tags, PITR, TTL or streams fails, or
the imported table does not verify - the run ends with:

1. `clear_leftover`: whatever now carries the table's name is this run's own (the original table
   is gone), so it is deleted; an untagged one (ImportTable sets no tags) is first marked as this
   stack's target, the one tag change IAM allows on a table without safetynet tags, and the one
   the delete then requires;
2. `start_recreate`: ImportTable from the last good export (`LastGood`, kept by the ledger or, in
   the CLI, by its journal store) when its data is still there, else from an empty export (the
   state machine; the task role may import but not create tables) or CreateTable (the CLI);
3. `finish_replace` puts back tags, stream, class, TTL, PITR and deletion protection, as after any
   import; the run fails with `recovery_note` saying what the table now holds.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from conventions.tags import STAGING_TARGET_TAG
from handlers import exports
from handlers.staging.replace import import_request, wait_for_tags
from handlers.staging.target import TargetTable, check_tags, table_tags

logger = Logger(service="safetynet-staging", child=True)


@dataclass(frozen=True)
class LastGood:
    """The last export staged into a table successfully, and what was loaded from it."""

    export_id: str
    url: str
    """The prod export."""
    data: str
    """What was loaded: the masked copy, or the export itself."""
    input_format: str
    staged_at: str
    """When that staging finished (ISO 8601, UTC)."""

    def to_json(self) -> dict[str, str]:
        return {
            "exportId": self.export_id,
            "url": self.url,
            "data": self.data,
            "inputFormat": self.input_format,
            "stagedAt": self.staged_at,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> LastGood | None:
        if not doc or not doc.get("data"):
            return None
        return cls(
            export_id=str(doc.get("exportId", "")),
            url=str(doc.get("url", "")),
            data=str(doc["data"]),
            input_format=str(doc.get("inputFormat") or "DYNAMODB_JSON"),
            staged_at=str(doc.get("stagedAt", "")),
        )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def now(cls, export_id: str, url: str, data: str, input_format: str) -> LastGood:
        return cls(export_id, url, data, input_format, datetime.now(UTC).isoformat(timespec="seconds"))


def describe(ddb: Any, name: str) -> dict[str, Any] | None:
    """The table's description, or None when there is no table of that name."""
    try:
        desc: dict[str, Any] = ddb.describe_table(TableName=name)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        return None
    return desc


def clear_leftover(ddb: Any, target: TargetTable, *, sleep: Callable[[float], None] = time.sleep) -> str:
    """Delete what a failed replace left under the target's name. Returns `gone` (nothing there),
    `deleting` (a delete is under way: poll until gone) or `busy` (still being created: poll
    again). Refuses, like the guard, a prod-tagged table or another stack's target."""
    desc = describe(ddb, target.name)
    if desc is None:
        return "gone"
    status = desc.get("TableStatus")
    if status == "DELETING":
        return "deleting"
    if status != "ACTIVE":
        return "busy"
    arn = desc["TableArn"]
    tags = table_tags(ddb, arn)
    if STAGING_TARGET_TAG not in tags:
        ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": STAGING_TARGET_TAG, "Value": target.stack}])
        wait_for_tags(ddb, arn, {STAGING_TARGET_TAG: target.stack}, sleep=sleep)
        tags = {**tags, STAGING_TARGET_TAG: target.stack}
    check_tags(target.name, tags, target.stack)
    if desc.get("DeletionProtectionEnabled"):
        ddb.update_table(TableName=target.name, DeletionProtectionEnabled=False)
        ddb.get_waiter("table_exists").wait(TableName=target.name, WaiterConfig={"Delay": 2, "MaxAttempts": 60})
    logger.info({"message": "deleting what the failed replace left", "table": target.name})
    ddb.delete_table(TableName=target.name)
    return "deleting"


def usable(s3: Any, last_good: LastGood | None) -> tuple[exports.ExportRef | None, str]:
    """The last good export's data when its manifests are still readable and valid (a masked copy
    expires after a week), and why not otherwise."""
    if last_good is None:
        return None, "no export was staged into it successfully before"
    try:
        ref = exports.ExportRef.parse(last_good.data)
        report = exports.validate_manifests(s3, ref)
    except (ValueError, exports.ExportError) as exc:
        return None, f"the last good export {last_good.data} cannot be read ({exc})"
    if not report.ok:
        return None, f"the last good export {last_good.data} cannot be used ({'; '.join(report.problems[:2])})"
    return ref, ""


def start_recreate(
    ddb: Any,
    s3: Any,
    target: TargetTable,
    last_good: LastGood | None,
    *,
    empty_export: Callable[[], exports.ExportRef] | None = None,
) -> dict[str, Any]:
    """Start recreating the (gone) table with its configuration: ImportTable from the last good
    export when usable, else from `empty_export()` when given (the state machine), else
    CreateTable (the CLI). Returns `{"importArn": ... | None, "from": <LastGood JSON> | None,
    "why": <why empty>}`; without an import ARN the table is being created (wait until ACTIVE)."""
    ref, why = usable(s3, last_good)
    if ref is not None and last_good is not None:
        arn = _import(ddb, target, ref, last_good.input_format, f"recover/{last_good.export_id}")
        return {"importArn": arn, "from": last_good.to_json(), "why": ""}
    if empty_export is not None:
        empty = empty_export()
        arn = _import(ddb, target, empty, "DYNAMODB_JSON", f"recover-empty/{empty.export_id}")
        return {"importArn": arn, "from": None, "why": why}
    ddb.create_table(**create_request(target))
    return {"importArn": None, "from": None, "why": why}


def _import(ddb: Any, target: TargetTable, ref: exports.ExportRef, input_format: str, token_seed: str) -> str:
    token = hashlib.sha256(f"{target.name}/{token_seed}".encode()).hexdigest()
    out = ddb.import_table(**import_request(target, ref.bucket, ref.prefix, token, input_format))
    return str(out["ImportTableDescription"]["ImportArn"])


def create_request(target: TargetTable) -> dict[str, Any]:
    """CreateTable for the target: its schema (keys, indexes, billing, class, SSE) and tags; the
    stream, TTL, PITR and deletion protection follow in `finish_replace`, as after an import."""
    req = {k: v for k, v in target.schema.items() if k != "StreamSpecification"}
    req["TableName"] = target.name
    if target.tags:
        req["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(target.tags.items())]
    return req


def write_empty_export(
    s3: Any, bucket: str, prefix: str, target: TargetTable, *, kms_key_id: str | None
) -> exports.ExportRef:
    """An export of no items (one empty data file, as AWS writes for an empty partition) that
    ImportTable recreates the table from when no earlier export is usable."""
    now = datetime.now(UTC)
    return exports.write_export(
        s3,
        bucket=bucket,
        prefix=prefix,
        table_arn=target.source_table_arn or f"arn:aws:dynamodb:::table/{target.logical_name}",
        items=[],
        export_time=now,
        kms_key_id=kms_key_id,
        empty_files=1,
    )


def recovery_note(reason: str, target: TargetTable, result: Mapping[str, Any]) -> str:
    """What a failed replace ends with: the reason, and what the table now holds."""
    last = LastGood.from_json(result.get("from"))
    if last is not None:
        held = f"{target.name} was recreated and refilled from {last.url or last.data} (staged {last.staged_at})"
    else:
        why = result.get("why") or "no earlier export was usable"
        held = f"{target.name} was recreated empty with its configuration and tags ({why}); the next staging fills it"
    return f"{reason}; {held}"

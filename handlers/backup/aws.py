"""The chain task's AWS access layer: the ledger, DynamoDB's exports, the vault, metrics.

Every call the chain makes is here, behind small methods the run (`chain_run`) uses; the logic
above it is pure and is tested against a fake of this class as well as against moto.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from conventions.chain import LEDGER_KEY, ChainContext, ChainTable
from conventions.watch import METRIC_NAMESPACE, STACK_DIMENSION
from handlers.backup.chain_ledger import ChainRecord, LedgerError, WindowRun
from handlers.backup.chain_step import Anchor, ExportStatus
from handlers.backup.chain_windows import Window, WindowError, client_token
from handlers.exports.layout import EXPORT_FOLDER, FULL_EXPORT, SHARED_DATA_FOLDER, ExportError, ExportRef
from handlers.exports.manifests import read_summary

logger = logging.getLogger(__name__)

ANCHOR_CANDIDATES = 10
"""How many of the newest export folders are read to find the newest complete full export (a
running or failed export has no summary yet)."""
LIMIT_EXCEEDED = "LimitExceededException"
"""The account's concurrent exports (300) are running: the window waits for the next run."""
THROTTLED = ("ThrottlingException", "RequestLimitExceeded", "ProvisionedThroughputExceededException")


class LedgerConflict(Exception):
    """Another run wrote the table's record since this one read it; this run leaves the table."""


class ExportLimitExceeded(Exception):
    """DynamoDB refused a start: too many exports running in the account."""


class ExportStartFailed(Exception):
    """DynamoDB refused to start an export; `code` is its error code."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def export_request(ctx: ChainContext, table: ChainTable, run: WindowRun) -> dict[str, Any]:
    """The ExportTableToPointInTime request of one attempt at one window (checked against
    botocore's service model in the tests): into the table's incremental folder of the vault,
    with the vault key, idempotent through its ClientToken."""
    return {
        "TableArn": table.arn,
        "ClientToken": client_token(table.arn, run.window, table.view, run.attempt),
        "S3Bucket": ctx.vault_bucket,
        "S3BucketOwner": ctx.bucket_owner,
        "S3Prefix": table.incremental_prefix,
        "S3SseAlgorithm": "KMS",
        "S3SseKmsKeyId": ctx.kms_key_arn,
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "INCREMENTAL_EXPORT",
        "IncrementalExportSpecification": {
            "ExportFromTime": run.window.start,
            "ExportToTime": run.window.end,
            "ExportViewType": table.view,
        },
    }


@dataclass
class ChainAws:
    """The chain's calls, for one stack's context."""

    ctx: ChainContext
    ddb: Any
    s3: Any
    cloudwatch: Any

    # -- the ledger ---------------------------------------------------------------------------

    def load_records(self) -> tuple[dict[str, ChainRecord], dict[str, str]]:
        """Every record of the ledger by table, and the items that are not records (table ->
        why): those tables are left alone and reported, never overwritten."""
        records: dict[str, ChainRecord] = {}
        unreadable: dict[str, str] = {}
        for page in self.ddb.get_paginator("scan").paginate(TableName=self.ctx.ledger_table, ConsistentRead=True):
            for item in page.get("Items", []):
                key = item.get(LEDGER_KEY, {}).get("S", "?")
                try:
                    records[key] = ChainRecord.from_item(item)
                except LedgerError as exc:
                    unreadable[key] = str(exc)
        return records, unreadable

    def save(self, record: ChainRecord, *, now: datetime) -> ChainRecord:
        """Write the record if nobody wrote it since it was read (its version); returns it at the
        new version. Raises LedgerConflict otherwise."""
        version = record.version + 1
        condition = "attribute_not_exists(#k)" if record.version == 0 else "#v = :v"
        kwargs: dict[str, Any] = {
            "TableName": self.ctx.ledger_table,
            "Item": record.to_item(version=version, updated_at=now),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#k": LEDGER_KEY} if record.version == 0 else {"#v": "version"},
        }
        if record.version:
            kwargs["ExpressionAttributeValues"] = {":v": {"N": str(record.version)}}
        try:
            self.ddb.put_item(**kwargs)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise LedgerConflict(f"{record.table}: the ledger changed since this run read it") from None
            raise
        return record.with_changes(version=version, updated_at=now)

    # -- DynamoDB's exports --------------------------------------------------------------------

    def describe_export(self, export_arn: str) -> ExportStatus:
        """The export's state (an export DynamoDB no longer knows counts as FAILED: retried)."""
        try:
            d = self.ddb.describe_export(ExportArn=export_arn)["ExportDescription"]
        except ClientError as exc:
            if error_code(exc) == "ExportNotFoundException":
                return ExportStatus("FAILED", f"DynamoDB does not know export {export_arn}", "ExportNotFoundException")
            raise
        state = str(d.get("ExportStatus", "IN_PROGRESS"))
        failure = f"{d.get('FailureCode') or ''}: {d.get('FailureMessage') or ''}".strip(": ") or None
        return ExportStatus(state, failure, d.get("FailureCode"))

    def start_export(self, table: ChainTable, run: WindowRun) -> str:
        """Start the window's export; its ARN. ExportLimitExceeded when the account's concurrent
        exports are all running; ExportStartFailed for any other refusal."""
        try:
            response = self.ddb.export_table_to_point_in_time(**export_request(self.ctx, table, run))
        except ClientError as exc:
            code = error_code(exc)
            if code == LIMIT_EXCEEDED or code in THROTTLED:
                raise ExportLimitExceeded(str(exc)) from None
            raise ExportStartFailed(code, str(exc.response.get("Error", {}).get("Message", exc))) from None
        return str(response["ExportDescription"]["ExportArn"])

    # -- the vault -----------------------------------------------------------------------------

    def _export_folders(self, prefix: str) -> list[ExportRef]:
        """The export folders directly under `<prefix>/AWSDynamoDB/`, newest ExportId first (an
        ExportId begins with its start time in milliseconds)."""
        root = f"{prefix.rstrip('/')}/{EXPORT_FOLDER}/"
        refs: list[ExportRef] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.ctx.vault_bucket, Prefix=root, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(root) :].rstrip("/")
                if name and name != SHARED_DATA_FOLDER:
                    refs.append(ExportRef(self.ctx.vault_bucket, common["Prefix"]))
        return sorted(refs, key=lambda r: r.export_id, reverse=True)

    def newest_full_export(self, table: ChainTable) -> Anchor | None:
        """The newest complete full export of the table in the vault (its summary written: the
        export finished), or None."""
        candidates = self._export_folders(table.export_prefix)[:ANCHOR_CANDIDATES]
        for ref in candidates:
            try:
                summary = read_summary(self.s3, ref)
            except ExportError as exc:
                logger.info("not an anchor", extra={"export": ref.url, "reason": str(exc)})
                continue
            if summary.export_type == FULL_EXPORT:
                return Anchor(ref.export_id, summary.export_time)
        return None

    def vault_windows(self, table: ChainTable, since: datetime) -> list[Window]:
        """The windows of the table's incremental exports in the vault that were requested at or
        after `since` (an export reaching past `since` was requested after it), newest first."""
        out: list[Window] = []
        for ref in self._export_folders(table.incremental_prefix):
            requested = ref.approx_time()
            if requested is not None and requested < since - timedelta(minutes=1):
                break
            try:
                summary = read_summary(self.s3, ref)
                start, end = summary.export_from_time, summary.export_to_time
                if summary.is_incremental and start is not None and end is not None:
                    out.append(Window(start, end))
            except (ExportError, WindowError) as exc:
                logger.info("not a window", extra={"export": ref.url, "reason": str(exc)})
        return out

    # -- metrics -------------------------------------------------------------------------------

    def put_metrics(self, values: Mapping[str, float], *, now: datetime) -> None:
        """The run's stack-wide numbers (namespace safetynet, dimension Stack)."""
        data = [
            {
                "MetricName": name,
                "Dimensions": [{"Name": STACK_DIMENSION, "Value": self.ctx.stack}],
                "Timestamp": now,
                "Value": float(value),
                "Unit": "None",
            }
            for name, value in values.items()
        ]
        self.cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=data)


AWS_ERRORS = (ClientError, BotoCoreError)
"""What an AWS call raises when AWS (or the network) fails: a table's step reports it and the run
goes on with the next table."""

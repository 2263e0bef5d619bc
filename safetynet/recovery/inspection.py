"""Reading what one table could be restored from (the AWS access layer of restore planning):
DescribeTable, DescribeContinuousBackups, ListBackups (on-demand, AWS Backup and the
`<table>$DeletedTableBackup` system backup), AWS Backup recovery points and the exports in the
vault. It only reads; `safetynet.recovery.planner` decides over what it found."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from components.config.restore import DYNAMODB_BACKUP_ARN_RE
from handlers.exports.listing import scan_exports
from safetynet.recovery.facts import BackupFact, PitrWindow, TableFacts

logger = logging.getLogger(__name__)

# What an endpoint may not offer (moto, DynamoDB Local) or not allow: noted, never fatal.
_GAPS = (ClientError, BotoCoreError, NotImplementedError)
# Error codes of an API the endpoint does not implement (moto answers some with an HTML 404 page).
_NOT_HERE = {"404", "501", "NotImplemented", "UnknownOperationException", "InvalidAction"}
_MAX_REASON = 120


def _first_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 3] + "..."


def _error_text(exc: BaseException) -> str:
    """One line: what an AWS call answered (an HTML error page becomes its status)."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code, message = str(err.get("Code", "Error")), str(err.get("Message", ""))
        if message.lstrip().startswith("<"):
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or code
            return f"HTTP {status} from the endpoint"
        return _first_line(f"{code}: {message}".strip())
    return _first_line(str(exc) or type(exc).__name__)


def unavailable_text(exc: BaseException) -> str:
    """Why a source kind could not be read, in one line: `not available here (HTTP 404 from the
    endpoint)`, `not allowed (AccessDeniedException: ...)`, `not readable (...)`."""
    if isinstance(exc, NotImplementedError):
        return "not available here (not implemented by this endpoint)"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if code in _NOT_HERE or message.lstrip().startswith("<"):
            return f"not available here ({_error_text(exc)})"
        if "AccessDenied" in code or "Unauthorized" in code:
            return f"not allowed ({_error_text(exc)})"
    return f"not readable ({_error_text(exc)})"


def _describe_table(dynamodb: Any, facts: TableFacts) -> None:
    try:
        table = dynamodb.describe_table(TableName=facts.physical)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        facts.exists = False
        return
    facts.exists = True
    facts.table_arn = table["TableArn"]
    facts.item_count = table.get("ItemCount")
    facts.size_bytes = table.get("TableSizeBytes")
    try:
        desc = dynamodb.describe_continuous_backups(TableName=facts.physical)["ContinuousBackupsDescription"]
    except _GAPS as exc:
        facts.unavailable["PITR window"] = unavailable_text(exc)
        return
    pitr = desc.get("PointInTimeRecoveryDescription") or {}
    facts.pitr = PitrWindow(
        enabled=pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
        earliest=pitr.get("EarliestRestorableDateTime"),
        latest=pitr.get("LatestRestorableDateTime"),
    )


def _list_backups(dynamodb: Any, facts: TableFacts) -> None:
    kwargs: dict[str, Any] = {"TableName": facts.physical, "BackupType": "ALL"}
    while True:
        page = dynamodb.list_backups(**kwargs)
        for s in page.get("BackupSummaries", []):
            facts.backups.append(_backup_fact(dynamodb, s, facts))
        last = page.get("LastEvaluatedBackupArn")
        if not last:
            return
        kwargs["ExclusiveStartBackupArn"] = last


def _backup_fact(dynamodb: Any, summary: dict[str, Any], facts: TableFacts) -> BackupFact:
    """A ListBackups summary completed by DescribeBackup (item count, the source table's keys)."""
    source: dict[str, Any] = {}
    try:
        details = dynamodb.describe_backup(BackupArn=summary["BackupArn"])["BackupDescription"]
        source = details.get("SourceTableDetails") or {}
    except _GAPS as exc:
        facts.notes.append(f"backup {summary['BackupArn']}: details unknown ({_error_text(exc)})")
    return BackupFact(
        arn=summary["BackupArn"],
        name=summary.get("BackupName", ""),
        created=summary["BackupCreationDateTime"],
        backup_type=summary.get("BackupType", "USER"),
        status=summary.get("BackupStatus", "AVAILABLE"),
        size_bytes=summary.get("BackupSizeBytes"),
        item_count=source.get("ItemCount"),
        key_schema=source.get("KeySchema"),
        table_name=source.get("TableName") or summary.get("TableName"),
    )


def _given_backup(dynamodb: Any, arn: str, facts: TableFacts) -> None:
    """A backup named by --backup-arn (e.g. of a table restored beside the original)."""
    if any(b.arn == arn for b in facts.backups) or not DYNAMODB_BACKUP_ARN_RE.match(arn):
        return
    try:
        details = dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]
    except dynamodb.exceptions.BackupNotFoundException:
        facts.notes.append(f"backup {arn} does not exist (check the ARN and region)")
        return
    facts.backups.append(_backup_fact(dynamodb, {**details, "BackupArn": arn}, facts))


def _recovery_points(backup: Any, facts: TableFacts) -> None:
    known = {b.arn for b in facts.backups}
    kwargs: dict[str, Any] = {"ResourceArn": facts.table_arn}
    while True:
        page = backup.list_recovery_points_by_resource(**kwargs)
        for rp in page.get("RecoveryPoints", []):
            arn = rp["RecoveryPointArn"]
            if arn in known:  # a DynamoDB-format AWS Backup point is also in ListBackups
                continue
            facts.backups.append(
                BackupFact(
                    arn=arn,
                    name=rp.get("BackupVaultName", "aws-backup"),
                    created=rp["CreationDate"],
                    backup_type="AWS_BACKUP",
                    status="AVAILABLE" if rp.get("Status") == "COMPLETED" else str(rp.get("Status")),
                    size_bytes=rp.get("BackupSizeBytes"),
                )
            )
        token = page.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def inspect_table(
    *,
    logical: str,
    physical: str,
    table_arn: str,
    has_lsis: bool,
    dynamodb: Any,
    s3: Any | None,
    backup: Any | None,
    vault_bucket: str | None,
    export_prefix: str,
    export_table_arn: str | None = None,
    key_schema: list[dict[str, str]] | None = None,
    backup_arn: str | None = None,
) -> TableFacts:
    """Read what exists for one table. Never writes or deletes anything. APIs an endpoint does not
    offer (moto, DynamoDB Local) are recorded in `unavailable` (one line per source kind), not fatal."""
    facts = TableFacts(
        logical=logical,
        physical=physical,
        table_arn=table_arn,
        has_lsis=has_lsis,
        exists=False,
        export_table_arn=export_table_arn,
        key_schema=key_schema,
    )
    _describe_table(dynamodb, facts)
    try:
        _list_backups(dynamodb, facts)
        if backup_arn:
            _given_backup(dynamodb, backup_arn, facts)
    except _GAPS as exc:
        facts.unavailable["DynamoDB backups"] = unavailable_text(exc)
    if backup is not None:
        try:
            _recovery_points(backup, facts)
        except _GAPS as exc:
            facts.unavailable["AWS Backup"] = unavailable_text(exc)
    if s3 is not None and vault_bucket:
        try:
            # Full exports and incremental windows: the vault's chain needs both.
            listing = scan_exports(s3, vault_bucket, export_prefix.rstrip("/") + "/", export_type=None)
        except _GAPS as exc:
            facts.unavailable[f"vault s3://{vault_bucket}"] = unavailable_text(exc)
        else:
            facts.exports = list(listing.exports)
            facts.unreadable_exports = [(s.ref, s.reason) for s in listing.skipped]
    logger.info(
        "table inspected",
        extra={
            "table": physical,
            "exists": facts.exists,
            "backups": len(facts.backups),
            "exports": len(facts.exports),
        },
    )
    return facts

"""The small AWS access layer of disaster recognition (classifier, freshness, drill, status).

Clients are created lazily (so moto can intercept) with botocore's standard retry mode and honour
AWS_ENDPOINT_URL (boto3 reads it itself). Every function takes its client as an argument; the
logic modules never call boto3 directly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from conventions.vault import drill_record_prefix
from conventions.watch import METRIC_NAMESPACE
from handlers import clients
from handlers.exports import list_exports
from handlers.exports.layout import export_id_time
from handlers.watch.classifier import Alert, ExportFacts


@cache
def client(service: str) -> Any:
    """A client created on first use and reused (warm starts)."""
    return clients.client(service)


def error_text(exc: Exception) -> str:
    """A short, readable description of an AWS error."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".strip()
    return str(exc)


AWS_ERRORS = (ClientError, BotoCoreError)


# -- DynamoDB ---------------------------------------------------------------------------------


def pitr_window(ddb: Any, table: str) -> dict[str, str]:
    """{status, earliest, latest} of a table's point-in-time recovery (times ISO-8601)."""
    desc = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = desc.get("PointInTimeRecoveryDescription", {})
    out = {"status": str(pitr.get("PointInTimeRecoveryStatus", "DISABLED"))}
    for key, name in (("EarliestRestorableDateTime", "earliest"), ("LatestRestorableDateTime", "latest")):
        value = pitr.get(key)
        if isinstance(value, datetime):
            out[name] = value.astimezone(UTC).isoformat()
    if pitr.get("RecoveryPeriodInDays"):
        out["recoveryPeriodDays"] = str(pitr["RecoveryPeriodInDays"])
    return out


def list_table_names(ddb: Any) -> list[str]:
    """Every table name of the client's account and region (ListTables, all pages; names only,
    no DescribeTable: the coverage count reads nothing of a table that is not the stack's)."""
    names: list[str] = []
    for page in ddb.get_paginator("list_tables").paginate():
        names.extend(page.get("TableNames", []))
    return names


def deletion_protection(ddb: Any, table: str) -> bool:
    """Whether DynamoDB deletion protection is on."""
    return bool(ddb.describe_table(TableName=table)["Table"].get("DeletionProtectionEnabled", False))


def export_statuses(ddb: Any, table_arn: str, *, since: datetime | None = None) -> list[dict[str, Any]]:
    """The exports DynamoDB knows for the table (ListExports), FAILED ones described (start time,
    failure message) so an alarm can say what went wrong. `since`: only exports requested since
    then (by the time in their ExportId): ListExports returns a table's exports newest first ("in
    reverse alphanumeric order of ExportArn", whose ExportId begins with the time), so paging
    stops at the first page that reaches back before it. With a 15-minute chain a table has 96
    incremental exports a day, kept 90 days: 8,640 entries, 346 pages of 25, without it."""
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableArn": table_arn}
    while True:
        page = ddb.list_exports(**kwargs)
        reached_back = False
        for s in page.get("ExportSummaries", []):
            requested = export_id_time(s["ExportArn"].rsplit("/", 1)[-1])
            if since is not None and requested is not None and requested < since:
                reached_back = True
                continue
            entry = {"arn": s["ExportArn"], "status": s.get("ExportStatus", "UNKNOWN")}
            if entry["status"] == "FAILED":
                d = ddb.describe_export(ExportArn=s["ExportArn"])["ExportDescription"]
                entry["startTime"] = d.get("StartTime")
                entry["failure"] = f"{d.get('FailureCode', '')} {d.get('FailureMessage', '')}".strip()
            out.append(entry)
        if not page.get("NextToken") or reached_back:
            return out
        kwargs["NextToken"] = page["NextToken"]


# -- the vault --------------------------------------------------------------------------------


def vault_exports(s3: Any, bucket: str, export_prefix: str) -> list[tuple[Any, Any]]:
    """(ExportRef, ManifestSummary) of the table's exports in the vault, newest first."""
    return list_exports(s3, bucket, export_prefix.rstrip("/") + "/")


def last_export_facts(s3: Any, bucket: str, export_prefix: str, now: datetime) -> ExportFacts | None:
    """The newest export with a readable summary, or None."""
    exports = vault_exports(s3, bucket, export_prefix)
    if not exports:
        return None
    ref, summary = exports[0]
    return ExportFacts(
        export_id=ref.export_id,
        export_time=summary.export_time.isoformat(),
        item_count=summary.item_count,
        age_hours=round((now - summary.export_time).total_seconds() / 3600, 2),
        s3_prefix=ref.url,
    )


def drill_record_key(physical_table: str) -> str:
    """Where the last drill of a table is recorded in the vault."""
    return f"{drill_record_prefix(physical_table)}/latest.json"


def read_drill_record(s3: Any, bucket: str, physical_table: str) -> dict[str, Any] | None:
    """The last drill record, or None when no drill ran yet."""
    try:
        body = s3.get_object(Bucket=bucket, Key=drill_record_key(physical_table))["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    record = json.loads(body)
    return record if isinstance(record, dict) else None


def write_drill_record(s3: Any, bucket: str, physical_table: str, record: dict[str, Any]) -> None:
    """Record a drill's outcome (the vault's default encryption applies)."""
    s3.put_object(
        Bucket=bucket,
        Key=drill_record_key(physical_table),
        Body=json.dumps(record, sort_keys=True).encode(),
        ContentType="application/json",
    )


# -- CloudWatch and SNS ------------------------------------------------------------------------


def put_metrics(cw: Any, data: list[dict[str, Any]]) -> None:
    """PutMetricData in the `safetynet` namespace (in batches of the API's limit)."""
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=data[i : i + 500])


def alarms_in_alarm(cw: Any, prefix: str) -> list[dict[str, str]]:
    """Alarms whose name starts with `prefix` and whose state is ALARM."""
    out = []
    for page in cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix, StateValue="ALARM"):
        out += [{"name": a["AlarmName"], "reason": a.get("StateReason", "")} for a in page["MetricAlarms"]]
    return out


def publish(sns: Any, topic_arn: str, alert: Alert) -> str:
    """Publish one alert; returns the SNS MessageId."""
    resp = sns.publish(
        TopicArn=topic_arn,
        Subject=alert.subject,
        Message=alert.message_text(),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in alert.attributes.items()},
    )
    return str(resp["MessageId"])

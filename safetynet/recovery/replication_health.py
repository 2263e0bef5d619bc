"""Is the vault's out-of-region copy keeping up? Replication lag and health per table.

Three layers:
- AWS access (`replica_destination`, `newest_export`, `replication_status`, `object_exists`):
  GetBucketReplication on the vault (which bucket, which rule), the newest complete export of a
  table in a bucket (a `manifest-summary.json` key: DynamoDB writes it last), and HeadObject's
  `ReplicationStatus` (PENDING / COMPLETED / FAILED on the source object). Reads only.
- `assess_table` (pure): compares the newest export in the vault with the newest in the replica
  and judges the lag against a grace period.
- `check_vault_replication`: drives both for every table.

No Pulumi imports; `safetynet status` renders the result.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.exports.layout import FILES_NAME, SUMMARY_NAME, ExportRef, human_age

logger = logging.getLogger(__name__)

# Without Replication Time Control S3 gives no deadline; most objects replicate within minutes.
# An export still missing from the replica after this long is reported as lagging.
DEFAULT_GRACE = timedelta(hours=2)
RTC_GRACE = timedelta(minutes=15)
# The objects whose replication status is checked for the newest export: the two manifests a
# reader needs first (DynamoDB writes the summary last, after every data file).
CHECKED_OBJECTS = (SUMMARY_NAME, FILES_NAME)
AWS_ERRORS = (ClientError, BotoCoreError)


class ReplicationNotConfigured(Exception):
    """The vault has no replication configuration (or none to a replica bucket)."""


@dataclass(frozen=True)
class ExportPoint:
    """The newest complete export of a table in one bucket."""

    export_id: str
    time: datetime | None
    url: str


@dataclass
class TableReplication:
    """How far the replica of one table's exports is behind the vault."""

    table: str
    source: ExportPoint | None
    replica: ExportPoint | None
    object_status: dict[str, str | None] = field(default_factory=dict)
    """ReplicationStatus of the newest source export's manifests (None: no status: not replicated)."""
    lag_seconds: float | None = None
    """0 when the replica holds the vault's newest export; else how long that export has waited."""
    at_risk_seconds: float | None = None
    """If the vault's region were lost now: the age of the newest export in the replica."""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["ok"] = self.ok
        return doc


@dataclass
class ReplicationHealth:
    """The vault's replication as a whole."""

    vault_bucket: str
    replica_bucket: str | None
    rule_id: str | None
    rule_enabled: bool
    tables: list[TableReplication] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(t.ok for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "vaultBucket": self.vault_bucket,
            "replicaBucket": self.replica_bucket,
            "ruleId": self.rule_id,
            "ruleEnabled": self.rule_enabled,
            "ok": self.ok,
            "problems": list(self.problems),
            "tables": [t.to_json() for t in self.tables],
        }


# --- AWS access --------------------------------------------------------------------------------


def error_text(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".strip()
    return str(exc) or type(exc).__name__


def replica_destination(s3: Any, vault_bucket: str, prefix: str = "exports/") -> tuple[str, str, bool]:
    """(replica bucket name, rule id, rule enabled) of the vault's rule covering `prefix`."""
    try:
        config = s3.get_bucket_replication(Bucket=vault_bucket)["ReplicationConfiguration"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ReplicationConfigurationNotFoundError":
            raise ReplicationNotConfigured(f"s3://{vault_bucket} has no replication configuration") from None
        raise
    for rule in config.get("Rules", []):
        rule_prefix = (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", ""))
        if prefix.startswith(rule_prefix or ""):
            arn = rule["Destination"]["Bucket"]
            return arn.split(":::", 1)[-1], str(rule.get("ID", "")), rule.get("Status") == "Enabled"
    raise ReplicationNotConfigured(f"no replication rule of s3://{vault_bucket} covers {prefix}")


def _summary_keys(s3: Any, bucket: str, prefix: str) -> Iterable[str]:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/" + SUMMARY_NAME):
                yield obj["Key"]


def newest_export(s3: Any, bucket: str, table_prefix: str) -> ExportPoint | None:
    """The newest export under `<table_prefix>/AWSDynamoDB/` that has its manifest-summary
    (ordered by the time in the ExportId; the manifests are not read)."""
    best: tuple[datetime, ExportRef] | None = None
    epoch = datetime.min.replace(tzinfo=UTC)
    for key in _summary_keys(s3, bucket, table_prefix.rstrip("/") + "/AWSDynamoDB/"):
        try:
            ref = ExportRef.parse(f"s3://{bucket}/{key}")
        except ValueError:
            continue
        when = ref.approx_time() or epoch
        if best is None or (when, ref.export_id) > (best[0], best[1].export_id):
            best = (when, ref)
    if best is None:
        return None
    return ExportPoint(export_id=best[1].export_id, time=best[1].approx_time(), url=best[1].url)


def replication_status(s3: Any, bucket: str, key: str) -> str | None:
    """HeadObject's ReplicationStatus of a source object (None when S3 reports none)."""
    status = s3.head_object(Bucket=bucket, Key=key).get("ReplicationStatus")
    return str(status) if status else None


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


# --- pure logic --------------------------------------------------------------------------------


def _age(text_time: datetime | None, now: datetime) -> float | None:
    return None if text_time is None else max(0.0, (now - text_time).total_seconds())


def human(seconds: float | None) -> str:
    """`3d 4h`, `2h 5m`, `12m`, `40s`; `-` when unknown."""
    return "-" if seconds is None else human_age(seconds)


def assess_table(
    table: str,
    *,
    source: ExportPoint | None,
    replica: ExportPoint | None,
    object_status: dict[str, str | None],
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> TableReplication:
    """Judge one table: FAILED replication is a problem; the vault's newest export missing from
    the replica for longer than `grace` is a problem; within `grace` it is a note."""
    out = TableReplication(table=table, source=source, replica=replica, object_status=dict(object_status))
    out.at_risk_seconds = _age(replica.time, now) if replica else None
    failed = sorted(k for k, v in object_status.items() if v == "FAILED")
    if failed:
        out.problems.append(f"S3 replication FAILED for {', '.join(failed)}: check the replication role and keys")
    if source is None:
        out.notes.append("no export in the vault yet")
        return out
    if replica is not None and replica.export_id == source.export_id:
        out.lag_seconds = 0.0
        return out
    waited = _age(source.time, now)
    out.lag_seconds = waited
    pending = sorted(k for k, v in object_status.items() if v == "PENDING")
    missing = f"newest export {source.export_id} is not in the replica"
    held = "; the replica holds no export of this table" if replica is None else ""
    if waited is not None and waited <= grace.total_seconds():
        out.notes.append(f"{missing} yet ({human(waited)} old, {'pending' if pending else 'in flight'}{held})")
    elif not failed:
        states = ", ".join(f"{k}: {v or 'no status'}" for k, v in sorted(object_status.items()))
        out.problems.append(f"{missing} after {human(waited)} ({states or 'status unknown'}{held})")
    return out


# --- driver ------------------------------------------------------------------------------------


def check_vault_replication(
    *,
    source_s3: Any,
    replica_s3: Any,
    vault_bucket: str,
    table_prefixes: dict[str, str],
    now: datetime | None = None,
    grace: timedelta = DEFAULT_GRACE,
    replica_bucket: str | None = None,
) -> ReplicationHealth:
    """Replication health of the vault for each table (`name -> exports/<physical>`).

    The replica bucket comes from the vault's replication configuration unless given. Failures
    to read one side become problems of the table, never exceptions.
    """
    now = now or datetime.now(UTC)
    try:
        found_bucket, rule_id, enabled = replica_destination(source_s3, vault_bucket)
    except ReplicationNotConfigured as exc:
        return ReplicationHealth(vault_bucket, replica_bucket, None, False, problems=[str(exc)])
    except AWS_ERRORS as exc:
        return ReplicationHealth(
            vault_bucket,
            replica_bucket,
            None,
            False,
            problems=[f"replication unreadable ({error_text(exc)})"],
        )
    bucket = replica_bucket or found_bucket
    health = ReplicationHealth(vault_bucket, bucket, rule_id, enabled)
    if not enabled:
        health.problems.append(f"replication rule {rule_id} of s3://{vault_bucket} is disabled")
    for table, prefix in table_prefixes.items():
        health.tables.append(
            _check_table(
                table,
                prefix=prefix,
                source_s3=source_s3,
                replica_s3=replica_s3,
                vault_bucket=vault_bucket,
                replica_bucket=bucket,
                now=now,
                grace=grace,
            )
        )
    logger.info("vault replication checked", extra={"vault": vault_bucket, "replica": bucket, "ok": health.ok})
    return health


def _check_table(
    table: str,
    *,
    prefix: str,
    source_s3: Any,
    replica_s3: Any,
    vault_bucket: str,
    replica_bucket: str,
    now: datetime,
    grace: timedelta,
) -> TableReplication:
    try:
        source = newest_export(source_s3, vault_bucket, prefix)
    except AWS_ERRORS as exc:
        return TableReplication(table, None, None, problems=[f"vault unreadable ({error_text(exc)})"])
    replica: ExportPoint | None = None
    read_problems: list[str] = []
    try:
        replica = newest_export(replica_s3, replica_bucket, prefix)
    except AWS_ERRORS as exc:
        read_problems.append(f"replica s3://{replica_bucket} unreadable ({error_text(exc)})")
    statuses: dict[str, str | None] = {}
    if source is not None:
        ref = ExportRef.parse(source.url)
        for name in CHECKED_OBJECTS:
            key = ref.prefix + name
            try:
                statuses[name] = replication_status(source_s3, vault_bucket, key)
            except AWS_ERRORS as exc:
                read_problems.append(f"{key}: status unreadable ({error_text(exc)})")
    result = assess_table(table, source=source, replica=replica, object_status=statuses, now=now, grace=grace)
    result.problems += read_problems
    return result

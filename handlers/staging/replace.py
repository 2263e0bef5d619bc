"""Replace: delete the test table and ImportTable the export with the table's full schema, then
re-apply what an import does not carry (tags, stream, table class, TTL, PITR, deletion
protection) so a `pulumi refresh` shows no drift. The state machine polls the deletion and the
import in Step Functions; the CLI waits here (`wait_deleted`, `wait_import`)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger

from handlers.staging.exceptions import StagingError
from handlers.staging.target import TargetTable, guard_table, table_tags

logger = Logger(service="safetynet-staging", child=True)

# After TagResource: how long the tags may take to read back (polls x seconds).
TAG_POLLS = 30
TAG_POLL_SECONDS = 2.0


def delete_for_replace(ddb: Any, target: TargetTable, *, force_untagged: bool = False) -> bool:
    """Guard, switch deletion protection off if set, delete the table. Returns False when the
    table was already gone."""
    desc = guard_table(ddb, target.name, target.stack, force_untagged=force_untagged)
    if desc is None:
        return False
    if desc.get("DeletionProtectionEnabled"):
        logger.info({"message": "disabling deletion protection for replace", "table": target.name})
        ddb.update_table(TableName=target.name, DeletionProtectionEnabled=False)
        ddb.get_waiter("table_exists").wait(TableName=target.name, WaiterConfig={"Delay": 2, "MaxAttempts": 60})
    ddb.delete_table(TableName=target.name)
    return True


def import_request(
    target: TargetTable,
    bucket: str,
    export_prefix: str,
    client_token: str,
    input_format: str = "DYNAMODB_JSON",
) -> dict[str, Any]:
    """The ImportTable request: the export's data files, the table's full schema (minus what
    ImportTable cannot carry, which `finish_replace` re-applies)."""
    s = target.schema
    params: dict[str, Any] = {
        "TableName": target.name,
        "AttributeDefinitions": s["AttributeDefinitions"],
        "KeySchema": s["KeySchema"],
        "BillingMode": s.get("BillingMode", "PAY_PER_REQUEST"),
        # The table's own encryption when the schema has it (the CLI reads it from the live
        # table), else what the stack declares (server_side_encryption enabled: AWS managed key).
        "SSESpecification": s.get("SSESpecification") or {"Enabled": True, "SSEType": "KMS"},
    }
    if s.get("OnDemandThroughput"):
        params["OnDemandThroughput"] = s["OnDemandThroughput"]
    if s.get("ProvisionedThroughput"):
        params["ProvisionedThroughput"] = s["ProvisionedThroughput"]
    if s.get("GlobalSecondaryIndexes"):
        params["GlobalSecondaryIndexes"] = s["GlobalSecondaryIndexes"]
    return {
        "ClientToken": client_token[:64],
        "S3BucketSource": {"S3Bucket": bucket, "S3KeyPrefix": f"{export_prefix}data/"},
        "InputFormat": input_format,
        "InputCompressionType": "GZIP",
        "TableCreationParameters": params,
    }


def start_import(
    ddb: Any,
    target: TargetTable,
    bucket: str,
    export_prefix: str,
    export_id: str,
    *,
    input_format: str = "DYNAMODB_JSON",
) -> str:
    """Start ImportTable; returns the ImportArn. The client token makes a retried task start
    the same import, not a second one."""
    token = hashlib.sha256(f"{target.name}/{export_id}".encode()).hexdigest()
    out = ddb.import_table(**import_request(target, bucket, export_prefix, token, input_format))
    return str(out["ImportTableDescription"]["ImportArn"])


def finish_replace(ddb: Any, target: TargetTable, *, sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Re-apply what ImportTable does not carry, so the table matches the stack again: the tags
    first (IAM lets the staging role change the table, and later scan it, only once it carries
    this stack's staging-target tag), then the rest. Returns the settings applied (for the log)."""
    applied = []
    waiter = ddb.get_waiter("table_exists")

    def active() -> None:
        waiter.wait(TableName=target.name, WaiterConfig={"Delay": 2, "MaxAttempts": 150})

    active()
    arn = ddb.describe_table(TableName=target.name)["Table"]["TableArn"]
    if target.tags:
        tags = [{"Key": k, "Value": v} for k, v in sorted(target.tags.items())]
        for i in range(0, len(tags), 50):
            ddb.tag_resource(ResourceArn=arn, Tags=tags[i : i + 50])
        wait_for_tags(ddb, arn, target.tags, sleep=sleep)
        applied.append("tags")
    # Each setting is changed only when the table does not have it yet: a resumed or retried
    # finish must not fail on what an earlier attempt applied (UpdateTable refuses to enable a
    # stream that is enabled).
    desc = ddb.describe_table(TableName=target.name)["Table"]
    stream = target.schema.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        current = desc.get("StreamSpecification") or {}
        if not current.get("StreamEnabled"):
            ddb.update_table(TableName=target.name, StreamSpecification=stream)
            active()
        applied.append("stream")
    table_class = target.schema.get("TableClass")
    if table_class and table_class != (desc.get("TableClassSummary") or {}).get("TableClass", "STANDARD"):
        ddb.update_table(TableName=target.name, TableClass=table_class)
        active()
        applied.append("table class")
    if target.ttl_attribute:
        ddb.update_time_to_live(
            TableName=target.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": target.ttl_attribute},
        )
        applied.append("ttl")
    if target.point_in_time_recovery_days:
        ddb.update_continuous_backups(
            TableName=target.name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True,
                "RecoveryPeriodInDays": target.point_in_time_recovery_days,
            },
        )
        applied.append("pitr")
    if target.deletion_protection:
        if not desc.get("DeletionProtectionEnabled"):
            ddb.update_table(TableName=target.name, DeletionProtectionEnabled=True)
            active()
        applied.append("deletion protection")
    logger.info({"message": "re-applied table settings after import", "table": target.name, "applied": applied})
    return applied


def wait_for_tags(
    ddb: Any,
    arn: str,
    tags: Mapping[str, str],
    *,
    sleep: Callable[[float], None] = time.sleep,
    polls: int = TAG_POLLS,
    seconds: float = TAG_POLL_SECONDS,
) -> None:
    """Block until every tag in `tags` reads back on the table: TagResource is eventually
    consistent (DynamoDB API reference, TagResource), and what follows is allowed by IAM only on
    a table tagged as this stack's target. Raises StagingError when they do not appear."""
    for attempt in range(polls):
        current = table_tags(ddb, arn)
        if all(current.get(k) == v for k, v in tags.items()):
            return
        if attempt < polls - 1:
            sleep(seconds)
    raise StagingError(
        f"the tags set on {arn} did not read back within {polls * seconds:.0f} s (TagResource is eventually "
        "consistent); run the staging again"
    )


def wait_deleted(ddb: Any, table: str) -> None:
    """Block until the table is gone (the CLI; the state machine polls instead)."""
    ddb.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 300})


def wait_import(
    ddb: Any,
    import_arn: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 5.0,
    max_poll: float | None = None,
) -> dict[str, Any]:
    """Block until the import ends (the CLI); raise StagingError when it did not complete. With
    `max_poll` the interval starts at `poll` and doubles up to it (a small import is seen done
    early, a long one is not polled more often than every `max_poll` seconds)."""
    while True:
        desc: dict[str, Any] = ddb.describe_import(ImportArn=import_arn)["ImportTableDescription"]
        status = desc["ImportStatus"]
        if status == "COMPLETED":
            return desc
        if status in ("FAILED", "CANCELLED", "CANCELLING"):
            raise StagingError(
                f"ImportTable {import_arn} {status}: {desc.get('FailureCode')} {desc.get('FailureMessage')}"
            )
        sleep(poll)
        if max_poll is not None:
            poll = min(max_poll, poll * 2)

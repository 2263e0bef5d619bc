"""A test table as it is in the account, read before `safetynet stage` changes anything: the
TargetTable a replace restores, and what a failed replace recreates (keys, indexes, billing and
capacity, stream, class, encryption, TTL, PITR, deletion protection, tags)."""

from __future__ import annotations

from typing import Any

from handlers.staging.target import Mode, TargetTable, table_tags


def _throughput(pt: dict[str, Any]) -> dict[str, int]:
    return {"ReadCapacityUnits": pt["ReadCapacityUnits"], "WriteCapacityUnits": pt["WriteCapacityUnits"]}


def _encryption(desc: dict[str, Any]) -> dict[str, Any]:
    """SSESpecification for the table's encryption: a KMS key (AWS managed or the customer's),
    or none of them (DynamoDB's own key, the default)."""
    sse = desc.get("SSEDescription") or {}
    if sse.get("Status") not in ("ENABLED", "ENABLING", "UPDATING"):
        return {"Enabled": False}
    spec: dict[str, Any] = {"Enabled": True, "SSEType": sse.get("SSEType") or "KMS"}
    if sse.get("KMSMasterKeyArn"):
        spec["KMSMasterKeyId"] = sse["KMSMasterKeyArn"]
    return spec


def schema_of(desc: dict[str, Any]) -> dict[str, Any]:
    """A CreateTable request that recreates the described table (without its items and tags)."""
    billing = desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    schema: dict[str, Any] = {
        "TableName": desc["TableName"],
        "KeySchema": desc["KeySchema"],
        "AttributeDefinitions": desc["AttributeDefinitions"],
        "BillingMode": billing,
        "SSESpecification": _encryption(desc),
    }
    if billing == "PROVISIONED":
        schema["ProvisionedThroughput"] = _throughput(desc["ProvisionedThroughput"])
    elif desc.get("OnDemandThroughput"):
        schema["OnDemandThroughput"] = desc["OnDemandThroughput"]
    gsis = []
    for g in desc.get("GlobalSecondaryIndexes", []):
        out = {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
        if billing == "PROVISIONED":
            out["ProvisionedThroughput"] = _throughput(g["ProvisionedThroughput"])
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
    return schema


def target_from_table(
    ddb: Any,
    table: str,
    *,
    stack: str,
    mode: Mode,
    source_table_arn: str | None,
    logical_name: str | None = None,
    mask: list[dict[str, Any]] | None = None,
) -> TargetTable:
    """A TargetTable from a live table: everything a replace deletes and must put back."""
    desc = ddb.describe_table(TableName=table)["Table"]
    ttl = ddb.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
    backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {})
    return TargetTable(
        name=table,
        logical_name=logical_name or table,
        stack=stack,
        schema=schema_of(desc),
        source_table_arn=source_table_arn,
        mode=mode,
        ttl_attribute=ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None,
        point_in_time_recovery_days=(
            int(pitr.get("RecoveryPeriodInDays", 35)) if pitr.get("PointInTimeRecoveryStatus") == "ENABLED" else None
        ),
        deletion_protection=bool(desc.get("DeletionProtectionEnabled")),
        tags=table_tags(ddb, desc["TableArn"]),
        mask=list(mask or []),
    )

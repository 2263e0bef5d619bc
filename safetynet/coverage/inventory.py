"""The account's DynamoDB tables as they are: one `LiveTable` per table, read with boto3.

What `safetynet adopt` writes into a stack file and what `safetynet coverage` judges both start
here, so the two commands never disagree about a table's settings. Reads only (ListTables,
DescribeTable, ListTagsOfResource, DescribeTimeToLive, DescribeContinuousBackups).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# DescribeTable fields of an index that describe its state, not its definition.
_INDEX_STATE_KEYS = frozenset(
    {
        "IndexStatus",
        "Backfilling",
        "IndexSizeBytes",
        "ItemCount",
        "IndexArn",
        "WarmThroughput",
    }
)
_THROUGHPUT_STATE_KEYS = frozenset({"LastIncreaseDateTime", "LastDecreaseDateTime", "NumberOfDecreasesToday"})


@dataclass(frozen=True)
class LiveTable:
    """One table of the account and region as DynamoDB describes it (what adopt writes, what
    coverage judges)."""

    name: str
    arn: str
    status: str
    """TableStatus (ACTIVE, CREATING, UPDATING, ...)."""
    key_schema: list[dict[str, str]]
    """DescribeTable KeySchema: [{AttributeName, KeyType: HASH|RANGE}]."""
    attribute_definitions: list[dict[str, str]]
    """[{AttributeName, AttributeType: S|N|B}]: the key attributes of the table and its indexes."""
    billing_mode: str
    """"PAY_PER_REQUEST" or "PROVISIONED"."""
    read_capacity: int | None
    """Provisioned read capacity (None for on-demand)."""
    write_capacity: int | None
    global_secondary_indexes: list[dict[str, Any]]
    """As DescribeTable returns them, trimmed of state fields (status, size, item count, ARN)."""
    local_secondary_indexes: list[dict[str, Any]]
    stream_view_type: str | None
    """None when streams are off."""
    ttl_attribute: str | None
    """None when TTL is off (DescribeTimeToLive status not ENABLED/ENABLING)."""
    pitr_enabled: bool
    """DescribeContinuousBackups: point-in-time recovery on."""
    pitr_recovery_days: int | None
    """RecoveryPeriodInDays when PITR is on and DynamoDB reports it."""
    deletion_protection: bool
    table_class: str
    """"STANDARD" or "STANDARD_INFREQUENT_ACCESS"."""
    sse_type: str | None
    """SSEDescription.SSEType ("KMS") or None for the AWS-owned key."""
    kms_key_arn: str | None
    replica_regions: list[str]
    """Global table replicas (Replicas[].RegionName); empty for a single-region table."""
    tags: dict[str, str]
    on_demand_max_read: int | None = None
    """OnDemandThroughput.MaxReadRequestUnits when set (an addition to the shared interface)."""
    on_demand_max_write: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """DescribeTable fields no other attribute carries but that matter to a copy (e.g.
    WarmThroughput), for callers that must refuse what they cannot represent."""

    @property
    def hash_key(self) -> str:
        return next(k["AttributeName"] for k in self.key_schema if k["KeyType"] == "HASH")

    @property
    def range_key(self) -> str | None:
        return next((k["AttributeName"] for k in self.key_schema if k["KeyType"] == "RANGE"), None)

    @property
    def attribute_types(self) -> dict[str, str]:
        return {a["AttributeName"]: a["AttributeType"] for a in self.attribute_definitions}


class TableReadError(Exception):
    """Reading one table failed; the message names the table and the AWS error."""

    def __init__(self, table: str, cause: Exception) -> None:
        from handlers.watch.aws import error_text

        super().__init__(f"table {table}: {error_text(cause)}")
        self.table = table
        self.cause = cause


def list_table_names(ddb: Any) -> list[str]:
    """Every table name of the client's account and region (ListTables, paginated)."""
    names: list[str] = []
    for page in ddb.get_paginator("list_tables").paginate():
        names.extend(page.get("TableNames", []))
    return names


def _trim_index(index: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in index.items() if k not in _INDEX_STATE_KEYS}
    tp = out.get("ProvisionedThroughput")
    if isinstance(tp, dict):
        out["ProvisionedThroughput"] = {k: v for k, v in tp.items() if k not in _THROUGHPUT_STATE_KEYS}
    return out


def _tags(ddb: Any, arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    kwargs: dict[str, str] = {"ResourceArn": arn}
    while True:
        page = ddb.list_tags_of_resource(**kwargs)
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        token = page.get("NextToken")
        if not token:
            return tags
        kwargs["NextToken"] = token


def live_table(
    desc: dict[str, Any],
    *,
    tags: dict[str, str],
    ttl: dict[str, Any],
    backups: dict[str, Any],
) -> LiveTable:
    """A LiveTable from the raw responses (DescribeTable's Table, DescribeTimeToLive's
    TimeToLiveDescription, DescribeContinuousBackups' ContinuousBackupsDescription): pure, so the
    parsing is testable without AWS."""
    billing = (desc.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    throughput = desc.get("ProvisionedThroughput") or {}
    provisioned = billing == "PROVISIONED"
    stream = desc.get("StreamSpecification") or {}
    ttl_on = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    pitr = backups.get("PointInTimeRecoveryDescription") or {}
    pitr_on = pitr.get("PointInTimeRecoveryStatus") == "ENABLED"
    sse = desc.get("SSEDescription") or {}
    sse_on = sse.get("Status") in ("ENABLED", "ENABLING", "UPDATING")
    on_demand = desc.get("OnDemandThroughput") or {}
    extra: dict[str, Any] = {k: desc[k] for k in ("WarmThroughput", "RestoreSummary", "ArchivalSummary") if k in desc}
    return LiveTable(
        name=desc["TableName"],
        arn=desc["TableArn"],
        status=desc.get("TableStatus", ""),
        key_schema=[dict(k) for k in desc.get("KeySchema", [])],
        attribute_definitions=[dict(a) for a in desc.get("AttributeDefinitions", [])],
        billing_mode=billing,
        read_capacity=_capacity(throughput, "ReadCapacityUnits") if provisioned else None,
        write_capacity=_capacity(throughput, "WriteCapacityUnits") if provisioned else None,
        global_secondary_indexes=[_trim_index(i) for i in desc.get("GlobalSecondaryIndexes", [])],
        local_secondary_indexes=[_trim_index(i) for i in desc.get("LocalSecondaryIndexes", [])],
        stream_view_type=stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
        ttl_attribute=ttl.get("AttributeName") if ttl_on else None,
        pitr_enabled=pitr_on,
        pitr_recovery_days=int(pitr["RecoveryPeriodInDays"]) if pitr_on and "RecoveryPeriodInDays" in pitr else None,
        deletion_protection=bool(desc.get("DeletionProtectionEnabled", False)),
        table_class=(desc.get("TableClassSummary") or {}).get("TableClass") or "STANDARD",
        sse_type=sse.get("SSEType") if sse_on else None,
        kms_key_arn=sse.get("KMSMasterKeyArn") if sse_on else None,
        replica_regions=[r["RegionName"] for r in desc.get("Replicas", []) if "RegionName" in r],
        tags=dict(tags),
        on_demand_max_read=_positive(on_demand.get("MaxReadRequestUnits")),
        on_demand_max_write=_positive(on_demand.get("MaxWriteRequestUnits")),
        extra=extra,
    )


def _capacity(throughput: dict[str, Any], key: str) -> int | None:
    value = throughput.get(key)
    return int(value) if isinstance(value, int) else None


def _positive(value: Any) -> int | None:
    # DynamoDB reports -1 for "no maximum".
    return int(value) if isinstance(value, int) and value > 0 else None


def read_table(ddb: Any, name: str) -> LiveTable:
    """One table's settings: DescribeTable + tags + TTL + continuous backups.

    Raises TableReadError (naming the table) for any AWS error."""
    from handlers.watch.aws import AWS_ERRORS

    try:
        desc = ddb.describe_table(TableName=name)["Table"]
        tags = _tags(ddb, desc["TableArn"])
        ttl = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
        backups = ddb.describe_continuous_backups(TableName=name).get("ContinuousBackupsDescription", {})
    except AWS_ERRORS as exc:
        raise TableReadError(name, exc) from exc
    return live_table(desc, tags=tags, ttl=ttl, backups=backups)


def read_tables(
    ddb: Any,
    names: Iterable[str],
    *,
    workers: int = 8,
    on_done: Callable[[str], None] | None = None,
) -> list[LiveTable]:
    """read_table for each name on a bounded thread pool (boto3 clients are thread-safe), results
    in the order of `names`. The first failure is raised as TableReadError naming its table;
    `on_done(name)` is called as each table finishes (for a progress bar)."""
    ordered = list(names)
    if not ordered:
        return []

    def one(name: str) -> LiveTable:
        table = read_table(ddb, name)
        if on_done is not None:
            on_done(name)
        return table

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(ordered)))) as pool:
        return list(pool.map(one, ordered))

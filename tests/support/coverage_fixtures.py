"""A moto account with many tables of mixed settings, for the coverage tests: keys, indexes,
billing, streams, TTL, PITR, deletion protection and tags vary from table to table, so whatever
reads or judges the account meets every combination. Tables are built from TableSpec, the schema
model the components use (call inside moto)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from components.config.tables import TableSpec

KINDS = ("svc", "etl", "svc", "cache", "svc")
"""Name prefixes, cycled: the tests exclude some of them (e.g. `etl-*`, `cache-*`)."""


@dataclass(frozen=True)
class MixedTable:
    """One generated table and the settings it was given."""

    name: str
    pitr: bool
    deletion_protection: bool
    spec: TableSpec


def mixed_spec(i: int, name: str) -> TableSpec:
    """The i-th table's schema: hash-only or composite keys, provisioned every third, a GSI every
    fourth, an LSI every fifth composite one, streams every third, TTL every other one, tags."""
    raw: dict[str, Any] = {"name": name, "hashKey": {"name": "pk", "type": "SNB"[i % 3]}}
    composite = i % 2 == 0
    if composite:
        raw["rangeKey"] = {"name": "sk", "type": "S"}
    if i % 3 == 1:
        raw |= {"billingMode": "PROVISIONED", "readCapacity": 1 + i % 5, "writeCapacity": 1 + i % 3}
    if i % 4 == 1:
        gsi: dict[str, Any] = {"name": "by-g1", "hashKey": {"name": "g1", "type": "S"}, "projection": "KEYS_ONLY"}
        if raw.get("billingMode") == "PROVISIONED":
            gsi |= {"readCapacity": 1, "writeCapacity": 1}
        raw["globalSecondaryIndexes"] = [gsi]
    if composite and i % 5 == 0:
        raw["localSecondaryIndexes"] = [{"name": "by-l1", "rangeKey": {"name": "l1", "type": "N"}}]
    if i % 3 == 2:
        raw["streamViewType"] = ("NEW_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")[i % 3]
    if i % 2:
        raw["ttlAttribute"] = "expiresAt"
    raw["tags"] = {"team": f"team-{i % 4}"} if i % 3 else {}
    return TableSpec.model_validate(raw)


def create_live_table(
    ddb: Any,
    spec: TableSpec,
    *,
    tags: Mapping[str, str] | None,
    deletion_protection: bool,
    pitr: bool,
    sse_kms: bool = False,
) -> None:
    """Create `spec`'s table in moto as it would be found in an account: its tags (none when
    None), deletion protection, PITR, TTL, and optionally SSE with the AWS managed KMS key."""
    request = spec.create_table_request(spec.name)
    if sse_kms:
        request["SSESpecification"] = {"Enabled": True, "SSEType": "KMS"}
    if tags is not None:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    ddb.create_table(**request, DeletionProtectionEnabled=deletion_protection)
    if pitr:
        ddb.update_continuous_backups(
            TableName=spec.name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    if spec.ttl_attribute:
        ddb.update_time_to_live(
            TableName=spec.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
        )


def build_mixed_account(n: int = 40, *, region: str, kinds: tuple[str, ...] = KINDS) -> list[MixedTable]:
    """n tables named `<kind>-<i>` (kinds cycled) with mixed settings: PITR on every other table,
    deletion protection on every third. Returns what each table was given."""
    ddb = boto3.client("dynamodb", region_name=region)
    out = []
    for i in range(n):
        name = f"{kinds[i % len(kinds)]}-{i:02d}"
        spec = mixed_spec(i, name)
        pitr, protected = i % 2 == 0, i % 3 == 0
        create_live_table(ddb, spec, tags=spec.tags or None, deletion_protection=protected, pitr=pitr)
        out.append(MixedTable(name=name, pitr=pitr, deletion_protection=protected, spec=spec))
    return out

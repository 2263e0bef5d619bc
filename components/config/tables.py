"""`safetynet:tables`: the protected tables' schemas (keys, indexes, billing, streams, TTL).

Validated against DynamoDB's own rules (name syntax, index quotas, one type per key attribute), and
the source of the table schema in AWS's shape (`TableSpec.create_table_request`) for everything
that needs one: the table components, prod's stack outputs, staging, the CLI, the demo and the
tests' moto tables.

Like every config module this one imports no Pulumi: the CLI, the handlers' tests and the demo
build tables from the same models without a Pulumi runtime.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import ConfigModel
from components.config.incremental import TableIncremental, table_incremental_input
from components.config.replica import check_replica_regions

KeyType = Literal["S", "N", "B"]
Projection = Literal["ALL", "KEYS_ONLY", "INCLUDE"]
BillingMode = Literal["PAY_PER_REQUEST", "PROVISIONED"]
StreamViewType = Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]
TableClass = Literal["STANDARD", "STANDARD_INFREQUENT_ACCESS"]

# DynamoDB service quotas that cannot be raised.
MAX_GSIS = 20
MAX_LSIS = 5
TABLE_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
INDEX_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")


class KeyAttribute(ConfigModel):
    """A key attribute: its name and DynamoDB scalar type."""

    name: str = Field(min_length=1, max_length=255, description="Attribute name.")
    type: KeyType = Field(description="S (string), N (number) or B (binary).")


class GlobalSecondaryIndex(ConfigModel):
    """A global secondary index."""

    name: str = Field(pattern=INDEX_NAME_RE.pattern, description="Index name.")
    hash_key: KeyAttribute = Field(description="Partition key of the index.")
    range_key: KeyAttribute | None = Field(default=None, description="Sort key of the index.")
    projection: Projection = Field(default="ALL", description="Attributes copied into the index.")
    non_key_attributes: list[str] = Field(
        default_factory=list, description="Projected attributes when projection is INCLUDE."
    )
    read_capacity: int | None = Field(default=None, ge=1, description="RCUs (PROVISIONED tables).")
    write_capacity: int | None = Field(default=None, ge=1, description="WCUs (PROVISIONED tables).")

    @model_validator(mode="after")
    def _include_needs_attributes(self) -> GlobalSecondaryIndex:
        if self.projection == "INCLUDE" and not self.non_key_attributes:
            raise ValueError("projection INCLUDE needs nonKeyAttributes: [attr, ...]")
        if self.projection != "INCLUDE" and self.non_key_attributes:
            raise ValueError("nonKeyAttributes is only valid with projection: INCLUDE")
        return self


class LocalSecondaryIndex(ConfigModel):
    """A local secondary index (shares the table's partition key)."""

    name: str = Field(pattern=INDEX_NAME_RE.pattern, description="Index name.")
    range_key: KeyAttribute = Field(description="Alternative sort key.")
    projection: Projection = Field(default="ALL", description="Attributes copied into the index.")
    non_key_attributes: list[str] = Field(default_factory=list, description="With projection INCLUDE.")

    @model_validator(mode="after")
    def _include_needs_attributes(self) -> LocalSecondaryIndex:
        if self.projection == "INCLUDE" and not self.non_key_attributes:
            raise ValueError("projection INCLUDE needs nonKeyAttributes: [attr, ...]")
        return self


class AsFound(ConfigModel):
    """Live settings of an adopted table that differ from what safetynet declares, kept as found
    so that Pulumi's import sees no difference (`safetynet adopt` writes them). Delete the block
    and run `pulumi up` again to give the table the stack's protection: each of these changes is
    made in place (UpdateTable, UpdateContinuousBackups, TagResource), none replaces the table.
    Until then the table has no nightly export (an export needs PITR, and the export role only
    exports tables that carry the stack's tag)."""

    point_in_time_recovery: bool | None = Field(default=None, description="false: PITR stays off.")
    deletion_protection: bool | None = Field(
        default=None, description="The table's deletion protection where it differs from the environment's."
    )
    server_side_encryption: bool | None = Field(
        default=None, description="false: encrypted with the AWS owned key instead of a KMS key."
    )
    stack_tags: bool | None = Field(default=None, description="false: only the table's own tags, not the stack's.")

    @model_validator(mode="after")
    def _only_what_differs(self) -> AsFound:
        defaults = {
            "pointInTimeRecovery": self.point_in_time_recovery,
            "serverSideEncryption": self.server_side_encryption,
            "stackTags": self.stack_tags,
        }
        declared = sorted(k for k, v in defaults.items() if v is True)
        if declared:
            raise ValueError(
                f"{', '.join(declared)}: true is what safetynet declares anyway; remove it (only false "
                "keeps a setting as found)"
            )
        return self


class TableSpec(ConfigModel):
    """One protected DynamoDB table, as configured under `safetynet:tables`."""

    name: str = Field(description="Logical table name; the physical name in prod.")
    hash_key: KeyAttribute = Field(description="Partition key: {name, type: S|N|B}.")
    range_key: KeyAttribute | None = Field(default=None, description="Sort key.")
    billing_mode: BillingMode = Field(default="PAY_PER_REQUEST", description="Capacity mode.")
    read_capacity: int | None = Field(default=None, ge=1, description="RCUs when PROVISIONED.")
    write_capacity: int | None = Field(default=None, ge=1, description="WCUs when PROVISIONED.")
    ttl_attribute: str | None = Field(default=None, min_length=1, description="TTL attribute name.")
    stream_view_type: StreamViewType | None = Field(default=None, description="Enables streams.")
    global_secondary_indexes: list[GlobalSecondaryIndex] = Field(default_factory=list)
    local_secondary_indexes: list[LocalSecondaryIndex] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict, description="Extra tags on the table.")
    point_in_time_recovery_days: int = Field(
        default=35, ge=1, le=35, description="PITR recovery period in days (1-35)."
    )
    table_class: TableClass = Field(default="STANDARD", description="Storage class.")
    adopt: bool = Field(default=False, description="Import an existing table of this name instead of creating one.")
    as_found: AsFound | None = Field(
        default=None,
        description="With adopt: the live settings kept for the import (PITR, deletion protection, "
        "encryption, stack tags); delete the block to turn protection on.",
    )
    replica_regions: list[str] = Field(
        default_factory=list,
        description="Global table replicas (each with PITR, deletion protection in prod); needs streams "
        "NEW_AND_OLD_IMAGES (set automatically when streamViewType is unset).",
    )
    incremental: TableIncremental | None = Field(
        default=None,
        description="This table's chain of incremental exports: false (none), true, or {every, view} "
        "over safetynet:backup.incremental.",
    )

    @field_validator("incremental", mode="before")
    @classmethod
    def _incremental_shape(cls, v: Any) -> Any:
        return table_incremental_input(v)

    @model_validator(mode="before")
    @classmethod
    def _global_table_streams(cls, data: Any) -> Any:
        # Global tables replicate through the table's stream, which must carry both images.
        if isinstance(data, dict) and data.get("replicaRegions", data.get("replica_regions")):
            view = data.get("streamViewType", data.get("stream_view_type"))
            if view is None:
                return {**data, "streamViewType": "NEW_AND_OLD_IMAGES"}
            if view != "NEW_AND_OLD_IMAGES":
                raise ValueError(
                    "replicaRegions make a global table, which replicates through a NEW_AND_OLD_IMAGES "
                    f"stream; streamViewType is {view}: write streamViewType: NEW_AND_OLD_IMAGES "
                    "(or remove it)"
                )
        return data

    @field_validator("replica_regions")
    @classmethod
    def _replica_regions(cls, v: list[str]) -> list[str]:
        problems = check_replica_regions(v)
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @field_validator("name")
    @classmethod
    def _name_is_valid(cls, v: str) -> str:
        if not TABLE_NAME_RE.match(v):
            raise ValueError("table names are 3-255 characters of a-z A-Z 0-9 _ - .")
        return v

    @model_validator(mode="after")
    def _as_found_only_when_adopting(self) -> TableSpec:
        if self.as_found is not None and not self.adopt:
            raise ValueError(
                "asFound keeps an adopted table's live settings for its import; it needs adopt: true "
                "(or remove asFound to give the table the stack's protection)"
            )
        if self.as_found is not None and self.replica_regions:
            raise ValueError("asFound is not available for global tables (replicaRegions); remove it")
        if self.incremental is not None and self.incremental.enabled and not self.point_in_time_recovery:
            raise ValueError(
                "incremental: a chain of incremental exports reads point-in-time recovery, which "
                "asFound.pointInTimeRecovery: false keeps off; remove incremental until asFound is gone "
                "(the stack's chain then includes the table), or write incremental: false"
            )
        return self

    @model_validator(mode="after")
    def _cross_field_rules(self) -> TableSpec:
        problems: list[str] = []
        if self.billing_mode == "PROVISIONED":
            if self.read_capacity is None or self.write_capacity is None:
                problems.append(
                    "billingMode PROVISIONED needs readCapacity and writeCapacity (e.g. readCapacity: 5, "
                    "writeCapacity: 5), or use billingMode: PAY_PER_REQUEST"
                )
            for gsi in self.global_secondary_indexes:
                if gsi.read_capacity is None or gsi.write_capacity is None:
                    problems.append(
                        f"globalSecondaryIndexes '{gsi.name}': a PROVISIONED table needs readCapacity and "
                        "writeCapacity on every index"
                    )
        elif self.read_capacity is not None or self.write_capacity is not None:
            problems.append("readCapacity/writeCapacity are only valid with billingMode: PROVISIONED; remove them")
        if self.local_secondary_indexes and self.range_key is None:
            problems.append(
                "localSecondaryIndexes need a table with a rangeKey (an LSI is an alternative sort key); "
                "add rangeKey: {name, type} or make the index a globalSecondaryIndex"
            )
        if len(self.global_secondary_indexes) > MAX_GSIS:
            problems.append(
                f"{len(self.global_secondary_indexes)} globalSecondaryIndexes: DynamoDB allows at most {MAX_GSIS}"
            )
        if len(self.local_secondary_indexes) > MAX_LSIS:
            problems.append(
                f"{len(self.local_secondary_indexes)} localSecondaryIndexes: DynamoDB allows at most {MAX_LSIS}"
            )
        index_names = [i.name for i in self.global_secondary_indexes] + [i.name for i in self.local_secondary_indexes]
        dupes = sorted({n for n in index_names if index_names.count(n) > 1})
        if dupes:
            problems.append(f"index names must be unique per table; duplicated: {', '.join(dupes)}")
        types: dict[str, tuple[str, str]] = {}
        for where, attr in self._key_attributes():
            seen = types.setdefault(attr.name, (attr.type, where))
            if seen[0] != attr.type:
                problems.append(
                    f"key attribute '{attr.name}' is type {seen[0]} in {seen[1]} but {attr.type} in {where}; "
                    "an attribute has one type per table: use the same type everywhere"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _key_attributes(self) -> Iterable[tuple[str, KeyAttribute]]:
        yield "hashKey", self.hash_key
        if self.range_key:
            yield "rangeKey", self.range_key
        for g in self.global_secondary_indexes:
            yield f"index {g.name} hashKey", g.hash_key
            if g.range_key:
                yield f"index {g.name} rangeKey", g.range_key
        for lsi in self.local_secondary_indexes:
            yield f"index {lsi.name} rangeKey", lsi.range_key

    # -- what the table declares beyond its schema (asFound: an adopted table's live settings) --

    @property
    def point_in_time_recovery(self) -> bool:
        """PITR on, unless an adopted table keeps it off for now (asFound)."""
        return not (self.as_found is not None and self.as_found.point_in_time_recovery is False)

    @property
    def server_side_encryption(self) -> bool:
        """SSE with a KMS key (the AWS managed key), unless an adopted table keeps the AWS owned key."""
        return not (self.as_found is not None and self.as_found.server_side_encryption is False)

    @property
    def stack_tags(self) -> bool:
        """The stack's tags on the table, unless an adopted table keeps only its own for now."""
        return not (self.as_found is not None and self.as_found.stack_tags is False)

    def deletion_protection(self, environment_default: bool) -> bool:
        """The environment's deletion protection (on in prod), or an adopted table's as found."""
        if self.as_found is not None and self.as_found.deletion_protection is not None:
            return self.as_found.deletion_protection
        return environment_default

    # -- schema helpers shared by components, handlers, the CLI and tests ---------------------

    def attribute_definitions(self) -> list[dict[str, str]]:
        """Every key attribute once, in first-seen order (DynamoDB's AttributeDefinitions)."""
        out: dict[str, str] = {}
        for _, attr in self._key_attributes():
            out.setdefault(attr.name, attr.type)
        return [{"AttributeName": n, "AttributeType": t} for n, t in out.items()]

    def key_attribute_names(self) -> set[str]:
        """Table and index key attributes: masking may hash them but never drop or retype them."""
        return {attr.name for _, attr in self._key_attributes()}

    def key_schema(self) -> list[dict[str, str]]:
        """The table's primary key in DynamoDB's KeySchema shape."""
        ks = [{"AttributeName": self.hash_key.name, "KeyType": "HASH"}]
        if self.range_key:
            ks.append({"AttributeName": self.range_key.name, "KeyType": "RANGE"})
        return ks

    def create_table_request(self, physical_name: str) -> dict[str, Any]:
        """The boto3 `create_table` keyword arguments for this schema (keys, indexes, billing).

        This is the table schema in AWS's own shape: exported as a stack output, used by tests
        and the demo to build moto tables, and by staging to import into a test table.
        """
        req: dict[str, Any] = {
            "TableName": physical_name,
            "KeySchema": self.key_schema(),
            "AttributeDefinitions": self.attribute_definitions(),
            "BillingMode": self.billing_mode,
            "TableClass": self.table_class,
        }
        if self.billing_mode == "PROVISIONED":
            req["ProvisionedThroughput"] = {
                "ReadCapacityUnits": self.read_capacity,
                "WriteCapacityUnits": self.write_capacity,
            }
        if self.global_secondary_indexes:
            req["GlobalSecondaryIndexes"] = [_gsi_request(g, self.billing_mode) for g in self.global_secondary_indexes]
        if self.local_secondary_indexes:
            req["LocalSecondaryIndexes"] = [
                {
                    "IndexName": lsi.name,
                    "KeySchema": [
                        {"AttributeName": self.hash_key.name, "KeyType": "HASH"},
                        {"AttributeName": lsi.range_key.name, "KeyType": "RANGE"},
                    ],
                    "Projection": _projection(lsi.projection, lsi.non_key_attributes),
                }
                for lsi in self.local_secondary_indexes
            ]
        if self.stream_view_type:
            req["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream_view_type}
        return req


def _projection(kind: str, non_key: list[str]) -> dict[str, Any]:
    p: dict[str, Any] = {"ProjectionType": kind}
    if kind == "INCLUDE":
        p["NonKeyAttributes"] = list(non_key)
    return p


def _gsi_request(g: GlobalSecondaryIndex, billing_mode: str) -> dict[str, Any]:
    ks = [{"AttributeName": g.hash_key.name, "KeyType": "HASH"}]
    if g.range_key:
        ks.append({"AttributeName": g.range_key.name, "KeyType": "RANGE"})
    out: dict[str, Any] = {
        "IndexName": g.name,
        "KeySchema": ks,
        "Projection": _projection(g.projection, g.non_key_attributes),
    }
    if billing_mode == "PROVISIONED":
        out["ProvisionedThroughput"] = {
            "ReadCapacityUnits": g.read_capacity,
            "WriteCapacityUnits": g.write_capacity,
        }
    return out

"""A moto account of 40 tables for the adopt tests, each with settings chosen to cover every
combination adopt must carry: keys of each type (S, N, B), GSIs with each projection, LSIs, TTL,
each stream view, provisioned and on-demand billing, PITR on and off, deletion protection on and
off, KMS and AWS owned encryption, both table classes, own tags and the stack's tags. Plus the
tables adopt must refuse: one already in the stack, a global table, one managed by another tool,
one with an on-demand maximum, and one that `--exclude` leaves out.

Schemas are TableSpecs (the model the components use), created with `create_table_request`. What
moto 5.1 does not keep (the table class, replicas, OnDemandThroughput) is put into its
DescribeTable answer by `moto_gaps`, exactly as DynamoDB reports it.

`expected_inputs` is the test's own statement of what Pulumi must declare for a table so that its
import finds no difference: written from the Fleet's settings, not from adopt's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from components.config.tables import TableSpec
from tests.support.coverage_fixtures import create_live_table

REGION = "eu-central-1"  # aws:region of the shipped Pulumi.prod.yaml
SELECTED_TAG = ("team", "x")
STACK_TAGS = {"safetynet:environment": "prod", "safetynet:stack": "safetynet/prod", "managed-by": "pulumi/safetynet"}


@dataclass(frozen=True)
class FleetTable:
    """One table of the account and everything it was given."""

    spec: TableSpec
    """Schema: keys, indexes, billing, TTL, streams, table class."""
    pitr: bool
    deletion_protection: bool
    kms: bool
    """SSE with the AWS managed KMS key (else the AWS owned key)."""
    tags: dict[str, str]
    replicas: list[str] = field(default_factory=list)
    on_demand_max: int | None = None
    expect: str = "adopt"
    """What adopt must do: adopt, present, replica, unrepresentable, excluded, or unselected."""

    @property
    def name(self) -> str:
        return self.spec.name


def _spec(i: int) -> TableSpec:
    """Schema of the i-th table: key types cycle S/N/B, composite every other, provisioned every
    third, a GSI every other with a projection cycling ALL/KEYS_ONLY/INCLUDE, an LSI every fourth
    composite one, TTL every third, a stream view cycling (none every fifth), IA class every fifth."""
    key_type = "SNB"[i % 3]
    raw: dict[str, Any] = {"name": f"fleet-{i:02d}", "hashKey": {"name": "pk", "type": key_type}}
    composite = i % 2 == 0
    if composite:
        raw["rangeKey"] = {"name": "sk", "type": "NBS"[i % 3]}
    provisioned = i % 3 == 1
    if provisioned:
        raw |= {"billingMode": "PROVISIONED", "readCapacity": 2 + i % 4, "writeCapacity": 1 + i % 3}
    if i % 2 == 1:
        projection = ("ALL", "KEYS_ONLY", "INCLUDE")[(i // 2) % 3]
        gsi: dict[str, Any] = {
            "name": "by-owner",
            "hashKey": {"name": "owner", "type": "S"},
            "rangeKey": {"name": "createdAt", "type": "N"},
            "projection": projection,
        }
        if projection == "INCLUDE":
            gsi["nonKeyAttributes"] = ["total", "status", "email"]
        if provisioned:
            gsi |= {"readCapacity": 1 + i % 2, "writeCapacity": 1}
        raw["globalSecondaryIndexes"] = [gsi, {"name": "by-key-only", "hashKey": {"name": "ref", "type": "B"}}]
        if provisioned:
            raw["globalSecondaryIndexes"][1] |= {"readCapacity": 3, "writeCapacity": 2}
    if composite and i % 4 == 0:
        lsi_projection = ("KEYS_ONLY", "INCLUDE")[(i // 4) % 2]
        lsi: dict[str, Any] = {"name": "by-created", "rangeKey": {"name": "createdAt", "type": "N"}}
        lsi["projection"] = lsi_projection
        if lsi_projection == "INCLUDE":
            lsi["nonKeyAttributes"] = ["zeta", "alpha"]
        raw["localSecondaryIndexes"] = [lsi]
    if i % 3 == 0:
        raw["ttlAttribute"] = "expiresAt"
    if i % 5 != 4:
        raw["streamViewType"] = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")[i % 4]
    if i % 5 == 2:
        raw["tableClass"] = "STANDARD_INFREQUENT_ACCESS"
    return TableSpec.model_validate(raw)


def fleet() -> list[FleetTable]:
    """The 40 tables: 32 tagged team=x (26 to adopt, 6 adopt must refuse or leave out), 8 not."""
    tables = []
    for i in range(26):
        spec = _spec(i)
        tags = {"team": "x", "cost-center": f"cc-{i % 3}"} if i % 2 else {"team": "x"}
        if i == 5:  # already tagged like the stack's tables: adopted without asFound.stackTags
            tags |= {**STACK_TAGS, "safetynet:table": spec.name}
        tables.append(
            FleetTable(
                spec, pitr=i % 2 == 1 or i == 5, deletion_protection=i % 3 == 0 or i == 5, kms=i % 4 < 2, tags=tags
            )
        )
    simple = {"hashKey": {"name": "id", "type": "S"}}
    refused = [
        # In the shipped Pulumi.prod.yaml already (prod: physical name = logical name).
        FleetTable(
            _named("orders", simple),
            pitr=True,
            deletion_protection=True,
            kms=True,
            tags={"team": "x"},
            expect="present",
        ),
        FleetTable(
            _named("fleet-global", {**simple, "streamViewType": "NEW_AND_OLD_IMAGES"}),
            pitr=True,
            deletion_protection=False,
            kms=True,
            tags={"team": "x"},
            replicas=["eu-west-1"],
            expect="replica",
        ),
        FleetTable(
            _named("fleet-terraform", simple),
            pitr=True,
            deletion_protection=False,
            kms=False,
            tags={"team": "x", "managed-by": "terraform"},
            expect="unrepresentable",
        ),
        FleetTable(
            _named("fleet-capped", simple),
            pitr=False,
            deletion_protection=False,
            kms=False,
            tags={"team": "x"},
            on_demand_max=100,
            expect="unrepresentable",
        ),
        FleetTable(
            _named("scratch-01", simple),
            pitr=False,
            deletion_protection=False,
            kms=False,
            tags={"team": "x"},
            expect="excluded",
        ),
        FleetTable(
            _named("scratch-02", simple),
            pitr=False,
            deletion_protection=False,
            kms=False,
            tags={"team": "x"},
            expect="excluded",
        ),
    ]
    others = [
        FleetTable(
            _spec(30 + i).model_copy(update={"name": f"other-{i}"}),
            pitr=True,
            deletion_protection=True,
            kms=True,
            tags={"team": "y"},
            expect="unselected",
        )
        for i in range(8)
    ]
    return tables + refused + others


def _named(name: str, raw: dict[str, Any]) -> TableSpec:
    return TableSpec.model_validate({"name": name, **raw})


# -- building it in moto --------------------------------------------------------------------------


def build(tables: list[FleetTable]) -> None:
    """Create every table in moto (call inside mock_aws and moto_gaps)."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    for t in tables:
        create_live_table(
            ddb, t.spec, tags=t.tags, deletion_protection=t.deletion_protection, pitr=t.pitr, sse_kms=t.kms
        )
        _GAPS[t.name] = _gap_fields(t)


_GAPS: dict[str, dict[str, Any]] = {}


def _gap_fields(t: FleetTable) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if t.spec.table_class != "STANDARD":
        extra["TableClassSummary"] = {"TableClass": t.spec.table_class}
    if t.replicas:
        extra["Replicas"] = [{"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in t.replicas]
    if t.on_demand_max:
        extra["OnDemandThroughput"] = {"MaxReadRequestUnits": t.on_demand_max, "MaxWriteRequestUnits": -1}
    return extra


@contextmanager
def moto_gaps() -> Iterator[None]:
    """DescribeTable answers with what DynamoDB reports and moto 5.1 drops (TableClassSummary,
    Replicas, OnDemandThroughput), for the tables `build` made."""
    from moto.dynamodb.models.table import Table

    original = Table.describe

    def describe(self: Any, base_key: str = "TableDescription") -> dict[str, Any]:
        result = original(self, base_key=base_key)
        result[base_key].update(_GAPS.get(self.name, {}))
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Table, "describe", describe)
        yield
    _GAPS.clear()


# -- what Pulumi must declare ---------------------------------------------------------------------


def expected_inputs(t: FleetTable) -> dict[str, Any]:
    """The aws:dynamodb/table:Table inputs (camelCase, normalized by `normalized`) that import
    the table with no difference: its live settings, field by field."""
    spec = t.spec
    provisioned = spec.billing_mode == "PROVISIONED"
    out: dict[str, Any] = {
        "name": t.name,
        "hashKey": spec.hash_key.name,
        "attributes": {a["AttributeName"]: a["AttributeType"] for a in spec.attribute_definitions()},
        "billingMode": spec.billing_mode,
        "tableClass": spec.table_class,
        "pointInTimeRecovery": {"enabled": True, "recoveryPeriodInDays": 35} if t.pitr else {"enabled": False},
        "serverSideEncryption": {"enabled": t.kms},
        "deletionProtectionEnabled": t.deletion_protection,
        "streamEnabled": spec.stream_view_type is not None,
        "tags": dict(t.tags),
        "globalSecondaryIndexes": {
            g.name: {
                "name": g.name,
                "hashKey": g.hash_key.name,
                **({"rangeKey": g.range_key.name} if g.range_key else {}),
                "projectionType": g.projection,
                **({"nonKeyAttributes": sorted(g.non_key_attributes)} if g.non_key_attributes else {}),
                **({"readCapacity": g.read_capacity, "writeCapacity": g.write_capacity} if provisioned else {}),
            }
            for g in spec.global_secondary_indexes
        },
        "localSecondaryIndexes": {
            i.name: {
                "name": i.name,
                "rangeKey": i.range_key.name,
                "projectionType": i.projection,
                **({"nonKeyAttributes": list(i.non_key_attributes)} if i.non_key_attributes else {}),
            }
            for i in spec.local_secondary_indexes
        },
    }
    if spec.range_key:
        out["rangeKey"] = spec.range_key.name
    if provisioned:
        out |= {"readCapacity": spec.read_capacity, "writeCapacity": spec.write_capacity}
    if spec.ttl_attribute:
        out["ttl"] = {"enabled": True, "attributeName": spec.ttl_attribute}
    if spec.stream_view_type:
        out["streamViewType"] = spec.stream_view_type
    return out


def normalized(inputs: dict[str, Any]) -> dict[str, Any]:
    """Synthesized inputs in the shape the provider compares on import: attributes and GSIs are
    sets (by name), a GSI's non-key attributes a set, an LSI's a list; unset and false streams
    alike. Restore-only and unrelated inputs are not table settings and are left out."""
    keys = {
        "name", "hashKey", "rangeKey", "billingMode", "readCapacity", "writeCapacity", "tableClass",
        "pointInTimeRecovery", "serverSideEncryption", "deletionProtectionEnabled", "ttl",
        "streamViewType", "tags",
    }  # fmt: skip
    out = {k: v for k, v in inputs.items() if k in keys}
    out["attributes"] = {a["name"]: a["type"] for a in inputs.get("attributes", [])}
    out["streamEnabled"] = bool(inputs.get("streamEnabled"))
    out["globalSecondaryIndexes"] = {
        g["name"]: {**g, **({"nonKeyAttributes": sorted(g["nonKeyAttributes"])} if "nonKeyAttributes" in g else {})}
        for g in inputs.get("globalSecondaryIndexes", [])
    }
    out["localSecondaryIndexes"] = {i["name"]: i for i in inputs.get("localSecondaryIndexes", [])}
    return out

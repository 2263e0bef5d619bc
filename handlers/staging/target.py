"""The test table a run stages into, the mode it gets, and the guard on its tags.

The guard is the second lock (the first is IAM): every task that touches a table refuses one that
is not tagged as a staging target of this stack, and any prod-tagged table (`guard_table`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools import Logger

from conventions.masking import MaskRule
from conventions.tags import ENVIRONMENT_TAG, PRODUCTION_ENVIRONMENTS, STAGING_TARGET_TAG
from handlers.staging.exceptions import NotAStagingTarget

logger = Logger(service="safetynet-staging", child=True)

Mode = Literal["replace", "refill"]


@dataclass(frozen=True)
class TargetTable:
    """A test table and everything staging must restore on it, as the test stack declares it.

    The test stack passes this (as JSON) in each execution's input; the CLI builds it from the
    live table. `schema` is a CreateTable request (prod's `tables.<name>.schema` output with the
    test table's name)."""

    name: str
    """Physical name of the test table."""
    logical_name: str
    """The table's name in config (`customers`)."""
    stack: str
    """`project/stack` of the test stack: the value of the staging-target tag it must carry."""
    schema: Mapping[str, Any]
    """CreateTable request: keys, attribute definitions, indexes, billing, streams, class."""
    source_table_arn: str | None = None
    """The prod table whose exports may be staged here (validation checks the summary)."""
    mode: Mode = "replace"
    ttl_attribute: str | None = None
    point_in_time_recovery_days: int | None = None
    """None: PITR off."""
    deletion_protection: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    """Every tag the table carries in the stack (restored after an import)."""
    mask: Sequence[Mapping[str, Any]] = ()
    """Masking rules `[{path, action, value?}]` (empty: stage unmasked)."""

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TargetTable:
        """From the execution input (camelCase keys)."""
        pitr = doc.get("pointInTimeRecoveryDays")
        return cls(
            name=str(doc["name"]),
            logical_name=str(doc.get("logicalName") or doc["name"]),
            stack=str(doc["stack"]),
            schema=_integral_numbers(dict(doc["schema"])),
            source_table_arn=doc.get("sourceTableArn"),
            mode=doc.get("mode") or "replace",
            ttl_attribute=doc.get("ttlAttribute") or None,
            point_in_time_recovery_days=int(pitr) if pitr else None,
            deletion_protection=bool(doc.get("deletionProtection", False)),
            tags=dict(doc.get("tags") or {}),
            mask=list(doc.get("mask") or []),
        )

    def to_json(self) -> dict[str, Any]:
        """The execution-input form."""
        return {
            "name": self.name,
            "logicalName": self.logical_name,
            "stack": self.stack,
            "schema": dict(self.schema),
            "sourceTableArn": self.source_table_arn,
            "mode": self.mode,
            "ttlAttribute": self.ttl_attribute,
            "pointInTimeRecoveryDays": self.point_in_time_recovery_days,
            "deletionProtection": self.deletion_protection,
            "tags": dict(self.tags),
            "mask": [dict(r) for r in self.mask],
        }

    @property
    def key_names(self) -> list[str]:
        """The primary key attribute names (hash, then range)."""
        return [k["AttributeName"] for k in self.schema["KeySchema"]]

    @property
    def key_types(self) -> dict[str, str]:
        """Every table and index key attribute -> S|N|B."""
        return {a["AttributeName"]: a["AttributeType"] for a in self.schema["AttributeDefinitions"]}

    @property
    def mask_rules(self) -> list[MaskRule]:
        """The masking rules as the masker takes them (empty: stage unmasked)."""
        return [MaskRule(r["path"], r["action"], r.get("value")) for r in self.mask]


def _integral_numbers(value: Any) -> Any:
    """Stack outputs cross Pulumi's wire format as floats (10 -> 10.0); DynamoDB's capacity
    units are integers and boto3 refuses floats, so whole numbers become ints again."""
    if isinstance(value, Mapping):
        return {k: _integral_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def effective_mode(target: TargetTable) -> tuple[Mode, str]:
    """The mode to run and why: ImportTable cannot create LSIs, so such tables are refilled."""
    if target.mode == "replace" and target.schema.get("LocalSecondaryIndexes"):
        names = ", ".join(i["IndexName"] for i in target.schema["LocalSecondaryIndexes"])
        return "refill", (
            f"replace requested but {target.name} has local secondary indexes ({names}), which "
            "ImportTable cannot create; refilling the existing table instead"
        )
    return target.mode, f"mode {target.mode} as configured"


# -- the guard -------------------------------------------------------------------------------


def table_tags(ddb: Any, table_arn: str) -> dict[str, str]:
    """All tags of a table (paginated)."""
    tags: dict[str, str] = {}
    kwargs: dict[str, Any] = {"ResourceArn": table_arn}
    while True:
        page = ddb.list_tags_of_resource(**kwargs)
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        if not page.get("NextToken"):
            return tags
        kwargs["NextToken"] = page["NextToken"]


def check_tags(table: str, tags: Mapping[str, str], stack: str, *, force_untagged: bool = False) -> None:
    """The second lock (the first is IAM): refuse prod-tagged tables always, and tables not
    tagged `safetynet:staging-target=<stack>` unless the operator forces it explicitly."""
    environment = tags.get(ENVIRONMENT_TAG)
    if environment in PRODUCTION_ENVIRONMENTS:
        raise NotAStagingTarget(
            f"{table} is tagged {ENVIRONMENT_TAG}={environment}: staging never writes to a production table"
        )
    target = tags.get(STAGING_TARGET_TAG)
    if target == stack:
        return
    if target is None and force_untagged:
        logger.warning({"message": "staging into an untagged table (forced)", "table": table})
        return
    if target is None:
        raise NotAStagingTarget(
            f"{table} is not tagged {STAGING_TARGET_TAG}={stack}; staging would overwrite it. Tag it "
            "(the test stack's StagedTable does), or pass --force-untagged if you really mean it"
        )
    raise NotAStagingTarget(f"{table} is a staging target of {target}, not of {stack}; refusing to stage into it")


def guard_table(ddb: Any, table: str, stack: str, *, force_untagged: bool = False) -> dict[str, Any] | None:
    """Describe the table and apply `check_tags`. Returns the table description, or None when
    the table does not exist (a replace interrupted after the delete: the import recreates it)."""
    try:
        desc: dict[str, Any] = ddb.describe_table(TableName=table)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        return None
    check_tags(table, table_tags(ddb, desc["TableArn"]), stack, force_untagged=force_untagged)
    return desc

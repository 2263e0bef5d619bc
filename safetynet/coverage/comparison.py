"""Whether an adopted table's entry imports it with no difference: what the program declares for
the entry (components.backup.table, the program's own functions) against what the AWS provider
reads from the live table on import, both in the shape the provider compares; and which mandatory
pull-request rules (policy_rules) the entry, as declared, fails.

What the provider compares is its schema (terraform-provider-aws `aws_dynamodb_table`, bridged by
pulumi-aws 7): `attribute` and `global_secondary_index` are sets, a GSI's `non_key_attributes` a
set, an LSI's a list; `server_side_encryption.kms_key_arn` and `point_in_time_recovery.
recovery_period_in_days` are optional and computed, so a declaration without them keeps the live
value; an unset `ttl` or `stream_enabled` reads as off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from safetynet.coverage.inventory import LiveTable

if TYPE_CHECKING:
    from components.config.tables import TableSpec
    from safetynet.coverage.adopt import StackView

# AWS-reserved tag keys: set by AWS services, never by users; the provider ignores them.
AWS_TAG_PREFIX = "aws:"
DEFAULT_PITR_DAYS = 35


class Unrepresentable(Exception):
    """The table cannot be written as an entry that imports it with no difference."""


def policy_findings(spec: TableSpec, view: StackView) -> list[str]:
    """The mandatory resource rules of the pull-request checks (policy_rules.registry) that the
    table, as the entry declares it, fails: with asFound, a prod table lacks PITR, deletion
    protection or the KMS key; without the stack's tags any table counts as prod."""
    from policy_rules.model import TABLE
    from policy_rules.registry import RULES

    inputs = _declared(spec, view)
    props = {
        "pointInTimeRecovery": {"enabled": inputs["point_in_time_recovery"]["enabled"]},
        "deletionProtectionEnabled": inputs["deletion_protection_enabled"],
        "serverSideEncryption": {"enabled": inputs["server_side_encryption"]["enabled"]},
        "tags": inputs["tags"],
    }
    return [r.id for r in RULES if r.kind == "resource" and r.mandatory and r.check(TABLE, props)]


# -- the field-by-field comparison ----------------------------------------------------------------


def declared_inputs(spec: TableSpec, view: StackView) -> dict[str, Any]:
    """What the program declares for the entry's table (components.backup.table), normalized."""
    inputs = _declared(spec, view)
    return _normalized(inputs, inputs["tags"])


def _declared(spec: TableSpec, view: StackView) -> dict[str, Any]:
    """BackedUpTable's table inputs (snake_case) with its tags."""
    from components.backup.table import table_inputs, table_tags

    inputs = table_inputs(spec, view.cfg.physical_name(spec), deletion_protection=view.cfg.is_prod)
    try:
        tags = table_tags(spec, view.stack_tags) if spec.stack_tags else dict(spec.tags)
    except ValueError as exc:
        raise Unrepresentable(str(exc)) from None
    return {**inputs, "tags": tags}


def live_inputs(live: LiveTable) -> dict[str, Any]:
    """The live table as the AWS provider reads it on import, normalized like declared_inputs."""
    provisioned = live.billing_mode == "PROVISIONED"
    inputs: dict[str, Any] = {
        "name": live.name,
        "hash_key": live.hash_key,
        "range_key": live.range_key,
        "attributes": [{"name": n, "type": t} for n, t in live.attribute_types.items()],
        "billing_mode": live.billing_mode,
        "read_capacity": live.read_capacity if provisioned else None,
        "write_capacity": live.write_capacity if provisioned else None,
        "table_class": live.table_class,
        "point_in_time_recovery": (
            {"enabled": True, "recovery_period_in_days": live.pitr_recovery_days or DEFAULT_PITR_DAYS}
            if live.pitr_enabled
            else {"enabled": False}
        ),
        "server_side_encryption": {"enabled": live.sse_type == "KMS"},
        "deletion_protection_enabled": live.deletion_protection,
        "global_secondary_indexes": [_live_gsi(g, provisioned) for g in live.global_secondary_indexes],
        "local_secondary_indexes": [
            {
                "name": i["IndexName"],
                "range_key": _key_of(i, "RANGE"),
                "projection_type": (i.get("Projection") or {}).get("ProjectionType"),
                "non_key_attributes": (i.get("Projection") or {}).get("NonKeyAttributes"),
            }
            for i in live.local_secondary_indexes
        ],
    }
    if live.ttl_attribute:
        inputs["ttl"] = {"enabled": True, "attribute_name": live.ttl_attribute}
    if live.stream_view_type:
        inputs["stream_enabled"] = True
        inputs["stream_view_type"] = live.stream_view_type
    tags = {k: v for k, v in live.tags.items() if not k.startswith(AWS_TAG_PREFIX)}
    return _normalized(inputs, tags)


def _live_gsi(index: Mapping[str, Any], provisioned: bool) -> dict[str, Any]:
    throughput = (index.get("ProvisionedThroughput") or {}) if provisioned else {}
    return {
        "name": index["IndexName"],
        "hash_key": _key_of(index, "HASH"),
        "range_key": _key_of(index, "RANGE"),
        "projection_type": (index.get("Projection") or {}).get("ProjectionType"),
        "non_key_attributes": (index.get("Projection") or {}).get("NonKeyAttributes"),
        "read_capacity": throughput.get("ReadCapacityUnits"),
        "write_capacity": throughput.get("WriteCapacityUnits"),
    }


def _key_of(index: Mapping[str, Any], key_type: str) -> str | None:
    return next((k["AttributeName"] for k in index.get("KeySchema", []) if k["KeyType"] == key_type), None)


def _normalized(inputs: Mapping[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
    """Inputs in the shape the provider compares: sets where its schema has sets (attributes and
    GSIs by name, a GSI's non-key attributes), lists where it has lists (an LSI's non-key
    attributes), absent and empty alike (an unset optional block reads as empty)."""

    def clean(d: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if v not in (None, [], {})}

    out = clean({k: v for k, v in inputs.items() if k not in ("tags", "replicas")})
    out["attributes"] = {a["name"]: a["type"] for a in inputs.get("attributes") or []}
    gsis = [clean(g) for g in inputs.get("global_secondary_indexes") or []]
    for g in gsis:
        if "non_key_attributes" in g:
            g["non_key_attributes"] = sorted(g["non_key_attributes"])
    out["global_secondary_indexes"] = {g["name"]: g for g in gsis}
    out["local_secondary_indexes"] = {i["name"]: clean(i) for i in inputs.get("local_secondary_indexes") or []}
    out.setdefault("stream_enabled", False)
    out["tags"] = dict(tags)
    return out


def compare(declared: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """`field: declared X, live Y` for every field where the two differ."""
    return [
        f"{key}: declared {declared.get(key)!r}, live {live.get(key)!r}"
        for key in sorted(set(declared) | set(live))
        if declared.get(key) != live.get(key)
    ]

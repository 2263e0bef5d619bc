"""BackedUpTable: a DynamoDB table bundled with its nightly native export job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup.exports import NightlyExport, NightlyExportArgs, NightlyExports
from components.backup.global_table import global_table_inputs
from components.config.restore import TableRestore
from components.config.tables import TableSpec
from components.recovery.restore import restore_inputs

# Each table's logical name (`safetynet:tables[i].name`), beside the stack's tags.
TABLE_TAG = "safetynet:table"

# The table inputs that only act when a table is created (restores, imports). They are ignored on
# update so a restore source left in config can never replace a live table.
RESTORE_INPUTS = [
    "importTable",
    "restoreSourceName",
    "restoreSourceTableArn",
    "restoreDateTime",
    "restoreToLatestTime",
    "restoreBackupArn",
]


def table_inputs(spec: TableSpec, physical_name: str, *, deletion_protection: bool) -> dict[str, Any]:
    """The `aws.dynamodb.Table` arguments (snake_case) for a configured table: keys, indexes,
    billing, PITR, TTL, streams, encryption and deletion protection. Pure and reused by staging."""
    args: dict[str, Any] = {
        "name": physical_name,
        "hash_key": spec.hash_key.name,
        "range_key": spec.range_key.name if spec.range_key else None,
        "attributes": [{"name": a["AttributeName"], "type": a["AttributeType"]} for a in spec.attribute_definitions()],
        "billing_mode": spec.billing_mode,
        "read_capacity": spec.read_capacity,
        "write_capacity": spec.write_capacity,
        "table_class": spec.table_class,
        # Off, and the AWS owned key, only while an adopted table keeps them as found (asFound).
        "point_in_time_recovery": (
            {"enabled": True, "recovery_period_in_days": spec.point_in_time_recovery_days}
            if spec.point_in_time_recovery
            else {"enabled": False}
        ),
        # Encryption at rest with the AWS-owned key is always on in DynamoDB; enabling it here
        # makes the table use a KMS key (AWS managed) whose use is logged in CloudTrail.
        "server_side_encryption": {"enabled": spec.server_side_encryption},
        "deletion_protection_enabled": spec.deletion_protection(deletion_protection),
        "global_secondary_indexes": [
            {
                "name": g.name,
                "hash_key": g.hash_key.name,
                "range_key": g.range_key.name if g.range_key else None,
                "projection_type": g.projection,
                "non_key_attributes": g.non_key_attributes or None,
                "read_capacity": g.read_capacity,
                "write_capacity": g.write_capacity,
            }
            for g in spec.global_secondary_indexes
        ]
        or None,
        "local_secondary_indexes": [
            {
                "name": lsi.name,
                "range_key": lsi.range_key.name,
                "projection_type": lsi.projection,
                "non_key_attributes": lsi.non_key_attributes or None,
            }
            for lsi in spec.local_secondary_indexes
        ]
        or None,
    }
    if spec.ttl_attribute:
        args["ttl"] = {"enabled": True, "attribute_name": spec.ttl_attribute}
    if spec.stream_view_type:
        args["stream_enabled"] = True
        args["stream_view_type"] = spec.stream_view_type
    return {k: v for k, v in args.items() if v is not None}


def table_tags(spec: TableSpec, stack_tags: dict[str, str]) -> dict[str, str]:
    """The table's tags: the stack's, the table's own (`safetynet:tables[i].tags`) and
    `safetynet:table`. A table's own tag may not change a stack tag: the nightly export role may
    export only the tables that carry the stack's tag."""
    clashes = sorted(k for k, v in spec.tags.items() if k in stack_tags and v != stack_tags[k])
    if clashes or spec.tags.get(TABLE_TAG, spec.name) != spec.name:
        keys = ", ".join(clashes or [TABLE_TAG])
        raise ValueError(
            f"safetynet:tables '{spec.name}'.tags: {keys} is set by safetynet on every table; "
            "remove it from the table's tags (use a key without the 'safetynet:' prefix)"
        )
    return {**stack_tags, **spec.tags, TABLE_TAG: spec.name}


@dataclass(frozen=True)
class BackedUpTableArgs:
    """Inputs of a BackedUpTable."""

    spec: TableSpec
    """The table's configuration (`safetynet:tables[i]`)."""
    physical_name: str
    """The table's name in AWS."""
    protect: bool
    """Prod: Pulumi protect + retain_on_delete + DynamoDB deletion protection."""
    tags: dict[str, str]
    """Stack-wide tags (environment, stack, managed-by); the table's own tags are added, and may
    not override them (the export role is scoped by the stack tag)."""
    exports: NightlyExports
    """The stack's nightly-export role, dead-letter queue, settings and vault."""
    export_prefix: str
    """`exports/<table>`: the table's prefix in the vault."""
    restore: TableRestore | None = None
    """`safetynet:restore.<table>`: the source the table starts from when it is (re)created; with a
    targetSuffix, the source of an extra table beside the untouched original."""


class BackedUpTable(pulumi.ComponentResource):
    """A DynamoDB table with PITR, encryption, deletion protection (prod) and its NightlyExport."""

    table_name: pulumi.Output[str]
    """Physical table name."""
    table_arn: pulumi.Output[str]
    """Table ARN."""
    stream_arn: pulumi.Output[str]
    """Stream ARN (empty when streams are off)."""
    export: NightlyExport
    """The table's nightly export job."""
    restored_table_name: pulumi.Output[str] | None
    """With a restore targetSuffix: the table restored beside the original; else None."""

    def __init__(self, name: str, args: BackedUpTableArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:dynamodb:BackedUpTable", name, None, opts)
        spec = args.spec
        inputs = table_inputs(spec, args.physical_name, deletion_protection=args.protect)
        inputs.update(global_table_inputs(spec, deletion_protection=args.protect))
        tags = table_tags(spec, args.tags) if spec.stack_tags else dict(spec.tags)
        restore = args.restore
        if restore is not None and restore.target_suffix is None:
            # Acts only if the table is (re)created: RESTORE_INPUTS are in ignore_changes.
            inputs.update(restore_inputs(restore, args.physical_name))
        table = aws.dynamodb.Table(
            f"{name}-table",
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                retain_on_delete=args.protect,
                ignore_changes=RESTORE_INPUTS,
                # Adopting an existing table: Pulumi imports it (the inputs must match it).
                import_=args.physical_name if spec.adopt else None,
            ),
            **inputs,
        )
        self.table_name = table.name
        self.table_arn = table.arn
        self.stream_arn = table.stream_arn
        self.restored_table_name = None
        if restore is not None and restore.target_suffix is not None:
            # Restore beside a corrupted table: a second table, configured and protected like the
            # original, while the original stays exactly as declared above.
            beside = args.physical_name + restore.target_suffix
            restored = aws.dynamodb.Table(
                f"{name}-restored",
                tags={**tags, "safetynet:restored-from": restore.source_kind()},
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=args.protect,
                    retain_on_delete=args.protect,
                    ignore_changes=RESTORE_INPUTS,
                ),
                **{
                    **table_inputs(spec, beside, deletion_protection=args.protect),
                    **restore_inputs(restore, args.physical_name),
                },
            )
            self.restored_table_name = restored.name
            # Backed up like every prod table while it is compared (a switch can take days):
            # its own nightly export under exports/<name><suffix>.
            NightlyExport(
                f"{name}-restored-export",
                NightlyExportArgs(
                    table_arn=restored.arn,
                    physical_name=beside,
                    export_prefix=args.export_prefix + restore.target_suffix,
                    jobs=args.exports,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.export = NightlyExport(
            f"{name}-export",
            NightlyExportArgs(
                table_arn=table.arn,
                physical_name=args.physical_name,
                export_prefix=args.export_prefix,
                jobs=args.exports,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"tableName": table.name, "tableArn": table.arn})

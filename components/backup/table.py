"""BackedUpTable: a DynamoDB table bundled with its nightly native export job."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup.global_table import global_table_inputs
from components.backup.policies import export_job_policy
from components.common.iam import service_role
from components.common.policies import assume_role_policy
from components.config.backup import BackupSpec
from components.config.restore import TableRestore
from components.config.tables import TableSpec
from components.recovery.restore import restore_inputs

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

# EventBridge Scheduler's universal target for DynamoDB's ExportTableToPointInTime: the
# scheduler calls the API itself, so the nightly backup has no code to run or maintain.
EXPORT_TARGET_ARN = "arn:aws:scheduler:::aws-sdk:dynamodb:exportTableToPointInTime"
# Same for every retry of one scheduled invocation, new for the next: DynamoDB's ClientToken
# then makes a retried call return the running export instead of starting a second one.
EXECUTION_ID = "<aws.scheduler.execution-id>"


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
        "point_in_time_recovery": {
            "enabled": True,
            "recovery_period_in_days": spec.point_in_time_recovery_days,
        },
        # Encryption at rest with the AWS-owned key is always on in DynamoDB; enabling it here
        # makes the table use a KMS key (AWS managed) whose use is logged in CloudTrail.
        "server_side_encryption": {"enabled": True},
        "deletion_protection_enabled": deletion_protection,
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


def export_input(*, table_arn: str, bucket: str, prefix: str, kms_key_arn: str, account_id: str) -> dict[str, Any]:
    """The ExportTableToPointInTime request the scheduler sends (validated against botocore's
    service model in the tests)."""
    return {
        "TableArn": table_arn,
        "S3Bucket": bucket,
        "S3BucketOwner": account_id,
        "S3Prefix": prefix,
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "FULL_EXPORT",
        "S3SseAlgorithm": "KMS",
        "S3SseKmsKeyId": kms_key_arn,
        "ClientToken": EXECUTION_ID,
    }


@dataclass(frozen=True)
class VaultRef:
    """Where a table's exports go."""

    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


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
    """Stack-wide tags (environment, stack, managed-by); the table's own tags are added."""
    backup: BackupSpec
    """Schedule and retry settings of the nightly export."""
    vault: VaultRef
    """The vault the nightly export writes to."""
    export_prefix: str
    """`exports/<table>`: the table's prefix in the vault."""
    account_id: pulumi.Input[str]
    """The account that owns the vault (the export's S3BucketOwner)."""
    restore: TableRestore | None = None
    """`safetynet:restore.<table>`: the source the table starts from when it is (re)created; with a
    targetSuffix, the source of an extra table beside the untouched original."""


class NightlyExport(pulumi.ComponentResource):
    """EventBridge Scheduler -> dynamodb:ExportTableToPointInTime for one table, with a retry
    policy, an encrypted dead-letter queue and a role scoped to exactly that export."""

    schedule_arn: pulumi.Output[str]
    """ARN of the schedule."""
    dead_letter_queue_arn: pulumi.Output[str]
    """Invocations that still fail after all retries land here."""

    def __init__(
        self,
        name: str,
        *,
        table_arn: pulumi.Input[str],
        args: BackedUpTableArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("safetynet:backup:NightlyExport", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        b = args.backup
        dlq = aws.sqs.Queue(
            f"{name}-dlq",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=14 * 24 * 3600,
            tags=args.tags,
            opts=child,
        )
        role, policy = service_role(
            name,
            description=f"EventBridge Scheduler: nightly export of {args.physical_name}",
            trust_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda acct: json.dumps(assume_role_policy("scheduler.amazonaws.com", acct))
            ),
            tags=args.tags,
            policy=pulumi.Output.all(
                table_arn=table_arn,
                bucket_arn=args.vault.bucket_arn,
                kms_key_arn=args.vault.kms_key_arn,
                dlq_arn=dlq.arn,
            ).apply(lambda a: json.dumps(export_job_policy(export_prefix=args.export_prefix, **a))),
            opts=child,
        )
        schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            description=f"Nightly native export of {args.physical_name} into the backup vault",
            schedule_expression=b.schedule,
            schedule_expression_timezone=b.timezone,
            flexible_time_window=(
                {"mode": "FLEXIBLE", "maximum_window_in_minutes": b.flexible_window_minutes}
                if b.flexible_window_minutes
                else {"mode": "OFF"}
            ),
            state="ENABLED",
            target={
                "arn": EXPORT_TARGET_ARN,
                "role_arn": role.arn,
                "input": pulumi.Output.all(
                    table_arn=table_arn,
                    bucket=args.vault.bucket_name,
                    kms_key_arn=args.vault.kms_key_arn,
                    account_id=args.account_id,
                ).apply(lambda a: json.dumps(export_input(prefix=args.export_prefix, **a))),
                "retry_policy": {
                    "maximum_retry_attempts": b.max_retry_attempts,
                    "maximum_event_age_in_seconds": b.max_event_age_seconds,
                },
                "dead_letter_config": {"arn": dlq.arn},
            },
            # The role's permissions must exist before the first invocation can use them.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.schedule_arn = schedule.arn
        self.dead_letter_queue_arn = dlq.arn
        self.register_outputs({"scheduleArn": schedule.arn, "deadLetterQueueArn": dlq.arn})


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
        tags = {**args.tags, **spec.tags, "safetynet:table": spec.name}
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
                table_arn=restored.arn,
                args=replace(args, physical_name=beside, export_prefix=args.export_prefix + restore.target_suffix),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.export = NightlyExport(
            f"{name}-export",
            table_arn=table.arn,
            args=args,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"tableName": table.name, "tableArn": table.arn})

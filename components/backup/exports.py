"""Nightly native exports: EventBridge Scheduler -> dynamodb:ExportTableToPointInTime.

NightlyExports is declared once per stack: the scheduler's role (with its inline policy) and the
dead-letter queue every table's schedule shares, scoped by the stack's tag and the vault's
`exports/` prefix so that neither grows with the tables. NightlyExport is a table's own schedule,
a child of its BackedUpTable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup.policies import nightly_exports_policy
from components.common.iam import service_role
from components.common.policies import assume_role_policy
from components.config.backup import BackupSpec

# EventBridge Scheduler's universal target for DynamoDB's ExportTableToPointInTime: the
# scheduler calls the API itself, so the nightly backup has no code to run or maintain.
EXPORT_TARGET_ARN = "arn:aws:scheduler:::aws-sdk:dynamodb:exportTableToPointInTime"
# Same for every retry of one scheduled invocation, new for the next: DynamoDB's ClientToken
# then makes a retried call return the running export instead of starting a second one.
EXECUTION_ID = "<aws.scheduler.execution-id>"
# How long a failed invocation waits in the dead-letter queue (SQS's maximum).
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600


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
    """Where the exports go."""

    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class NightlyExportsArgs:
    """Inputs of a NightlyExports."""

    backup: BackupSpec
    """Schedule and retry settings of every table's nightly export (`safetynet:backup`)."""
    vault: VaultRef
    """The vault every export writes to."""
    stack_tag: str
    """The value of the stack tag (`safetynet:stack`) every table of the stack carries: the role
    may export exactly the tables with it."""
    tags: dict[str, str]
    """Stack-wide tags (environment, stack, managed-by)."""
    account_id: pulumi.Input[str]
    """The stack's account: it owns the vault and the tables, and only its scheduler may assume the role."""
    region: pulumi.Input[str]
    """The stack's region (its tables')."""


class NightlyExports(pulumi.ComponentResource):
    """The stack's share of the nightly exports: one scheduler role (with its inline policy) and
    one encrypted dead-letter queue, used by every table's NightlyExport schedule."""

    backup: BackupSpec
    """Schedule and retry settings of every table's export."""
    vault: VaultRef
    """Where every export goes."""
    account_id: pulumi.Input[str]
    """The account that owns the vault (each export's S3BucketOwner)."""
    role_arn: pulumi.Output[str]
    """The role every schedule invokes ExportTableToPointInTime with."""
    dead_letter_queue_arn: pulumi.Output[str]
    """Invocations that still fail after all retries land here, from every table."""
    role_policy: aws.iam.RolePolicy
    """The role's permissions: a schedule must not run before them."""

    def __init__(self, name: str, args: NightlyExportsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:backup:NightlyExports", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.backup = args.backup
        self.vault = args.vault
        self.account_id = args.account_id
        dlq = aws.sqs.Queue(
            f"{name}-dlq",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            tags=args.tags,
            opts=child,
        )
        role, self.role_policy = service_role(
            name,
            description=f"EventBridge Scheduler: nightly exports of the tables of {args.stack_tag}",
            trust_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda acct: json.dumps(assume_role_policy("scheduler.amazonaws.com", acct))
            ),
            tags=args.tags,
            policy=pulumi.Output.all(
                region=args.region,
                account_id=args.account_id,
                bucket_arn=args.vault.bucket_arn,
                kms_key_arn=args.vault.kms_key_arn,
                dlq_arn=dlq.arn,
            ).apply(lambda a: json.dumps(nightly_exports_policy(stack_tag=args.stack_tag, **a))),
            opts=child,
        )
        self.role_arn = role.arn
        self.dead_letter_queue_arn = dlq.arn
        self.register_outputs({"roleArn": role.arn, "deadLetterQueueArn": dlq.arn})


@dataclass(frozen=True)
class NightlyExportArgs:
    """Inputs of a NightlyExport."""

    table_arn: pulumi.Input[str]
    """The table to export."""
    physical_name: str
    """The table's name in AWS (for the description)."""
    export_prefix: str
    """`exports/<table>`: the table's prefix in the vault."""
    jobs: NightlyExports
    """The stack's role, dead-letter queue, settings and vault."""


class NightlyExport(pulumi.ComponentResource):
    """EventBridge Scheduler -> dynamodb:ExportTableToPointInTime for one table, with a retry
    policy, through the stack's NightlyExports role and dead-letter queue."""

    schedule_arn: pulumi.Output[str]
    """ARN of the schedule."""
    dead_letter_queue_arn: pulumi.Output[str]
    """Invocations that still fail after all retries land here (the stack's queue)."""

    def __init__(self, name: str, args: NightlyExportArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:backup:NightlyExport", name, None, opts)
        jobs, b = args.jobs, args.jobs.backup
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
                "role_arn": jobs.role_arn,
                "input": pulumi.Output.all(
                    table_arn=args.table_arn,
                    bucket=jobs.vault.bucket_name,
                    kms_key_arn=jobs.vault.kms_key_arn,
                    account_id=jobs.account_id,
                ).apply(lambda a: json.dumps(export_input(prefix=args.export_prefix, **a))),
                "retry_policy": {
                    "maximum_retry_attempts": b.max_retry_attempts,
                    "maximum_event_age_in_seconds": b.max_event_age_seconds,
                },
                "dead_letter_config": {"arn": jobs.dead_letter_queue_arn},
            },
            # The role's permissions must exist before the first invocation can use them.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[jobs.role_policy]),
        )
        self.schedule_arn = schedule.arn
        self.dead_letter_queue_arn = jobs.dead_letter_queue_arn
        self.register_outputs({"scheduleArn": schedule.arn})

"""The test stack: StagingPipeline (state machine, task Lambda, masking bucket, ledger, topic,
least-privilege roles) and one StagedTable per table (the test table plus its trigger).

Prod's facts (vault bucket and key, each table's ARN, export prefix and schema) come from prod's
stack outputs through a StackReference and arrive here as Outputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup.table import table_inputs
from components.backup.vault import secure_bucket
from components.common.iam import service_role
from components.common.lambda_package import RUNTIME, handlers_archive, powertools_layer
from components.common.policies import assume_role_policy
from components.config.staging import StagingSpec
from components.config.tables import TableSpec
from components.staging.policies import (
    MASK_PREFIX,
    ExportSource,
    staging_task_policy,
    start_execution_policy,
    state_machine_policy,
)
from components.staging.state_machine import staging_definition
from conventions.tags import STAGING_TARGET_TAG

MASKED_RETENTION_DAYS = 7
LOG_RETENTION_DAYS = 90


def summary_event_pattern(bucket_name: str, *export_prefixes: str) -> dict[str, Any]:
    """S3 "Object Created" (EventBridge notifications) of a manifest-summary.json under a table's
    export prefix (any of several: prod forwards one reader's tables with one rule): written last
    by DynamoDB, so the export is complete when it fires."""
    if not export_prefixes:
        raise ValueError("summary_event_pattern needs at least one export prefix")
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [bucket_name]},
            "object": {"key": [{"wildcard": f"{p}/AWSDynamoDB/*/manifest-summary.json"} for p in export_prefixes]},
        },
    }


def target_document(
    *,
    spec: TableSpec,
    physical_name: str,
    stack: str,
    prod_table: Mapping[str, Any],
    staging: StagingSpec,
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """The TargetTable JSON (handlers.staging.target.TargetTable) for one test table: prod's schema with
    the test table's name, and everything a replace must put back. Raises ValueError when the
    test table's configured schema drifted from prod's."""
    prod_schema = dict(prod_table["schema"])
    own = spec.create_table_request(physical_name)
    if {**prod_schema, "TableName": physical_name} != own:
        raise ValueError(
            f"safetynet:tables '{spec.name}': the test table's schema differs from prod's "
            f"tables.{spec.name}.schema output; copy the table's keys, indexes and billing from prod's config"
        )
    return {
        "name": physical_name,
        "logicalName": spec.name,
        "stack": stack,
        "schema": {**prod_schema, "TableName": physical_name},
        "sourceTableArn": prod_table["arn"],
        "mode": staging.mode_for(spec.name),
        "ttlAttribute": spec.ttl_attribute,
        "pointInTimeRecoveryDays": spec.point_in_time_recovery_days,
        "deletionProtection": False,
        "tags": dict(tags),
        "mask": [
            {"path": r.path, "action": r.action, **({"value": r.value} if r.value is not None else {})}
            for r in staging.rules_for(spec.name)
        ],
    }


def input_template(target: Mapping[str, Any]) -> str:
    """EventBridge input template: the static target plus the event's bucket and key."""
    return '{"target": ' + json.dumps(target, sort_keys=True) + ', "bucket": <bucket>, "key": <key>}'


@dataclass(frozen=True)
class StagingPipelineArgs:
    """Inputs of a StagingPipeline."""

    environment: str
    """`test`: names the state machine, function and ledger."""
    stack: str
    """`project/stack` of this stack: the staging-target tag value."""
    staging: StagingSpec
    """`safetynet:staging`."""
    test_tables: Sequence[str]
    """Physical names of the tables this pipeline may change."""
    sources: pulumi.Input[Sequence[Mapping[str, str]]]
    """Prod's export locations `[{bucketArn, prefix}]` per table, from the StackReference."""
    vault_key_arn: pulumi.Input[str]
    """Prod's vault key (decrypt only)."""
    masking_key: pulumi.Input[str] | None
    """The `safetynet:maskingKey` secret (stored in Secrets Manager for the task)."""
    tags: Mapping[str, str]
    account_id: pulumi.Input[str]
    region: pulumi.Input[str]
    dependency_layer_arn: pulumi.Input[str]
    """The stack's dependency layer (components.common.lambda_package.dependency_layer)."""


class StagingPipeline(pulumi.ComponentResource):
    """Step Functions state machine + task Lambda + masking bucket + ledger + SNS topic."""

    state_machine_arn: pulumi.Output[str]
    """The staging state machine."""
    events_role_arn: pulumi.Output[str]
    """Role EventBridge rules use to start it."""
    mask_bucket_name: pulumi.Output[str]
    """Bucket of masked copies."""
    topic_arn: pulumi.Output[str]
    """Staging results are announced here."""
    task_role_arn: pulumi.Output[str]
    """The task Lambda's role (for cross-account grants in prod)."""
    state_machine_role_arn: pulumi.Output[str]
    """The state machine's role (for cross-account grants in prod)."""

    def __init__(self, name: str, args: StagingPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:staging:StagingPipeline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        env = args.environment

        key = aws.kms.Key(
            f"{name}-key",
            description=f"safetynet staging ({env}): masked copies, masking key secret, notifications",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        # -- the masking bucket: hardened like the vault, but scratch space (masked copies expire)
        bucket = aws.s3.Bucket(f"{name}-masked", bucket_prefix=f"safetynet-masked-{env}-"[:37], tags=tags, opts=child)
        versioning = secure_bucket(f"{name}-masked", bucket=bucket, kms_key_arn=key.arn, opts=child)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-masked-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "masked-copies-expire",
                    "status": "Enabled",
                    "filter": {"prefix": f"{MASK_PREFIX}/"},
                    "expiration": {"days": MASKED_RETENTION_DAYS},
                    "noncurrent_version_expiration": {"noncurrent_days": 1},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

        # -- ledger (idempotency and order), topic, secret
        ledger = aws.dynamodb.Table(
            f"{name}-ledger",
            name=f"safetynet-staging-ledger-{env}",
            hash_key="table",
            attributes=[{"name": "table", "type": "S"}],
            billing_mode="PAY_PER_REQUEST",
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True},
            tags=tags,
            opts=child,
        )
        topic = aws.sns.Topic(
            f"{name}-topic", name=f"safetynet-staging-{env}", kms_master_key_id=key.arn, tags=tags, opts=child
        )
        secret_arn: pulumi.Output[str] | None = None
        secret_name = f"safetynet/{env}/masking-key"
        if args.masking_key is not None:
            secret = aws.secretsmanager.Secret(
                f"{name}-masking-key",
                name=secret_name,
                description="safetynet:maskingKey: HMAC key of hash/fake masking (joins depend on it)",
                kms_key_id=key.arn,
                tags=tags,
                opts=child,
            )
            aws.secretsmanager.SecretVersion(
                f"{name}-masking-key-value",
                secret_id=secret.id,
                secret_string=pulumi.Output.secret(args.masking_key),
                opts=child,
            )
            secret_arn = secret.arn

        # Prod's export locations, as the policies take them (converted once for both roles).
        sources = pulumi.Output.from_input(args.sources).apply(_sources)

        # -- the task Lambda
        function_name = f"safetynet-staging-{env}"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-task-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=tags,
            opts=child,
        )
        task_role, task_policy = service_role(
            f"{name}-task",
            description=f"safetynet staging task ({env})",
            trust_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda acct: json.dumps(assume_role_policy("lambda.amazonaws.com", acct))
            ),
            tags=tags,
            policy=pulumi.Output.all(
                region=args.region,
                account=args.account_id,
                sources=sources,
                vault_key_arn=args.vault_key_arn,
                ledger_arn=ledger.arn,
                mask_bucket_arn=bucket.arn,
                staging_key_arn=key.arn,
            ).apply(
                lambda a: json.dumps(
                    staging_task_policy(
                        **a,
                        stack=args.stack,
                        test_tables=list(args.test_tables),
                        secret_name=secret_name if args.masking_key is not None else None,
                        function_name=function_name,
                    )
                )
            ),
            opts=child,
        )
        environment: dict[str, pulumi.Input[str]] = {
            "STAGING_STACK": args.stack,
            "LEDGER_TABLE": ledger.name,
            "MASK_BUCKET": bucket.bucket,
            "MASK_KMS_KEY_ARN": key.arn,
            "POWERTOOLS_SERVICE_NAME": "safetynet-staging",
        }
        if secret_arn is not None:
            environment["MASKING_KEY_SECRET_ARN"] = secret_arn
        function = aws.lambda_.Function(
            f"{name}-task",
            name=function_name,
            description="safetynet staging: one task per state of the staging state machine",
            runtime=RUNTIME,
            handler="handlers.staging.entrypoints.handler",
            code=handlers_archive(),
            role=task_role.arn,
            layers=[pulumi.Output.from_input(args.region).apply(powertools_layer), args.dependency_layer_arn],
            # Masking or refilling one data file; the long waits are in Step Functions.
            timeout=900,
            memory_size=1769,  # one full vCPU
            environment={"variables": environment},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[task_policy, log_group]),
        )

        # -- the state machine
        machine_name = f"safetynet-staging-{env}"
        sfn_logs = aws.cloudwatch.LogGroup(
            f"{name}-machine-logs",
            name=f"/aws/vendedlogs/states/{machine_name}",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=tags,
            opts=child,
        )
        sfn_role, sfn_policy = service_role(
            f"{name}-machine",
            description=f"safetynet staging state machine ({env})",
            trust_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda acct: json.dumps(assume_role_policy("states.amazonaws.com", acct))
            ),
            tags=tags,
            policy=pulumi.Output.all(
                region=args.region,
                account=args.account_id,
                sources=sources,
                vault_key_arn=args.vault_key_arn,
                mask_bucket_arn=bucket.arn,
                staging_key_arn=key.arn,
                topic_arn=topic.arn,
            ).apply(
                lambda a: json.dumps(
                    state_machine_policy(
                        **a,
                        state_machine_name=machine_name,
                        function_name=function_name,
                        test_tables=list(args.test_tables),
                    )
                )
            ),
            opts=child,
        )
        machine = aws.sfn.StateMachine(
            f"{name}-machine",
            name=machine_name,
            role_arn=sfn_role.arn,
            definition=pulumi.Output.all(function_arn=function.arn, topic_arn=topic.arn).apply(
                lambda a: json.dumps(staging_definition(**a, max_concurrency=args.staging.max_concurrency))
            ),
            logging_configuration={
                "level": "ERROR",
                "include_execution_data": False,
                "log_destination": sfn_logs.arn.apply(lambda a: f"{a}:*"),
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[sfn_policy]),
        )

        # -- EventBridge's role to start it
        events_role, _ = service_role(
            f"{name}-events",
            description=f"EventBridge: start safetynet staging ({env})",
            trust_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda acct: json.dumps(assume_role_policy("events.amazonaws.com", acct))
            ),
            tags=tags,
            policy=pulumi.Output.all(region=args.region, account=args.account_id).apply(
                lambda a: json.dumps(
                    start_execution_policy(f"arn:aws:states:{a['region']}:{a['account']}:stateMachine:{machine_name}")
                )
            ),
            opts=child,
        )

        self.state_machine_arn = machine.arn
        self.events_role_arn = events_role.arn
        self.mask_bucket_name = bucket.bucket
        self.topic_arn = topic.arn
        self.task_role_arn = task_role.arn
        self.state_machine_role_arn = sfn_role.arn
        self.register_outputs(
            {
                "stateMachineArn": machine.arn,
                "eventsRoleArn": events_role.arn,
                "maskBucketName": bucket.bucket,
                "topicArn": topic.arn,
                "taskRoleArn": task_role.arn,
                "stateMachineRoleArn": sfn_role.arn,
            }
        )


def _sources(raw: Sequence[Any]) -> list[ExportSource]:
    # Output.all hands dataclasses through unchanged; dicts come from StackReference outputs.
    return [s if isinstance(s, ExportSource) else ExportSource(s["bucketArn"], s["prefix"]) for s in raw]


@dataclass(frozen=True)
class StagedTableArgs:
    """Inputs of a StagedTable."""

    spec: TableSpec
    """The table's configuration (same schema as prod's)."""
    physical_name: str
    """The test table's name (`<name>-test`)."""
    stack: str
    """`project/stack` of this stack (the staging-target tag value)."""
    staging: StagingSpec
    tags: Mapping[str, str]
    """Stack-wide tags; the table's own and the staging-target tag are added."""
    prod_table: pulumi.Input[Mapping[str, Any]]
    """Prod's `tables.<name>` output: {name, arn, exportPrefix, schema, ...}."""
    vault_bucket_name: pulumi.Input[str]
    """Prod's vault bucket (the trigger's event source)."""
    state_machine_arn: pulumi.Input[str]
    events_role_arn: pulumi.Input[str]


class StagedTable(pulumi.ComponentResource):
    """A test table with prod's schema (environment-named, no deletion protection, no protect,
    tagged as this stack's staging target), bundled with its trigger: an EventBridge rule on the
    prod export's manifest-summary.json that starts the staging state machine for this table."""

    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    rule_arn: pulumi.Output[str]

    def __init__(self, name: str, args: StagedTableArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:staging:StagedTable", name, None, opts)
        spec = args.spec
        tags = {**args.tags, **spec.tags, "safetynet:table": spec.name, STAGING_TARGET_TAG: args.stack}
        table = aws.dynamodb.Table(
            f"{name}-table",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=False, retain_on_delete=False),
            **table_inputs(spec, args.physical_name, deletion_protection=False),
        )
        prod = pulumi.Output.from_input(args.prod_table)
        rule = aws.cloudwatch.EventRule(
            f"{name}-trigger",
            description=f"prod export of {spec.name} complete -> stage it into {args.physical_name}",
            event_pattern=pulumi.Output.all(bucket=args.vault_bucket_name, prod_table=prod).apply(
                lambda a: json.dumps(summary_event_pattern(a["bucket"], a["prod_table"]["exportPrefix"]))
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        target = prod.apply(
            lambda p: target_document(
                spec=spec,
                physical_name=args.physical_name,
                stack=args.stack,
                prod_table=p,
                staging=args.staging,
                tags=tags,
            )
        )
        aws.cloudwatch.EventTarget(
            f"{name}-start",
            rule=rule.name,
            arn=args.state_machine_arn,
            role_arn=args.events_role_arn,
            input_transformer={
                "input_paths": {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
                "input_template": target.apply(input_template),
            },
            retry_policy={"maximum_retry_attempts": 185, "maximum_event_age_in_seconds": 86400},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.table_name = table.name
        self.table_arn = table.arn
        self.rule_arn = rule.arn
        self.register_outputs({"tableName": table.name, "tableArn": table.arn, "ruleArn": rule.arn})

"""The test stack: StagingPipeline (state machine, task Lambda, masking bucket, ledger, topic,
least-privilege roles, and the one EventBridge rule that starts it for every completed prod
export) and one StagedTable per table (the test table plus its staging target, registered in the
pipeline's ledger).

Prod's facts (vault bucket and key, each table's ARN, export prefix and schema) come from prod's
stack outputs through a StackReference and arrive here as Outputs. Nothing here grows with the
number of tables where AWS limits a size or a count: one rule and one pattern for every export,
policies scoped by name pattern, tag and prefix (components/staging/policies.py), and a target per
table as an item of the ledger, where the first task looks the export's table up.
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
from components.staging.policies import staging_task_policy, start_execution_policy, state_machine_policy
from components.staging.state_machine import staging_definition
from components.staging.targets import (
    LEDGER_KEY,
    TRIGGER_INPUT_TEMPLATE,
    ledger_table_name,
    summary_event_pattern,
    target_document,
    target_item,
)
from conventions.tags import STAGING_TARGET_TAG
from conventions.vault import EXPORTS_ROOT, MASK_PREFIX

MASKED_RETENTION_DAYS = 7
LOG_RETENTION_DAYS = 90


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
    """Physical names of the tables this pipeline may change (the policies name them by the scope
    they share, `policies.table_name_scope`, and their staging-target tag)."""
    sources: pulumi.Input[Sequence[Mapping[str, str]]]
    """Prod's export locations `[{bucketArn, prefix}]` per table, from the StackReference: the
    vault bucket the trigger listens to and the roles read (under `exports/`)."""
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
    """Step Functions state machine + task Lambda + masking bucket + ledger + SNS topic, and the
    EventBridge rule that starts the machine for every completed export in prod's vault."""

    state_machine_arn: pulumi.Output[str]
    """The staging state machine."""
    events_role_arn: pulumi.Output[str]
    """Role the trigger uses to start it."""
    rule_arn: pulumi.Output[str]
    """The trigger: every prod export's manifest-summary.json."""
    ledger_table_name: pulumi.Output[str]
    """The ledger: run records, and the targets StagedTables register (`target_item`)."""
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
            name=ledger_table_name(env),
            hash_key=LEDGER_KEY,
            attributes=[{"name": LEDGER_KEY, "type": "S"}],
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

        # Prod's vault, as the trigger and the policies take it (resolved once).
        vault_arn = pulumi.Output.from_input(args.sources).apply(vault_bucket_arn)

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
                vault_bucket_arn=vault_arn,
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
                vault_bucket_arn=vault_arn,
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

        # -- the trigger: one rule for every export (a rule per table would meet EventBridge's 300
        # rules and 30 wildcard rules per bus); the first task finds the export's table
        events_role, events_policy = service_role(
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
        rule = aws.cloudwatch.EventRule(
            f"{name}-trigger",
            description="a prod export is complete (its manifest-summary.json) -> stage it if its table is staged here",
            event_pattern=vault_arn.apply(lambda arn: json.dumps(summary_event_pattern(bucket_name_of(arn)))),
            tags=tags,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-start",
            rule=rule.name,
            arn=machine.arn,
            role_arn=events_role.arn,
            input_transformer={
                "input_paths": {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
                "input_template": TRIGGER_INPUT_TEMPLATE,
            },
            retry_policy={"maximum_retry_attempts": 185, "maximum_event_age_in_seconds": 86400},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[events_policy]),
        )

        self.state_machine_arn = machine.arn
        self.events_role_arn = events_role.arn
        self.rule_arn = rule.arn
        self.ledger_table_name = ledger.name
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
                "ruleArn": rule.arn,
                "ledgerTableName": ledger.name,
            }
        )


def vault_bucket_arn(sources: Sequence[Mapping[str, str]]) -> str:
    """Prod's vault bucket, from the export locations of the staged tables: one bucket, every
    prefix under `exports/` (what the trigger and the roles cover). Raises ValueError otherwise."""
    if not sources:
        raise ValueError(
            "safetynet:tables is empty: a test stack stages prod's tables into its own; list at least one table"
        )
    buckets = sorted({s["bucketArn"] for s in sources})
    outside = sorted(s["prefix"] for s in sources if not s["prefix"].startswith(f"{EXPORTS_ROOT}/"))
    if len(buckets) > 1 or outside:
        raise ValueError(
            f"prod's tables.<name>.exportPrefix outputs must all lie under {EXPORTS_ROOT}/ in one vault bucket "
            f"(buckets: {', '.join(buckets)}; prefixes outside: {', '.join(outside) or 'none'}); "
            "update the prod stack first"
        )
    return buckets[0]


def bucket_name_of(bucket_arn: str) -> str:
    """`arn:<partition>:s3:::<name>` -> `<name>`."""
    return bucket_arn.split(":::", 1)[1]


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
    ledger_table_name: pulumi.Input[str]
    """The pipeline's ledger, where the table registers as the target of its prod table's exports."""


class StagedTable(pulumi.ComponentResource):
    """A test table with prod's schema (environment-named, no deletion protection, no protect,
    tagged as this stack's staging target), bundled with its staging target: an item of the
    pipeline's ledger, keyed by the prod table's export prefix, that tells the state machine which
    test table an export of that prefix goes to and how (schema, mode, masking, what to restore)."""

    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    export_prefix: pulumi.Output[str]
    """The prod export prefix this table stages (its target item's key)."""

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
        export_prefix = prod.apply(lambda p: str(p["exportPrefix"]))
        item = prod.apply(
            lambda p: json.dumps(
                target_item(
                    str(p["exportPrefix"]),
                    target_document(
                        spec=spec,
                        physical_name=args.physical_name,
                        stack=args.stack,
                        prod_table=p,
                        staging=args.staging,
                        tags=tags,
                    ),
                )
            )
        )
        aws.dynamodb.TableItem(
            f"{name}-target",
            table_name=args.ledger_table_name,
            hash_key=LEDGER_KEY,
            item=item,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.table_name = table.name
        self.table_arn = table.arn
        self.export_prefix = export_prefix
        self.register_outputs({"tableName": table.name, "tableArn": table.arn, "exportPrefix": export_prefix})

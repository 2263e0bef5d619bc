"""Builds a whole stack from its typed config: what `__main__.py` runs, and what tests and
`safetynet synth` run under Pulumi's mocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup.exports import NightlyExports, NightlyExportsArgs, VaultRef
from components.backup.incremental import build_incremental_exports
from components.backup.replica import build_vault_replica
from components.backup.table import BackedUpTable, BackedUpTableArgs
from components.backup.vault import BackupVault, BackupVaultArgs
from components.common.lambda_package import dependency_layer
from components.config.incremental import chain_enabled
from components.config.stack import StackConfig
from components.recovery.rewind import build_rewind_machine
from components.staging.readers import (
    ProdExportEvents,
    ProdExportEventsArgs,
    build_export_forwarding,
    staging_readers,
)
from components.watch.component import build_disaster_watch, watch_enabled
from conventions.tags import ENVIRONMENT_TAG, MANAGED_BY, MANAGED_BY_TAG, STACK_TAG, stack_tag_value
from conventions.vault import export_prefix


@dataclass(frozen=True)
class StackContext:
    """Facts about where the stack runs, resolved once."""

    stack: str
    project: str
    account_id: pulumi.Output[str]
    region: pulumi.Output[str]

    @classmethod
    def current(cls) -> StackContext:
        """The running stack's context (the AWS account and region come from the provider)."""
        identity = aws.get_caller_identity_output()
        region = aws.get_region_output()
        return cls(
            stack=pulumi.get_stack(),
            project=pulumi.get_project(),
            account_id=identity.account_id,
            region=region.region,
        )


def stack_tags(cfg: StackConfig, ctx: StackContext) -> dict[str, str]:
    """Tags on every taggable resource: who manages it and for which stack."""
    return {
        ENVIRONMENT_TAG: cfg.environment,
        STACK_TAG: stack_tag_value(ctx.project, ctx.stack),
        MANAGED_BY_TAG: MANAGED_BY,
    }


def build_protected_stack(cfg: StackConfig, ctx: StackContext) -> dict[str, Any]:
    """Vault + one BackedUpTable per configured table. Returns the stack outputs."""
    # First, and only where functions are declared: without a built layer nothing gets declared.
    layer = dependency_layer(cfg.environment) if watch_enabled(cfg) or chain_enabled(cfg) else None
    tags = stack_tags(cfg, ctx)
    # Test stacks in other accounts (safetynet:stagingReaders): vault grants and event forwarding.
    readers = staging_readers(cfg)
    vault = BackupVault(
        "vault",
        BackupVaultArgs(
            backup=cfg.backup, tags=tags, protect=cfg.is_prod, staging_readers=readers, account_id=ctx.account_id
        ),
    )
    # One scheduler role and dead-letter queue for every table's nightly export, declared before
    # the tables: scoped by the stack tag and the exports prefix, it does not grow with them.
    exports = NightlyExports(
        "nightly-exports",
        NightlyExportsArgs(
            backup=cfg.backup,
            vault=VaultRef(vault.bucket_name, vault.bucket_arn, vault.kms_key_arn),
            stack_tag=tags[STACK_TAG],
            tags=tags,
            account_id=ctx.account_id,
            region=ctx.region,
        ),
    )
    tables: dict[str, Any] = {}
    # Tables restored beside their original (restore targetSuffix); `tables` keeps its shape.
    restored: dict[str, Any] = {}
    for spec in cfg.tables:
        physical = cfg.physical_name(spec)
        prefix = export_prefix(physical)
        t = BackedUpTable(
            spec.name,
            BackedUpTableArgs(
                spec=spec,
                physical_name=physical,
                protect=cfg.is_prod,
                tags=tags,
                exports=exports,
                export_prefix=prefix,
                restore=cfg.restore.get(spec.name),
            ),
        )
        if t.restored_table_name is not None:
            restored[spec.name] = t.restored_table_name
        tables[spec.name] = {
            "name": t.table_name,
            "arn": t.table_arn,
            "exportPrefix": prefix,
            "schema": spec.create_table_request(physical),
            "ttlAttribute": spec.ttl_attribute,
            "pointInTimeRecoveryDays": spec.point_in_time_recovery_days,
            "exportScheduleArn": t.export.schedule_arn,
        }
    # Prod only: destructive-event alerts, freshness alarms, restore drills, dashboard.
    watch = build_disaster_watch(
        cfg,
        stack=ctx.stack,
        tables=tables,
        vault=vault,
        tags=tags,
        account_id=ctx.account_id,
        region=ctx.region,
        dependency_layer_arn=layer.arn if layer else None,
    )
    # Large rewinds run on the stack's Step Functions: one machine for every table, announcing each
    # run on the watch's topic (prod and dr, the stacks with DisasterWatch).
    rewind = build_rewind_machine(
        stack=ctx.stack,
        stack_tag=tags[STACK_TAG],
        vault=VaultRef(vault.bucket_name, vault.bucket_arn, vault.kms_key_arn),
        topic_arn=watch["topicArn"] if watch else None,
        tags=tags,
        account_id=ctx.account_id,
        region=ctx.region,
        dependency_layer_arn=layer.arn if layer else None,
    )
    # The out-of-region copy of the vault; its failed-replication alarm notifies the watch's topic.
    vault_replica = build_vault_replica(
        backup=cfg.backup,
        vault=vault,
        tags=tags,
        protect=cfg.is_prod,
        region=ctx.region,
        account_id=ctx.account_id,
        alarm_actions=[watch["topicArn"]] if watch else None,
    )
    # The chain of incremental exports after each nightly export: one schedule and one task for
    # every table; its alarms notify the watch's topic.
    chain = build_incremental_exports(
        cfg,
        stack=ctx.stack,
        stack_tag=tags[STACK_TAG],
        tables=tables,
        vault=VaultRef(vault.bucket_name, vault.bucket_arn, vault.kms_key_arn),
        tags=tags,
        account_id=ctx.account_id,
        region=ctx.region,
        dependency_layer_arn=layer.arn if layer else None,
        jobs=exports,
        alarm_actions=[watch["topicArn"]] if watch else (),
    )
    forwarding = build_export_forwarding(readers, vault=vault, tags=tags, account_id=ctx.account_id, region=ctx.region)
    return {
        "environment": cfg.environment,
        "region": ctx.region,
        "accountId": ctx.account_id,
        "vaultBucketName": vault.bucket_name,
        "vaultBucketArn": vault.bucket_arn,
        "kmsKeyArn": vault.kms_key_arn,
        "tables": tables,
        "nightlyExports": {"roleArn": exports.role_arn, "deadLetterQueueArn": exports.dead_letter_queue_arn},
        **({"vaultReplica": vault_replica} if vault_replica else {}),
        **({"incrementalExports": chain} if chain else {}),
        **({"restoredTables": restored} if restored else {}),
        **({"watch": watch} if watch else {}),
        **({"rewindStateMachineArn": rewind.state_machine_arn} if rewind else {}),
        **({"stagingReaders": forwarding} if forwarding else {}),
    }


def build_staging_stack(cfg: StackConfig, ctx: StackContext) -> dict[str, Any]:
    """Test stack (`safetynet:staging` set): prod's outputs through a StackReference, the
    StagingPipeline, and one StagedTable per configured table. Returns the stack outputs."""
    from components.staging.component import StagedTable, StagedTableArgs, StagingPipeline, StagingPipelineArgs

    staging = cfg.staging
    assert staging is not None, "build_staging_stack needs safetynet:staging"
    # First: without a built layer nothing gets declared.
    layer = dependency_layer(cfg.environment)
    tags = stack_tags(cfg, ctx)
    stack_id = f"{ctx.project}/{ctx.stack}"
    prod = pulumi.StackReference(staging.from_)
    prod_tables = prod.require_output("tables")
    names = [t.name for t in cfg.tables]

    def prod_table(all_tables: dict[str, Any], name: str) -> dict[str, Any]:
        if name not in (all_tables or {}):
            raise ValueError(
                f"safetynet:tables '{name}': the prod stack {staging.from_} has no table '{name}' "
                f"(its tables: {', '.join(sorted(all_tables or {})) or 'none'}); stage only prod's tables"
            )
        return dict(all_tables[name])

    sources = pulumi.Output.all(bucket_arn=prod.require_output("vaultBucketArn"), tables=prod_tables).apply(
        lambda a: [{"bucketArn": a["bucket_arn"], "prefix": prod_table(a["tables"], n)["exportPrefix"]} for n in names]
    )
    pipeline = StagingPipeline(
        "staging",
        StagingPipelineArgs(
            environment=cfg.environment,
            stack=stack_id,
            staging=staging,
            test_tables=[cfg.physical_name(t) for t in cfg.tables],
            sources=sources,
            vault_key_arn=prod.require_output("kmsKeyArn"),
            masking_key=cfg.masking_key.get_secret_value() if cfg.masking_key else None,
            tags=tags,
            account_id=ctx.account_id,
            region=ctx.region,
            dependency_layer_arn=layer.arn,
        ),
    )
    if staging.cross_account:
        # Prod forwards its export events to this account's default bus (prod's stagingReaders).
        ProdExportEvents(
            "staging-prod-events",
            ProdExportEventsArgs(
                spec=staging.cross_account,
                environment=cfg.environment,
                account_id=ctx.account_id,
                prod_account_id=prod.get_output("accountId"),
            ),
        )
    tables: dict[str, Any] = {}

    def prod_output(name: str) -> pulumi.Output[dict[str, Any]]:
        return prod_tables.apply(lambda t: prod_table(t, name))

    for spec in cfg.tables:
        physical = cfg.physical_name(spec)
        prod_out = prod_output(spec.name)
        staged = StagedTable(
            spec.name,
            StagedTableArgs(
                spec=spec,
                physical_name=physical,
                stack=stack_id,
                staging=staging,
                tags=tags,
                prod_table=prod_out,
                ledger_table_name=pipeline.ledger_table_name,
            ),
        )
        tables[spec.name] = {
            "name": staged.table_name,
            "arn": staged.table_arn,
            "mode": staging.mode_for(spec.name),
            "masked": bool(staging.rules_for(spec.name)),
            "sourceTableArn": prod_out.apply(lambda t: t["arn"]),
        }
    return {
        "environment": cfg.environment,
        "region": ctx.region,
        "accountId": ctx.account_id,
        "stagingFrom": staging.from_,
        "stateMachineArn": pipeline.state_machine_arn,
        "maskBucketName": pipeline.mask_bucket_name,
        "topicArn": pipeline.topic_arn,
        "taskRoleArn": pipeline.task_role_arn,
        "stateMachineRoleArn": pipeline.state_machine_role_arn,
        "tables": tables,
    }

"""Builds a whole stack from its typed config: what `__main__.py` runs, and what tests and
`safetynet synth` run under Pulumi's mocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import StackConfig
from components.replica import build_vault_replica
from components.table import BackedUpTable, BackedUpTableArgs, VaultRef
from components.vault import BackupVault, BackupVaultArgs, export_prefix


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
        "safetynet:environment": cfg.environment,
        "safetynet:stack": f"{ctx.project}/{ctx.stack}",
        "managed-by": "pulumi/safetynet",
    }


def build_protected_stack(cfg: StackConfig, ctx: StackContext) -> dict[str, Any]:
    """Vault + one BackedUpTable per configured table. Returns the stack outputs."""
    tags = stack_tags(cfg, ctx)
    vault = BackupVault("vault", BackupVaultArgs(backup=cfg.backup, tags=tags, protect=cfg.is_prod))
    vault_ref = VaultRef(vault.bucket_name, vault.bucket_arn, vault.kms_key_arn)
    vault_replica = build_vault_replica(
        backup=cfg.backup,
        vault=vault,
        tags=tags,
        protect=cfg.is_prod,
        region=ctx.region,
        account_id=ctx.account_id,
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
                backup=cfg.backup,
                vault=vault_ref,
                export_prefix=prefix,
                account_id=ctx.account_id,
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
    return {
        "environment": cfg.environment,
        "region": ctx.region,
        "accountId": ctx.account_id,
        "vaultBucketName": vault.bucket_name,
        "vaultBucketArn": vault.bucket_arn,
        "kmsKeyArn": vault.kms_key_arn,
        "tables": tables,
        **({"vaultReplica": vault_replica} if vault_replica else {}),
        **({"restoredTables": restored} if restored else {}),
    }

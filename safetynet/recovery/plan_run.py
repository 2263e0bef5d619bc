"""Driving a restore plan against AWS: inspect each table, plan it (validating through S3), and on
a DR stack measure the region-down data at risk. The command (`safetynet restore-plan`) checks the
options first and prints the result; this module is what reads AWS, in between."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from conventions import vault
from handlers.exports import ExportRef, validate_export
from handlers.exports.validation import ValidationReport
from safetynet.recovery.dr_risk import RegionDownRisk, assess, source_recovery_point, source_s3_client
from safetynet.recovery.inspection import inspect_table, unavailable_text
from safetynet.recovery.planner import TablePlan, plan_table


def plan_all(opts: Any) -> list[TablePlan]:
    """Inspect and plan every wanted table (`opts`: the command's checked Options)."""
    from handlers.clients import client

    ddb, s3_client = client("dynamodb", opts.region), client("s3", opts.region)
    s3 = s3_client if opts.vault_bucket else None

    def validate(ref: ExportRef, table_arn: str, export_type: str) -> ValidationReport:
        return validate_export(s3_client, ref, expected_table_arn=table_arn, expected_type=export_type)

    cfg = opts.cfg
    specs = {t.name: t for t in cfg.tables}
    account = client("sts", opts.region).get_caller_identity()["Account"]
    region = ddb.meta.region_name
    backup = client("backup", opts.region)
    dr = cfg.disaster_recovery
    plans = []
    for name in opts.wanted:
        spec = specs[name]
        physical = cfg.physical_name(spec)
        facts = inspect_table(
            logical=name,
            physical=physical,
            table_arn=f"arn:aws:dynamodb:{region}:{account}:table/{physical}",
            has_lsis=bool(spec.local_secondary_indexes),
            dynamodb=ddb,
            s3=s3,
            backup=backup,
            vault_bucket=opts.vault_bucket,
            export_prefix=vault.export_prefix(physical),
            export_table_arn=dr.source_table_arn(physical, account) if dr is not None else None,
            key_schema=spec.key_schema(),
            backup_arn=opts.request.backup_arn,
        )
        plans.append(plan_table(facts, opts.request, validate))
    return plans


def _replica_point(plan: TablePlan) -> tuple[datetime | None, float | None]:
    """What the replica reaches for one table: the vault candidate's chain (validated when it was
    chosen), else the newest full export; and the chain's window length."""
    for c in plan.candidates:
        if c.kind == "vault" and c.chain is not None and c.usable:
            return c.chain.recovery_point, c.chain.interval_seconds
    exports = [c.time for c in plan.candidates if c.kind == "export" and c.usable and c.time is not None]
    return (max(exports) if exports else None), None


def region_down_risks(opts: Any, plans: list[TablePlan], now: datetime) -> dict[str, RegionDownRisk]:
    """Per table of a DR stack: chain interval + replication lag (the source vault's recovery
    point minus the replica's, when the source vault can be read)."""
    dr = opts.cfg.disaster_recovery
    source_s3 = source_s3_client(dr.source_region) if opts.source_vault_bucket else None
    risks = {}
    for plan in plans:
        point, interval = _replica_point(plan)
        source_point: datetime | None = None
        note: str | None = None
        if source_s3 is None:
            note = "pass --source-vault-bucket (the source stack's vaultBucketName) to measure it"
        else:
            prefix = vault.export_prefix(plan.facts.physical)
            try:
                source_point = source_recovery_point(source_s3, opts.source_vault_bucket, prefix)
            except (ClientError, BotoCoreError) as exc:
                note = f"source vault s3://{opts.source_vault_bucket} in {dr.source_region} {unavailable_text(exc)}"
        risks[plan.facts.logical] = assess(
            plan.facts.logical,
            replica_point=point,
            interval_seconds=interval,
            source_point=source_point,
            source_note=note,
            now=now,
        )
    return risks

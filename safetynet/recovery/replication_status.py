"""The "vault replica" section of `safetynet status`: replication lag and health of the vault's
exports (see safetynet/recovery/replication_health.py), for stacks with `safetynet:backup.replica`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from safetynet.recovery.replication_health import DEFAULT_GRACE, RTC_GRACE, ReplicationHealth, human


def vault_replication(
    cfg: Any, *, vault_bucket: str, source_s3: Any, replica_s3_factory: Any, now: datetime
) -> ReplicationHealth | None:
    """The vault's replication health, or None when the stack configures no replica.

    `replica_s3_factory(region)` returns an S3 client for the replica region.
    """
    from conventions.vault import export_prefix
    from safetynet.recovery.replication_health import check_vault_replication

    replica = cfg.backup.replica
    if replica is None:
        return None
    return check_vault_replication(
        source_s3=source_s3,
        replica_s3=replica_s3_factory(replica.region),
        vault_bucket=vault_bucket,
        table_prefixes={t.name: export_prefix(cfg.physical_name(t)) for t in cfg.tables},
        now=now,
        grace=RTC_GRACE if replica.replication_time_control else DEFAULT_GRACE,
        replica_bucket=replica.bucket_name,
    )


def render(health: ReplicationHealth) -> Group:
    """One row per table (the newest export in the vault and in the replica, lag, data at risk),
    then the problems and notes."""
    verdict = "[green]OK[/]" if health.ok else "[red]NEEDS ATTENTION[/]"
    title = f"vault replica s3://{escape(health.replica_bucket or '?')}  {verdict}"
    t = Table(title=title, title_justify="left")
    for col in (
        "table",
        "newest in vault",
        "newest in replica",
        "lag",
        "at risk if the region is lost",
        "status",
    ):
        t.add_column(col, overflow="fold")
    for tr in health.tables:
        status = ", ".join(f"{k.split('.')[0]}={v or '-'}" for k, v in sorted(tr.object_status.items()))
        t.add_row(
            escape(tr.table),
            escape(tr.source.export_id if tr.source else "none"),
            escape(tr.replica.export_id if tr.replica else "none"),
            "[green]in sync[/]" if tr.lag_seconds == 0 else human(tr.lag_seconds),
            human(tr.at_risk_seconds),
            escape(status) or "-",
        )
    lines: list[Table | Text] = [t]
    lines += [Text.from_markup(f"  [red]problem:[/] {escape(p)}") for p in health.problems]
    for tr in health.tables:
        lines += [Text.from_markup(f"  [red]{escape(tr.table)}:[/] {escape(p)}") for p in tr.problems]
        lines += [Text.from_markup(f"  [yellow]{escape(tr.table)}:[/] {escape(n)}") for n in tr.notes]
    return Group(*lines)

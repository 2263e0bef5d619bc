"""The estimate of a stack: one row per table, the totals, the assumptions behind them, and their
two forms (rich tables that fit 80 columns, and a JSON document)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safetynet.cost.model import MONTH_DAYS, PARTS, Chain, TableCost, TableLoad, Vault, lifetime, totals
from safetynet.cost.prices import DEFAULT_PRICES, PriceBook

OPTION = "option"
DESCRIBE_TABLE = "DescribeTable"
CLOUDWATCH = "CloudWatch"
NOT_NEEDED = "not needed"
"""The write rate of a table without a chain: no figure depends on it, so it is not read."""
PART_HEADERS = {
    "pitr": "PITR",
    "full_exports": "exports",
    "incremental_exports": "chain",
    "vault_storage": "vault",
    "replication": "replica",
}


@dataclass(frozen=True)
class TableRow:
    """One table's inputs, where they came from, and its cost."""

    name: str
    physical_name: str
    load: TableLoad
    size_source: str
    writes_source: str
    item_count: int | None
    chain: Chain | None
    protected: bool
    cost: TableCost


@dataclass(frozen=True)
class Estimate:
    """A stack's monthly cost."""

    stack: str
    region: str | None
    vault: Vault
    prices: PriceBook
    rows: list[TableRow]
    chain_configured: bool
    """The stack's config gives some table a chain (else only --every makes one)."""

    @property
    def totals(self) -> dict[str, float]:
        return totals([r.cost for r in self.rows])

    def assumptions(self) -> list[str]:
        """What the figures assume, with the values this estimate used."""
        p, v = self.prices, self.vault
        a = p.assumptions
        life = lifetime(v, p)
        kept = f"kept {v.retention_days} days, then {v.noncurrent_days} days as noncurrent versions (versioned vault)"
        if life.cold_class:
            cold_min = p.minimum_days(life.cold_class)
            where = (
                f"in S3 Standard for {life.standard_days:g} days, then {life.cold_class} "
                f"(billed {life.cold_days:g} days: {life.cold_class}'s minimum is {cold_min})"
            )
        else:
            where = "in S3 Standard throughout (no coldStorageAfterDays)"
        source = "defaults (AWS-FACTS.md)" if p == DEFAULT_PRICES else "--prices"
        lines = [
            f"Prices: us-east-1 list prices as of {p.as_of.isoformat()}, {source}; a month is {MONTH_DAYS} days, "
            "GB is 2^30 bytes; the vault at its steady state (a full retention period of exports).",
            f"Writes: one write unit = {a.bytes_per_write:,.0f} bytes changed (an upper bound: smaller items still "
            "take a unit); measured rates are the 7-day average of CloudWatch ConsumedWriteCapacityUnits.",
            f"Full exports: {v.exports_per_month:g} a month (the backup schedule), each billed at the table's size; "
            f"an export stores {a.export_size_ratio:g} byte in S3 per byte of table.",
            f"Chain: each window bills max({p.incremental_export_minimum_mb:g} MB, GB changed in it); every change "
            "is stored once per image (NEW_AND_OLD_IMAGES: 2, an upper bound; repeated writes to an item in "
            "one window are stored once).",
            f"Vault: every export {kept}, {where}.",
        ]
        if v.replica:
            rtc = ""
            if v.replication_time_control:
                rtc = (
                    " plus the S3 RTC fee"
                    if p.replication_time_control_gb is not None
                    else "; the S3 RTC fee is NOT included (no price: set replicationTimeControlGb in --prices)"
                )
            lines.append(
                f"Replica: every GB the vault receives is transferred once (${usd(p.replication_transfer_gb)}/GB{rtc}) "
                "and stored in the replica region under the same lifecycle, at the same prices."
            )
        else:
            lines.append("Replica: none (safetynet:backup.replica is not set).")
        if not self.chain_configured and not any(r.chain for r in self.rows):
            lines.append("No incremental chain (safetynet:backup.incremental); --every 15m estimates one.")
        lines += [
            f"AWS Backup: every DynamoDB backup is a full copy of the table (DynamoDB Developer Guide, AWS Backup "
            f"'How it works'), in warm storage at the DynamoDB backup price (${usd(p.backup_gb_month)}/GB-month, "
            f"unchanged by advanced DynamoDB backup), kept {v.retention_days} days: hourly holds "
            f"24 x {v.retention_days} backups, daily {v.retention_days}"
            + (", each also copied to the replica region" if v.replica else "")
            + ". No cold tier (90 days minimum in it). PITR is not in these figures.",
            "Not included: S3 requests and KMS calls, the chain's schedule and state machine runs, restores, "
            "global table replicas.",
        ]
        return lines

    def to_json(self) -> dict[str, Any]:
        """The estimate as a JSON-ready dict (snake_case keys: emit_json camelCases them)."""
        v = self.vault
        return {
            "stack": self.stack,
            "region": self.region,
            "currency": "USD",
            "prices_as_of": self.prices.as_of.isoformat(),
            "month_days": MONTH_DAYS,
            "vault": {
                "exports_per_month": v.exports_per_month,
                "retention_days": v.retention_days,
                "noncurrent_days": v.noncurrent_days,
                "cold_after_days": v.cold_after_days,
                "cold_class": v.cold_class if v.cold_after_days is not None else None,
                "replica": v.replica,
                "replication_time_control": v.replication_time_control,
            },
            "tables": [_row_json(r) for r in self.rows],
            "total": {k: _round(x) for k, x in self.totals.items()},
            "assumptions": self.assumptions(),
        }


def _row_json(r: TableRow) -> dict[str, Any]:
    c = r.cost
    return {
        "table": r.name,
        "physical_name": r.physical_name,
        "size_gb": r.load.size_gb,
        "size_source": r.size_source,
        "item_count": r.item_count,
        "writes_per_second": r.load.writes_per_second,
        "writes_source": r.writes_source,
        "protected": r.protected,
        "chain": None
        if r.chain is None
        else {
            "every_minutes": r.chain.every_minutes,
            "view": r.chain.view,
            "windows_per_month": c.windows_per_month,
            "changed_gb_per_window": c.changed_gb_per_window,
        },
        "vault_gb_added_per_month": _round(c.vault_gb_added_per_month),
        "costs": {**{k: _round(getattr(c, k)) for k in PARTS}, "total": _round(c.total)},
        "aws_backup": {"hourly": _round(c.aws_backup_hourly), "daily": _round(c.aws_backup_daily)},
    }


def _round(x: float) -> float:
    return round(x, 4)


def money(x: float) -> str:
    """Cents below 1,000 USD, whole dollars above (the columns stay narrow)."""
    return f"{x:,.2f}" if abs(x) < 1000 else f"{x:,.0f}"


def usd(price: float) -> str:
    """A unit price: cents, or every digit below a cent."""
    return f"{price:.2f}" if price >= 0.01 else f"{price:g}"


def size_text(gb: float) -> str:
    """GB with two decimals below 10 GB (a 500 MB table is 0.49), one above."""
    return f"{gb:,.2f}" if gb < 10 else f"{gb:,.1f}"


def render(estimate: Estimate, console: Any) -> None:
    """Three tables (inputs, monthly cost by part, beside AWS Backup) and the assumptions."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    def table(title: str, *, footer: bool = True) -> Table:
        t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_footer=footer)
        t.add_column("table", overflow="fold", footer="total", max_width=24)
        return t

    where = f" in {escape(estimate.region)}" if estimate.region else ""
    inputs = table(f"stack {escape(estimate.stack)}{where}: inputs", footer=False)
    for header in ("size GB", "from", "writes/s", "from", "chain"):
        inputs.add_column(header, justify="right" if header in ("size GB", "writes/s") else "left", no_wrap=True)
    for r in estimate.rows:
        chain = f"{r.chain.every_minutes}m" if r.chain else "-"
        if not r.protected:
            chain = "no PITR"
        needed = r.writes_source != NOT_NEEDED
        inputs.add_row(
            escape(r.name),
            size_text(r.load.size_gb),
            r.size_source,
            f"{r.load.writes_per_second:,.2f}" if needed else "-",
            r.writes_source if needed else "(no chain)",
            chain,
        )
    console.print(inputs)

    t = estimate.totals
    costs = table(f"monthly cost, USD (prices as of {estimate.prices.as_of.isoformat()})")
    for key in (*PARTS, "total"):
        costs.add_column(PART_HEADERS.get(key, key), justify="right", no_wrap=True, footer=money(t[key]))
    for r in estimate.rows:
        costs.add_row(escape(r.name), *(money(getattr(r.cost, k)) for k in (*PARTS, "total")))
    console.print(costs)

    beside = table(f"vs AWS Backup, {estimate.vault.retention_days}-day retention (USD/month)")
    beside.add_column("safetynet", justify="right", no_wrap=True, footer=money(t["total"]))
    beside.add_column("AWS Backup hourly", justify="right", no_wrap=True, footer=money(t["aws_backup_hourly"]))
    beside.add_column("daily", justify="right", no_wrap=True, footer=money(t["aws_backup_daily"]))
    for r in estimate.rows:
        beside.add_row(
            escape(r.name), money(r.cost.total), money(r.cost.aws_backup_hourly), money(r.cost.aws_backup_daily)
        )
    console.print(beside)

    for line in estimate.assumptions():
        console.print(f"- {escape(line)}", highlight=False)

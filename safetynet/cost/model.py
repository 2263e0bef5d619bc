"""The monthly cost of a table's safety net, as pure functions over sizes, settings and prices.

A month is 30 days; GB is 2^30 bytes. Every figure is the steady state: the vault already holds
a full retention period of exports (the first months cost less while it fills up).

- PITR: table size x the PITR price.
- Nightly full exports: exports per month x table size x the export price (billed by table size).
- The incremental chain: windows per month x max(10 MB, GB changed per window) x the incremental
  export price (billed per GB processed, 10 MB minimum per export).
- Vault storage: each export (full or incremental) stays in S3 Standard until the lifecycle moves
  it to the cold class after `coldStorageAfterDays`; it expires after `retentionDays`, and the
  versioned vault keeps the expired version `noncurrentVersionDays` longer in the class it is in.
  A class with a minimum storage duration bills at least that long.
- Replication: every GB stored in the vault crosses to the replica region once (transfer price),
  and the replica keeps it under the same lifecycle (storage at the same prices).
- AWS Backup for comparison: every DynamoDB backup AWS Backup takes is a full backup of the table
  billed at the DynamoDB backup price (warm storage), kept for the same retention; at its best
  schedule (hourly) that is 24 backups a day, each the size of the table. Copies to another
  region (when the stack has a replica) transfer and store each backup once more.
"""

from __future__ import annotations

from dataclasses import dataclass

from safetynet.cost.prices import PriceBook

MONTH_DAYS = 30
MINUTES_PER_MONTH = MONTH_DAYS * 24 * 60
SECONDS_PER_MONTH = MINUTES_PER_MONTH * 60
GB = 1024**3
"""Bytes per GB, as AWS bills storage and data processed."""
MB_PER_GB = 1024
VIEW_IMAGES = {"NEW_IMAGE": 1, "NEW_AND_OLD_IMAGES": 2}
"""Item images an incremental export line carries per change, at most (an update with
NEW_AND_OLD_IMAGES has both; a new item or a delete has one)."""


class MissingPrice(ValueError):
    """A price the stack's settings need has no value: the message names the prices-file key."""


@dataclass(frozen=True)
class TableLoad:
    """What a table holds and how fast it changes."""

    size_gb: float
    """Table size (DescribeTable TableSizeBytes / 2^30, or --table-size)."""
    writes_per_second: float
    """Average write capacity units per second (CloudWatch, or --writes-per-second)."""


@dataclass(frozen=True)
class Chain:
    """A table's chain of incremental exports."""

    every_minutes: int
    """Window length (15 .. 1440)."""
    view: str = "NEW_AND_OLD_IMAGES"
    """IncrementalExportSpecification view type."""


@dataclass(frozen=True)
class Vault:
    """The stack's backup settings the cost depends on (`safetynet:backup`)."""

    exports_per_month: float
    """Full exports per month (30 for the nightly schedule)."""
    retention_days: int
    noncurrent_days: int
    cold_after_days: int | None = None
    cold_class: str = "GLACIER_IR"
    replica: bool = False
    replication_time_control: bool = False


@dataclass(frozen=True)
class Lifetime:
    """Days an export object is billed in each class, minimums included."""

    standard_days: float
    cold_days: float
    cold_class: str | None


@dataclass(frozen=True)
class TableCost:
    """A table's monthly cost in USD, by part, and the quantities behind it."""

    pitr: float
    full_exports: float
    incremental_exports: float
    vault_storage: float
    replication: float
    aws_backup_hourly: float
    aws_backup_daily: float
    windows_per_month: float
    changed_gb_per_window: float
    vault_gb_added_per_month: float

    @property
    def total(self) -> float:
        """What safetynet's protection of the table costs a month."""
        return self.pitr + self.full_exports + self.incremental_exports + self.vault_storage + self.replication


def windows_per_month(chain: Chain | None) -> float:
    """Incremental exports per month (0 without a chain)."""
    return MINUTES_PER_MONTH / chain.every_minutes if chain else 0.0


def changed_gb_per_window(load: TableLoad, chain: Chain | None, bytes_per_write: float) -> float:
    """GB written in one window: write units per second x seconds per window x bytes per unit."""
    if chain is None:
        return 0.0
    return load.writes_per_second * chain.every_minutes * 60 * bytes_per_write / GB


def pitr_cost(load: TableLoad, prices: PriceBook) -> float:
    """PITR bills the table's size every month."""
    return load.size_gb * prices.pitr_gb_month


def full_exports_cost(load: TableLoad, vault: Vault, prices: PriceBook) -> float:
    """Each full export bills the table's size."""
    return vault.exports_per_month * load.size_gb * prices.export_gb


def incremental_exports_cost(changed_gb: float, windows: float, prices: PriceBook) -> float:
    """Each window's export bills the GB it processed, at least the minimum."""
    minimum_gb = prices.incremental_export_minimum_mb / MB_PER_GB
    return windows * max(minimum_gb, changed_gb) * prices.incremental_export_gb


def lifetime(vault: Vault, prices: PriceBook) -> Lifetime:
    """How long an export object is billed in Standard and in the cold class."""
    total_days = vault.retention_days + vault.noncurrent_days
    cold = vault.cold_after_days
    if cold is None or cold >= total_days:
        return Lifetime(standard_days=total_days, cold_days=0, cold_class=None)
    cold_days = max(total_days - cold, prices.minimum_days(vault.cold_class))
    return Lifetime(standard_days=cold, cold_days=cold_days, cold_class=vault.cold_class)


def storage_cost(gb_added_per_month: float, vault: Vault, prices: PriceBook) -> float:
    """Monthly storage of what the vault receives each month, at the steady state: every GB added
    is billed for its lifetime, (days in a class / 30) GB-months at that class's price."""
    life = lifetime(vault, prices)
    standard = _storage_price(prices, "STANDARD")
    per_gb = life.standard_days * standard
    if life.cold_class is not None:
        per_gb += life.cold_days * _storage_price(prices, life.cold_class)
    return gb_added_per_month * per_gb / MONTH_DAYS


def replication_cost(gb_added_per_month: float, vault: Vault, prices: PriceBook) -> float:
    """Transfer of every GB added to the vault, and its storage in the replica (same lifecycle)."""
    if not vault.replica:
        return 0.0
    transfer = prices.replication_transfer_gb
    if vault.replication_time_control and prices.replication_time_control_gb is not None:
        transfer += prices.replication_time_control_gb
    return gb_added_per_month * transfer + storage_cost(gb_added_per_month, vault, prices)


def aws_backup_cost(load: TableLoad, vault: Vault, prices: PriceBook, *, backups_per_day: int) -> float:
    """AWS Backup keeping `backups_per_day` full backups a day for retentionDays in warm storage
    (held at any time: backups_per_day x retentionDays backups of the table's size), plus, with a
    replica, a copy of each in the other region (transfer and storage once more)."""
    held_gb = load.size_gb * backups_per_day * vault.retention_days
    cost = held_gb * prices.backup_gb_month
    if vault.replica:
        copied_gb_per_month = load.size_gb * backups_per_day * MONTH_DAYS
        cost += copied_gb_per_month * prices.replication_transfer_gb + held_gb * prices.backup_gb_month
    return cost


def estimate(
    load: TableLoad, chain: Chain | None, vault: Vault, prices: PriceBook, *, protected: bool = True
) -> TableCost:
    """A table's monthly cost, by part, beside AWS Backup's hourly and daily schedules. An
    unprotected table (an adopted one whose PITR is still off) has no PITR, so no exports either:
    only the AWS Backup figures are computed for it."""
    if not protected:
        return TableCost(
            pitr=0.0,
            full_exports=0.0,
            incremental_exports=0.0,
            vault_storage=0.0,
            replication=0.0,
            aws_backup_hourly=aws_backup_cost(load, vault, prices, backups_per_day=24),
            aws_backup_daily=aws_backup_cost(load, vault, prices, backups_per_day=1),
            windows_per_month=0.0,
            changed_gb_per_window=0.0,
            vault_gb_added_per_month=0.0,
        )
    ratio = prices.assumptions.export_size_ratio
    windows = windows_per_month(chain)
    changed = changed_gb_per_window(load, chain, prices.assumptions.bytes_per_write)
    images = VIEW_IMAGES.get(chain.view, 2) if chain else 0
    gb_added = (vault.exports_per_month * load.size_gb + windows * changed * images) * ratio
    return TableCost(
        pitr=pitr_cost(load, prices),
        full_exports=full_exports_cost(load, vault, prices),
        incremental_exports=incremental_exports_cost(changed, windows, prices) if chain else 0.0,
        vault_storage=storage_cost(gb_added, vault, prices),
        replication=replication_cost(gb_added, vault, prices),
        aws_backup_hourly=aws_backup_cost(load, vault, prices, backups_per_day=24),
        aws_backup_daily=aws_backup_cost(load, vault, prices, backups_per_day=1),
        windows_per_month=windows,
        changed_gb_per_window=changed,
        vault_gb_added_per_month=gb_added,
    )


def check_prices(vault: Vault, prices: PriceBook) -> None:
    """Raise MissingPrice when the stack's settings need a price the book lacks."""
    _storage_price(prices, "STANDARD")
    if vault.cold_after_days is not None:
        _storage_price(prices, vault.cold_class)


def _storage_price(prices: PriceBook, storage_class: str) -> float:
    value = prices.storage_price(storage_class)
    if value is None:
        raise MissingPrice(
            f"no price for S3 {storage_class} (the vault's coldStorageClass): give s3GbMonth.{storage_class} "
            "in a --prices file"
        )
    return value


PARTS = ("pitr", "full_exports", "incremental_exports", "vault_storage", "replication")
"""TableCost's parts, in the order the report shows them."""


def totals(costs: list[TableCost]) -> dict[str, float]:
    """The sum of every part, of `total` and of the AWS Backup figures over the tables."""
    keys = (*PARTS, "total", "aws_backup_hourly", "aws_backup_daily")
    return {key: sum(getattr(c, key) for c in costs) for key in keys}

"""The cost model against figures computed by hand (the arithmetic is in each test), with the
default prices: PITR 0.20/GB-month, export 0.10/GB, incremental 0.10/GB (10 MB minimum), S3
Standard 0.023, Glacier IR 0.004 (90-day minimum), Deep Archive 0.00099 (180-day minimum),
transfer 0.02/GB, DynamoDB backup 0.10/GB-month; a month is 30 days, GB is 2^30 bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safetynet.cost.model import (
    Chain,
    MissingPrice,
    TableLoad,
    Vault,
    aws_backup_cost,
    changed_gb_per_window,
    check_prices,
    estimate,
    incremental_exports_cost,
    lifetime,
    replication_cost,
    storage_cost,
    totals,
    windows_per_month,
)
from safetynet.cost.prices import DEFAULT_PRICES, PriceBook

P = DEFAULT_PRICES
PROD_VAULT = Vault(exports_per_month=30, retention_days=90, noncurrent_days=30, cold_after_days=30)
"""The shipped prod stack: nightly, 90 days, 30 noncurrent days, Glacier IR after 30 days."""
MIN_GB = 10 / 1024  # the 10 MB minimum of an incremental export, in GB


def test_pitr_and_nightly_exports_bill_the_table_size() -> None:
    cost = estimate(TableLoad(size_gb=10, writes_per_second=0), None, PROD_VAULT, P)
    assert cost.pitr == pytest.approx(10 * 0.20)  # 2.00
    assert cost.full_exports == pytest.approx(30 * 10 * 0.10)  # 30.00
    assert cost.incremental_exports == 0
    assert cost.windows_per_month == 0


def test_a_15_minute_window_holds_the_writes_of_900_seconds() -> None:
    # 50 units/s x 900 s x 1,024 bytes = 46,080,000 bytes = 0.042915 GB; 30 days / 15 min = 2,880 windows
    load = TableLoad(size_gb=100, writes_per_second=50)
    chain = Chain(every_minutes=15)
    assert windows_per_month(chain) == 2880
    assert changed_gb_per_window(load, chain, 1024) == pytest.approx(46_080_000 / 2**30)
    # above the minimum: 2,880 x 0.042915 GB x 0.10 = 12.3596
    assert incremental_exports_cost(46_080_000 / 2**30, 2880, P) == pytest.approx(12.359619, rel=1e-6)


def test_a_quiet_window_bills_the_10_mb_minimum() -> None:
    # 1 unit/s x 900 s x 1,024 = 921,600 bytes = 0.000858 GB < 10 MB = 0.009766 GB
    changed = changed_gb_per_window(TableLoad(10, 1), Chain(15), 1024)
    assert changed < MIN_GB
    # 2,880 windows x 0.009765625 GB x 0.10 = 2.8125
    assert incremental_exports_cost(changed, 2880, P) == pytest.approx(2.8125)
    # hourly: 720 windows x 0.009765625 x 0.10 = 0.703125
    assert incremental_exports_cost(changed * 4, 720, P) == pytest.approx(0.703125)


def test_vault_lifetime_standard_then_cold_with_the_noncurrent_days() -> None:
    # 90 retention + 30 noncurrent = 120 days: 30 in Standard, 90 in Glacier IR (its minimum is 90 too)
    life = lifetime(PROD_VAULT, P)
    assert (life.standard_days, life.cold_days, life.cold_class) == (30, 90, "GLACIER_IR")
    # per GB added: (30 x 0.023 + 90 x 0.004) / 30 = (0.69 + 0.36) / 30 = 0.035; 300 GB -> 10.50
    assert storage_cost(300, PROD_VAULT, P) == pytest.approx(10.50)


def test_a_cold_class_bills_at_least_its_minimum_duration() -> None:
    # 40 + 10 = 50 days: 30 in Standard, 20 in Deep Archive, billed 180 (its minimum)
    vault = Vault(30, retention_days=40, noncurrent_days=10, cold_after_days=30, cold_class="DEEP_ARCHIVE")
    assert lifetime(vault, P).cold_days == 180
    # per GB: (30 x 0.023 + 180 x 0.00099) / 30 = (0.69 + 0.1782) / 30 = 0.02894
    assert storage_cost(1, vault, P) == pytest.approx(0.02894)


def test_without_cold_storage_everything_stays_in_standard() -> None:
    # 7 + 1 = 8 days x 0.023 / 30 per GB; 30 GB -> 0.184
    vault = Vault(30, retention_days=7, noncurrent_days=1)
    assert lifetime(vault, P).cold_class is None
    assert storage_cost(30, vault, P) == pytest.approx(30 * 8 * 0.023 / 30)


def test_replication_is_the_transfer_and_the_same_storage_again() -> None:
    replica = Vault(30, 90, 30, cold_after_days=30, replica=True)
    # 300 GB x 0.02 = 6.00 transfer + 10.50 storage in the replica
    assert replication_cost(300, replica, P) == pytest.approx(6.00 + 10.50)
    assert replication_cost(300, PROD_VAULT, P) == 0


def test_replication_time_control_adds_its_fee_only_when_priced() -> None:
    rtc = Vault(30, 90, 30, cold_after_days=30, replica=True, replication_time_control=True)
    assert replication_cost(100, rtc, P) == pytest.approx(100 * 0.02 + 3.5)  # no price: not added (stated)
    priced = PriceBook.model_validate({"replicationTimeControlGb": 0.015})
    assert replication_cost(100, rtc, priced) == pytest.approx(100 * (0.02 + 0.015) + 3.5)


def test_aws_backup_holds_a_full_backup_per_hour_of_retention() -> None:
    load = TableLoad(size_gb=10, writes_per_second=5)
    # hourly: 24 x 90 = 2,160 backups of 10 GB held x 0.10 = 2,160.00; daily: 90 x 10 x 0.10 = 90.00
    assert aws_backup_cost(load, PROD_VAULT, P, backups_per_day=24) == pytest.approx(2160)
    assert aws_backup_cost(load, PROD_VAULT, P, backups_per_day=1) == pytest.approx(90)
    # copied to the replica region: the same storage again + 24 x 30 x 10 GB x 0.02 = 144 transfer
    replica = Vault(30, 90, 30, cold_after_days=30, replica=True)
    assert aws_backup_cost(load, replica, P, backups_per_day=24) == pytest.approx(2 * 2160 + 144)


def test_a_small_table_with_a_15_minute_chain_in_the_prod_vault() -> None:
    cost = estimate(TableLoad(size_gb=10, writes_per_second=1), Chain(15), PROD_VAULT, P)
    # vault receives 30 x 10 GB + 2,880 windows x 0.000858307 GB x 2 images = 300 + 4.943848 GB
    added = 300 + 2880 * (921_600 / 2**30) * 2
    assert cost.vault_gb_added_per_month == pytest.approx(added)
    assert cost.vault_storage == pytest.approx(added * 0.035)  # 10.673035
    # 2.00 PITR + 30.00 exports + 2.8125 chain + 10.673035 vault + 0 replica = 45.485535
    assert cost.total == pytest.approx(45.485535, rel=1e-6)
    assert cost.aws_backup_hourly == pytest.approx(2160)


def test_new_image_stores_one_image_per_change() -> None:
    both = estimate(TableLoad(10, 100), Chain(60, "NEW_AND_OLD_IMAGES"), PROD_VAULT, P)
    new = estimate(TableLoad(10, 100), Chain(60, "NEW_IMAGE"), PROD_VAULT, P)
    chain_gb = 720 * 100 * 3600 * 1024 / 2**30  # 720 windows of 0.343 GB
    assert both.vault_gb_added_per_month - new.vault_gb_added_per_month == pytest.approx(chain_gb)
    assert both.incremental_exports == new.incremental_exports  # billed per GB processed, not stored


def test_an_unprotected_table_costs_nothing_but_is_compared() -> None:
    cost = estimate(TableLoad(10, 1), Chain(15), PROD_VAULT, P, protected=False)
    assert cost.total == 0
    assert cost.aws_backup_daily == pytest.approx(90)


def test_totals_add_every_part_over_the_tables() -> None:
    a = estimate(TableLoad(10, 0), None, PROD_VAULT, P)
    b = estimate(TableLoad(20, 0), None, PROD_VAULT, P)
    t = totals([a, b])
    # 30 GB: PITR 6.00, exports 90.00, vault 900 GB x 0.035 = 31.50
    assert (t["pitr"], t["full_exports"], t["vault_storage"]) == pytest.approx((6.0, 90.0, 31.5))
    assert t["total"] == pytest.approx(a.total + b.total) == pytest.approx(127.5)


def test_a_cold_class_without_a_price_is_named() -> None:
    vault = Vault(30, 90, 30, cold_after_days=30, cold_class="ONEZONE_IA")
    with pytest.raises(MissingPrice, match=r"s3GbMonth\.ONEZONE_IA"):
        check_prices(vault, P)
    check_prices(PROD_VAULT, P)


@given(
    writes=st.floats(min_value=0, max_value=50_000, allow_nan=False),
    every=st.sampled_from([15, 30, 60, 120, 360, 1440]),
)
def test_the_chain_bills_the_minimum_or_what_changed(writes: float, every: int) -> None:
    chain = Chain(every)
    changed = changed_gb_per_window(TableLoad(1, writes), chain, 1024)
    cost = incremental_exports_cost(changed, windows_per_month(chain), P)
    windows = 43_200 / every
    assert cost >= windows * MIN_GB * 0.10 - 1e-9
    if changed > MIN_GB:  # above the minimum the chain bills exactly the bytes written in the month
        assert cost == pytest.approx(writes * 30 * 86_400 * 1024 / 2**30 * 0.10)

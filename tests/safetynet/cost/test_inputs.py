"""The estimate's inputs: the stack's backup settings, each table's chain (the stack's
`safetynet:backup.incremental` and the table's own `incremental`, or `--every`), and the per-table
options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.config.loading import parse_stack_config
from safetynet.cost.inputs import InputError, chain_for, every_choices, parse_per_table, vault_of
from safetynet.cost.model import Chain
from tests.support.restore_fixtures import copy_project, prod_config

TABLES = ["orders", "customers"]


def config(backup: dict[str, Any], *tables: dict[str, Any]) -> Any:
    """A parsed stack config with these tables (string hash keys) and backup settings."""
    return parse_stack_config(
        {
            "environment": "prod",
            "tables": [{"hashKey": {"name": "id", "type": "S"}, **t} for t in tables],
            "backup": backup,
        }
    )


def chains(cfg: Any, every: str | None = None) -> dict[str, Chain | None]:
    return {t.name: chain_for(cfg, t, every_override=every) for t in cfg.tables}


def test_the_shipped_prod_stack_vault(tmp_path: Path) -> None:
    cfg = prod_config(copy_project(tmp_path))
    vault = vault_of(cfg)
    assert (vault.exports_per_month, vault.retention_days, vault.noncurrent_days) == (30, 90, 30)
    assert (vault.cold_after_days, vault.cold_class) == (30, "GLACIER_IR")
    assert vault.replica == (cfg.backup.replica is not None)


def test_a_weekly_schedule_is_four_and_a_bit_exports_a_month() -> None:
    vault = vault_of(config({"schedule": "cron(0 3 ? * SUN *)"}, {"name": "orders"}))
    assert vault.exports_per_month == pytest.approx(30 / 7)


def test_without_the_section_no_table_has_a_chain() -> None:
    assert chains(config({}, {"name": "orders"})) == {"orders": None}


def test_the_stack_chain_with_per_table_overrides_and_opt_out() -> None:
    cfg = config(
        {"incremental": {"every": "30m"}},
        {"name": "orders", "incremental": {"every": "15m", "view": "NEW_IMAGE"}},
        {"name": "customers", "incremental": False},
        {"name": "inventory"},
    )
    assert chains(cfg) == {
        "orders": Chain(15, "NEW_IMAGE"),
        "customers": None,
        "inventory": Chain(30, "NEW_AND_OLD_IMAGES"),
    }


def test_a_table_can_ask_for_a_chain_the_stack_does_not_set() -> None:
    cfg = config({}, {"name": "orders", "incremental": True}, {"name": "customers"})
    assert chains(cfg) == {"orders": Chain(60), "customers": None}  # the default window is 1h


def test_every_gives_every_table_a_chain_or_none_keeping_its_view() -> None:
    cfg = config(
        {"incremental": {"every": "1h", "view": "NEW_IMAGE"}},
        {"name": "orders", "incremental": False},
        {"name": "customers"},
    )
    assert chains(cfg, "15m") == {"orders": Chain(15, "NEW_IMAGE"), "customers": Chain(15, "NEW_IMAGE")}
    assert chains(cfg, "off") == {"orders": None, "customers": None}
    assert every_choices()[-1] == "off" and "15m" in every_choices() and "24h" in every_choices()


def test_a_table_without_pitr_gets_no_chain_even_with_every() -> None:
    adopted = {"name": "legacy", "adopt": True, "asFound": {"pointInTimeRecovery": False}}
    cfg = config({"incremental": {"every": "15m"}}, adopted)
    assert chains(cfg) == {"legacy": None}
    assert chains(cfg, "1h") == {"legacy": None}


def test_per_table_values() -> None:
    values = parse_per_table(["10", "orders=50"], "--table-size", logical=TABLES, physical=["orders", "cust-prod"])
    assert values.value_for("orders", "orders") == 50
    assert values.value_for("customers", "cust-prod") == 10
    only = parse_per_table(["cust-prod=3"], "--table-size", logical=TABLES, physical=["orders", "cust-prod"])
    assert only.value_for("customers", "cust-prod") == 3
    assert only.value_for("orders", "orders") is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["nope=1"], "the stack has no table 'nope'; its tables: orders, customers"),
        (["orders=ten"], "not a number"),
        (["-1"], "must be a number >= 0"),
        (["nan"], "must be a number >= 0"),
        (["1", "2"], "given twice for every table"),
    ],
)
def test_per_table_values_that_cannot_be_used(values: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_per_table(values, "--table-size", logical=TABLES, physical=TABLES)

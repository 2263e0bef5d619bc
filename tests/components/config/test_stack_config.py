"""StackConfig (components/config/stack.py): defaults, physical table names and the rules that span
sections. Each section's own validation is tested beside it (test_tables.py, test_backup.py, ...)."""

from __future__ import annotations

import copy

from components.config.loading import parse_stack_config
from tests.support.config import config_error, minimal_config


def test_valid_config_gets_documented_defaults() -> None:
    cfg = parse_stack_config(minimal_config())
    table = cfg.tables[0]
    assert table.billing_mode == "PAY_PER_REQUEST"
    assert table.point_in_time_recovery_days == 35
    assert table.adopt is False
    assert cfg.backup.schedule == "cron(0 3 * * ? *)"
    assert cfg.backup.timezone == "UTC"
    assert cfg.backup.retention_days == 90
    assert cfg.backup.object_lock == "off"


def test_duplicate_table_names_are_rejected() -> None:
    raw = minimal_config()
    raw["tables"].append(copy.deepcopy(raw["tables"][0]))
    assert "duplicate table names: orders" in config_error(raw)


def test_physical_names_follow_environment_convention() -> None:
    prod = parse_stack_config(minimal_config())
    assert prod.physical_name(prod.tables[0]) == "orders"
    test = parse_stack_config({**minimal_config(), "environment": "test"})
    assert test.physical_name(test.tables[0]) == "orders-test"
    custom = parse_stack_config({**minimal_config(), "environment": "dev", "tableNamePattern": "{environment}.{name}"})
    assert custom.physical_name(custom.tables[0]) == "dev.orders"


def test_name_pattern_without_name_is_rejected() -> None:
    assert "tableNamePattern must contain {name}" in config_error(
        {**minimal_config(), "tableNamePattern": "{environment}"}
    )

"""`safetynet:backup.incremental` and `safetynet:tables[i].incremental`
(components/config/incremental.py): the window lengths AWS allows and that divide a day, the view
types, a table's override or opt-out, the PITR a chain needs; every invalid value named with its
config path and what to write instead, and `safetynet synth` exiting 2 on it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from components.config.incremental import (
    EVERY_CHOICES,
    EVERY_SECONDS,
    IncrementalSpec,
    TableIncremental,
    resolve_incremental,
    schedule_expression,
)
from components.config.loading import parse_stack_config
from safetynet.cli import app
from tests.support.config import config_error, minimal_config
from tests.support.stacks import PROJECT_DIR


def with_incremental(stack: Any = None, **table: Any) -> dict[str, Any]:
    raw = minimal_config(**table)
    if stack is not None:
        raw["backup"] = {"incremental": stack}
    return raw


def test_the_offered_windows_are_15_minutes_to_24_hours_and_divide_a_day() -> None:
    assert EVERY_CHOICES == ("15m", "30m", "1h", "2h", "3h", "4h", "6h", "8h", "12h", "24h")
    assert all(900 <= s <= 86400 and 86400 % s == 0 for s in EVERY_SECONDS.values())
    assert EVERY_SECONDS["15m"] == 900 and EVERY_SECONDS["24h"] == 86400


def test_a_stack_without_the_section_has_no_chain() -> None:
    cfg = parse_stack_config(minimal_config())
    assert cfg.backup.incremental is None
    assert resolve_incremental(cfg.backup.incremental, cfg.tables[0].incremental) is None


def test_the_section_turns_the_chain_on_with_defaults() -> None:
    cfg = parse_stack_config(with_incremental({}))
    assert cfg.backup.incremental == IncrementalSpec(every="1h", view="NEW_AND_OLD_IMAGES")
    resolved = resolve_incremental(cfg.backup.incremental, cfg.tables[0].incremental)
    assert resolved is not None and (resolved.every, resolved.view, resolved.every_seconds) == (
        "1h",
        "NEW_AND_OLD_IMAGES",
        3600,
    )


@pytest.mark.parametrize("every", ["10m", "5h", "48h", "1d", "15", 15, "daily"])
def test_a_window_length_outside_the_list_is_named_with_the_choices(every: Any) -> None:
    message = config_error(with_incremental({"every": every}))
    assert "safetynet:backup.incremental.every" in message
    assert "15m, 30m, 1h, 2h, 3h, 4h, 6h, 8h, 12h, 24h" in message
    assert "15 minutes to 24 hours" in message


def test_an_unknown_view_is_named() -> None:
    message = config_error(with_incremental({"view": "OLD_IMAGE"}))
    assert "safetynet:backup.incremental.view" in message and "NEW_AND_OLD_IMAGES or NEW_IMAGE" in message


def test_a_typo_in_the_section_is_an_unknown_key() -> None:
    message = config_error(with_incremental({"evry": "1h"}))
    assert "safetynet:backup.incremental.evry" in message and "unknown key" in message


def test_a_table_opts_out() -> None:
    cfg = parse_stack_config(with_incremental({"every": "15m"}, incremental=False))
    assert cfg.tables[0].incremental == TableIncremental(enabled=False)
    assert resolve_incremental(cfg.backup.incremental, cfg.tables[0].incremental) is None


def test_a_table_overrides_the_stacks_window_and_view() -> None:
    cfg = parse_stack_config(with_incremental({"every": "15m"}, incremental={"view": "NEW_IMAGE"}))
    resolved = resolve_incremental(cfg.backup.incremental, cfg.tables[0].incremental)
    assert resolved is not None and (resolved.every, resolved.view) == ("15m", "NEW_IMAGE")
    cfg = parse_stack_config(with_incremental({"every": "15m"}, incremental={"every": "6h"}))
    resolved = resolve_incremental(cfg.backup.incremental, cfg.tables[0].incremental)
    assert resolved is not None and (resolved.every, resolved.view) == ("6h", "NEW_AND_OLD_IMAGES")


def test_a_table_asks_for_a_chain_the_stack_does_not_have() -> None:
    cfg = parse_stack_config(with_incremental(None, incremental=True))
    resolved = resolve_incremental(cfg.backup.incremental, cfg.tables[0].incremental)
    assert resolved is not None and (resolved.every, resolved.view) == ("1h", "NEW_AND_OLD_IMAGES")


@pytest.mark.parametrize("value", ["yes", 1, ["15m"]])
def test_a_table_value_that_is_neither_a_switch_nor_a_mapping_is_named(value: Any) -> None:
    message = config_error(with_incremental(None, incremental=value))
    assert "safetynet:tables[0].incremental" in message and "incremental: false" in message


def test_a_tables_bad_window_is_named_with_its_path() -> None:
    message = config_error(with_incremental({"every": "15m"}, incremental={"every": "45m"}))
    assert "safetynet:tables[0].incremental.every" in message


def test_asking_for_a_chain_on_a_table_whose_pitr_stays_off_is_an_error() -> None:
    adopted = {"adopt": True, "asFound": {"pointInTimeRecovery": False}}
    message = config_error(with_incremental({"every": "15m"}, incremental={"every": "1h"}, **adopted))
    assert "safetynet:tables[0]" in message and "point-in-time recovery" in message
    assert "asFound.pointInTimeRecovery: false" in message


def test_a_table_whose_pitr_stays_off_is_left_out_of_the_stacks_chain_until_it_is_on() -> None:
    # `safetynet adopt` writes such tables into a stack with a chain: the file must stay valid
    adopted = {"adopt": True, "asFound": {"pointInTimeRecovery": False}}
    cfg = parse_stack_config(with_incremental({"every": "15m"}, **adopted))
    spec = cfg.tables[0]
    assert resolve_incremental(cfg.backup.incremental, spec.incremental, pitr=spec.point_in_time_recovery) is None
    # and an explicit opt-out on it is fine
    parse_stack_config(with_incremental({"every": "15m"}, incremental=False, **adopted))


@pytest.mark.parametrize(
    ("seconds", "expression"),
    [(900, "rate(15 minutes)"), (1800, "rate(30 minutes)"), (3600, "rate(1 hour)"), (86400, "rate(24 hours)")],
)
def test_the_schedule_runs_at_the_window_length(seconds: int, expression: str) -> None:
    assert schedule_expression(seconds) == expression


@pytest.fixture
def bad_chain_project(tmp_path: Path) -> Path:
    """A project copy with a stack `bad`: prod's config with a 10-minute chain."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    yaml = YAML()
    doc = yaml.load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    doc["config"]["safetynet:backup"]["incremental"] = {"every": "10m"}
    with (tmp_path / "Pulumi.bad.yaml").open("w") as f:
        yaml.dump(doc, f)
    return tmp_path


def test_synth_exits_2_naming_the_key_and_the_fix(bad_chain_project: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "bad", "--project-dir", str(bad_chain_project)])
    assert result.exit_code == 2, result.output
    assert "safetynet:backup.incremental.every" in result.output
    assert "write e.g. every: 15m" in result.output.replace("\n", " ")
    assert "Traceback" not in result.output

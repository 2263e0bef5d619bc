"""`safetynet cost` as a user's shell runs it: the console entry point in its own process, with
every input given as an option and an AWS endpoint that cannot be reached, so any AWS call would
fail the run (the README's example works offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from safetynet.cost.inputs import chain_for, vault_of
from safetynet.cost.model import TableLoad, estimate
from safetynet.cost.prices import DEFAULT_PRICES
from tests.support.restore_fixtures import prod_config
from tests.support.stacks import PROJECT_DIR

ARGS = ("cost", "-s", "prod", "--table-size", "10", "--writes-per-second", "1")


def safetynet(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    return subprocess.run(
        [sys.executable, "-m", "safetynet.cli", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


@pytest.mark.slow
def test_the_readme_example_runs_offline_in_80_columns() -> None:
    text = safetynet(*ARGS)
    assert text.returncode == 0, text.stderr
    assert max(len(line) for line in text.stdout.splitlines()) <= 80
    doc = json.loads(safetynet(*ARGS, "--json").stdout)
    cfg = prod_config(PROJECT_DIR)
    vault = vault_of(cfg)
    expected = sum(estimate(TableLoad(10, 1), chain_for(cfg, t), vault, DEFAULT_PRICES).total for t in cfg.tables)
    assert doc["total"]["total"] == pytest.approx(expected, abs=1e-3)
    assert f"{expected:,.2f}" in text.stdout

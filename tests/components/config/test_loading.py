"""Loading the config (components/config/loading.py): Pulumi's flat config decoded, and every problem
reported at once with its config path and the fix."""

from __future__ import annotations

import json

import pytest

from components.config.base import ConfigError
from components.config.loading import decode_pulumi_config, parse_stack_config
from tests.support.config import config_error, minimal_config


def test_missing_hash_key_names_the_path_and_the_fix() -> None:
    raw = minimal_config()
    del raw["tables"][0]["hashKey"]
    msg = config_error(raw)
    assert "safetynet:tables[0].hashKey: is required" in msg
    assert "hashKey: {name: id, type: S}" in msg


def test_unknown_top_level_key_is_rejected() -> None:
    raw = minimal_config()
    raw["bakup"] = {}
    assert "safetynet:bakup" in config_error(raw)


def test_every_problem_is_reported_at_once() -> None:
    raw = minimal_config()
    raw["tables"][0]["billingMode"] = "PROVISIONED"
    raw["backup"] = {"retentionDays": 0}
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(raw)
    assert len(exc.value.problems) == 2


def test_pulumi_config_decoding_reads_json_and_ignores_other_namespaces() -> None:
    decoded = decode_pulumi_config(
        {"safetynet:tables": json.dumps(minimal_config()["tables"]), "safetynet:environment": "prod", "aws:region": "x"}
    )
    assert decoded["environment"] == "prod"
    assert decoded["tables"][0]["name"] == "orders"
    assert "region" not in decoded


def test_broken_structured_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match="safetynet:tables: not valid structured config"):
        decode_pulumi_config({"safetynet:tables": "[{"})

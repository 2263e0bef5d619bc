"""`safetynet:coverage`: exclusions parsed and matched, invalid values rejected with the config path
and what to write instead."""

from __future__ import annotations

from typing import Any

import pytest

from components.config.loading import parse_stack_config
from tests.support.config import config_error, minimal_config


def _cfg(coverage: Any) -> Any:
    return parse_stack_config({**minimal_config(), "coverage": coverage})


def _problems(coverage: Any) -> str:
    return config_error({**minimal_config(), "coverage": coverage})


def test_default_is_no_exclusion() -> None:
    cfg = parse_stack_config(minimal_config())
    assert cfg.coverage.exclude == []
    assert cfg.coverage.exclusion_for("anything") is None


def test_exclusions_keep_pattern_and_reason() -> None:
    cfg = _cfg({"exclude": [{"pattern": "etl-scratch-*", "reason": "  rebuilt from S3 nightly  "}]})
    (rule,) = cfg.coverage.exclude
    assert (rule.pattern, rule.reason) == ("etl-scratch-*", "rebuilt from S3 nightly")


def test_first_matching_rule_applies_case_sensitively() -> None:
    cfg = _cfg(
        {
            "exclude": [
                {"pattern": "*-test", "reason": "staging targets"},
                {"pattern": "orders-[!p]*", "reason": "order side tables"},
            ]
        }
    )
    assert cfg.coverage.exclusion_for("orders-test").reason == "staging targets"
    assert cfg.coverage.exclusion_for("orders-archive").reason == "order side tables"
    assert cfg.coverage.exclusion_for("orders-pending") is None
    assert cfg.coverage.exclusion_for("ORDERS-TEST") is None  # DynamoDB names are case-sensitive
    assert cfg.coverage.exclusion_for("orders") is None


def test_reason_is_required_and_not_blank() -> None:
    assert "safetynet:coverage.exclude[0].reason: is required" in _problems({"exclude": [{"pattern": "tmp-*"}]})
    msg = _problems({"exclude": [{"pattern": "tmp-*", "reason": "   "}]})
    assert "safetynet:coverage.exclude[0].reason: say why these tables need no backup" in msg


def test_pattern_is_required() -> None:
    assert "safetynet:coverage.exclude[0].pattern: is required" in _problems({"exclude": [{"reason": "x"}]})


@pytest.mark.parametrize("pattern", ["*", "**", "*?*", "???*"])
def test_a_pattern_matching_every_table_is_refused(pattern: str) -> None:
    msg = _problems({"exclude": [{"pattern": "ok-*", "reason": "x"}, {"pattern": pattern, "reason": "x"}]})
    assert f"safetynet:coverage.exclude[1].pattern: '{pattern}' matches every table" in msg


def test_a_pattern_with_characters_no_table_name_has() -> None:
    msg = _problems({"exclude": [{"pattern": "arn:aws:dynamodb:*:table/tmp", "reason": "x"}]})
    assert "safetynet:coverage.exclude[0].pattern: 'arn:aws:dynamodb:*:table/tmp' can never match a table name" in msg


@pytest.mark.parametrize("pattern", ["tmp-[abc", "tmp-]x", "tmp-[!]"])
def test_an_unbalanced_character_class(pattern: str) -> None:
    msg = _problems({"exclude": [{"pattern": pattern, "reason": "x"}]})
    assert "safetynet:coverage.exclude[0].pattern" in msg and "[abc] or [!abc]" in msg


def test_empty_and_overlong_patterns() -> None:
    assert "an empty pattern matches no table" in _problems({"exclude": [{"pattern": "", "reason": "x"}]})
    msg = _problems({"exclude": [{"pattern": "a" * 256 + "*", "reason": "x"}]})
    assert "safetynet:coverage.exclude[0].pattern: a pattern is at most 255 characters" in msg


def test_the_same_pattern_twice() -> None:
    msg = _problems({"exclude": [{"pattern": "tmp-*", "reason": "a"}, {"pattern": "tmp-*", "reason": "b"}]})
    assert "safetynet:coverage.exclude: pattern listed more than once: tmp-*" in msg


@pytest.mark.parametrize(
    ("coverage", "path"),
    [
        ({"excludes": []}, "safetynet:coverage.excludes: Extra inputs are not permitted"),
        ({"exclude": [{"pattern": "tmp-*", "reason": "x", "until": "2027"}]}, "safetynet:coverage.exclude[0].until"),
        ({"exclude": "tmp-*"}, "safetynet:coverage.exclude: Input should be a valid list"),
        (["tmp-*"], "safetynet:coverage: Input should be a valid dictionary"),
    ],
)
def test_wrong_shapes_name_the_key(coverage: Any, path: str) -> None:
    assert path in _problems(coverage)

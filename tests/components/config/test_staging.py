"""`safetynet:staging` and `safetynet:maskingKey`: valid shapes and every invalid case named."""

from __future__ import annotations

from typing import Any

import pytest

from components.config.base import ConfigError
from components.config.loading import parse_stack_config
from conventions.masking import MaskRule
from tests.support.config import config_error

CUSTOMERS = {
    "name": "customers",
    "hashKey": {"name": "customerId", "type": "S"},
    "globalSecondaryIndexes": [{"name": "by-email", "hashKey": {"name": "email", "type": "S"}}],
}
ORDERS = {
    "name": "orders",
    "hashKey": {"name": "customerId", "type": "S"},
    "rangeKey": {"name": "orderId", "type": "S"},
}
KEY = "0123456789abcdef0123"


def raw(staging: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A test stack's config with this staging section (and a masking key)."""
    return {"environment": "test", "tables": [CUSTOMERS, ORDERS], "staging": staging, "maskingKey": KEY, **extra}


def cfg(staging: dict[str, Any], **extra: Any) -> Any:
    return parse_stack_config(raw(staging, **extra))


def problems(staging: dict[str, Any], **extra: Any) -> str:
    return config_error(raw(staging, **extra))


def test_a_full_staging_section_parses() -> None:
    c = cfg(
        {
            "from": "acme/safetynet/prod",
            "mode": "replace",
            "maxConcurrency": 4,
            "tables": {"orders": {"mode": "refill"}},
            "mask": {
                "customers": {
                    "email": "hash",
                    "name": "fake",
                    "address.street": {"action": "redact", "value": "1 Example St"},
                    "orders[*].email": "hash",
                }
            },
            "crossAccount": {"vaultAccountId": "111111111111"},
        }
    )
    s = c.staging
    assert s.from_ == "acme/safetynet/prod" and s.max_concurrency == 4
    assert s.mode_for("orders") == "refill" and s.mode_for("customers") == "replace"
    assert s.rules_for("customers")[2] == MaskRule("address.street", "redact", "1 Example St")
    assert c.masking_key.get_secret_value() == KEY
    assert KEY not in repr(c)  # the secret never appears in logs or reprs


def test_from_must_be_a_fully_qualified_stack() -> None:
    assert "safetynet:staging.from: 'prod' is not a fully qualified stack name" in problems({"from": "prod"})


def test_unknown_mode_and_keys_are_rejected() -> None:
    text = problems({"from": "a/b/c", "mode": "swap", "tabels": {}})
    assert "safetynet:staging.mode" in text and "safetynet:staging.tabels" in text


def test_a_key_attribute_can_only_be_hashed() -> None:
    text = problems({"from": "a/b/c", "mask": {"customers": {"email": "drop"}}})
    assert "staging.mask.customers.email" in text and "may only be hashed" in text


def test_masking_and_overrides_must_name_configured_tables() -> None:
    text = problems({"from": "a/b/c", "mask": {"custmers": {"x": "drop"}}, "tables": {"nope": {"mode": "refill"}}})
    assert "staging.mask.custmers: no table 'custmers'" in text and "staging.tables.nope" in text


def test_bad_paths_are_rejected_with_the_table_and_path() -> None:
    assert "customers.a..b" in problems({"from": "a/b/c", "mask": {"customers": {"a..b": "drop"}}})


def test_hash_and_fake_need_a_masking_key() -> None:
    with pytest.raises(ConfigError, match="pulumi config set --secret safetynet:maskingKey"):
        parse_stack_config(
            {
                "environment": "test",
                "tables": [CUSTOMERS],
                "staging": {"from": "a/b/c", "mask": {"customers": {"name": "fake"}}},
            }
        )


def test_drop_and_redact_need_no_key() -> None:
    c = parse_stack_config(
        {
            "environment": "test",
            "tables": [CUSTOMERS],
            "staging": {"from": "a/b/c", "mask": {"customers": {"x": "drop"}}},
        }
    )
    assert c.masking_key is None


def test_a_short_masking_key_is_rejected_but_the_synth_placeholder_is_not() -> None:
    assert "maskingKey must be at least 16 bytes" in problems({"from": "a/b/c"}, maskingKey="short")
    assert cfg({"from": "a/b/c"}, maskingKey="[secret]").masking_key is not None

"""Invalid stack config in tests: the message a user gets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from components.config.base import ConfigError
from components.config.loading import parse_stack_config


def config_error(raw: Mapping[str, Any]) -> str:
    """The ConfigError message of `raw` (decoded `safetynet:*` values); fails the test if it parses."""
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(raw)
    return str(exc.value)


def minimal_config(**table: Any) -> dict[str, Any]:
    """A prod stack's config (decoded) with one table `orders` (hash key customerId, range key
    orderId, plus `table`'s keys) and the default backup settings. A new dict on every call."""
    return {
        "environment": "prod",
        "tables": [
            {
                "name": "orders",
                "hashKey": {"name": "customerId", "type": "S"},
                "rangeKey": {"name": "orderId", "type": "S"},
                **table,
            }
        ],
        "backup": {},
    }

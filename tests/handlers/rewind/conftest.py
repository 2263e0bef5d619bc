"""Fixtures of the rewind engine tests: moto's DynamoDB with the `orders` table."""

from __future__ import annotations

from typing import Any

import pytest

from tests.handlers.rewind.support import create_table


@pytest.fixture
def ddb(aws: None) -> Any:
    """A DynamoDB client (handlers.clients, as the engine gets one) on moto, with `orders`."""
    from handlers.clients import client

    ddb = client("dynamodb", "us-east-1")
    create_table(ddb)
    return ddb

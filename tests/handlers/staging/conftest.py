"""Fixtures the staging handler tests share."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.staging_fixtures import create_ledger, vault_clients


@pytest.fixture
def clients(aws: None) -> tuple[Any, Any]:
    """S3 and DynamoDB on moto: the prod vault and the masking bucket, and the staging ledger."""
    s3, ddb = vault_clients()
    create_ledger(ddb)
    return s3, ddb

"""Fixtures of the staging component tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from handlers.staging import entrypoints as staging_tasks
from tests.support.staging_fixtures import (
    LEDGER,
    MASK_BUCKET,
    REGION,
    STACK,
    create_ledger,
    patch_moto_import_empty_files,
    vault_clients,
)


@pytest.fixture
def machine_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """The staging task's world on moto, for runs of the state machine: prod's vault, the ledger, a
    masking key secret and the task's environment (its cached clients reset). Yields (s3, dynamodb)."""
    patch_moto_import_empty_files(monkeypatch)
    s3, ddb = vault_clients()
    create_ledger(ddb)
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="masking-key", SecretString="machine-test-masking-key-0123"
    )["ARN"]
    monkeypatch.setenv("STAGING_STACK", STACK)
    monkeypatch.setenv("LEDGER_TABLE", LEDGER)
    monkeypatch.setenv("MASK_BUCKET", MASK_BUCKET)
    monkeypatch.setenv("MASKING_KEY_SECRET_ARN", secret)
    for cached in (staging_tasks._client, staging_tasks._env, staging_tasks._masking_key):
        cached.cache_clear()
    yield s3, ddb
    for cached in (staging_tasks._client, staging_tasks._env, staging_tasks._masking_key):
        cached.cache_clear()

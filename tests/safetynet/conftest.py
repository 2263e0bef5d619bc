"""Fixtures the CLI-side tests share (the one-process staging flow and `safetynet stage`)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.staging_fixtures import patch_moto_import_empty_files, vault_clients


@pytest.fixture
def clients(aws: None, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """S3 and DynamoDB on moto with the prod vault and the masking bucket, moto's ImportTable
    reading data files as AWS does (`patch_moto_import_empty_files`)."""
    patch_moto_import_empty_files(monkeypatch)
    return vault_clients()

"""Fixtures the export tests share."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.support.export_fixtures import REGION


@pytest.fixture
def s3(aws: None) -> Any:
    """An S3 client on moto (no bucket yet: `write_fixture_export` creates its own)."""
    return boto3.client("s3", region_name=REGION)

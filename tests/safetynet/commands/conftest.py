"""Fixtures the command tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.restore_fixtures import copy_project


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A temporary copy of the project (Pulumi.yaml, Pulumi.prod.yaml, __main__.py) that a test
    may change: stack files written or broken, restore blocks planned into it."""
    return copy_project(tmp_path)

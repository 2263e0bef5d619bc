"""`safetynet:backup` (components/config/backup.py) and schedule expressions (components/config/schedule.py):
every invalid setting fails with its config path and what to write instead."""

from __future__ import annotations

import pytest

from components.config.schedule import validate_schedule_expression
from tests.support.config import config_error, minimal_config


@pytest.mark.parametrize(
    "expr",
    [
        "cron(0 3 * * *)",
        "cron(0 3 * * 1 *)",
        "daily",
        "rate(0 days)",
        "rate(1 days)",
        "rate(2 day)",
        "cron()",
    ],
)
def test_malformed_schedule_is_rejected(expr: str) -> None:
    raw = minimal_config()
    raw["backup"] = {"schedule": expr}
    assert "safetynet:backup.schedule" in config_error(raw)


@pytest.mark.parametrize(
    "expr",
    [
        "cron(0 3 * * ? *)",
        "cron(15 2 ? * MON-FRI *)",
        "rate(12 hours)",
        "rate(1 day)",
        "at(2030-01-01T03:00:00)",
    ],
)
def test_valid_schedules_are_accepted(expr: str) -> None:
    assert validate_schedule_expression(expr) == expr


def test_unknown_timezone_is_rejected() -> None:
    raw = minimal_config()
    raw["backup"] = {"timezone": "Mars/Olympus"}
    assert "unknown time zone 'Mars/Olympus'" in config_error(raw)


def test_retention_below_one_day_is_rejected() -> None:
    raw = minimal_config()
    raw["backup"] = {"retentionDays": 0}
    assert "safetynet:backup.retentionDays: Input should be greater than or equal to 1" in config_error(raw)


def test_object_lock_without_days_is_rejected() -> None:
    raw = minimal_config()
    raw["backup"] = {"objectLock": "governance"}
    assert "objectLock governance needs objectLockDays" in config_error(raw)


def test_object_lock_longer_than_retention_is_rejected() -> None:
    raw = minimal_config()
    raw["backup"] = {"objectLock": "compliance", "objectLockDays": 120, "retentionDays": 90}
    assert "objectLockDays 120 is longer than retentionDays 90" in config_error(raw)


def test_cold_storage_after_retention_is_rejected() -> None:
    raw = minimal_config()
    raw["backup"] = {"coldStorageAfterDays": 90, "retentionDays": 90}
    assert "coldStorageAfterDays 90 must be below retentionDays 90" in config_error(raw)

"""moto as the rewind's emulator: stream records (and PITR's earliest restorable time) stamped by
a settable clock, so windows in the past are exact without waiting for real time to pass.

The stream clock is the emulator exporter's own test fixture (tests/safetynet/backup/
test_stream_export.py: moto's record times, its binary images, its stream endpoint); this adds
moto's PITR times, which come from another clock, so that the PITR period starts when the test's
table got PITR, on the same clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.safetynet.backup.test_stream_export import Clock, clock, moto_streams


@pytest.fixture
def emulator(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The stream clock, also driving PITR's EarliestRestorableDateTime."""
    from moto.dynamodb import models

    def pitr_now() -> float:
        return clock.now.astimezone(UTC).timestamp()

    monkeypatch.setattr(models, "unix_time", pitr_now)
    return clock


def at(base: datetime, seconds: float) -> datetime:
    from datetime import timedelta

    return base + timedelta(seconds=seconds)


__all__ = ["Clock", "at", "clock", "emulator", "moto_streams"]


def scan_all(ddb: Any, table: str) -> dict[str, Any]:
    """Every item of `table` by its key text (consistent scan)."""
    from handlers.rewind.images import encode

    out: dict[str, Any] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    names: tuple[str, ...] | None = None
    while True:
        page = ddb.scan(**kwargs)
        for item in page.get("Items", []):
            names = names or tuple(
                sorted(k["AttributeName"] for k in ddb.describe_table(TableName=table)["Table"]["KeySchema"])
            )
            out[encode({n: item[n] for n in names})] = item
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

"""Region-down data at risk for a DR stack: what restoring from the replica bucket loses.

The replica holds the source vault's exports as S3 replicated them: its chain (anchor plus
incremental windows) reaches some recovery point R. Writes after R are lost if the source region
is lost now. R trails the source region's writes by two things:

- the chain interval: a window is exported only once it has ended, so up to one window length
  of writes is always still in the table only;
- the replication lag: windows the source vault already holds but the replica does not yet,
  measured as the source vault's own recovery point minus the replica's (the same comparison
  `replication_health` makes for the newest full export, made here for the chain).

The lag can only be measured while the source vault is readable. S3 gives a replica the source
object's creation time (S3 user guide, "Replication and other bucket configurations": lifecycle
rules on a replica honour the source object's creation time), so nothing in the replica alone
says when it arrived. In an outage the plan therefore shows the measured part it has - the time
since R - and says that the lag is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.exports.layout import format_time, human_age

# A region that is down must not hold the plan for minutes: short timeouts, two attempts.
SOURCE_CONNECT_TIMEOUT = 5
SOURCE_READ_TIMEOUT = 15
SOURCE_ATTEMPTS = 2


@dataclass(frozen=True)
class RegionDownRisk:
    """One table's data at risk if the source region is lost now."""

    table: str
    recovery_point: datetime | None
    """What the replica's chain (or its newest export) reaches."""
    interval_seconds: float | None
    """The chain's window length; None without windows (nightly exports only)."""
    lag_seconds: float | None
    """The source vault's recovery point minus the replica's; None when not measured."""
    lag_note: str | None
    """Why the lag is unknown."""
    now: datetime

    @property
    def since_seconds(self) -> float | None:
        """Writes since the replica's recovery point: lost if the region went down now."""
        if self.recovery_point is None:
            return None
        return max(0.0, (self.now - self.recovery_point).total_seconds())

    @property
    def expected_seconds(self) -> float | None:
        """Chain interval + replication lag, when both are known."""
        if self.interval_seconds is None or self.lag_seconds is None:
            return None
        return self.interval_seconds + self.lag_seconds

    def text(self) -> str:
        """One line for the plan."""
        if self.recovery_point is None:
            return "data at risk: everything (the replica holds no usable export of this table)"
        interval = human_age(self.interval_seconds) if self.interval_seconds is not None else None
        parts = []
        if self.expected_seconds is not None and interval is not None and self.lag_seconds is not None:
            parts.append(
                f"{human_age(self.expected_seconds)} = chain interval {interval} + replication lag "
                f"{human_age(self.lag_seconds)}"
            )
        elif interval is not None:
            parts.append(f"chain interval {interval} + replication lag (unknown: {self.lag_note or 'not measured'})")
        else:
            parts.append("no incremental chain in the replica: up to a day of writes (nightly exports)")
        since = self.since_seconds or 0.0
        reached = self.recovery_point.strftime("%Y-%m-%d %H:%M:%SZ")
        parts.append(f"the replica reaches {reached}, {human_age(since)} ago")
        return "data at risk " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "recoveryPoint": format_time(self.recovery_point) if self.recovery_point else None,
            "intervalSeconds": self.interval_seconds,
            "replicationLagSeconds": self.lag_seconds,
            "replicationLagNote": self.lag_note,
            "expectedSeconds": self.expected_seconds,
            "sinceRecoveryPointSeconds": self.since_seconds,
        }


def source_recovery_point(s3: Any, bucket: str, prefix: str) -> datetime | None:
    """The source vault's own recovery point for one table (its chain's end)."""
    from handlers.exports.chain import read_chain

    return read_chain(s3, bucket, prefix).recovery_point


def source_s3_client(region: str) -> Any:
    """An S3 client for the source region with short timeouts (it may be the region that is down)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=SOURCE_CONNECT_TIMEOUT,
        read_timeout=SOURCE_READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": SOURCE_ATTEMPTS},
    )
    return boto3.client("s3", region_name=region, config=config)


def assess(
    table: str,
    *,
    replica_point: datetime | None,
    interval_seconds: float | None,
    source_point: datetime | None,
    source_note: str | None,
    now: datetime,
) -> RegionDownRisk:
    """Combine what the replica reaches with what the source vault reaches (when read)."""
    lag: float | None = None
    note = source_note
    if source_point is not None and replica_point is not None:
        lag = max(0.0, (source_point - replica_point).total_seconds())
    elif note is None:
        note = "the source vault holds no chain of this table" if source_point is None else "the replica holds none"
    return RegionDownRisk(table, replica_point, interval_seconds, lag, None if lag is not None else note, now)

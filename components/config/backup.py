"""`safetynet:backup`: the nightly native export of every table and the vault that keeps it
(schedule, retention, cold storage, Object Lock, key, retries, the optional replica, and the
optional chain of incremental exports after each nightly export).
"""

from __future__ import annotations

import zoneinfo
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import ConfigModel
from components.config.incremental import IncrementalSpec
from components.config.replica import ReplicaSpec
from components.config.schedule import validate_schedule_expression

ObjectLockMode = Literal["off", "governance", "compliance"]
ColdStorageClass = Literal["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER"]


class BackupSpec(ConfigModel):
    """`safetynet:backup`: the nightly native export and the vault that keeps it."""

    schedule: str = Field(default="cron(0 3 * * ? *)", description="EventBridge Scheduler expression.")
    timezone: str = Field(default="UTC", description="IANA time zone of the schedule.")
    flexible_window_minutes: int = Field(
        default=0, ge=0, le=1440, description="Let the scheduler spread start times (0 = off)."
    )
    retention_days: int = Field(default=90, ge=1, description="Exports expire after this many days.")
    cold_storage_after_days: int | None = Field(
        default=None, ge=1, description="Move exports to coldStorageClass after this many days."
    )
    cold_storage_class: ColdStorageClass = Field(default="GLACIER_IR", description="Colder S3 class.")
    noncurrent_version_days: int = Field(
        default=30, ge=1, description="Overwritten or expired object versions are kept this long."
    )
    object_lock: ObjectLockMode = Field(default="off", description="S3 Object Lock default retention mode.")
    object_lock_days: int | None = Field(default=None, ge=1, description="Object Lock retention in days.")
    kms_key_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$",
        description="Customer KMS key; default: a key created by the stack, rotation on.",
    )
    max_retry_attempts: int = Field(default=5, ge=0, le=185, description="Scheduler retries.")
    max_event_age_seconds: int = Field(default=3600, ge=60, le=86400, description="Give up after.")
    replica: ReplicaSpec | None = Field(
        default=None, description="Replicate the exports to another region (and optionally account)."
    )
    incremental: IncrementalSpec | None = Field(
        default=None,
        description="A chain of incremental exports after each nightly export, every 15m .. 24h (absent: none).",
    )

    @model_validator(mode="after")
    def _replica_fits_vault(self) -> BackupSpec:
        replica = self.replica
        problems = replica.check_against_vault(retention_days=self.retention_days) if replica else []
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        return validate_schedule_expression(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{v}'; use an IANA name such as UTC or Europe/Berlin") from None
        return v

    @model_validator(mode="after")
    def _lock_and_lifecycle(self) -> BackupSpec:
        if self.object_lock != "off":
            if self.object_lock_days is None:
                raise ValueError(
                    f"objectLock {self.object_lock} needs objectLockDays (at most retentionDays="
                    f"{self.retention_days}), or set objectLock: off"
                )
            if self.object_lock_days > self.retention_days:
                raise ValueError(
                    f"objectLockDays {self.object_lock_days} is longer than retentionDays {self.retention_days}: "
                    "locked exports could not expire; lower objectLockDays or raise retentionDays"
                )
        elif self.object_lock_days is not None:
            raise ValueError("objectLockDays is set but objectLock is off; set objectLock: governance|compliance")
        if self.cold_storage_after_days is not None and self.cold_storage_after_days >= self.retention_days:
            raise ValueError(
                f"coldStorageAfterDays {self.cold_storage_after_days} must be below retentionDays "
                f"{self.retention_days}, or exports expire before they move"
            )
        return self

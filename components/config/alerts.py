"""Config sections of disaster recognition: `safetynet:alerts` and `safetynet:drill`.

`alerts` says who is allowed to make destructive changes (the deploy principals), where alerts go
and how strict the freshness checks are; `drill` says how often the latest export is restored
into a scratch table to prove it restorable.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from components.config.base import ConfigModel
from components.config.schedule import validate_schedule_expression

# An IAM/STS principal ARN, with fnmatch wildcards allowed anywhere after the service part.
_PRINCIPAL_RE = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::(\d{12}|\*|\?+):[A-Za-z0-9+=,.@_/*?:\[\]-]+$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AlertsSpec(ConfigModel):
    """`safetynet:alerts`: who may change protected resources, where alerts go, freshness limits."""

    deploy_principals: list[str] = Field(
        default_factory=list,
        description="ARN patterns (fnmatch: * and ?) of the principals that run `pulumi up`; their "
        "destructive calls are labelled intended. Assumed roles match by role ARN "
        "(arn:aws:iam::<acct>:role/<name>) or session ARN "
        "(arn:aws:sts::<acct>:assumed-role/<name>/<session>).",
    )
    email: list[str] = Field(default_factory=list, description="E-mail subscriptions of the alert topic.")
    https: list[str] = Field(default_factory=list, description="HTTPS endpoint subscriptions of the alert topic.")
    create_trail: bool = Field(
        default=False,
        description="Declare a multi-region CloudTrail trail (management events). Destructive-event "
        "alerts need a trail in the account; leave false when one exists already.",
    )
    max_item_drop_ratio: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Alarm when an export has this fraction fewer items than the previous one.",
    )
    freshness_grace_hours: int = Field(
        default=6,
        ge=1,
        le=168,
        description="Alarm when no export completed within the schedule's interval plus these hours.",
    )

    @field_validator("deploy_principals")
    @classmethod
    def _principals(cls, v: list[str]) -> list[str]:
        bad = [p for p in v if not _PRINCIPAL_RE.match(p)]
        if bad:
            raise ValueError(
                f"not an IAM/STS principal ARN pattern: {', '.join(bad)}; write e.g. "
                "arn:aws:iam::123456789012:role/ci-deploy or "
                "arn:aws:sts::123456789012:assumed-role/ci-deploy/*"
            )
        if any(p.strip("*") == "" or p.endswith(":*") for p in v):
            raise ValueError("a pattern matching every principal of an account makes every change 'intended'")
        return v

    @field_validator("email")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        bad = [e for e in v if not _EMAIL_RE.match(e)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(bad)}; write e.g. oncall@example.com")
        return v

    @field_validator("https")
    @classmethod
    def _https(cls, v: list[str]) -> list[str]:
        bad = [u for u in v if not u.startswith("https://")]
        if bad:
            raise ValueError(f"HTTPS subscriptions must start with https://: {', '.join(bad)}")
        return v


class DrillSpec(ConfigModel):
    """`safetynet:drill`: the scheduled restore drill."""

    schedule: str = Field(
        default="cron(0 5 ? * SUN *)",
        description="EventBridge Scheduler expression of the drill (default: Sundays 05:00 UTC).",
    )
    max_age_days: int = Field(
        default=8, ge=1, le=90, description="Alarm when the last verified restore is older than this."
    )
    sample_size: int = Field(
        default=25, ge=1, le=1000, description="Items compared by key between the scratch and the live table."
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        return validate_schedule_expression(v)

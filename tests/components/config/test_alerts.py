"""`safetynet:alerts` and `safetynet:drill`: defaults, and invalid values rejected with the
config path and what to write instead."""

from __future__ import annotations

from typing import Any

import pytest

from components.config.loading import parse_stack_config
from tests.support.config import config_error


def _cfg(**sections: Any) -> Any:
    return parse_stack_config({"environment": "prod", **sections})


def _problems(**sections: Any) -> str:
    return config_error({"environment": "prod", **sections})


def test_defaults() -> None:
    cfg = _cfg()
    assert cfg.alerts.deploy_principals == [] and cfg.alerts.create_trail is False
    assert (cfg.alerts.max_item_drop_ratio, cfg.alerts.freshness_grace_hours) == (0.2, 6)
    assert (cfg.drill.schedule, cfg.drill.max_age_days, cfg.drill.sample_size) == (
        "cron(0 5 ? * SUN *)",
        8,
        25,
    )


def test_camel_case_keys() -> None:
    cfg = _cfg(
        alerts={
            "deployPrincipals": ["arn:aws:sts::123456789012:assumed-role/ci-deploy/*"],
            "email": ["oncall@example.com"],
            "https": ["https://hooks.example.com/x"],
            "createTrail": True,
            "maxItemDropRatio": 0.5,
            "freshnessGraceHours": 12,
        },
        drill={"schedule": "rate(3 days)", "maxAgeDays": 4, "sampleSize": 100},
    )
    assert cfg.alerts.create_trail and cfg.alerts.max_item_drop_ratio == 0.5
    assert cfg.drill.schedule == "rate(3 days)" and cfg.drill.sample_size == 100


def test_principal_that_is_not_an_arn() -> None:
    msg = _problems(alerts={"deployPrincipals": ["ci-deploy"]})
    assert "safetynet:alerts.deployPrincipals: not an IAM/STS principal ARN pattern: ci-deploy" in msg
    assert "arn:aws:iam::123456789012:role/ci-deploy" in msg


@pytest.mark.parametrize("pattern", ["arn:aws:iam::123456789012:*", "*"])
def test_pattern_matching_everyone_is_refused(pattern: str) -> None:
    msg = _problems(alerts={"deployPrincipals": [pattern]})
    assert "safetynet:alerts.deployPrincipals" in msg


def test_bad_email_and_http_endpoint() -> None:
    msg = _problems(alerts={"email": ["oncall"], "https": ["http://insecure.example.com"]})
    assert "safetynet:alerts.email: not an e-mail address: oncall" in msg
    assert "safetynet:alerts.https: HTTPS subscriptions must start with https://" in msg


def test_drop_ratio_out_of_range() -> None:
    assert "safetynet:alerts.maxItemDropRatio" in _problems(alerts={"maxItemDropRatio": 1.5})


def test_bad_drill_schedule() -> None:
    msg = _problems(drill={"schedule": "weekly"})
    assert "safetynet:drill.schedule: a schedule is cron(0 3 * * ? *)" in msg


def test_unknown_key_is_a_typo() -> None:
    assert "safetynet:alerts.emails" in _problems(alerts={"emails": ["a@b.co"]})

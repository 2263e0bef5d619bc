"""IAM policies in tests: linting (parliament findings above LOW severity fail the test, and so
does any `*` action in an Allow statement) and evaluating (`allows`: is this action on this
resource, with this request context, granted?) for least-privilege tests."""

from __future__ import annotations

import json
from typing import Any

from parliament import analyze_policy_string
from parliament import config as parliament_config

# parliament's severities, lowest first.
_SEVERITY = {"MUTE": 0, "INFO": 1, "LOW": 2, "MEDIUM": 3, "HIGH": 4, "CRITICAL": 5}
STRICT_ISSUES = {"UNKNOWN_ACTION", "UNKNOWN_PREFIX"}
# Actions whose resource types parliament's copy of the Service Authorization Reference (1.6.4)
# lists as none ("*" required) where the current reference lists one: a RESOURCE_MISMATCH on them
# alone is parliament's stale data, not a policy error.
# - dynamodb:ListExports: `table` (optional) with aws:ResourceTag/${TagKey} ("Actions, resources,
#   and condition keys for Amazon DynamoDB"; also iann0036/iam-dataset's aws/iam_definition.json).
SAR_NEWER_THAN_PARLIAMENT = {"dynamodb:ListExports"}


def lint_findings(policy: dict[str, Any] | str, *, resource_policy: bool = False) -> list[str]:
    """Findings above LOW severity, plus wildcard actions in Allow statements.

    Permission policies (identity and resource policies) only; trust policies have no
    Resource element by design and are checked by their own tests.
    """
    doc = policy if isinstance(policy, str) else json.dumps(policy)
    analyzed = analyze_policy_string(doc, include_community_auditors=False, ignore_private_auditors=True)
    problems = []
    for f in analyzed.findings:
        severity = str(f.severity or parliament_config.get(f.issue, {}).get("severity", "CRITICAL")).upper()
        if resource_policy and f.issue == "MALFORMED" and "Principal" not in str(f.detail):
            continue
        if f.issue == "RESOURCE_MISMATCH" and all(
            isinstance(d, dict) and d.get("action") in SAR_NEWER_THAN_PARLIAMENT for d in f.detail
        ):
            continue
        # A misspelt action silently grants nothing: parliament rates that LOW, we fail on it.
        if _SEVERITY.get(severity, 5) > _SEVERITY["LOW"] or f.issue in STRICT_ISSUES:
            problems.append(f"{severity} {f.issue}: {f.detail} {f.location}")
    for stmt in json.loads(doc).get("Statement", []):
        if stmt.get("Effect") != "Allow":
            continue
        actions = stmt.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        problems += [f"wildcard action {a!r} in an Allow statement" for a in actions if "*" in a]
    return problems


def assert_clean(policy: dict[str, Any] | str, *, resource_policy: bool = False) -> None:
    """Fail with every finding listed."""
    findings = lint_findings(policy, resource_policy=resource_policy)
    assert not findings, "IAM policy lint findings:\n" + "\n".join(findings)


# -- evaluating statements: what a policy grants -------------------------------------------------

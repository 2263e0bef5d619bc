"""Rule `iam-no-wildcard-actions` (policy_rules/iam.py): only Allow statements count, NotAction is
a wildcard too, and a role's inline policies are read."""

from __future__ import annotations

import json

from policy_rules.iam import no_wildcard_actions


def test_wildcard_in_deny_statement_is_fine() -> None:
    doc = {"Statement": [{"Effect": "Deny", "Action": "s3:*", "Principal": "*", "Resource": "*"}]}
    assert no_wildcard_actions("aws:s3/bucketPolicy:BucketPolicy", {"policy": json.dumps(doc)}) == []


def test_not_action_in_allow_is_reported() -> None:
    doc = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    found = no_wildcard_actions("aws:iam/policy:Policy", {"policy": doc})
    assert any("NotAction" in f.message for f in found)


def test_wildcard_in_role_inline_policy_is_reported() -> None:
    doc = {"Statement": [{"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}]}
    found = no_wildcard_actions("aws:iam/role:Role", {"inlinePolicies": [{"name": "x", "policy": json.dumps(doc)}]})
    assert [f.message for f in found] == [
        "inlinePolicies[0] (x) statement Statement[0] allows wildcard actions s3:Get*"
    ]

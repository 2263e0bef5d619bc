"""A small evaluator of identity-policy Allow statements, for least-privilege tests: is this action
on this resource, with these resource tags, granted?

It knows what the backup policies use: Action and Resource lists with IAM's `*` and `?`
wildcards, and the StringEquals / StringLike operators on `aws:ResourceTag/<key>`. Anything else
in a statement (Deny, NotAction, NotResource, other operators or keys) makes it raise instead of
guessing, so a test cannot pass by evaluating a policy it does not understand.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

RESOURCE_TAG = "aws:ResourceTag/"
UNDERSTOOD = {"Sid", "Effect", "Action", "Resource", "Condition"}


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _wildcard(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    # IAM's wildcards are `*` and `?`; fnmatch also knows `[...]`, which no policy here contains.
    assert "[" not in pattern, f"unsupported pattern {pattern!r}"
    return fnmatchcase(value, pattern) if case_sensitive else fnmatchcase(value.lower(), pattern.lower())


def _condition_holds(condition: Mapping[str, Any], tags: Mapping[str, str]) -> bool:
    for operator, keys in condition.items():
        if operator not in ("StringEquals", "StringLike"):
            raise NotImplementedError(f"condition operator {operator}")
        for key, expected in keys.items():
            if not key.startswith(RESOURCE_TAG):
                raise NotImplementedError(f"condition key {key}")
            actual = tags.get(key[len(RESOURCE_TAG) :])
            if actual is None:
                return False  # a missing key never matches a positive string operator
            if operator == "StringEquals" and actual not in _listed(expected):
                return False
            if operator == "StringLike" and not any(
                _wildcard(p, actual, case_sensitive=True) for p in _listed(expected)
            ):
                return False
    return True


def allows(
    policy: Mapping[str, Any], action: str, resource: str, *, resource_tags: Mapping[str, str] | None = None
) -> bool:
    """Whether an Allow statement of `policy` grants `action` on `resource` (a resource with
    `resource_tags`). Action names match case-insensitively, resources case-sensitively."""
    granted = False
    for stmt in policy["Statement"]:
        unknown = set(stmt) - UNDERSTOOD
        if unknown or stmt["Effect"] != "Allow":
            raise NotImplementedError(f"statement {stmt.get('Sid')}: {sorted(unknown) or stmt['Effect']}")
        if not any(_wildcard(a, action, case_sensitive=False) for a in _listed(stmt["Action"])):
            continue
        if not any(_wildcard(r, resource, case_sensitive=True) for r in _listed(stmt["Resource"])):
            continue
        if _condition_holds(stmt.get("Condition", {}), resource_tags or {}):
            granted = True
    return granted

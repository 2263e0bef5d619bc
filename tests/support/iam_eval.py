"""A small evaluator of identity policies for the least-privilege tests of every role (backup,
staging, watch): is this action on this resource, in this request context, granted?

It knows what the program's policies use: Allow and Deny statements (a matching Deny wins);
Action and Resource lists with IAM's `*` and `?` wildcards; the String and Arn operators (Equals,
NotEquals, Like, NotLike), their `IfExists` forms and the `ForAllValues:` / `ForAnyValue:` set
qualifiers, and `Null`, over any condition key of the request context (resource and request tags,
`s3:prefix`, `dynamodb:LeadingKeys`), with IAM's rule for a key the request does not carry: a
positive operator is false, a negative one true, an `IfExists` one true. Anything else in a
statement (NotAction, NotResource, other operators) makes it raise instead of guessing, so a test
cannot pass by evaluating a policy it does not understand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

UNDERSTOOD = {"Sid", "Effect", "Action", "Resource", "Condition"}
OPERATORS = {
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
}
NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}

Context = Mapping[str, str | Sequence[str]]


def _listed(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _wildcard(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    # IAM's wildcards are `*` and `?`; fnmatch also knows `[...]`, which no policy here contains.
    assert "[" not in pattern, f"unsupported pattern {pattern!r}"
    return fnmatchcase(value, pattern) if case_sensitive else fnmatchcase(value.lower(), pattern.lower())


def _matches(operator: str, value: str, expected: list[str]) -> bool:
    """The positive test of `operator` (Equals or Like) for one request value."""
    if operator.endswith("Like"):
        return any(_wildcard(p, value) for p in expected)
    return value in expected


def _condition_holds(operator: str, key: str, expected: str | Sequence[str], context: Context) -> bool:
    # Condition key names are not case sensitive.
    present = key.lower() in {k.lower() for k in context}
    if operator == "Null":
        return present is (_listed(expected) == ["false"])
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    if op not in OPERATORS or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise NotImplementedError(f"condition operator {operator}")
    found = {k.lower(): v for k, v in context.items()}.get(key.lower())
    values = None if found is None else _listed(found)
    wanted = _listed(expected)
    negated = op in NEGATED

    def one(value: str) -> bool:
        hit = _matches(op.replace("Not", ""), value, wanted)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return values is None or all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return values is not None and any(one(v) for v in values)
    if values is None:
        return if_exists or negated
    if len(values) != 1:
        raise NotImplementedError(f"{key} has several values; use a set qualifier")
    return one(values[0])


def resource_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The request context of a resource carrying `tags` (`aws:ResourceTag/<key>` keys)."""
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


def allows(policy: Mapping[str, Any] | str, action: str, resource: str, context: Context | None = None) -> bool:
    """Whether `policy` (a document or its JSON) grants `action` on `resource` in a request with
    this `context` (`aws:ResourceTag/<key>`, `aws:RequestTag/<key>`, `s3:prefix`, ...): an Allow
    statement matches and no Deny does. Action names match case-insensitively, resources
    case-sensitively."""
    doc = json.loads(policy) if isinstance(policy, str) else policy
    granted = False
    for stmt in doc["Statement"]:
        unknown = set(stmt) - UNDERSTOOD
        if unknown or stmt["Effect"] not in ("Allow", "Deny"):
            raise NotImplementedError(f"statement {stmt.get('Sid')}: {sorted(unknown) or stmt['Effect']}")
        if not any(_wildcard(a, action, case_sensitive=False) for a in _listed(stmt["Action"])):
            continue
        if not any(_wildcard(r, resource) for r in _listed(stmt["Resource"])):
            continue
        conditions = stmt.get("Condition", {})
        if all(
            _condition_holds(op, key, expected, context or {})
            for op, keys in conditions.items()
            for key, expected in keys.items()
        ):
            if stmt["Effect"] == "Deny":
                return False
            granted = True
    return granted

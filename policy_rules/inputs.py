"""Readers of resource inputs that every rule module shares.

Inputs may be the policy SDK's proxies rather than dicts, and any value may be missing: each
reader returns an empty value instead of raising, so a rule decides on what is there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from policy_rules.model import Props, Resource


def get(props: Any, *path: str) -> Any:
    """Nested lookup that returns None for anything missing (props may be proxies, not dicts)."""
    cur = props
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return cur


def as_list(value: Any) -> list[Any]:
    """A value that may be one item or many (as IAM's `Action`), as a list; None -> []."""
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    return list(value)


def tags_of(props: Props) -> Mapping[str, Any]:
    """The resource's `tags`, or {} when it has none."""
    tags = get(props, "tags")
    return tags if isinstance(tags, Mapping) else {}


def document(value: Any) -> Mapping[str, Any] | None:
    """A policy document given as JSON text or as a mapping; None when it is not one."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.strip():
        try:
            doc = json.loads(value)
        except ValueError:
            return None
        return doc if isinstance(doc, Mapping) else None
    return None


def statements(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A policy document's statements (one or many), skipping anything that is not a mapping."""
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, Mapping)]


def of_type(resources: Iterable[Resource], types: str | tuple[str, ...]) -> list[Resource]:
    """The resources declared with one of these type tokens."""
    wanted = (types,) if isinstance(types, str) else types
    return [r for r in resources if r.type in wanted]


def table_name_of_arn(arn: str) -> str | None:
    """`arn:...:table/NAME[/index/...|/stream/...]` -> NAME; None for anything else."""
    if ":table/" not in arn:
        return None
    return arn.split(":table/", 1)[1].split("/", 1)[0]

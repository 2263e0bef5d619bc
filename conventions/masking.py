"""The masking rule language, shared by the stack config (validated before anything is
declared) and the staging task (which applies the rules).

A rule names an attribute path of a table's items:

    email                 a top-level attribute
    address.street        a map member
    items[0].email        a list element's member
    items[*].email        every element of a list

and one action (drop, redact, hash, fake: see `handlers.staging.masking`). Key attributes
(table and index keys) may only be hashed: dropping or retyping them makes an item invalid,
redacting or faking them would merge distinct items onto one key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Action = Literal["drop", "redact", "hash", "fake"]
ACTIONS: tuple[str, ...] = ("drop", "redact", "hash", "fake")
Segment = str | int  # attribute name, list index, or WILDCARD
WILDCARD = "*"

_NAME_RE = re.compile(r"[^.\[\]]+")
_INDEX_RE = re.compile(r"\[(\d+|\*)\]")


class MaskingError(ValueError):
    """A masking rule is invalid for the table, or masking would produce an invalid item."""


@dataclass(frozen=True)
class MaskRule:
    """One rule: an attribute path and what to do with the value found there."""

    path: str
    action: Action
    value: str | None = None
    """The replacement for `redact` (default "REDACTED"; numbers use 0 unless this is numeric)."""


def parse_path(path: str) -> tuple[Segment, ...]:
    """`a.b[0].c` -> ("a", "b", 0, "c"); `[*]` -> WILDCARD. Raises MaskingError on bad syntax."""
    segments: list[Segment] = []
    pos = 0
    expect_name = True
    while pos < len(path):
        if expect_name:
            m = _NAME_RE.match(path, pos)
            if not m:
                raise MaskingError(f"mask path '{path}': expected an attribute name at position {pos}")
            name = m.group(0).strip()
            if name == WILDCARD:
                raise MaskingError(f"mask path '{path}': write every list element as [*], not .*")
            segments.append(name)
            pos = m.end()
            expect_name = False
            continue
        m = _INDEX_RE.match(path, pos)
        if m:
            idx = m.group(1)
            segments.append(WILDCARD if idx == "*" else int(idx))
            pos = m.end()
        elif path[pos] == "." and pos + 1 < len(path):
            pos += 1
            expect_name = True
        else:
            raise MaskingError(
                f"mask path '{path}': unexpected '{path[pos]}' at position {pos}; "
                "write names joined by '.', list elements as [0] or [*], e.g. items[*].email"
            )
    if not segments or expect_name:
        raise MaskingError(f"mask path '{path}' is empty or ends with '.'")
    return tuple(segments)


def validate_rules(rules: Iterable[MaskRule], key_attributes: Mapping[str, str], *, where: str = "") -> list[str]:
    """Problems of a table's rules (empty when valid). `key_attributes` maps each table and index
    key attribute to its type (S, N or B); each problem names the rule's path."""
    problems: list[str] = []
    seen: set[str] = set()
    for rule in rules:
        label = f"{where}{rule.path}"
        if rule.action not in ACTIONS:
            problems.append(f"{label}: unknown action '{rule.action}'; use one of {', '.join(ACTIONS)}")
            continue
        try:
            segments = parse_path(rule.path)
        except MaskingError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if rule.path in seen:
            problems.append(f"{label}: masked twice; keep one rule per path")
        seen.add(rule.path)
        if rule.value is not None and rule.action != "redact":
            problems.append(f"{label}: 'value' is only used by action redact; remove it")
        head = segments[0]
        if head in key_attributes:
            if len(segments) > 1:
                problems.append(
                    f"{label}: '{head}' is a key attribute of type {key_attributes[str(head)]}, "
                    "it has no nested members"
                )
            elif rule.action != "hash":
                problems.append(
                    f"{label}: '{head}' is a table or index key attribute; it may only be hashed "
                    f"(action: hash keeps its type {key_attributes[str(head)]} and its uniqueness), "
                    f"not {rule.action}"
                )
    return problems

"""The condition that makes a rewind's write atomic with its check: "the item is still exactly as
the window left it".

For an item the window left in place (NewImage), the condition compares every attribute of that
image with its value (`#n0 = :v0 AND #n1 = :v1 ...`; DynamoDB's `=` works on every type, maps
and lists included, numbers by value, sets as sets). For an item the window deleted, it is
`attribute_not_exists(<key>)`. DynamoDB limits an expression (Constraints page, "Expression
parameters"): at most 4 KB of expression text and 300 operators or functions, and 2 MB for all
substitution values together (an item is at most 400 KB, so the values always fit). An `=` and
each `AND` are operators, so one condition compares at most 150 attributes.

An item with more top-level attributes than that gets a *partial* guard: the attributes the window
changed first (those are what a later write is most likely to touch again), then the others by
name, as many as the limits allow. What that guarantees is stated where the guard is used
(`handlers.rewind.apply`): the whole item was compared on a strongly consistent read just before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from handlers.exports.items import Item

MAX_EXPRESSION_BYTES = 4096
"""DynamoDB: "The maximum length of any expression string is 4 KB"."""
MAX_OPERATORS = 300
"""DynamoDB: at most 300 operators or functions in an expression (comparators, AND, functions)."""
MAX_SUBSTITUTION_BYTES = 2 * 1024 * 1024
"""DynamoDB: all ExpressionAttributeNames and ExpressionAttributeValues together, at most 2 MB."""


@dataclass(slots=True)
class Guard:
    """A ConditionExpression with its substitutions, and how much of the item it checks (built
    once per write: slots, no frozen-dataclass overhead on the hot path)."""

    expression: str
    names: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    checked: int = 0
    """Attributes compared (0 for an existence check)."""
    total: int = 0
    """Non-key attributes of the expected image."""

    @property
    def complete(self) -> bool:
        """True when the condition checks the whole expected state."""
        return self.checked == self.total

    @property
    def label(self) -> str:
        """`absent`, `exists`, `full` or `partial 150/212` (for reports)."""
        if self.expression.startswith("attribute_not_exists"):
            return "absent"
        if self.total == 0:
            return "exists"
        return "full" if self.checked == self.total else f"partial {self.checked}/{self.total}"

    def request(self) -> dict[str, Any]:
        """The request members: ConditionExpression, ExpressionAttributeNames[, ...Values]."""
        if self.values:
            return {
                "ConditionExpression": self.expression,
                "ExpressionAttributeNames": self.names,
                "ExpressionAttributeValues": self.values,
            }
        return {"ConditionExpression": self.expression, "ExpressionAttributeNames": self.names}


def absent_guard(keys: Mapping[str, Any]) -> Guard:
    """The item must not exist (what the window left for an item it deleted)."""
    first = min(keys)
    return Guard("attribute_not_exists(#k)", {"#k": first})


FULL_GUARD_ATTRIBUTES = (MAX_OPERATORS + 1) // 2
"""Attributes one condition can compare: n `=` and n-1 `AND` within 300 operators (150; their
text, `#n149 = :v149` joined by ` AND `, stays far below 4 KB)."""
_NAMES = tuple(f"#n{i}" for i in range(FULL_GUARD_ATTRIBUTES))
_VALUES = tuple(f":v{i}" for i in range(FULL_GUARD_ATTRIBUTES))
_EXPRESSIONS = tuple(
    " AND ".join(f"{n} = {v}" for n, v in zip(_NAMES[:k], _VALUES[:k], strict=True)) for k in range(151)
)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the full guard of every item with one attribute order shares: the compared names,
    the expression, ExpressionAttributeNames, and the values' placeholders with a getter that
    takes the compared values out of an item in one C call."""

    others: tuple[str, ...]
    expression: str
    names: dict[str, str]
    placeholders: tuple[str, ...]
    values_of: Callable[[Item], Any] | None
    """operator.itemgetter of `others` (None for none): a tuple for several, a bare value for one."""

    def values(self, expected: Item) -> dict[str, Any]:
        """ExpressionAttributeValues for `expected` (an item of this shape)."""
        assert self.values_of is not None
        got = self.values_of(expected)
        # Equal lengths by construction; `strict=` would cost 150 ns per write (zip's keyword path).
        return dict(zip(self.placeholders, got)) if len(self.others) > 1 else {":v0": got}  # noqa: B905


_SHAPES: dict[tuple[str, ...], _Shape] = {}
"""Attribute orders seen -> their _Shape: a table's items mostly share a few orders, so the
expression text, names and getter are built once per order."""
_MAX_SHAPES = 1024


def _shape(order: tuple[str, ...], keys: Mapping[str, Any]) -> _Shape:
    shape = _SHAPES.get(order)
    if shape is None:
        others = tuple(name for name in order if name not in keys)
        shape = _Shape(
            others,
            _EXPRESSIONS[len(others)],
            dict(zip(_NAMES, others, strict=False)),
            _VALUES[: len(others)],
            itemgetter(*others) if others else None,
        )
        if len(_SHAPES) < _MAX_SHAPES:
            _SHAPES[order] = shape
    return shape


def item_guard(expected: Item, keys: Mapping[str, Any], *, first: Iterable[str] = ()) -> Guard:
    """The item must be exactly `expected` in every attribute the limits allow to compare; the
    names in `first` are compared first (the attributes the window changed)."""
    if len(expected) - len(keys) <= FULL_GUARD_ATTRIBUTES:
        shape = _shape(tuple(expected), keys)
        if not shape.others:
            return Guard("attribute_exists(#k)", {"#k": min(keys)})
        checked = len(shape.others)
        return Guard(shape.expression, shape.names, shape.values(expected), checked=checked, total=checked)
    # Too wide for one condition: the changed attributes first, then the others by name.
    rest = [name for name in expected if name not in keys]
    preferred = [name for name in first if name in expected and name not in keys]
    seen = set(preferred)
    chosen = (preferred + sorted(name for name in rest if name not in seen))[:FULL_GUARD_ATTRIBUTES]
    expression = _EXPRESSIONS[len(chosen)]
    assert len(expression.encode()) <= MAX_EXPRESSION_BYTES and 2 * len(chosen) - 1 <= MAX_OPERATORS
    return Guard(
        expression,
        dict(zip(_NAMES, chosen, strict=False)),
        {placeholder: expected[name] for placeholder, name in zip(_VALUES, chosen, strict=False)},
        checked=len(chosen),
        total=len(rest),
    )


def guard_request(
    expected: Item | None, keys: Mapping[str, Any], *, first: Iterable[str] = ()
) -> tuple[str, dict[str, Any]]:
    """(`guard_for(...).label`, `guard_for(...).request()`) without building a Guard: the write
    path's per-key form (the same condition, text and substitutions)."""
    if expected is None:
        return "absent", {
            "ConditionExpression": "attribute_not_exists(#k)",
            "ExpressionAttributeNames": {"#k": min(keys)},
        }
    if len(expected) - len(keys) <= FULL_GUARD_ATTRIBUTES:
        shape = _shape(tuple(expected), keys)
        if shape.others:
            return "full", {
                "ConditionExpression": shape.expression,
                "ExpressionAttributeNames": shape.names,
                "ExpressionAttributeValues": shape.values(expected),
            }
    guard = item_guard(expected, keys, first=first)
    return guard.label, guard.request()


def guard_for(expected: Item | None, keys: Mapping[str, Any], *, first: Iterable[str] = ()) -> Guard:
    """The guard of a write that must find the item as `expected` (None: absent)."""
    return absent_guard(keys) if expected is None else item_guard(expected, keys, first=first)

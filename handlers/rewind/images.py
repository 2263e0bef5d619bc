"""Items compared as DynamoDB compares them, keys as identities, and attribute-level diffs.

An item read from the table and an image read from an export hold the same data in boto3's
low-level format (`handlers.exports.items`), but not always the same text: a number may be written
`1.50` in one and `1.5` in the other, a set may list its members in another order. `same` says
whether two items are equal as DynamoDB sees them (numbers by value, sets as sets, maps by
member, lists in order, types never mixed), on a fast path when they are equal as Python data.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from handlers.exports.dynamodb_json import json_default
from handlers.exports.items import Item


def _number(text: str) -> Decimal | str:
    try:
        return Decimal(text)
    except InvalidOperation:  # not a number: compare the text (the reader rejects such files)
        return text


def _same_value(a: Any, b: Any) -> bool:  # noqa: PLR0911 (one flat dispatch on the type key)
    if a == b:
        return True
    if type(a) is not dict or type(b) is not dict or len(a) != 1 or len(b) != 1:
        return False
    ((kind, x),) = a.items()
    ((other, y),) = b.items()
    if kind != other:
        return False
    if kind == "N":
        return _number(x) == _number(y)
    if kind == "M":
        return _same_map(x, y)
    if kind == "L":
        return len(x) == len(y) and all(_same_value(i, j) for i, j in zip(x, y, strict=True))
    if kind == "NS":
        return {_number(v) for v in x} == {_number(v) for v in y}
    if kind in ("SS", "BS"):
        return set(x) == set(y)
    return False


def _same_map(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for name, value in a.items():
        other = b[name]
        if value != other and not _same_value(value, other):
            return False
    return True


def same(a: Item | None, b: Item | None) -> bool:
    """True when `a` and `b` are the same item for DynamoDB (None: no item; equal only to None)."""
    if a is None or b is None:
        return a is None and b is None
    return a == b or _same_map(a, b)


def same_value(a: Any, b: Any) -> bool:
    """True when two attribute values are equal for DynamoDB (numbers by value, sets as sets)."""
    return _same_value(a, b)


def _canonical_key_value(av: Mapping[str, Any]) -> tuple[str, Any]:
    ((kind, value),) = av.items()
    if kind == "N":
        number = _number(value)
        # Decimal('1.50') and Decimal('1.5') hash alike; normalize() makes the text equal too.
        return kind, number.normalize() if isinstance(number, Decimal) else number
    if kind == "B":
        return kind, bytes(value)
    return kind, value


def key_id(keys: Mapping[str, Any], names: tuple[str, ...] | None = None) -> tuple[Any, ...]:
    """A hashable identity of an item's key (key attributes only, numbers by value). `names`:
    the key attribute names (`key_names`), to take the key out of a whole item."""
    if names is None:
        names = tuple(sorted(keys))
    try:  # string keys (the common case): their values (a table's key types never change)
        if len(names) == 2:
            return (keys[names[0]]["S"], keys[names[1]]["S"])
        if len(names) == 1:
            return (keys[names[0]]["S"],)
    except KeyError:
        pass
    # Numbers normalized, binary as bytes; (name, type, value) triples, never equal to the above.
    return tuple(
        [
            (name, "S", av["S"]) if "S" in av else (name, *_canonical_key_value(av))
            for name in names
            for av in (keys[name],)
        ]
    )


def key_names(keys: Mapping[str, Any]) -> tuple[str, ...]:
    """The key attribute names in a fixed order (what `key_id` takes)."""
    return tuple(sorted(keys))


def encode(value: Any) -> str:
    """A value (item, key or attribute value) as DynamoDB JSON text (binary as base64)."""
    return orjson.dumps(value, default=json_default, option=orjson.OPT_SORT_KEYS).decode()


def changed_attributes(a: Item | None, b: Item | None) -> list[str]:
    """The attribute names whose value differs between `a` and `b` (present in one only, or
    different), sorted."""
    left, right = a or {}, b or {}
    return sorted(
        name
        for name in left.keys() | right.keys()
        if name not in left or name not in right or not _same_value(left[name], right[name])
    )


def diff_rows(
    before: Item | None, bad: Item | None, now: Item | None = None, *, skip: tuple[str, ...] = ()
) -> list[tuple[str, str, str, str]]:
    """An attribute-level diff of the three versions of an item: (attribute, before, bad, now)
    for every attribute whose value is not the same in all of them, `-` where it is absent (an
    absent item has no attributes); `skip`: names left out (the key, shown on its own)."""
    images = [before or {}, bad or {}, now or {}]
    names = sorted((images[0].keys() | images[1].keys() | images[2].keys()) - set(skip))
    rows = []
    for name in names:
        values = [image.get(name) for image in images]
        if all(v is not None for v in values) and all(_same_value(values[0], v) for v in values[1:]):
            continue
        before_text, bad_text, now_text = (encode(v) if v is not None else "-" for v in values)
        rows.append((name, before_text, bad_text, now_text))
    return rows

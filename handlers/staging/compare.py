"""Items compared as DynamoDB compares them, their primary keys, and 64-bit digests of those keys
(the sweep of a refill and the verify step both rely on these)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def _norm(av: Mapping[str, Any]) -> Any:  # noqa: PLR0911 (one return per DynamoDB type)
    """A comparable form of an attribute value: numbers by value, sets unordered, binary as bytes."""
    ((typ, val),) = av.items()
    if typ == "N":
        return ("N", Decimal(val))
    if typ == "B":
        return ("B", base64.b64decode(val) if isinstance(val, str) else bytes(val))
    if typ == "NS":
        return ("NS", frozenset(Decimal(v) for v in val))
    if typ == "SS":
        return ("SS", frozenset(val))
    if typ == "BS":
        return ("BS", frozenset(base64.b64decode(v) if isinstance(v, str) else bytes(v) for v in val))
    if typ == "M":
        return ("M", tuple(sorted((k, _norm(v)) for k, v in val.items())))
    if typ == "L":
        return ("L", tuple(_norm(v) for v in val))
    return (typ, val)


def normalize_item(item: Mapping[str, Any]) -> Any:
    """Items compare equal under this exactly when DynamoDB considers them the same data."""
    return tuple(sorted((k, _norm(v)) for k, v in item.items()))


def key_of(item: Mapping[str, Any], key_names: Sequence[str]) -> dict[str, Any]:
    """The primary key of an item."""
    return {k: item[k] for k in key_names}


def key_digest(item: Mapping[str, Any], key_names: Sequence[str]) -> int:
    """A 64-bit digest of an item's primary key (numbers by value, binary as bytes)."""
    h = hashlib.blake2b(digest_size=8)
    for name in key_names:
        h.update(repr(_norm(item[name])).encode())
        h.update(b"\x00")
    return int.from_bytes(h.digest(), "big")

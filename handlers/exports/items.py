"""DynamoDB items in memory: boto3's low-level client format, and what makes one valid.

One in-memory representation is used everywhere (readers, masking, loaders, writers): the
**low-level attribute format of boto3's DynamoDB client**, exactly what `client.scan()` returns
and `client.batch_write_item()` / `put_item()` accept:

    {"id": {"S": "a"}, "n": {"N": "12345678901234567890123456789012345678"},
     "raw": {"B": b"\\x00\\xff"}, "tags": {"SS": ["x", "y"]}, "blobs": {"BS": [b"\\x01"]},
     "gone": {"NULL": True}, "ok": {"BOOL": False},
     "doc": {"M": {"list": {"L": [{"N": "1"}, {"S": "two"}]}}}}

Numbers stay the exact decimal strings DynamoDB sent (never float/Decimal round trips), binary
values are `bytes` (boto3 base64-encodes them on the wire itself), sets are lists in file order.
Files hold the same structure as DynamoDB JSON, where binary is a base64 string: the
conversion happens only at the file boundary (`dynamodb_json`, `ion`, and `legacy` for Data
Pipeline backups), so nothing is lost in between. `check_item` is what writers check before an
item goes into a file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Item = dict[str, Any]
"""A DynamoDB item in boto3's low-level attribute format (see the module docstring)."""

SCALAR_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL"})
SET_TYPES = frozenset({"SS", "NS", "BS"})
ALL_TYPES = SCALAR_TYPES | SET_TYPES | {"M", "L"}

# DynamoDB number syntax (sign, digits, optional fraction, optional exponent). Precision and
# magnitude limits are DynamoDB's to enforce; the format's job is to keep the string exact.
NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

# Nesting limit of DynamoDB documents (maps and lists) is 32 levels.
MAX_DEPTH = 32


class ItemFormatError(ValueError):
    """An item or attribute value that is not valid DynamoDB data; `path` locates it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason

    def within(self, segment: str) -> ItemFormatError:
        """The same error seen from one level up (`segment` is a name or `[index]`). Paths are
        built only when an error travels up, never on the hot path."""
        if not self.path:
            path = segment
        elif self.path.startswith("["):
            path = segment + self.path
        else:
            path = f"{segment}.{self.path}"
        return ItemFormatError(path, self.reason)


def join_path(path: str, name: str) -> str:
    """`path.name` (an attribute path one level down)."""
    return f"{path}.{name}" if path else name


def check_number(value: Any, path: str) -> None:
    """Raise ItemFormatError unless `value` is a DynamoDB number string."""
    if not isinstance(value, str) or not NUMBER.fullmatch(value):
        raise ItemFormatError(path, f"N must be a decimal number string, got {value!r}")


def _check_set(kind: str, value: Any) -> None:
    if not isinstance(value, list | tuple | set | frozenset) or not value:
        raise ItemFormatError("", f"{kind} must be a non-empty list")
    if kind == "SS" and not all(isinstance(v, str) for v in value):
        raise ItemFormatError("", "SS members must be str")
    if kind == "NS":
        for v in value:
            check_number(v, "")
    if kind == "BS" and not all(isinstance(v, bytes | bytearray) for v in value):
        raise ItemFormatError("", "BS members must be bytes")


def _check_container(kind: str, value: Any, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise ItemFormatError("", f"nested deeper than DynamoDB's {MAX_DEPTH} levels")
    if kind == "M":
        if not isinstance(value, dict):
            raise ItemFormatError("", "M must be a dict")
        for name, sub in value.items():
            try:
                _check_value(sub, depth + 1)
            except ItemFormatError as exc:
                raise exc.within(name) from None
    else:
        if not isinstance(value, list | tuple):
            raise ItemFormatError("", "L must be a list")
        for i, sub in enumerate(value):
            try:
                _check_value(sub, depth + 1)
            except ItemFormatError as exc:
                raise exc.within(f"[{i}]") from None


_SCALAR_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "S": (lambda v: isinstance(v, str), "S must be a str"),
    "B": (lambda v: isinstance(v, bytes | bytearray), "B must be bytes (boto3's low-level format)"),
    "BOOL": (lambda v: isinstance(v, bool), "BOOL must be a bool"),
    "NULL": (lambda v: v is True, "NULL must be True"),
}


def _check_value(av: Any, depth: int) -> None:
    """Check a low-level attribute value as boto3's client would send it (binary as bytes);
    error paths are added by the callers."""
    if not isinstance(av, dict) or len(av) != 1:
        raise ItemFormatError("", f"an attribute value must be a dict with one type key, got {av!r:.80}")
    ((kind, value),) = av.items()
    if kind in _SCALAR_CHECKS:
        accepts, message = _SCALAR_CHECKS[kind]
        if not accepts(value):
            raise ItemFormatError("", message)
    elif kind == "N":
        check_number(value, "")
    elif kind in SET_TYPES:
        _check_set(kind, value)
    elif kind in ("M", "L"):
        _check_container(kind, value, depth)
    else:
        raise ItemFormatError("", f"unknown attribute type {kind!r} (expected one of {sorted(ALL_TYPES)})")


def check_item(item: Any) -> None:
    """Raise ItemFormatError (with the attribute path) unless `item` is a valid low-level item
    (binary as bytes)."""
    if not isinstance(item, dict) or not item:
        raise ItemFormatError("", "an item must be a non-empty dict of attributes")
    for name, av in item.items():
        if not isinstance(name, str) or not name:
            raise ItemFormatError(str(name), "attribute names must be non-empty strings")
        try:
            _check_value(av, 1)
        except ItemFormatError as exc:
            raise exc.within(name) from None

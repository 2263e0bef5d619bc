"""DYNAMODB_JSON export lines <-> items in memory (`handlers.exports.items`).

A file holds each item as DynamoDB JSON, `{"Item": {"id": {"S": "a"}, "raw": {"B": "AP8="}}}`,
where binary is base64 text; in memory binary is `bytes`. The conversion happens only here, at
the file boundary, so nothing is lost in between. Decoding checks every attribute value (a
malformed line raises ItemFormatError with the attribute path) on a fast path tuned for
multi-gigabyte exports (bench/export_read.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Any

import orjson

from handlers.exports.items import (
    ALL_TYPES,
    MAX_DEPTH,
    NUMBER,
    SET_TYPES,
    Item,
    ItemFormatError,
    check_number,
)


def _b64decode(value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise ItemFormatError(path, f"B must be a base64 string in a file, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ItemFormatError(path, f"B is not valid base64 ({exc})") from None


# --- file (DynamoDB JSON) -> memory --------------------------------------------------------


def _decode_container(kind: str, value: Any, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise ItemFormatError("", f"nested deeper than DynamoDB's {MAX_DEPTH} levels")
    if kind == "M":
        if type(value) is not dict:
            raise ItemFormatError("", "M must be an object")
        for name, sub in value.items():
            try:
                decode_value(sub, depth + 1)
            except ItemFormatError as exc:
                raise exc.within(name) from None
    else:
        if type(value) is not list:
            raise ItemFormatError("", "L must be an array")
        for i, sub in enumerate(value):
            try:
                decode_value(sub, depth + 1)
            except ItemFormatError as exc:
                raise exc.within(f"[{i}]") from None


def _decode_set(av: dict[str, Any], kind: str, value: Any) -> None:
    if type(value) is not list or not value:
        raise ItemFormatError("", f"{kind} must be a non-empty array")
    if kind == "SS":
        if not all(type(v) is str for v in value):
            raise ItemFormatError("", "SS members must be strings")
    elif kind == "NS":
        for v in value:
            check_number(v, "")
    else:
        av["BS"] = [_b64decode(v, "") for v in value]


def decode_value(av: Any, depth: int) -> None:
    """Check one DynamoDB JSON attribute value and turn its base64 binaries into bytes, in place.
    Tests are ordered by how common each type is; error paths are added by the callers."""
    if type(av) is not dict or len(av) != 1:
        raise ItemFormatError("", f"an attribute value must be an object with one type key, got {av!r:.80}")
    ((kind, value),) = av.items()
    if kind == "S":
        if type(value) is not str:
            raise ItemFormatError("", "S must be a string")
    elif kind == "N":
        if type(value) is not str or not NUMBER.fullmatch(value):
            raise ItemFormatError("", f"N must be a decimal number string, got {value!r}")
    elif kind == "M" or kind == "L":  # noqa: PLR1714 - two compares beat a tuple lookup here
        _decode_container(kind, value, depth)
    elif kind == "BOOL":
        if type(value) is not bool:
            raise ItemFormatError("", "BOOL must be true or false")
    elif kind == "NULL":
        if value is not True:
            raise ItemFormatError("", "NULL must be true")
    else:
        _decode_rare(av, kind, value)


def _decode_rare(av: dict[str, Any], kind: str, value: Any) -> None:
    if kind == "B":
        av["B"] = _b64decode(value, "")
    elif kind in SET_TYPES:
        _decode_set(av, kind, value)
    else:
        raise ItemFormatError("", f"unknown attribute type {kind!r} (expected one of {sorted(ALL_TYPES)})")


def decode_item(obj: Any) -> Item:
    """Turn a parsed DynamoDB JSON item (`{"attr": {"S": ...}, ...}`) into the low-level format,
    checking every value. Mutates and returns `obj`. Raises ItemFormatError."""
    if type(obj) is not dict or not obj:
        raise ItemFormatError("", "an item must be a non-empty object of attributes")
    for name, av in obj.items():
        try:
            decode_value(av, 1)
        except ItemFormatError as exc:
            raise exc.within(name) from None
    return obj


def _decode_binaries(values: Iterable[Any]) -> None:
    """Only turn base64 binaries into bytes, in place (no checks): for files already validated.
    Each value has exactly one type key: it is unpacked once and only the four types that hold
    or may hold binaries are looked at."""
    for av in values:
        (kind,) = av
        if kind in _HOLDS_BINARY:
            if kind == "B":
                av["B"] = _b64(av["B"])
            elif kind == "M":
                _decode_binaries(av["M"].values())
            elif kind == "L":
                _decode_binaries(av["L"])
            else:
                av["BS"] = [_b64(v) for v in av["BS"]]


_HOLDS_BINARY = frozenset({"B", "BS", "M", "L"})
_b64 = binascii.a2b_base64
"""base64.b64decode without its wrapper (the same lenient decoding: `validate=False`); the
checked path (`_b64decode`) is strict."""


BINARY_TYPE = re.compile(rb'"BS?"')
"""A "B" or "BS" type key. In a line as AWS writes it (compact JSON, type keys never escaped)
each B or BS value shows exactly one such token; other tokens (a string "B", an attribute named
B) only add to the count. Counting them is one regex scan, about 0.5 us on a 700-byte line."""

_GUESS: tuple[str, ...] = ()
"""Top-level attribute names that held B or BS values in the lines walked in full lately (a
tuple, replaced whole: threads may read it while another learns)."""
_MAX_GUESS = 32


def _walk_and_learn(part: Item, learned: list[str]) -> None:
    """Decode every binary of `part` (a walk of every value); add the names of the top-level
    attributes that held one to `learned`."""
    for name, av in part.items():
        (kind,) = av
        if kind == "B":
            av["B"] = _b64(av["B"])
            learned.append(name)
        elif kind == "BS":
            av["BS"] = [_b64(v) for v in av["BS"]]
            learned.append(name)
        elif kind == "M":
            _decode_binaries(av["M"].values())
        elif kind == "L":
            _decode_binaries(av["L"])


def decode_line_binaries(line: bytes, parts: tuple[Item | None, ...]) -> None:
    """Turn the base64 binaries of a validated line's parsed `parts` (an item, or a change's keys
    and images) into bytes, in place, without walking every value when it can be avoided.

    A table's binaries mostly sit in the same few top-level attributes: those seen lately are
    looked at first, and that is enough when they hold as many B and BS values as the line has
    type tokens (BINARY_TYPE): every binary value shows one token and nothing else removes one,
    so equal counts mean none was missed. Otherwise (a binary elsewhere, in a map or a list, or
    a string that reads "B") every value is walked, before anything was decoded, and the names
    are learned. A line without a token is not looked at."""
    tokens = len(BINARY_TYPE.findall(line))
    if not tokens:
        return
    guess = _GUESS
    if guess:
        found = [
            av
            for part in parts
            if part is not None
            for name in guess
            if (av := part.get(name)) is not None and ("B" in av or "BS" in av)
        ]
        if len(found) == tokens:
            for av in found:
                if "B" in av:
                    av["B"] = _b64(av["B"])
                else:
                    av["BS"] = [_b64(v) for v in av["BS"]]
            return
    learned: list[str] = []
    for part in parts:
        if part is not None:
            _walk_and_learn(part, learned)
    if learned and not set(learned) <= set(guess):
        _learn(learned)


def _learn(names: list[str]) -> None:
    global _GUESS  # noqa: PLW0603 (one tuple, replaced whole)
    _GUESS = tuple(dict.fromkeys((*_GUESS, *names)))[-_MAX_GUESS:]


def _valid_values(values: Iterable[Any], depth: int) -> bool:  # noqa: PLR0912 (one flat dispatch is the point)
    """The hot path of `decode_export_line`: True when every attribute value is valid DynamoDB
    JSON (base64 binaries are turned into bytes in place), False as soon as one is not - the
    caller then runs the detailed checks (`decode_item`) on a fresh parse to say where and why.
    Same rules as `decode_value`, with the common types tested inline (no call per value)."""
    for av in values:
        if type(av) is not dict:
            return False
        try:
            (kind,) = av  # exactly one type key
        except ValueError:
            return False
        value = av[kind]
        if kind == "S":
            ok = type(value) is str
        elif kind == "N":
            ok = type(value) is str and ((value.isdigit() and value.isascii()) or _number_match(value) is not None)
        elif kind == "M":
            ok = type(value) is dict and depth < MAX_DEPTH and _valid_values(value.values(), depth + 1)
        elif kind == "L":
            ok = type(value) is list and depth < MAX_DEPTH and _valid_values(value, depth + 1)
        elif kind == "BOOL":
            ok = type(value) is bool
        elif kind == "NULL":
            ok = value is True
        elif kind == "SS":
            ok = type(value) is list and len(value) > 0 and all(type(v) is str for v in value)
        elif kind == "B" and type(value) is str:
            try:
                av["B"] = _a2b_base64(value, strict_mode=True)  # what b64decode(validate=True) runs
                ok = True
            except (binascii.Error, ValueError):
                ok = False
        else:
            ok = _rare_valid(av)
        if not ok:
            return False
    return True


_a2b_base64 = binascii.a2b_base64


def _rare_valid(av: dict[str, Any]) -> bool:
    ((kind, value),) = av.items()
    try:
        _decode_rare(av, kind, value)
    except ItemFormatError:
        return False
    return True


_number_match = NUMBER.fullmatch


def valid_values(values: Iterable[Any], depth: int = 1) -> bool:  # noqa: PLR0911, PLR0912 (one flat dispatch)
    """True when every attribute value is valid DynamoDB JSON - exactly `_valid_values`' rules -
    **without changing anything**: binaries are checked as base64, not replaced. For checks only
    (`handlers.exports.apply.check_line`) of values parsed by orjson (dict, list, str, int, float,
    bool, None). Tuned for CPU time (bench/replay.py): one flat dispatch, common types first, a
    call only per map or list (faster on CPython 3.11 than an explicit stack of iterators), no
    object built, a number string given to the regex only when it is not plain ASCII digits.
    "Exactly one type key" is the unpacking `(kind,) = av`: on anything but a one-key object it
    raises (ValueError, TypeError, IndexError for a one-element list) or finds no type below."""
    try:
        for av in values:
            (kind,) = av
            value = av[kind]
            if kind == "S":
                if type(value) is not str:
                    return False
            elif kind == "N":
                if type(value) is not str or (
                    not (value.isdigit() and value.isascii()) and _number_match(value) is None
                ):
                    return False
            elif kind == "M":
                if type(value) is not dict or depth >= MAX_DEPTH or not valid_values(value.values(), depth + 1):
                    return False
            elif kind == "L":
                if type(value) is not list or depth >= MAX_DEPTH or not valid_values(value, depth + 1):
                    return False
            elif kind == "BOOL":
                if type(value) is not bool:
                    return False
            elif kind == "NULL":
                if value is not True:
                    return False
            elif kind == "B":
                if type(value) is not str:
                    return False
                _a2b_base64(value, strict_mode=True)  # binascii.Error (a ValueError) unless base64
            elif kind in SET_TYPES:
                if type(value) is not list or not value:
                    return False
                for v in value:
                    if type(v) is not str:
                        return False
                if kind == "NS":
                    for v in value:
                        if _number_match(v) is None:
                            return False
                elif kind == "BS":
                    for v in value:
                        _a2b_base64(v, strict_mode=True)
            else:
                return False
    except (ValueError, TypeError, IndexError):
        return False
    return True


def _parse_line(line: bytes | str) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:  # also invalid UTF-8
        raise ItemFormatError("", f"not JSON ({exc})") from None


def decode_export_line(line: bytes | str) -> Item:
    """One line of a DYNAMODB_JSON export data file (`{"Item": {...}}`) -> low-level item,
    every attribute value checked (ItemFormatError names the attribute path and the reason)."""
    obj = _parse_line(line)
    if type(obj) is dict and type(item := obj.get("Item")) is dict and item and len(obj) == 1:
        if _valid_values(item.values(), 1):
            return item
        # Something is wrong: parse again (the fast path may have decoded some binaries) and let
        # the detailed checks raise with the path.
        obj = _parse_line(line)
    # Exactly the object AWS writes: the refill sends the line itself as the request's item.
    if type(obj) is not dict or "Item" not in obj or len(obj) != 1:
        raise ItemFormatError("", 'a line must be the object {"Item": {...}} and nothing else')
    return decode_item(obj["Item"])


def decode_export_line_unchecked(line: bytes) -> Item:
    """Like decode_export_line, for lines of a file that already passed validation (and whose
    MD5 is checked again while streaming): the JSON and the `Item` object are still required,
    but attribute values are not re-checked, and a line without binaries is not walked at all."""
    obj = _parse_line(line)
    if type(obj) is not dict or type(item := obj.get("Item")) is not dict or not item:
        raise ItemFormatError("", 'a line must be an object {"Item": {...}}')
    try:
        decode_line_binaries(line, (item,))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ItemFormatError("", f"malformed binary value ({exc})") from None
    return item


# --- memory -> file --------------------------------------------------------------------------


def json_default(obj: Any) -> Any:
    """orjson's `default` for low-level items: binary as base64 text, sets as lists."""
    if isinstance(obj, bytes | bytearray):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not DynamoDB data")


def encode_item(item: Item) -> bytes:
    """A low-level item (or key) -> DynamoDB JSON bytes (UTF-8, compact, binary as base64)."""
    return orjson.dumps(item, default=json_default)


def encode_export_line(item: Item) -> bytes:
    """A low-level item -> one DYNAMODB_JSON export line (UTF-8, newline-terminated)."""
    return b'{"Item":' + encode_item(item) + b"}\n"

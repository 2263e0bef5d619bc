"""DynamoDB attribute values between export files and boto3's low-level client.

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
conversion happens only here, at the file boundary, so nothing is lost in between.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import orjson

Item = dict[str, Any]
"""A DynamoDB item in boto3's low-level attribute format (see the module docstring)."""

SCALAR_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL"})
SET_TYPES = frozenset({"SS", "NS", "BS"})
ALL_TYPES = SCALAR_TYPES | SET_TYPES | {"M", "L"}

# DynamoDB number syntax (sign, digits, optional fraction, optional exponent). Precision and
# magnitude limits are DynamoDB's to enforce; the format's job is to keep the string exact.
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

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


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_number(value: Any, path: str) -> None:
    if not isinstance(value, str) or not _NUMBER.fullmatch(value):
        raise ItemFormatError(path, f"N must be a decimal number string, got {value!r}")


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
                _decode_value(sub, depth + 1)
            except ItemFormatError as exc:
                raise exc.within(name) from None
    else:
        if type(value) is not list:
            raise ItemFormatError("", "L must be an array")
        for i, sub in enumerate(value):
            try:
                _decode_value(sub, depth + 1)
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
            _check_number(v, "")
    else:
        av["BS"] = [_b64decode(v, "") for v in value]


def _decode_value(av: Any, depth: int) -> None:
    """Check one DynamoDB JSON attribute value and turn its base64 binaries into bytes, in place.
    Tests are ordered by how common each type is; error paths are added by the callers."""
    if type(av) is not dict or len(av) != 1:
        raise ItemFormatError("", f"an attribute value must be an object with one type key, got {av!r:.80}")
    ((kind, value),) = av.items()
    if kind == "S":
        if type(value) is not str:
            raise ItemFormatError("", "S must be a string")
    elif kind == "N":
        if type(value) is not str or not _NUMBER.fullmatch(value):
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
            _decode_value(av, 1)
        except ItemFormatError as exc:
            raise exc.within(name) from None
    return obj


def _decode_binaries(values: Iterable[Any]) -> None:
    """Only turn base64 binaries into bytes, in place (no checks): for files already validated.
    Each value has exactly one type key, so membership tests find it without a call per key."""
    for av in values:
        if "B" in av:
            av["B"] = _b64(av["B"])
        elif "M" in av:
            _decode_binaries(av["M"].values())
        elif "L" in av:
            _decode_binaries(av["L"])
        elif "BS" in av:
            av["BS"] = [_b64(v) for v in av["BS"]]


_b64 = base64.b64decode


def _valid_values(values: Iterable[Any], depth: int) -> bool:  # noqa: PLR0912 (one flat dispatch is the point)
    """The hot path of `decode_export_line`: True when every attribute value is valid DynamoDB
    JSON (base64 binaries are turned into bytes in place), False as soon as one is not - the
    caller then runs the detailed checks (`decode_item`) on a fresh parse to say where and why.
    Same rules as `_decode_value`, with the common types tested inline (no call per value)."""
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


_number_match = _NUMBER.fullmatch


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
    # A "B" or "BS" type key always appears as that exact token (false positives only walk).
    if b'"B"' in line or b'"BS"' in line:
        try:
            _decode_binaries(item.values())
        except (AttributeError, TypeError, ValueError) as exc:
            raise ItemFormatError("", f"malformed binary value ({exc})") from None
    return item


# --- memory -> file --------------------------------------------------------------------------


def _check_set(kind: str, value: Any) -> None:
    if not isinstance(value, list | tuple | set | frozenset) or not value:
        raise ItemFormatError("", f"{kind} must be a non-empty list")
    if kind == "SS" and not all(isinstance(v, str) for v in value):
        raise ItemFormatError("", "SS members must be str")
    if kind == "NS":
        for v in value:
            _check_number(v, "")
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
        _check_number(value, "")
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


# --- Ion exports -------------------------------------------------------------------------------


def _ion_number(value: Any, path: str) -> str:
    if isinstance(value, bool):
        raise ItemFormatError(path, "a bool where a number was expected")
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, Decimal):
        return str(Decimal(value))
    raise ItemFormatError(path, f"Ion value of type {type(value).__name__} is not a DynamoDB number")


def _ion_scalar(value: Any, ion_type: Any, path: str) -> dict[str, Any] | None:
    from amazon.ion.core import IonType

    if ion_type == IonType.NULL or value is None:
        return {"NULL": True}
    if ion_type == IonType.BOOL or isinstance(value, bool):
        return {"BOOL": bool(value)}
    if ion_type in (IonType.STRING, IonType.SYMBOL) or isinstance(value, str):
        return {"S": str(value)}
    if ion_type in (IonType.BLOB, IonType.CLOB) or isinstance(value, bytes):
        return {"B": bytes(value)}
    if ion_type in (IonType.INT, IonType.DECIMAL):
        return {"N": _ion_number(value, path)}
    return None


_ION_SETS = {"$dynamodb_SS": "SS", "$dynamodb_NS": "NS", "$dynamodb_BS": "BS"}


def _ion_value(value: Any, path: str, depth: int) -> dict[str, Any]:
    """One Ion value of a DynamoDB ION export -> low-level attribute value. Sets are Ion lists
    annotated `$dynamodb_SS`/`$dynamodb_NS`/`$dynamodb_BS`; numbers are Ion decimals."""
    from amazon.ion.core import IonType

    ion_type = getattr(value, "ion_type", None)
    scalar = _ion_scalar(value, ion_type, path)
    if scalar is not None:
        return scalar
    if depth >= MAX_DEPTH:
        raise ItemFormatError(path, f"nested deeper than DynamoDB's {MAX_DEPTH} levels")
    if ion_type in (IonType.LIST, IonType.SEXP) or isinstance(value, list):
        annotations = [getattr(a, "text", a) for a in getattr(value, "ion_annotations", ())]
        kind = next((_ION_SETS[a] for a in annotations if a in _ION_SETS), "L")
        if kind == "SS":
            out: dict[str, Any] = {"SS": [str(v) for v in value]}
        elif kind == "NS":
            out = {"NS": [_ion_number(v, path) for v in value]}
        elif kind == "BS":
            out = {"BS": [bytes(v) for v in value]}
        else:
            out = {"L": [_ion_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]}
        return out
    if ion_type != IonType.STRUCT and not isinstance(value, dict):
        raise ItemFormatError(path, f"Ion type {ion_type} has no DynamoDB equivalent")
    return {"M": {str(k): _ion_value(v, _join(path, str(k)), depth + 1) for k, v in value.items()}}


def _is_struct(value: Any) -> bool:
    from amazon.ion.core import IonType

    return isinstance(value, dict) or getattr(value, "ion_type", None) == IonType.STRUCT


def decode_ion_line(line: bytes | str) -> Item | None:
    """One line of an ION export data file (`{Item:{...}}`) -> low-level item.
    Returns None for a line holding only the Ion version marker."""
    from amazon.ion import simpleion
    from amazon.ion.exceptions import IonException

    text = line.decode("utf-8") if isinstance(line, bytes) else line
    try:
        values = simpleion.loads(text, single_value=False)
    except (IonException, ValueError, UnicodeDecodeError) as exc:
        raise ItemFormatError("", f"not Ion ({exc})") from None
    if not values:
        return None
    if len(values) != 1 or not _is_struct(values[0]) or "Item" not in values[0]:
        raise ItemFormatError("", "an Ion line must hold one struct {Item: {...}}")
    raw = values[0]["Item"]
    if not _is_struct(raw) or not raw:
        raise ItemFormatError("", "Item must be a non-empty struct")
    return {str(k): _ion_value(v, str(k), 1) for k, v in raw.items()}


# --- legacy AWS Data Pipeline (EMR) exports ----------------------------------------------------

# The EMR DynamoDB connector serialized the AWS SDK's AttributeValue with Gson: SDK v1 field
# names (`s`, `n`, `b`, `sS`, `nS`, `bS`, `m`, `l`, `nULLValue`, `bOOL`) in older files, the
# lower-cased type names (`ss`, `null`, `bool`, ...) in newer ones. Compared case-insensitively.
_LEGACY_TYPES = {
    "s": "S",
    "n": "N",
    "b": "B",
    "ss": "SS",
    "ns": "NS",
    "bs": "BS",
    "m": "M",
    "l": "L",
    "bool": "BOOL",
    "null": "NULL",
    "nul": "NULL",
    "nullvalue": "NULL",
}


def _legacy_value(av: Any, path: str, depth: int) -> dict[str, Any]:
    if not isinstance(av, dict):
        raise ItemFormatError(path, f"an attribute value must be an object, got {av!r:.80}")
    present = {k: v for k, v in av.items() if v is not None}
    if len(present) != 1:
        raise ItemFormatError(path, f"expected one type key, got {sorted(present)}")
    ((key, value),) = present.items()
    kind = _LEGACY_TYPES.get(key.lower())
    if kind is None:
        raise ItemFormatError(path, f"unknown Data Pipeline type key {key!r}")
    if depth >= MAX_DEPTH and kind in ("M", "L"):
        raise ItemFormatError(path, f"nested deeper than DynamoDB's {MAX_DEPTH} levels")
    if kind == "M":
        if not isinstance(value, dict):
            raise ItemFormatError(path, "m must be an object")
        return {"M": {k: _legacy_value(v, _join(path, k), depth + 1) for k, v in value.items()}}
    if kind == "L":
        if not isinstance(value, list):
            raise ItemFormatError(path, "l must be an array")
        return {"L": [_legacy_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]}
    out = {kind: value}
    try:
        _decode_value(out, depth)  # same checks and base64 handling as native exports
    except ItemFormatError as exc:
        raise ItemFormatError(path, exc.reason) from None
    return out


_STX = "\x02"  # between attributes in the Hive-era format
_ETX = "\x03"  # between an attribute's name and its value


def decode_datapipeline_line(line: bytes | str) -> Item:
    """One line of a Data Pipeline export file -> low-level item. Reads both the JSON-object
    form (`{"id":{"s":"a"}}`) and the older Hive form (`id<ETX>{"s":"a"}<STX>n<ETX>{"n":"1"}`)."""
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    text = text.strip("\r\n")
    try:
        if text.lstrip().startswith("{"):
            obj = json.loads(text)
        else:
            obj = {}
            for part in text.split(_STX):
                name, sep, value = part.partition(_ETX)
                if not sep:
                    raise ItemFormatError("", f"attribute {name!r:.40} has no value separator (ETX)")
                obj[name] = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ItemFormatError("", f"not JSON ({exc})") from None
    if not isinstance(obj, dict) or not obj:
        raise ItemFormatError("", "an item must be a non-empty object of attributes")
    return {name: _legacy_value(av, name, 1) for name, av in obj.items()}


LineDecoder = Callable[[bytes], Item | None]

"""ION export lines -> items in memory (`handlers.exports.items`).

An ION export writes a version marker, then one `{Item:{...}}` struct per line: numbers are Ion
decimals (38 digits stay exact), binary a blob, sets lists annotated `$dynamodb_SS`,
`$dynamodb_NS` or `$dynamodb_BS`. amazon-ion is imported on first use: most exports are
DYNAMODB_JSON.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from handlers.exports.items import MAX_DEPTH, Item, ItemFormatError, join_path


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
    return {"M": {str(k): _ion_value(v, join_path(path, str(k)), depth + 1) for k, v in value.items()}}


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

"""The fast checks of replay's validation (`valid_values`, `apply._line_ok`) accept exactly what
the detailed checks accept, so they can never let a bad line through nor change an error."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.exports.apply import _check_line_detailed, check_line
from handlers.exports.dynamodb_json import _valid_values, valid_values
from handlers.exports.items import ItemFormatError

ODD = st.sampled_from(["x", "", "1", "-1.5e3", "\u0661\u0662", "1.", ".5", "AA==", "A===", 0, 1.5, True, False, None])
NUMS = st.sampled_from(["1", "-2.5", "1e9", ".5", "1.", "\u0661", "x", "", "1e", "--1", 1])
B64 = st.sampled_from(["AA==", "AAE=", "", "A===", "A", "AA=A", "\u00e9", 1])
# Per type: values right and wrong for it, so every rule is hit often.
TYPED = {
    "S": st.one_of(st.text(max_size=3), ODD),
    "N": NUMS,
    "B": B64,
    "BOOL": st.sampled_from([True, False, 0, 1, "true", None]),
    "NULL": st.sampled_from([True, False, 1, "true", None]),
    "SS": st.one_of(st.lists(st.text(max_size=2), max_size=2), st.lists(ODD, max_size=2)),
    "NS": st.lists(NUMS, max_size=2),
    "BS": st.lists(B64, max_size=2),
    "X": ODD,
}
ATOM = st.one_of(ODD, st.lists(ODD, max_size=3))
LEAF = st.one_of(
    *(st.builds(lambda v, k=kind: {k: v}, values) for kind, values in TYPED.items()),
    ATOM,
    st.dictionaries(st.sampled_from(list(TYPED)), ATOM, min_size=2, max_size=2),
)
VALUE = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.builds(lambda m: {"M": m}, st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=3)),
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
        st.builds(lambda m: {"M": m}, ATOM),
        st.builds(lambda v: {"L": v}, ATOM),
    ),
    max_leaves=8,
)
KEY = st.one_of(st.sampled_from([{"S": "k"}, {"N": "7"}, {"N": "7.5"}, {"B": "AA=="}, {"B": "A"}]), VALUE)


def _outcome(check: Any, line: bytes) -> Any:
    try:
        return check(line)
    except ItemFormatError as exc:
        return str(exc)


@given(st.lists(st.one_of(LEAF, VALUE), max_size=6))
@settings(max_examples=1000, deadline=None)
def test_valid_values_agrees_with_the_decoding_check(values: list[Any]) -> None:
    assert valid_values(copy.deepcopy(values)) == _valid_values(copy.deepcopy(values), 1)


@given(
    keys=st.dictionaries(st.sampled_from(["pk", "sk", "x"]), KEY, max_size=3),
    extra=st.dictionaries(st.sampled_from(["a", "b"]), VALUE, max_size=2),
    stamp=st.sampled_from(["1", "1.5", "", "\u0661"]),
    shape=st.sampled_from(["put", "delete", "null", "list", "no-keys", "other-key"]),
    old=st.sampled_from([{"a": {"S": "x"}}, {"a": "junk"}, None, [], 3, "absent"]),
)
@settings(max_examples=400, deadline=None)
def test_check_line_agrees_with_the_detailed_checks(
    keys: dict[str, Any], extra: dict[str, Any], stamp: str, shape: str, old: Any
) -> None:
    line: dict[str, Any] = {"Metadata": {"WriteTimestampMicros": {"N": stamp}}, "Keys": keys}
    if shape == "put":
        line["NewImage"] = {**copy.deepcopy(keys), **extra}
    elif shape == "null":
        line["NewImage"] = None
    elif shape == "list":
        line["NewImage"] = [keys]
    elif shape == "no-keys":
        line["NewImage"] = extra
    elif shape == "other-key":
        line["NewImage"] = {**copy.deepcopy(keys), **extra, **{name: {"S": "other"} for name in keys}}
    if old != "absent":
        line["OldImage"] = old
    raw = orjson.dumps(line)
    assert _outcome(check_line, raw) == _outcome(_check_line_detailed, raw)


@pytest.mark.parametrize("raw", [b"[]", b"{", b"\xff", b"null", b'"Keys"', b'["Keys"]', b'{"Extra":1}'])
def test_check_line_refuses_what_is_not_a_change_line(raw: bytes) -> None:
    with pytest.raises(ItemFormatError):
        check_line(raw)

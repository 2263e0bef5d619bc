"""Binaries of validated lines (`decode_line_binaries`): the attributes that held binaries lately
are looked at first, and only trusted when they account for every B and BS token of the line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.exports import dynamodb_json
from handlers.exports.dynamodb_json import decode_export_line, decode_export_line_unchecked, encode_export_line
from handlers.exports.incremental import Change, decode_change_line, decode_change_line_unchecked, encode_change_line
from tests.support.dynamodb_strategies import nested_values


@pytest.fixture(autouse=True)
def fresh_guess() -> Iterator[None]:
    saved = dynamodb_json._GUESS
    dynamodb_json._GUESS = ()
    yield
    dynamodb_json._GUESS = saved


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every part walked in full (the slow path), in order."""
    seen: list[dict[str, Any]] = []
    walk = dynamodb_json._walk_and_learn

    def counting(part: dict[str, Any], learned: list[str]) -> None:
        seen.append(part)
        walk(part, learned)

    monkeypatch.setattr(dynamodb_json, "_walk_and_learn", counting)
    return seen


def order(i: int, receipt: Any) -> dict[str, Any]:
    return {"id": {"S": f"o{i}"}, "total": {"N": "1.5"}, "receipt": receipt}


def test_the_attributes_that_held_binaries_are_looked_at_first(walks: list[dict[str, Any]]) -> None:
    first, second = order(1, {"B": b"\x00\x01"}), order(2, {"B": b"\xff"})
    assert decode_export_line_unchecked(encode_export_line(first)) == first
    assert len(walks) == 1 and dynamodb_json._GUESS == ("receipt",)
    assert decode_export_line_unchecked(encode_export_line(second)) == second
    assert len(walks) == 1  # found where the first line had it: no walk


def test_a_binary_somewhere_else_is_still_found(walks: list[dict[str, Any]]) -> None:
    decode_export_line_unchecked(encode_export_line(order(1, {"B": b"a"})))
    nested = {**order(2, {"B": b"b"}), "lines": {"L": [{"M": {"scan": {"B": b"\x07"}}}]}}
    moved = {**order(3, {"S": "none"}), "proof": {"BS": [b"x", b"y"]}}
    assert decode_export_line_unchecked(encode_export_line(nested)) == nested
    assert decode_export_line_unchecked(encode_export_line(moved)) == moved
    assert len(walks) == 3
    assert set(dynamodb_json._GUESS) == {"receipt", "proof"}


def test_a_string_that_reads_like_a_type_key_makes_the_line_walked(walks: list[dict[str, Any]]) -> None:
    decode_export_line_unchecked(encode_export_line(order(1, {"B": b"a"})))
    tricky = {**order(2, {"B": b"b"}), "B": {"S": "B"}, "note": {"M": {"BS": {"S": "BS"}}}}
    assert decode_export_line_unchecked(encode_export_line(tricky)) == tricky
    assert len(walks) == 2


def test_a_change_line_decodes_its_keys_and_both_images(walks: list[dict[str, Any]]) -> None:
    keys = {"pk": {"B": b"\x01\x02"}}
    for i in range(3):
        change = Change(keys, {**order(i, {"B": b"new"}), **keys}, {**order(i, {"B": b"old"}), **keys}, i)
        assert decode_change_line_unchecked(encode_change_line(change)) == change
    assert len(walks) == 3  # the first line's three parts; then the guess
    assert set(dynamodb_json._GUESS) == {"pk", "receipt"}


names = st.sampled_from(["B", "BS", "S", "receipt", "blob", "x"])
scalars = st.one_of(
    st.sampled_from(["B", "BS", "", "a"]).map(lambda s: {"S": s}),
    st.integers(-5, 5).map(lambda n: {"N": str(n)}),
    st.binary(max_size=6).map(lambda b: {"B": b}),
    st.lists(st.binary(max_size=4), min_size=1, max_size=3, unique=True).map(lambda v: {"BS": v}),
    st.just({"BOOL": True}),
)
values = nested_values(scalars, names)
items = st.dictionaries(names, values, min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(run=st.lists(items, min_size=1, max_size=12))
def test_any_run_of_lines_decodes_as_the_checked_decoder_does(run: list[dict[str, Any]]) -> None:
    dynamodb_json._GUESS = ()
    for item in run:
        line = encode_export_line(item)
        assert decode_export_line_unchecked(line) == decode_export_line(line) == item


@settings(max_examples=100, deadline=None)
@given(run=st.lists(st.tuples(items, items), min_size=1, max_size=8))
def test_any_run_of_change_lines_decodes_as_the_checked_decoder_does(
    run: list[tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    dynamodb_json._GUESS = ()
    for i, (new, old) in enumerate(run):
        keys = {"pk": {"B": bytes([i])}} if i % 2 else {"pk": {"S": f"k{i}"}}
        change = Change(keys, {**new, **keys}, {**old, **keys}, i)
        line = encode_change_line(change)
        assert decode_change_line_unchecked(line) == decode_change_line(line) == change

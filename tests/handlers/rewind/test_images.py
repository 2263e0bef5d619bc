"""Items compared as DynamoDB compares them; keys as identities; attribute diffs."""

from __future__ import annotations

import pytest

from handlers.rewind.images import changed_attributes, diff_rows, key_id, same


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ({"n": {"N": "1.50"}}, {"n": {"N": "1.5"}}, True),
        ({"n": {"N": "1e2"}}, {"n": {"N": "100"}}, True),
        ({"n": {"N": "1"}}, {"n": {"S": "1"}}, False),
        ({"s": {"SS": ["a", "b"]}}, {"s": {"SS": ["b", "a"]}}, True),
        ({"s": {"NS": ["1.0", "2"]}}, {"s": {"NS": ["2", "1"]}}, True),
        ({"s": {"BS": [b"\x00", b"\x01"]}}, {"s": {"BS": [b"\x01", b"\x00"]}}, True),
        ({"l": {"L": [{"S": "a"}, {"S": "b"}]}}, {"l": {"L": [{"S": "b"}, {"S": "a"}]}}, False),
        ({"m": {"M": {"x": {"N": "1.0"}}}}, {"m": {"M": {"x": {"N": "1"}}}}, True),
        ({"m": {"M": {"x": {"N": "1"}}}}, {"m": {"M": {"x": {"N": "1"}, "y": {"NULL": True}}}}, False),
        ({"a": {"S": "x"}}, {"a": {"S": "x"}, "b": {"S": "y"}}, False),
    ],
)
def test_items_are_equal_as_dynamodb_sees_them(a: dict, b: dict, equal: bool) -> None:
    assert same(a, b) is equal and same(b, a) is equal


def test_no_item_equals_only_no_item() -> None:
    assert same(None, None) and not same(None, {"a": {"S": "x"}}) and not same({"a": {"S": "x"}}, None)


def test_a_key_is_the_same_identity_however_its_number_is_written() -> None:
    assert key_id({"pk": {"S": "a"}, "sk": {"N": "1.50"}}) == key_id({"sk": {"N": "1.5"}, "pk": {"S": "a"}})
    whole = {"pk": {"S": "a"}, "sk": {"N": "1.5"}, "other": {"S": "x"}}
    assert key_id(whole, ("pk", "sk")) == key_id({"pk": {"S": "a"}, "sk": {"N": "1.5"}})


def test_a_diff_lists_only_attributes_that_differ_in_some_version() -> None:
    before = {"pk": {"S": "a"}, "status": {"S": "PAID"}, "n": {"N": "1"}}
    bad = {"pk": {"S": "a"}, "status": {"S": "LOST"}, "n": {"N": "1.0"}}
    now = {"pk": {"S": "a"}, "status": {"S": "LOST"}, "n": {"N": "1"}, "new": {"B": b"\x00"}}
    assert diff_rows(before, bad, now) == [
        ("new", "-", "-", '{"B":"AA=="}'),
        ("status", '{"S":"PAID"}', '{"S":"LOST"}', '{"S":"LOST"}'),
    ]
    assert changed_attributes(before, bad) == ["status"]

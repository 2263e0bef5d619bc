"""Conditions within DynamoDB's expression limits (4 KB, 300 operators)."""

from __future__ import annotations

import pytest

from handlers.rewind.conditions import (
    MAX_EXPRESSION_BYTES,
    MAX_OPERATORS,
    absent_guard,
    guard_for,
    guard_request,
    item_guard,
)
from tests.handlers.rewind.support import item, key


def operators(expression: str) -> int:
    return expression.count(" = ") + expression.count(" AND ") + expression.count("attribute_")


def test_an_absent_item_is_guarded_by_attribute_not_exists_on_a_key() -> None:
    guard = guard_for(None, key("a"))
    assert (guard.expression, guard.names, guard.values, guard.label) == (
        "attribute_not_exists(#k)",
        {"#k": "pk"},
        {},
        "absent",
    )
    assert guard.request() == {
        "ConditionExpression": "attribute_not_exists(#k)",
        "ExpressionAttributeNames": {"#k": "pk"},
    }


def test_every_non_key_attribute_is_compared_and_keys_are_not() -> None:
    guard = item_guard(item("a", status="LOST", total=3), key("a"))
    assert guard.expression == "#n0 = :v0 AND #n1 = :v1"
    assert set(guard.names.values()) == {"status", "total"}
    assert guard.complete and guard.label == "full"


def test_when_not_all_attributes_fit_those_the_window_changed_come_first() -> None:
    wide = item("a", **{f"a{i:03d}": i for i in range(200)}, zz=1)
    guard = item_guard(wide, key("a"), first=["zz", "missing", "pk", "a199"])
    assert [guard.names[f"#n{i}"] for i in range(3)] == ["zz", "a199", "a000"]
    assert guard.checked == 150 and guard.total == 201


def test_a_wide_item_gets_the_most_attributes_the_limits_allow() -> None:
    wide = item("a", **{f"attribute_with_a_long_name_{i:04d}": i for i in range(1000)})
    guard = item_guard(wide, key("a"))
    assert (guard.checked, guard.total, guard.label) == (150, 1000, "partial 150/1000")
    assert len(guard.expression.encode()) <= MAX_EXPRESSION_BYTES
    assert operators(guard.expression) <= MAX_OPERATORS
    assert len(guard.values) == len(guard.names) == 150


def test_an_item_of_exactly_150_attributes_is_fully_guarded() -> None:
    guard = item_guard(item("a", **{f"a{i}": i for i in range(150)}), key("a"))
    assert guard.complete and operators(guard.expression) == 299


def test_the_absent_guard_names_the_first_key_attribute() -> None:
    assert absent_guard({"sk": {"N": "1"}, "pk": {"S": "a"}}).names == {"#k": "pk"}


@pytest.mark.parametrize(
    ("expected", "first"),
    [
        (None, ()),
        (item("a"), ()),
        (item("a", status="LOST", total=3), ()),
        (item("a", **{f"a{i}": i for i in range(150)}), ()),
        (item("a", **{f"a{i}": i for i in range(151)}), ("a150",)),
        (item("a", **{f"a{i:03d}": i for i in range(300)}), ("zz", "a299", "pk")),
    ],
    ids=["absent", "keys-only", "small", "150", "151-first", "300-first"],
)
def test_the_write_paths_guard_request_is_the_guards_own(expected: object, first: tuple[str, ...]) -> None:
    """`guard_request` (the per-key fast path the writes use) sends exactly the condition and
    label `guard_for` describes, for absent, full and partial guards."""
    guard = guard_for(expected, key("a"), first=first)  # type: ignore[arg-type]
    assert guard_request(expected, key("a"), first=first) == (guard.label, guard.request())  # type: ignore[arg-type]

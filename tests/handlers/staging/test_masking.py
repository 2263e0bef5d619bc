"""Masking: deterministic, type-preserving, schema-valid, and strict about key attributes."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conventions.masking import WILDCARD, MaskingError, MaskRule, parse_path, validate_rules
from handlers.staging.masking import (
    MAX_ITEM_BYTES,
    Masker,
    fake_value,
    hash_value,
    item_size,
    masking_key,
)

KEY = masking_key("0123456789abcdef-test-key")
OTHER_KEY = masking_key("another-key-of-sixteen-bytes-or-more")
CUSTOMER_KEYS = {"customerId": "S", "email": "S"}


def customer() -> dict[str, Any]:
    return {
        "customerId": {"S": "c-1"},
        "email": {"S": "ada@example.org"},
        "name": {"S": "Ada Lovelace"},
        "phone": {"S": "0123456789"},
        "score": {"N": "42.50"},
        "photo": {"B": base64.b64encode(b"\x00\x01binary").decode()},
        "address": {"M": {"street": {"S": "1 Analytical Way"}, "city": {"S": "London"}}},
        "orders": {
            "L": [
                {"M": {"id": {"S": "o1"}, "email": {"S": "a@x.org"}}},
                {"M": {"id": {"S": "o2"}, "email": {"S": "b@x.org"}}},
            ]
        },
        "tags": {"SS": ["vip", "early"]},
        "vip": {"BOOL": True},
    }


# -- paths and rule validation ---------------------------------------------------------------


def test_paths_parse_names_indexes_and_wildcards() -> None:
    assert parse_path("address.street") == ("address", "street")
    assert parse_path("items[0].email") == ("items", 0, "email")
    assert parse_path("items[*].email") == ("items", WILDCARD, "email")
    assert parse_path("matrix[1][2]") == ("matrix", 1, 2)


@pytest.mark.parametrize("bad", ["", "a.", ".a", "a[x]", "a..b", "a.*"])
def test_malformed_paths_are_rejected(bad: str) -> None:
    with pytest.raises(MaskingError):
        parse_path(bad)


@pytest.mark.parametrize("action", ["drop", "redact", "fake"])
def test_a_key_attribute_may_not_be_dropped_redacted_or_faked(action: str) -> None:
    problems = validate_rules([MaskRule("email", action)], CUSTOMER_KEYS, where="customers.")  # type: ignore[arg-type]
    assert len(problems) == 1
    assert problems[0].startswith("customers.email:") and "may only be hashed" in problems[0]


def test_a_key_attribute_may_be_hashed() -> None:
    assert validate_rules([MaskRule("email", "hash"), MaskRule("customerId", "hash")], CUSTOMER_KEYS) == []


def test_a_nested_path_under_a_key_attribute_is_rejected() -> None:
    problems = validate_rules([MaskRule("customerId.x", "hash")], CUSTOMER_KEYS)
    assert problems and "no nested members" in problems[0]


def test_value_is_only_for_redact_and_actions_are_checked() -> None:
    problems = validate_rules(
        [MaskRule("name", "hash", value="x"), MaskRule("phone", "scramble")],  # type: ignore[arg-type]
        CUSTOMER_KEYS,
    )
    assert any("only used by action redact" in p for p in problems)
    assert any("unknown action 'scramble'" in p for p in problems)


def test_masker_refuses_invalid_rules() -> None:
    with pytest.raises(MaskingError, match="email"):
        Masker([MaskRule("email", "drop")], KEY, CUSTOMER_KEYS)


def test_short_keys_are_refused() -> None:
    with pytest.raises(MaskingError, match="at least 16 bytes"):
        masking_key("short")


# -- actions -----------------------------------------------------------------------------------


def test_rules_mask_top_level_nested_indexed_and_wildcard_paths() -> None:
    # Given rules for each kind of path
    masker = Masker(
        [
            MaskRule("email", "hash"),
            MaskRule("name", "fake"),
            MaskRule("phone", "drop"),
            MaskRule("address.street", "redact", value="[street]"),
            MaskRule("orders[*].email", "hash"),
            MaskRule("orders[0].id", "redact"),
        ],
        KEY,
        CUSTOMER_KEYS,
    )
    original = customer()
    before = copy.deepcopy(original)
    # When an item is masked
    out = masker.mask(original)
    # Then each path is masked, everything else is unchanged, and the input is untouched
    assert original == before
    assert "phone" not in out
    assert out["email"]["S"] != "ada@example.org" and len(out["email"]["S"]) == 64
    assert out["name"]["S"] != "Ada Lovelace" and out["name"]["S"].istitle()
    assert out["address"]["M"] == {"street": {"S": "[street]"}, "city": {"S": "London"}}
    emails = [o["M"]["email"]["S"] for o in out["orders"]["L"]]
    assert all(len(e) == 64 for e in emails) and emails[0] != emails[1]
    assert out["orders"]["L"][0]["M"]["id"] == {"S": "REDACTED"}
    assert out["orders"]["L"][1]["M"]["id"] == {"S": "o2"}
    for untouched in ("customerId", "score", "photo", "tags", "vip"):
        assert out[untouched] == before[untouched]


def test_missing_paths_and_type_mismatches_are_left_alone() -> None:
    rules = [MaskRule("address.zip", "drop"), MaskRule("name.first", "hash"), MaskRule("x[3]", "drop")]
    masker = Masker(rules, KEY)
    assert masker.mask(customer()) == customer()


def test_drop_of_list_elements_removes_them() -> None:
    out = Masker([MaskRule("orders[*]", "drop")], KEY).mask(customer())
    assert out["orders"] == {"L": []}


def test_hash_is_stable_across_runs_and_tables_so_joins_still_work() -> None:
    a = Masker([MaskRule("email", "hash")], KEY, CUSTOMER_KEYS).mask(customer())
    b = Masker([MaskRule("customerEmail", "hash")], KEY).mask({"customerEmail": {"S": "ada@example.org"}})
    assert a["email"] == b["customerEmail"]


def test_hash_depends_on_the_key() -> None:
    av = {"S": "ada@example.org"}
    assert hash_value(av, KEY) != hash_value(av, OTHER_KEY)


def test_hash_treats_equal_numbers_as_equal() -> None:
    assert hash_value({"N": "1"}, KEY) == hash_value({"N": "1.00"}, KEY) == hash_value({"N": "1E0"}, KEY)


@pytest.mark.parametrize(
    ("av", "typ"),
    [
        ({"S": "x"}, "S"),
        ({"N": "-12345678901234567890123456789012345678"}, "N"),
        ({"B": base64.b64encode(b"\xff\x00").decode()}, "B"),
        ({"B": b"\xff\x00"}, "B"),
        ({"SS": ["a", "b"]}, "SS"),
        ({"NS": ["1", "2"]}, "NS"),
        ({"BS": [b"a", b"b"]}, "BS"),
        ({"M": {"a": {"S": "x"}}}, "M"),
        ({"L": [{"N": "1"}]}, "L"),
        ({"BOOL": True}, "BOOL"),
        ({"NULL": True}, "NULL"),
    ],
)
def test_hash_and_fake_keep_the_type(av: dict[str, Any], typ: str) -> None:
    for fn in (hash_value, fake_value):
        out = fn(av, KEY)
        assert list(out) == [typ]
        assert fn(av, KEY) == out  # deterministic
        if typ in ("SS", "NS", "BS"):
            assert len(out[typ]) == len(av[typ])  # a set stays a set of distinct values


def test_hashed_number_is_a_valid_dynamodb_number() -> None:
    n = hash_value({"N": "7"}, KEY)["N"]
    assert n.isdigit() and len(n.lstrip("0") or "0") <= 38


def test_hashed_binary_keeps_its_representation() -> None:
    as_text = hash_value({"B": base64.b64encode(b"abc").decode()}, KEY)["B"]
    as_bytes = hash_value({"B": b"abc"}, KEY)["B"]
    assert isinstance(as_text, str) and isinstance(as_bytes, bytes)
    assert base64.b64decode(as_text) == as_bytes and len(as_bytes) == 32


def test_fake_keeps_shape_of_emails_digits_and_numbers() -> None:
    assert fake_value({"S": "ada@example.org"}, KEY)["S"].endswith("@example.com")
    digits = fake_value({"S": "0123456789"}, KEY)["S"]
    assert digits.isdigit() and len(digits) == 10
    n = fake_value({"N": "-42.50"}, KEY)["N"]
    assert n.startswith("-") or n == "0"


def test_a_key_typed_n_stays_a_number_after_hashing() -> None:
    masker = Masker([MaskRule("warehouse", "hash")], KEY, {"sku": "S", "warehouse": "N"})
    out = masker.mask({"sku": {"S": "a"}, "warehouse": {"N": "3"}})
    assert set(out["warehouse"]) == {"N"}


def test_masking_that_would_exceed_the_item_size_limit_fails_loudly() -> None:
    # Given an item just under 400 KB made of many short strings, each hashed to 64 characters
    item = {f"a{i}": {"S": "x"} for i in range(60_000)}
    assert item_size(item) < MAX_ITEM_BYTES
    rules = [MaskRule(f"a{i}", "hash") for i in range(60_000)]
    # When masked / Then the run fails rather than writing an item DynamoDB would reject
    with pytest.raises(MaskingError, match="400 KB"):
        Masker(rules, KEY).mask(item)


# -- property: masked items stay valid items of the table ------------------------------------

_scalar = st.one_of(
    st.text(max_size=20).map(lambda s: {"S": s}),
    st.integers(-(10**20), 10**20).map(lambda n: {"N": str(n)}),
    st.binary(max_size=20).map(lambda b: {"B": base64.b64encode(b).decode()}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.sets(st.text(min_size=1, max_size=5), min_size=1, max_size=4).map(lambda s: {"SS": sorted(s)}),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(st.sampled_from(["street", "email", "x"]), inner, max_size=3).map(lambda v: {"M": v}),
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    cid=st.text(min_size=1, max_size=10),
    email=st.text(min_size=1, max_size=10),
    attrs=st.dictionaries(st.sampled_from(["name", "address", "orders", "note"]), _value, max_size=4),
)
def test_masked_items_keep_key_types_and_are_deterministic(cid: str, email: str, attrs: dict[str, Any]) -> None:
    item = {"customerId": {"S": cid}, "email": {"S": email}, **attrs}
    masker = Masker(
        [
            MaskRule("customerId", "hash"),
            MaskRule("email", "hash"),
            MaskRule("name", "fake"),
            MaskRule("address.street", "redact"),
            MaskRule("orders[*].email", "hash"),
            MaskRule("note", "drop"),
        ],
        KEY,
        CUSTOMER_KEYS,
    )
    out = masker.mask(item)
    assert out == masker.mask(item)
    assert set(out["customerId"]) == {"S"} and out["customerId"]["S"]
    assert set(out["email"]) == {"S"} and out["email"]["S"]
    assert "note" not in out
    if "name" in item:
        assert list(out["name"]) == list(item["name"])

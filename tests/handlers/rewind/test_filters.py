"""The `--where` language: what it keeps, how it types values, and how it reports mistakes."""

from __future__ import annotations

import pytest

from handlers.rewind.filters import FilterError, parse_filter
from tests.handlers.rewind.support import change, item

OVERWRITE = change(
    item("tenant#42", 7, by="good@1", total={"N": "12.50"}, address={"M": {"city": {"S": "Berlin"}}}, paid=True),
    item("tenant#42", 7, by="orders-svc@2.3.1", total={"N": "99"}, **{"order-status": "LOST"}, flag={"NULL": True}),
)
DELETED = change(item("x", 1, by="good@1"), None)


@pytest.mark.parametrize(
    ("text", "overwrite", "deleted"),
    [
        ('NewImage.by = "orders-svc@2.3.1"', True, False),
        ('OldImage.by = "good@1"', True, True),
        ('NewImage.by != "orders-svc@2.3.1"', False, True),
        ("OldImage.total = 12.5", True, False),  # numbers by value
        ('OldImage.total = "12.50"', False, False),  # a string never equals a number
        ("Keys.sk = 7", True, False),
        ('begins_with(Keys.pk, "tenant#")', True, False),
        ('begins_with(NewImage.by, "orders-svc@")', True, False),
        ("exists(NewImage.flag)", True, False),
        ("not exists(NewImage.by)", False, True),
        ("NewImage.flag = null and OldImage.paid = true", True, False),
        ("OldImage.paid = false", False, False),
        ('OldImage.address.city = "Berlin"', True, False),
        ('NewImage.`order-status` = "LOST"', True, False),
        ('exists(OldImage.by) and not (NewImage.by = "good@1")', True, True),
        ('NewImage.by = "orders-svc@2.3.1" or not exists(NewImage.by)', True, True),
        ('Keys.sk = 1 or Keys.sk = 7 and OldImage.by = "nobody"', False, True),  # and binds tighter
        ('(Keys.sk = 1 or Keys.sk = 7) and OldImage.by = "good@1"', True, True),
        ('NewImage.by = "a \\"quoted\\" \\\\ name"', False, False),
    ],
)
def test_a_filter_keeps_exactly_the_changes_it_describes(text: str, overwrite: bool, deleted: bool) -> None:
    where = parse_filter(text)
    assert (where(OVERWRITE), where(DELETED)) == (overwrite, deleted)


def test_a_string_with_escapes_matches_the_unescaped_text() -> None:
    c = change(None, item("a", name='say "hi" \\ bye'))
    assert parse_filter('NewImage.name = "say \\"hi\\" \\\\ bye"')(c)


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ('NewImage.by = "x" xor OldImage.by = "y"', 19, "expected 'and', 'or'"),
        ('Image.by = "x"', 1, "expected an attribute path"),
        ('NewImage = "x"', 10, "expected '.'"),
        ("NewImage.by = ", 15, "expected a value"),
        ('NewImage.by = "open', 15, "unterminated string"),
        ("begins_with(NewImage.by, 3)", 26, "expected a string"),
        ("exists(NewImage.by", 19, "expected ')'"),
        ('NewImage.by ~ "x"', 13, "unexpected character '~'"),
        ("", 1, "the filter is empty"),
        ('NewImage.by = "a\\n"', 17, "escapes"),
        ("NewImage.by = yes", 15, "expected a value"),
    ],
)
def test_a_filter_that_does_not_parse_names_the_position_and_the_problem(text: str, position: int, reason: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    assert caught.value.position + 1 == position
    assert reason in caught.value.reason
    assert f"at position {position}:" in str(caught.value)


def test_the_parsed_filter_keeps_its_text_for_the_audit() -> None:
    assert parse_filter('  NewImage.by = "x"  ').text == 'NewImage.by = "x"'

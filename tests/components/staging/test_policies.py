"""The staging policies' pure parts: the name scope of the test tables, and the grants prod gives
a reader of every table or of a selection."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from components.staging.policies import cross_account_vault_grants, table_name_scope

BUCKET = "arn:aws:s3:::prod-vault"
KEY = "arn:aws:kms:eu-central-1:111111111111:key/0000vault"


@pytest.mark.parametrize(
    ("names", "scope"),
    [
        (["orders-test"], "orders-test"),
        (["orders-test", "customers-test", "inventory-test"], "*-test"),
        (["test-orders", "test-customers"], "test-*ers"),  # whatever the names share
        (["orders", "ledger"], "*"),  # nothing in common: only the tag conditions scope
        (["ab-test", "ab-test-2"], "ab-test*"),
        (["abc", "abbc"], "ab*c"),  # prefix and suffix never overlap
        (["aa", "aaa"], "aa*"),
    ],
)
def test_the_name_scope_is_the_common_prefix_and_suffix(names: list[str], scope: str) -> None:
    assert table_name_scope(names) == scope
    assert all(fnmatchcase(n, scope) for n in names)


def test_the_name_scope_does_not_grow_with_the_tables() -> None:
    names = [f"table-{i:04d}-test" for i in range(1000)]
    assert table_name_scope(names) == "table-0*-test"
    assert table_name_scope([*names, "orders-test"]) == "*-test"


def test_a_pipeline_without_tables_has_no_scope() -> None:
    with pytest.raises(ValueError, match="at least one test table"):
        table_name_scope([])


def test_a_reader_of_every_table_is_granted_the_exports_prefix() -> None:
    grants = cross_account_vault_grants(bucket_arn=BUCKET, key_arn=KEY, prefixes=None, staging_role_arns=["r"])
    read, listing = grants["bucketPolicy"]
    assert read["Resource"] == [f"{BUCKET}/exports/*"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["exports/*"]}}


def test_a_reader_of_a_selection_is_granted_exactly_its_tables() -> None:
    grants = cross_account_vault_grants(
        bucket_arn=BUCKET, key_arn=KEY, prefixes=["exports/orders", "exports/customers"], staging_role_arns=["r"]
    )
    read, listing = grants["bucketPolicy"]
    assert read["Resource"] == [f"{BUCKET}/exports/customers/*", f"{BUCKET}/exports/orders/*"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["exports/customers/*", "exports/orders/*"]}}

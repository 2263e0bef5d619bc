"""Whether an export fits the test table (handlers/staging/fit.py): every item's key against the
table's key schema, while each data file is validated, and the export's source table."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from handlers.staging.fit import KeySchema, SourceCheck, check_data_file, table_name_of, validate_for_target
from tests.support.staging_fixtures import (
    customer_items,
    data_keys,
    gz,
    prod_arn,
    prod_spec,
    replace_data_file,
    target_for,
    write_prod_export,
)

CUSTOMERS = KeySchema.of("customers-test", target_for(prod_spec("customers")).schema)
ORDERS = KeySchema.of("orders-test", target_for(prod_spec("orders")).schema)


def test_the_schema_has_the_tables_key_and_each_index_key_once() -> None:
    assert [(a.name, a.type) for a in ORDERS.required] == [("customerId", "S"), ("orderId", "S")]
    assert {(a.name, a.type, a.role) for a in ORDERS.indexed} == {
        ("status", "S", "partition key of index by-status"),
        ("createdAt", "N", "sort key of index by-status"),
    }
    assert ORDERS.expected() == "customerId (S), orderId (S)"


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"customerId": {"S": "c"}, "orderId": {"S": "o"}}, None),
        ({"customerId": {"S": "c"}, "orderId": {"S": "o"}, "createdAt": {"N": "3"}}, None),
        (
            {"customerId": {"S": "c"}},
            "expected customerId (S), orderId (S), found no orderId (the item has customerId (S))",
        ),
        ({"customerId": {"N": "1"}, "orderId": {"S": "o"}}, "found customerId (N)"),
        (
            {"customerId": {"S": ""}, "orderId": {"S": "o"}},
            "found customerId empty (a partition key value is at least 1 byte)",
        ),
        (
            {"customerId": {"S": "c"}, "orderId": {"S": "o" * 1025}},
            "orderId of 1025 bytes (a sort key value is at most 1024)",
        ),
        ({"customerId": {"S": "c" * 2048}, "orderId": {"S": "o"}}, None),
        (
            {"customerId": {"S": "c"}, "orderId": {"S": "o"}, "createdAt": {"S": "yesterday"}},
            "orders-test's sort key of index by-status: expected createdAt (N), found createdAt (S)",
        ),
        (
            {"customerId": {"S": "c"}, "orderId": {"S": "o"}, "status": {"S": ""}},
            "found status empty",
        ),
    ],
)
def test_an_item_fits_when_it_has_the_key_and_typed_index_keys(item: dict[str, Any], problem: str | None) -> None:
    found = ORDERS.problem(item)
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_a_bad_item_names_a_few_of_its_attributes() -> None:
    item = {f"a{i}": {"S": "x"} for i in range(8)}
    assert "the item has a0 (S), a1 (S), a2 (S), a3 (S), a4 (S) and 3 more" in str(CUSTOMERS.problem(item))


def test_a_data_file_reports_its_key_problems_by_line_with_md5_and_count_still_checked(
    clients: tuple[Any, Any],
) -> None:
    s3, _ = clients
    ref = write_prod_export(s3, customer_items(10, big=False), items_per_file=10, empty_files=0)
    key = data_keys(s3, ref)[0]
    lines = gzip.decompress(s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read()).splitlines()
    lines[6] = json.dumps({"Item": {"email": {"S": "x"}}}).encode()
    replace_data_file(s3, ref, key, gz(lines), fix_manifest=True)
    from handlers import exports

    files = exports.read_data_files(s3, ref, exports.read_summary(s3, ref))
    check = check_data_file(s3, ref, files[0], output_format="DYNAMODB_JSON", keys=CUSTOMERS)
    assert check.items == 9 and len(check.problems) == 1
    assert check.problems[0].startswith(f"data file s3://{ref.bucket}/{key} line 7 is not a valid item: does not fit")
    # without a key schema the same file is fine
    assert check_data_file(s3, ref, files[0], output_format="DYNAMODB_JSON", keys=None).ok


def test_an_export_of_another_table_is_rejected_before_any_data_file_is_read(clients: tuple[Any, Any]) -> None:
    s3, _ = clients
    ref = write_prod_export(s3, customer_items(5, big=False), table="orders")
    for key in data_keys(s3, ref):
        s3.delete_object(Bucket=ref.bucket, Key=key)  # were a data file read, it would be missing
    report = validate_for_target(s3, ref, keys=CUSTOMERS, source=SourceCheck(table_name="customers", why="its tags"))
    assert report.problems == [f"export is of table {prod_arn('orders')}, expected a table named customers (its tags)"]


@pytest.mark.parametrize(
    ("check", "arn", "ok"),
    [
        (SourceCheck(table_arn=prod_arn("customers")), prod_arn("customers"), True),
        (SourceCheck(table_arn=prod_arn("customers")), "arn:aws:dynamodb:eu-west-1:1:table/customers", False),
        (SourceCheck(table_name="customers"), "arn:aws:dynamodb:eu-west-1:1:table/customers", True),
        (SourceCheck(table_name="customers"), prod_arn("customers-archive"), False),
        (SourceCheck(), prod_arn("anything"), True),
    ],
)
def test_the_source_is_compared_by_arn_or_by_name(check: SourceCheck, arn: str, ok: bool) -> None:
    assert (check.problem(arn) is None) is ok


def test_the_table_name_of_an_arn() -> None:
    assert table_name_of("arn:aws:dynamodb:eu-central-1:123456789012:table/customers") == "customers"
    assert table_name_of("arn:aws:dynamodb:r:1:table/customers/stream/2020") == "customers"
    assert table_name_of("not an arn") == ""

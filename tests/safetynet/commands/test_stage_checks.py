"""`safetynet stage` refuses before anything is deleted or written: items that do not fit the
table's key schema, an export of another table than the one the test table stages, masking that
cannot be applied; and it copies unmasked data only when told twice. Every refusal: its exit code,
a message without a traceback, and the table exactly as it was (items, tags, PITR, TTL, stream)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from safetynet.cli import app
from tests.support.staging_fixtures import (
    MASK_BUCKET,
    as_set,
    configure_like_the_stack,
    create_test_table,
    customer_items,
    data_keys,
    gz,
    prod_arn,
    prod_spec,
    replace_data_file,
    scan_all,
    stage_cli,
    table_state,
    target_for,
    write_prod_export,
)

runner = CliRunner()
__all__ = ["stage_cli"]


def stage(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, ["stage", *args], input=input)


def staged_before(ddb: Any, name: str, mode: str = "replace") -> tuple[Any, dict[str, Any]]:
    """A test table as the stack declares it, holding one item; returns its target and state."""
    target = target_for(prod_spec(name), mode=mode)
    create_test_table(ddb, target)
    configure_like_the_stack(ddb, target)
    types = target.key_types
    ddb.put_item(TableName=target.name, Item={k: {types[k]: "1"} for k in target.key_names})
    return target, table_state(ddb, target.name)


def rewrite_line(s3: Any, ref: Any, file_index: int, line: int, item: dict[str, Any]) -> str:
    """Replace one line of a data file (its MD5 fixed in the manifest); returns the file's key."""
    key = data_keys(s3, ref)[file_index]
    lines = gzip.decompress(s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read()).splitlines()
    lines[line - 1] = json.dumps({"Item": item}).encode()
    replace_data_file(s3, ref, key, gz(lines), fix_manifest=True)
    return key


# -- the items must fit the table's key schema ------------------------------------------------------


def test_an_export_of_another_key_schema_is_rejected_naming_the_first_bad_item(stage_cli: tuple[Any, Any]) -> None:
    # Given inventory-test (key sku, warehouse) and an export of customers (key customerId)
    s3, ddb = stage_cli
    target, before = staged_before(ddb, "inventory")
    ref = write_prod_export(s3, customer_items(30, big=False))
    # When it is staged although it is of another table (the operator says so)
    out = stage(ref.url, "--table", target.name, "--allow-other-source", "customers", "--yes")
    # Then it is rejected before the delete, naming the file, the line and both keys
    assert out.exit_code == 1 and "export rejected" in out.output and "Traceback" not in out.output
    first = data_keys(s3, ref)[0]
    assert f"{first} line 1 is not a valid item: does not fit inventory-test's key" in out.output
    assert "expected sku (S), warehouse (N), found no sku (the item has customerId (S)" in out.output
    assert table_state(ddb, target.name) == before


def test_a_key_of_the_wrong_type_is_rejected_with_expected_and_found(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target, before = staged_before(ddb, "customers")
    ref = write_prod_export(s3, customer_items(60, big=False))
    key = rewrite_line(s3, ref, 1, 3, {"customerId": {"N": "7"}, "email": {"S": "x@example.org"}})
    out = stage(ref.url, "--table", target.name, "--unmasked", "--yes")
    assert out.exit_code == 1
    assert f"{key} line 3 is not a valid item" in out.output
    assert "expected customerId (S), found customerId (N)" in out.output
    assert table_state(ddb, target.name) == before


def test_an_index_key_of_the_wrong_type_is_rejected(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target, before = staged_before(ddb, "customers")
    ref = write_prod_export(s3, customer_items(10, big=False))
    rewrite_line(s3, ref, 0, 2, {"customerId": {"S": "c-x"}, "email": {"N": "5"}})
    out = stage(ref.url, "--table", target.name, "--unmasked", "--yes")
    assert out.exit_code == 1
    assert "partition key of index by-email: expected email (S), found email (N)" in out.output
    assert table_state(ddb, target.name) == before


# -- the export must be of the table the test table stages -------------------------------------------


def test_an_export_of_another_table_is_refused_without_an_override(stage_cli: tuple[Any, Any]) -> None:
    # Given customers-test, the staging target of customers, and an export of orders
    s3, ddb = stage_cli
    target, before = staged_before(ddb, "customers")
    ref = write_prod_export(s3, [{"customerId": {"S": "c1"}, "orderId": {"S": "o1"}}], table="orders")
    # When it is staged into customers-test (no --source-table-arn)
    out = stage(ref.url, "--table", target.name, "--unmasked", "--yes")
    # Then the source check refuses it, saying where the expectation comes from and how to override
    assert out.exit_code == 1 and "export rejected" in out.output
    assert f"export is of table {prod_arn('orders')}, expected a table named customers" in out.output
    assert "customers-test is the staging target of customers in acme/safetynet/prod" in out.output
    assert "--allow-other-source" in out.output
    assert table_state(ddb, target.name) == before


def test_allow_other_source_stages_an_export_of_the_named_table(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target, _ = staged_before(ddb, "customers")
    items = customer_items(8, big=False)
    ref = write_prod_export(s3, items, table="customers-archive")
    named = ["--allow-other-source", "customers-archive", "--unmasked", "--yes"]
    assert stage(ref.url, "--table", target.name, *named).exit_code == 0
    assert as_set(scan_all(ddb, target.name)) == as_set(items)
    # The override names the table: another one is still refused
    other = write_prod_export(s3, items, table="customers-copy")
    refused = stage(other.url, "--table", target.name, *named)
    assert refused.exit_code == 1 and "expected a table named customers-archive" in refused.output


def test_source_table_arn_must_match_exactly_and_not_with_allow_other_source(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target, before = staged_before(ddb, "customers")
    url = write_prod_export(s3, customer_items(3, big=False)).url
    wrong = stage(url, "--table", target.name, "--source-table-arn", prod_arn("orders"), "--unmasked", "-y")
    assert wrong.exit_code == 1 and f"expected {prod_arn('orders')} (--source-table-arn)" in wrong.output
    both = stage(url, "--table", target.name, "--source-table-arn", "a", "--allow-other-source", "b", "-y")
    assert both.exit_code == 2 and "not both" in both.output
    assert table_state(ddb, target.name) == before


def test_a_table_no_stack_declares_needs_the_source_named(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    spec = prod_spec("customers")
    target = target_for(spec)
    target = type(target)(**{**target.__dict__, "name": "scratch", "schema": spec.create_table_request("scratch")})
    create_test_table(ddb, target)
    url = write_prod_export(s3, customer_items(3, big=False)).url
    out = stage(url, "--table", "scratch", "--force-untagged", "-y")
    assert out.exit_code == 2 and "no stack file of this project declares scratch" in out.output
    ok = stage(url, "--table", "scratch", "--force-untagged", "--source-table-arn", prod_arn("customers"), "-y")
    assert ok.exit_code == 0, ok.output


# -- masking by default ----------------------------------------------------------------------------


def test_unmasked_asks_naming_the_table_and_rule_count_and_no_keeps_it_untouched(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target, before = staged_before(ddb, "customers")
    url = write_prod_export(s3, customer_items(3, big=False)).url
    out = stage(url, "--table", target.name, "--unmasked", input="n\n")
    question = "Copy UNMASKED data into customers-test, whose stack masks it with 5 rules"
    assert out.exit_code == 1 and question in out.output and "customers-test was not touched" in out.output
    assert table_state(ddb, target.name) == before
    yes_twice = stage(url, "--table", target.name, "--unmasked", input="y\ny\n")
    assert yes_twice.exit_code == 0, yes_twice.output
    assert {i["email"]["S"] for i in scan_all(ddb, target.name)} == {f"user{i}@example.org" for i in range(3)}


def _mask_file(tmp_path: Any, text: str) -> str:
    path = tmp_path / "mask.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda mp, tmp: (mp.delenv("SAFETYNET_MASK_BUCKET"), [])[1], "a bucket for the masked copy is needed"),
        (lambda mp, tmp: ["--mask-bucket", "no-such-bucket"], "the mask bucket no-such-bucket does not exist"),
        (lambda mp, tmp: (mp.setenv("SAFETYNET_MASKING_KEY", "too-short"), [])[1], "at least 16 bytes"),
        (
            lambda mp, tmp: ["--mask-config", _mask_file(tmp, "email: hash\nname: [fake\n")],
            "mask.yaml:3:1: not valid YAML",
        ),
        (
            lambda mp, tmp: ["--mask-config", _mask_file(tmp, "email: hash\nphone: scramble\n")],
            "mask.yaml:2:1: phone: unknown action 'scramble'; use one of drop, redact, hash, fake",
        ),
        (
            lambda mp, tmp: ["--mask-config", _mask_file(tmp, "customerId: fake\n")],
            "'customerId' is a table or index key attribute; it may only be hashed",
        ),
    ],
    ids=["no mask bucket", "missing mask bucket", "short masking key", "yaml error", "unknown action", "key faked"],
)
def test_masking_that_cannot_be_applied_is_a_usage_error_listed_like_config_errors(
    stage_cli: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Any, setup: Any, expected: str
) -> None:
    s3, ddb = stage_cli
    target, before = staged_before(ddb, "customers")
    url = write_prod_export(s3, customer_items(3, big=False)).url
    out = stage(url, "--table", target.name, "--yes", *setup(monkeypatch, tmp_path))
    assert out.exit_code == 2, out.output
    assert expected in out.output
    for leak in ("Traceback", "pydantic", "validation error", "errors.pydantic.dev"):
        assert leak not in out.output
    assert table_state(ddb, target.name) == before


def test_the_mask_bucket_comes_from_the_option_or_the_environment(stage_cli: tuple[Any, Any]) -> None:
    s3, ddb = stage_cli
    target, _ = staged_before(ddb, "customers")
    url = write_prod_export(s3, customer_items(3, big=False)).url
    out = stage(url, "--table", target.name, "--mask-bucket", MASK_BUCKET, "--yes", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["stagedFrom"].startswith(f"s3://{MASK_BUCKET}/masked/customers/")


# -- AWS errors: one paragraph, no traceback -----------------------------------------------------------


def test_an_unreachable_endpoint_exits_1_with_one_paragraph(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # restored after the test
    monkeypatch.setenv("SAFETYNET_STATE_DIR", str(tmp_path))
    from botocore.config import Config

    import handlers.clients

    # One attempt: the message is the point here, not botocore's ten retries with backoff.
    monkeypatch.setattr(handlers.clients, "RETRIES", Config(retries={"mode": "standard", "total_max_attempts": 1}))
    url = "s3://prod-vault/exports/customers/AWSDynamoDB/01700000000000-aaaaaaaa/"
    out = runner.invoke(app, ["--endpoint-url", "http://127.0.0.1:9", "stage", url, "--table", "customers-test", "-y"])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "the AWS endpoint cannot be reached" in out.output and "customers-test was not changed" in out.output


def test_missing_credentials_exit_1_with_one_paragraph(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import boto3

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a fresh process: no credentials resolved yet
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("SAFETYNET_STATE_DIR", str(tmp_path))
    url = "s3://prod-vault/exports/customers/AWSDynamoDB/01700000000000-aaaaaaaa/"
    out = stage(url, "--table", "customers-test", "-y")
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "no AWS credentials found" in out.output


def test_a_missing_export_bucket_rejects_the_export_and_touches_nothing(stage_cli: tuple[Any, Any]) -> None:
    _, ddb = stage_cli
    target, before = staged_before(ddb, "customers")
    url = "s3://no-such-vault/exports/customers/AWSDynamoDB/01700000000000-aaaaaaaa/"
    out = stage(url, "--table", target.name, "--unmasked", "-y")
    assert out.exit_code == 1 and "export rejected" in out.output and "Traceback" not in out.output
    assert table_state(ddb, target.name) == before

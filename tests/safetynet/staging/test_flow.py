"""Staging in one process against moto: both modes item for item, masking, corruptions leave the
test table untouched, the guard."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from typing import Any

import pytest

from conventions.tags import STAGING_TARGET_TAG
from handlers import exports
from handlers.staging.exceptions import ExportRejected, NotAStagingTarget
from handlers.staging.masking import masking_key
from handlers.staging.target import effective_mode
from safetynet.staging.flow import stage_export
from tests.support.staging_fixtures import (
    EXPORT_TIME,
    MASK,
    MASK_BUCKET,
    STACK,
    VAULT,
    as_set,
    create_test_table,
    customer_items,
    data_keys,
    gz,
    prod_spec,
    replace_data_file,
    rewrite_files_manifest,
    rewrite_summary,
    scan_all,
    target_for,
    write_prod_export,
)

KEY = masking_key("test-masking-key-0123456789")


def no_sleep(_: float) -> None:
    return None


# -- both modes, item for item -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["refill", "replace"])
def test_a_realistic_export_is_staged_item_for_item(clients: tuple[Any, Any], mode: str) -> None:
    # Given a realistic export (several files, an empty one, every type, a ~400 KB item)
    s3, ddb = clients
    items = customer_items()
    ref = write_prod_export(s3, items)
    target = target_for(prod_spec("customers"), mode=mode)
    create_test_table(ddb, target)
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "stale"}, "email": {"S": "old@x"}})
    # When it is staged
    result = stage_export(s3, ddb, ref, target, sleep=no_sleep)
    # Then the table holds exactly the exported items (the stale one is gone)
    assert result.mode == mode
    assert result.verification is not None and result.verification.ok
    assert as_set(scan_all(ddb, target.name)) == as_set(items)


def test_replace_reapplies_tags_ttl_pitr_and_streams(clients: tuple[Any, Any]) -> None:
    # Given a test table with TTL and PITR configured (as the stack declares it)
    s3, ddb = clients
    spec = prod_spec("customers")
    target = target_for(spec, mode="replace")
    target = type(target)(**{**target.__dict__, "ttl_attribute": "expiresAt"})
    create_test_table(ddb, target)
    ref = write_prod_export(s3, customer_items(10, big=False))
    # When it is replaced through ImportTable
    stage_export(s3, ddb, ref, target, sleep=no_sleep)
    # Then what an import drops is back: tags (the guard's own tag included), TTL, PITR
    arn = ddb.describe_table(TableName=target.name)["Table"]["TableArn"]
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags == dict(target.tags)
    ttl = ddb.describe_time_to_live(TableName=target.name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiresAt"
    pitr = ddb.describe_continuous_backups(TableName=target.name)["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_a_table_with_lsis_falls_back_to_refill_with_a_reason() -> None:
    target = target_for(prod_spec("orders"), mode="replace")
    mode, reason = effective_mode(target)
    assert mode == "refill" and "local secondary indexes (by-created)" in reason


def test_refill_keeps_the_table_and_its_arn(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    target = target_for(prod_spec("customers"), mode="refill")
    arn = create_test_table(ddb, target)
    created = ddb.describe_table(TableName=target.name)["Table"]["CreationDateTime"]
    stage_export(s3, ddb, write_prod_export(s3, customer_items(5, big=False)), target, sleep=no_sleep)
    desc = ddb.describe_table(TableName=target.name)["Table"]
    assert desc["TableArn"] == arn and desc["CreationDateTime"] == created


# -- masking -----------------------------------------------------------------------------------


def test_masked_staging_writes_a_masked_copy_and_stages_from_it(clients: tuple[Any, Any]) -> None:
    # Given masking rules for the personal fields
    s3, ddb = clients
    items = customer_items(30, big=False)
    ref = write_prod_export(s3, items)
    target = target_for(prod_spec("customers"), mode="refill", mask=MASK)
    create_test_table(ddb, target)
    # When staged
    result = stage_export(s3, ddb, ref, target, masking_key=KEY, mask_bucket=MASK_BUCKET, sleep=no_sleep)
    # Then the masked copy is a valid export in the masking bucket and no personal value arrived
    assert result.staged_from.startswith(f"s3://{MASK_BUCKET}/masked/customers/AWSDynamoDB/{ref.export_id}/")
    assert exports.validate_export(s3, exports.ExportRef.parse(result.staged_from)).ok
    staged = scan_all(ddb, target.name)
    assert len(staged) == len(items)
    originals = {i["email"]["S"] for i in items} | {i["name"]["S"] for i in items}
    for it in staged:
        assert it["email"]["S"] not in originals and len(it["email"]["S"]) == 64
        assert it["name"]["S"] not in originals
        assert it["address"]["M"]["street"] == {"S": "1 Example Street"}
        assert "photo" not in it


def test_masked_staging_is_deterministic(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    ref = write_prod_export(s3, customer_items(10, big=False))
    target = target_for(prod_spec("customers"), mode="refill", mask=MASK)
    create_test_table(ddb, target)
    stage_export(s3, ddb, ref, target, masking_key=KEY, mask_bucket=MASK_BUCKET, sleep=no_sleep)
    first = as_set(scan_all(ddb, target.name))
    stage_export(s3, ddb, ref, target, masking_key=KEY, mask_bucket=MASK_BUCKET, sleep=no_sleep)
    assert as_set(scan_all(ddb, target.name)) == first


# -- corruptions leave the test table untouched ------------------------------------------------


def _truncate(s3: Any, ref: exports.ExportRef) -> None:
    key = data_keys(s3, ref)[0]
    body = s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read()
    replace_data_file(s3, ref, key, body[: len(body) // 2], fix_manifest=True)


def _flip(s3: Any, ref: exports.ExportRef) -> None:
    key = data_keys(s3, ref)[0]
    body = bytearray(s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    s3.put_object(Bucket=ref.bucket, Key=key, Body=bytes(body))


def _missing(s3: Any, ref: exports.ExportRef) -> None:
    s3.delete_object(Bucket=ref.bucket, Key=data_keys(s3, ref)[1])


def _md5(s3: Any, ref: exports.ExportRef) -> None:
    def edit(lines: list[dict[str, Any]]) -> None:
        lines[0]["md5Checksum"] = "AAAAAAAAAAAAAAAAAAAAAA=="

    rewrite_files_manifest(s3, ref, edit)


def _count(s3: Any, ref: exports.ExportRef) -> None:
    def edit(lines: list[dict[str, Any]]) -> None:
        lines[0]["itemCount"] += 1

    rewrite_files_manifest(s3, ref, edit)


def _malformed(s3: Any, ref: exports.ExportRef) -> None:
    key = data_keys(s3, ref)[0]
    lines = gzip.decompress(s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read()).splitlines()
    lines[3] = b'{"Item": {"customerId": {"S": "x"'
    replace_data_file(s3, ref, key, gz(lines), fix_manifest=True)


def _unsupported(s3: Any, ref: exports.ExportRef) -> None:
    rewrite_summary(s3, ref, outputFormat="PARQUET")


CORRUPTIONS = {
    "truncated gzip": _truncate,
    "flipped byte": _flip,
    "missing data file": _missing,
    "md5 mismatch": _md5,
    "count mismatch": _count,
    "malformed line": _malformed,
    "unsupported format": _unsupported,
}


@pytest.mark.parametrize("mode", ["replace", "refill"])
@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupt_export_is_rejected_and_the_table_is_untouched(
    clients: tuple[Any, Any], corruption: str, mode: str
) -> None:
    # Given a staged test table and a damaged newer export
    s3, ddb = clients
    target = target_for(prod_spec("customers"), mode=mode)
    create_test_table(ddb, target)
    stage_export(s3, ddb, write_prod_export(s3, customer_items(8, big=False)), target, sleep=no_sleep)
    before = as_set(scan_all(ddb, target.name))
    arn = ddb.describe_table(TableName=target.name)["Table"]["TableArn"]
    created = ddb.describe_table(TableName=target.name)["Table"]["CreationDateTime"]
    ref = write_prod_export(s3, customer_items(60, big=False), export_time=EXPORT_TIME + timedelta(days=1))
    CORRUPTIONS[corruption](s3, ref)
    # When staging it / Then it is rejected with its problems listed
    with pytest.raises(ExportRejected) as err:
        stage_export(s3, ddb, ref, target, sleep=no_sleep)
    assert err.value.problems
    # And the test table is exactly as before (same table, same items)
    desc = ddb.describe_table(TableName=target.name)["Table"]
    assert desc["TableArn"] == arn and desc["CreationDateTime"] == created
    assert as_set(scan_all(ddb, target.name)) == before


def test_an_export_of_another_table_is_rejected(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target)
    ref = write_prod_export(s3, customer_items(3, big=False), table="inventory")
    expected = "expected arn:aws:dynamodb:us-east-1:123456789012:table/customers"
    with pytest.raises(ExportRejected, match=expected):
        stage_export(s3, ddb, ref, target, sleep=no_sleep)
    assert scan_all(ddb, target.name) == []


# -- the guard ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "force", "message"),
    [
        ({}, False, "is not tagged safetynet:staging-target=safetynet/test"),
        ({STAGING_TARGET_TAG: "other/stack"}, False, "staging target of other/stack"),
        (
            {STAGING_TARGET_TAG: STACK, "safetynet:environment": "prod"},
            False,
            "never writes to a production table",
        ),
        ({"safetynet:environment": "prod"}, True, "never writes to a production table"),
        (
            {STAGING_TARGET_TAG: STACK, "safetynet:environment": "dr"},
            True,
            "never writes to a production table",
        ),
    ],
)
def test_the_guard_refuses_tables_not_tagged_for_this_stack(
    clients: tuple[Any, Any], tags: dict[str, str], force: bool, message: str
) -> None:
    s3, ddb = clients
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target, tags=tags)
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "keep"}})
    ref = write_prod_export(s3, customer_items(3, big=False))
    with pytest.raises(NotAStagingTarget, match=message):
        stage_export(s3, ddb, ref, target, force_untagged=force, sleep=no_sleep)
    assert scan_all(ddb, target.name) == [{"customerId": {"S": "keep"}}]


def test_force_untagged_stages_into_an_untagged_table(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    target = target_for(prod_spec("customers"), mode="refill")
    create_test_table(ddb, target, tags={})
    items = customer_items(3, big=False)
    stage_export(s3, ddb, write_prod_export(s3, items), target, force_untagged=True, sleep=no_sleep)
    assert as_set(scan_all(ddb, target.name)) == as_set(items)


def test_the_summary_json_is_untouched_by_staging(clients: tuple[Any, Any]) -> None:
    # Staging reads prod's vault only: the export is byte-identical afterwards.
    s3, ddb = clients
    ref = write_prod_export(s3, customer_items(5, big=False))
    before = {k: s3.get_object(Bucket=VAULT, Key=k)["Body"].read() for k in data_keys(s3, ref)}
    target = target_for(prod_spec("customers"), mode="refill", mask=MASK)
    create_test_table(ddb, target)
    stage_export(s3, ddb, ref, target, masking_key=KEY, mask_bucket=MASK_BUCKET, sleep=no_sleep)
    assert {k: s3.get_object(Bucket=VAULT, Key=k)["Body"].read() for k in before} == before
    assert json.loads(s3.get_object(Bucket=VAULT, Key=ref.summary_key)["Body"].read())["itemCount"] == 5

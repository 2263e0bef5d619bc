"""Staging against moto: both modes item for item, masking, corruptions leave the test table
untouched, the guard, the ledger (duplicate and out-of-order events), batch retries."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from typing import Any

import pytest

from handlers import exports
from handlers.exports.batch_writer import NullSink, WriteIncomplete, put_item_request, write_batch, write_items
from handlers.staging.core import (
    STAGING_TARGET_TAG,
    ExportRejected,
    NotAStagingTarget,
    claim,
    effective_mode,
    record_result,
)
from handlers.staging.masking import masking_key
from safetynet.staging.flow import stage_export
from tests.support.staging_fixtures import (
    EXPORT_TIME,
    LEDGER,
    MASK_BUCKET,
    STACK,
    VAULT,
    as_set,
    create_ledger,
    create_test_table,
    customer_items,
    data_keys,
    gz,
    patch_moto_import_empty_files,
    prod_spec,
    replace_data_file,
    rewrite_files_manifest,
    rewrite_summary,
    scan_all,
    target_for,
    vault_clients,
    write_prod_export,
)

KEY = masking_key("test-masking-key-0123456789")


@pytest.fixture(autouse=True)
def _moto_import_reads_empty_files(monkeypatch: pytest.MonkeyPatch) -> None:
    patch_moto_import_empty_files(monkeypatch)


@pytest.fixture
def clients(aws: None) -> tuple[Any, Any]:
    return vault_clients()


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

MASK = [
    {"path": "email", "action": "hash"},
    {"path": "name", "action": "fake"},
    {"path": "address.street", "action": "redact", "value": "1 Example Street"},
    {"path": "orders[*].email", "action": "hash"},
    {"path": "photo", "action": "drop"},
]


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


# -- the ledger: duplicate and out-of-order events ---------------------------------------------


def test_a_duplicate_event_does_not_start_a_second_run(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    create_ledger(ddb)
    assert claim(ddb, LEDGER, "customers", "01-a", EXPORT_TIME).claimed
    again = claim(ddb, LEDGER, "customers", "01-a", EXPORT_TIME)
    assert not again.claimed and "duplicate" in again.reason


def test_an_export_older_than_the_last_staged_is_skipped(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    create_ledger(ddb)
    assert claim(ddb, LEDGER, "customers", "02-new", EXPORT_TIME).claimed
    late = claim(ddb, LEDGER, "customers", "01-old", EXPORT_TIME - timedelta(days=1))
    assert not late.claimed and "not newer than 02-new" in late.reason


def test_a_newer_export_and_a_failed_run_may_be_claimed(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    create_ledger(ddb)
    assert claim(ddb, LEDGER, "customers", "01", EXPORT_TIME).claimed
    record_result(ddb, LEDGER, "customers", "01", status="FAILED", detail="import failed")
    assert claim(ddb, LEDGER, "customers", "01", EXPORT_TIME).claimed
    assert claim(ddb, LEDGER, "customers", "02", EXPORT_TIME + timedelta(hours=1)).claimed
    assert claim(ddb, LEDGER, "orders", "01", EXPORT_TIME).claimed  # per table


# -- batch writes: retried, never dropped ------------------------------------------------------


class FlakySink:
    """Leaves the first item of each request unprocessed `failures` times."""

    def __init__(self, failures: int):
        self.failures = failures
        self.written: list[bytes] = []
        self.calls = 0

    def write(self, requests: list[bytes]) -> list[bytes]:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            self.written += requests[1:]
            return requests[:1]
        self.written += requests
        return []


def test_unprocessed_items_are_retried_until_written() -> None:
    sink = FlakySink(failures=3)
    batch = [put_item_request({"id": {"S": str(i)}}) for i in range(25)]
    write_batch(sink, batch, sleep=no_sleep)
    written = sorted(json.loads(r)["PutRequest"]["Item"]["id"]["S"] for r in sink.written)
    assert written == sorted(str(i) for i in range(25))
    assert sink.calls == 4


def test_items_still_unprocessed_after_all_attempts_fail_the_run() -> None:
    sink = FlakySink(failures=10_000)
    batch = [put_item_request({"id": {"S": "a"}})]
    with pytest.raises(WriteIncomplete, match="1 items still unprocessed"):
        write_batch(sink, batch, sleep=no_sleep, max_attempts=5)


def test_write_items_batches_by_25_with_bounded_concurrency() -> None:
    sink = NullSink()
    batches: list[int] = []
    items = ({"id": {"S": str(i)}} for i in range(1001))
    n = write_items(sink, items, concurrency=3, on_progress=batches.append)
    assert n == sink.count == 1001
    assert max(batches) == 25 and sum(batches) == 1001


def test_a_write_failure_in_a_worker_fails_the_whole_run() -> None:
    class Broken:
        def write(self, requests: list[bytes]) -> list[bytes]:
            return requests

    with pytest.raises(WriteIncomplete):
        write_items(Broken(), ({"id": {"S": str(i)}} for i in range(100)), concurrency=2, sleep=no_sleep)


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

"""Per-file staging work for the state machine (handlers/staging/files.py): one data file checked,
the verify sample drawn from a few files; each bounded, on moto."""

from __future__ import annotations

from typing import Any

import pytest

from handlers import exports
from handlers.staging.exceptions import ExportRejected
from handlers.staging.files import SAMPLE_FILES, choose_sample_files, sample_source, validate_data_file
from handlers.staging.ledger import recorded_problems
from tests.support.export_fixtures import CountingS3
from tests.support.staging_fixtures import LEDGER, claimed, customer_items, data_keys, write_prod_export


def files(n: int, *, empty_every: int = 0) -> list[exports.DataFile]:
    return [
        exports.DataFile(
            item_count=0 if empty_every and i % empty_every == 0 else 10,
            data_file_s3_key=f"AWSDynamoDB/x/data/{i:03d}.json.gz",
        )
        for i in range(n)
    ]


# -- one data file checked --------------------------------------------------------------------


def test_a_valid_file_passes_and_records_nothing(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    ref = write_prod_export(s3, customer_items(30, big=False))
    export_id = claimed(ddb, ref.export_id)
    data_file = exports.read_data_files(s3, ref, exports.read_summary(s3, ref))[0]
    check = validate_data_file(
        s3, ddb, ledger=LEDGER, table="customers", ref=ref, data_file=data_file, output_format="DYNAMODB_JSON"
    )
    assert check.ok and check.items == data_file.item_count
    assert recorded_problems(ddb, LEDGER, "customers", export_id).failed_files == 0


def test_a_missing_file_is_rejected_and_recorded(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    ref = write_prod_export(s3, customer_items(30, big=False))
    export_id = claimed(ddb, ref.export_id)
    data_file = exports.read_data_files(s3, ref, exports.read_summary(s3, ref))[0]
    s3.delete_object(Bucket=ref.bucket, Key=ref.resolve(data_file.data_file_s3_key))
    with pytest.raises(ExportRejected) as err:
        validate_data_file(
            s3, ddb, ledger=LEDGER, table="customers", ref=ref, data_file=data_file, output_format="DYNAMODB_JSON"
        )
    assert "does not exist" in str(err.value) and "test table left untouched" in str(err.value)
    got = recorded_problems(ddb, LEDGER, "customers", export_id)
    assert got.failed_files == 1 and data_file.data_file_s3_key in got.problems[0]


# -- the verify sample -----------------------------------------------------------------------


def test_sample_files_are_bounded_non_empty_deterministic_and_in_manifest_order() -> None:
    listed = files(40, empty_every=4)
    chosen = choose_sample_files(listed, "export-1")
    assert len(chosen) == SAMPLE_FILES and all(f.item_count for f in chosen)
    assert chosen == choose_sample_files(listed, "export-1")
    assert chosen == sorted(chosen, key=listed.index)
    assert chosen != choose_sample_files(listed, "export-2")


def test_a_small_export_is_sampled_from_all_its_non_empty_files() -> None:
    listed = files(5, empty_every=2)
    assert choose_sample_files(listed, "export-1") == [f for f in listed if f.item_count]


def test_the_sample_source_reads_at_most_the_chosen_files(clients: tuple[Any, Any]) -> None:
    # Given an export of 30 data files
    s3, _ = clients
    items = customer_items(60, big=False)
    ref = write_prod_export(s3, items, items_per_file=2)
    spy = CountingS3(s3)
    # When the sample source is read to the end
    got = list(sample_source(spy, ref, seed=ref.export_id, max_files=4))
    # Then only 4 data files were read, and their items are export items
    data_reads = [k for k in spy.got if "/data/" in k]
    assert len(data_reads) == len(set(data_reads)) == 4
    assert len(got) == 8 and all(it in items for it in got)


def test_a_damaged_sampled_file_fails_the_sample(clients: tuple[Any, Any]) -> None:
    s3, _ = clients
    ref = write_prod_export(s3, customer_items(6, big=False), items_per_file=2)
    for key in data_keys(s3, ref)[:3]:
        body = bytearray(s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read())
        body[-12] ^= 0xFF
        s3.put_object(Bucket=ref.bucket, Key=key, Body=bytes(body))
    with pytest.raises(exports.ExportCorrupt):
        list(sample_source(s3, ref, seed=ref.export_id))

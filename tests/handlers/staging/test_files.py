"""Per-file staging work for the state machine (handlers/staging/files.py) and the ledger's
bounded problem list (handlers/staging/core.py record_problems): each bounded, on moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from handlers import exports
from handlers.staging.core import (
    MAX_RECORDED_PROBLEMS,
    PROBLEM_CHARS,
    PROBLEMS_PER_FILE,
    ExportRejected,
    claim,
    record_problems,
    recorded_problems,
)
from handlers.staging.files import SAMPLE_FILES, choose_sample_files, sample_source, validate_data_file
from tests.support.staging_fixtures import (
    EXPORT_TIME,
    LEDGER,
    REGION,
    VAULT,
    create_ledger,
    customer_items,
    data_keys,
    write_prod_export,
)


@pytest.fixture
def clients(aws: None) -> tuple[Any, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    ddb = boto3.client("dynamodb", region_name=REGION)
    s3.create_bucket(Bucket=VAULT)
    create_ledger(ddb)
    return s3, ddb


class CountingS3:
    """An S3 client that records the keys of every GetObject."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self.got: list[str] = []

    def get_object(self, **kwargs: Any) -> Any:
        self.got.append(kwargs["Key"])
        return self._s3.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def files(n: int, *, empty_every: int = 0) -> list[exports.DataFile]:
    return [
        exports.DataFile(
            item_count=0 if empty_every and i % empty_every == 0 else 10,
            data_file_s3_key=f"AWSDynamoDB/x/data/{i:03d}.json.gz",
        )
        for i in range(n)
    ]


# -- the ledger's problem list -------------------------------------------------------------------


def claimed(ddb: Any, export_id: str = "01700000000000-aaaaaaaa") -> str:
    assert claim(ddb, LEDGER, "customers", export_id, EXPORT_TIME).claimed
    return export_id


def test_a_file_keeps_its_first_problems_and_marks_the_rest_left_out(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    export_id = claimed(ddb)
    problems = [f"problem {i}" for i in range(PROBLEMS_PER_FILE + 2)] + ["x" * 5000]
    assert record_problems(ddb, LEDGER, "customers", export_id, problems)
    got = recorded_problems(ddb, LEDGER, "customers", export_id)
    assert got.problems == problems[:PROBLEMS_PER_FILE] and got.failed_files == 1 and got.truncated


def test_a_long_problem_is_cut(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    export_id = claimed(ddb)
    record_problems(ddb, LEDGER, "customers", export_id, ["y" * 5000])
    (problem,) = recorded_problems(ddb, LEDGER, "customers", export_id).problems
    assert len(problem) == PROBLEM_CHARS and problem.endswith("...")


def test_the_record_never_holds_more_than_the_cap_but_counts_every_file(clients: tuple[Any, Any]) -> None:
    # Given many failing files, each with two problems
    _, ddb = clients
    export_id = claimed(ddb)
    stored = [record_problems(ddb, LEDGER, "customers", export_id, [f"file {i} a", f"file {i} b"]) for i in range(30)]
    # Then whole files are kept up to the cap, later ones only counted
    got = recorded_problems(ddb, LEDGER, "customers", export_id)
    assert stored == [True] * (MAX_RECORDED_PROBLEMS // 2) + [False] * (30 - MAX_RECORDED_PROBLEMS // 2)
    assert len(got.problems) == MAX_RECORDED_PROBLEMS and got.problems[:2] == ["file 0 a", "file 0 b"]
    assert got.failed_files == 30 and got.truncated
    assert "30 data file(s) failed:" in got.text() and "task logs have every one" in got.text()


def test_problems_of_another_export_are_not_recorded(clients: tuple[Any, Any]) -> None:
    # Given a ledger record claimed by a newer export
    _, ddb = clients
    newer = claimed(ddb, "01800000000000-bbbbbbbb")
    # When a child of an older run records problems
    assert not record_problems(ddb, LEDGER, "customers", "01700000000000-aaaaaaaa", ["late"])
    # Then the newer run's record is unchanged
    assert recorded_problems(ddb, LEDGER, "customers", newer).failed_files == 0
    assert recorded_problems(ddb, LEDGER, "customers", "01700000000000-aaaaaaaa").text() == ""


def test_a_new_claim_starts_without_problems(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    export_id = claimed(ddb)
    record_problems(ddb, LEDGER, "customers", export_id, ["old"] * 9)
    ddb.update_item(
        TableName=LEDGER,
        Key={"table": {"S": "customers"}},
        UpdateExpression="SET #s = :f",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":f": {"S": "FAILED"}},
    )
    # When the failed export is claimed again
    claimed(ddb, export_id)
    # Then nothing of the earlier run is left
    got = recorded_problems(ddb, LEDGER, "customers", export_id)
    assert (got.problems, got.failed_files, got.truncated) == ([], 0, False)


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

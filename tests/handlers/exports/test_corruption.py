"""Every kind of damaged or unusable export is rejected with a precise, actionable problem."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from typing import Any

import pytest

from handlers.exports import (
    DataFile,
    ExportCorrupt,
    ExportRef,
    UnsupportedExport,
    check_data_file,
    iter_file_items,
    iter_items,
    read_data_files,
    read_summary,
    validate_export,
    validate_manifests,
)
from tests.support.export_fixtures import BUCKET, OTHER_TABLE_ARN, TABLE_ARN, realistic_items, write_fixture_export


@pytest.fixture
def export(s3: Any) -> tuple[ExportRef, list[DataFile]]:
    ref = write_fixture_export(s3, realistic_items(40), items_per_file=10, empty_files=1)
    return ref, read_data_files(s3, ref, read_summary(s3, ref))


def _body(s3: Any, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return data


def _put(s3: Any, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def _rewrite_json(s3: Any, key: str, **changes: Any) -> None:
    doc = json.loads(_body(s3, key))
    doc.update(changes)
    _put(s3, key, json.dumps(doc).encode())


def _problems(s3: Any, ref: ExportRef, **kwargs: Any) -> list[str]:
    report = validate_export(s3, ref, **kwargs)
    assert report.ok is (not report.problems)
    return report.problems


def test_truncated_gzip(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    # Given the second data file cut short
    ref, files = export
    key = files[1].data_file_s3_key
    _put(s3, key, _body(s3, key)[:-40])
    # Then validation names the file and the truncation (and the checksum it breaks)
    problems = _problems(s3, ref)
    assert any(key in p and "truncated" in p for p in problems)
    assert any(key in p and "MD5 mismatch" in p for p in problems)
    # And streaming refuses it
    with pytest.raises(ExportCorrupt, match="truncated"):
        list(iter_file_items(s3, ref, files[1]))


def test_flipped_byte(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    # Given one byte flipped in the middle of a data file's compressed stream
    ref, files = export
    key = files[0].data_file_s3_key
    data = bytearray(_body(s3, key))
    data[len(data) // 2] ^= 0xFF
    _put(s3, key, bytes(data))
    # Then the MD5 no longer matches (whatever gunzip makes of it)
    problems = _problems(s3, ref)
    assert any(key in p and "MD5 mismatch" in p for p in problems)
    with pytest.raises(ExportCorrupt):
        list(iter_file_items(s3, ref, files[0]))


def test_missing_data_file(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, files = export
    s3.delete_object(Bucket=BUCKET, Key=files[2].data_file_s3_key)
    problems = _problems(s3, ref)
    assert problems == [
        f"data file s3://{BUCKET}/{files[2].data_file_s3_key} listed in manifest-files.json does not exist"
    ]
    with pytest.raises(ExportCorrupt, match="does not exist"):
        list(iter_items(s3, ref))


def test_md5_mismatch_with_valid_content(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    # Given a data file replaced by another valid gzip with the same number of items
    ref, files = export
    key = files[0].data_file_s3_key
    lines = gzip.decompress(_body(s3, key)).splitlines(keepends=True)
    _put(s3, key, gzip.compress(b"".join(lines), compresslevel=1, mtime=1))
    # Then only the MD5 check catches it
    problems = _problems(s3, ref)
    assert len(problems) == 1
    assert "MD5 mismatch" in problems[0]
    assert f"manifest says {files[0].md5_checksum}" in problems[0]


def _rewrite_manifest_files(s3: Any, ref: ExportRef, index: int, **changes: Any) -> None:
    key = read_summary(s3, ref).manifest_files_s3_key
    lines = _body(s3, key).decode().splitlines()
    doc = json.loads(lines[index])
    doc.update(changes)
    lines[index] = json.dumps(doc)
    _put(s3, key, ("\n".join(lines) + "\n").encode())
    s3.delete_object(Bucket=BUCKET, Key=ref.key("manifest-files.checksum"))


def test_file_count_mismatch(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    # Given manifest-files.json claiming one item more in a file than it holds
    ref, files = export
    _rewrite_manifest_files(s3, ref, 0, itemCount=files[0].item_count + 1)
    problems = _problems(s3, ref)
    assert len(problems) == 2
    assert any(
        f"holds {files[0].item_count} items, manifest-files.json says {files[0].item_count + 1}" in p for p in problems
    )
    # and the total no longer matches the summary either
    assert "manifest-files.json lists 41 items in 5 files, manifest-summary.json says 40" in problems


def test_summary_count_mismatch(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, _ = export
    _rewrite_json(s3, ref.summary_key, itemCount=41)
    s3.delete_object(Bucket=BUCKET, Key=ref.key("manifest-summary.checksum"))
    assert _problems(s3, ref) == ["manifest-files.json lists 40 items in 5 files, manifest-summary.json says 41"]


def test_malformed_line(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    # Given a data file whose third line is not an item (and the manifest updated to match bytes)
    ref, files = export
    key = files[0].data_file_s3_key
    lines = gzip.decompress(_body(s3, key)).splitlines(keepends=True)
    lines[2] = b'{"Item": {"id": {"S": "x"}, "n": {"N": "twelve"}}}\n'
    body = gzip.compress(b"".join(lines))
    _put(s3, key, body)
    _rewrite_manifest_files(s3, ref, 0, md5Checksum=base64.b64encode(hashlib.md5(body).digest()).decode())
    # Then the problem names file, line and attribute
    problems = _problems(s3, ref)
    assert len(problems) == 1
    assert f"{key} line 3 is not a valid item: n: N must be a decimal number string, got 'twelve'" in problems[0]
    with pytest.raises(ExportCorrupt, match="line 3"):
        list(iter_file_items(s3, ref, read_data_files(s3, ref, read_summary(s3, ref))[0]))


def test_many_malformed_lines_are_summarized(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, files = export
    key = files[0].data_file_s3_key
    _put(s3, key, gzip.compress(b"not json\n" * 10))
    _rewrite_manifest_files(s3, ref, 0, md5Checksum=None)
    problems = _problems(s3, ref)
    assert sum("is not a valid item: not JSON" in p for p in problems) == 3
    assert any("7 more malformed lines" in p for p in problems)


def test_wrong_source_table(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, _ = export
    problems = _problems(s3, ref, expected_table_arn=OTHER_TABLE_ARN)
    assert problems == [
        f"export is of table {TABLE_ARN}, expected {OTHER_TABLE_ARN} "
        "(wrong source table: check the export URL or the configured source)"
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"outputFormat": "PARQUET"}, "outputFormat 'PARQUET' is not supported"),
        ({"exportType": "DELTA_EXPORT"}, "exportType 'DELTA_EXPORT' is unknown"),
        ({"status": "FAILED"}, "export status is 'FAILED', not COMPLETED"),
    ],
)
def test_unsupported_export(
    s3: Any, export: tuple[ExportRef, list[DataFile]], changes: dict[str, str], message: str
) -> None:
    ref, _ = export
    _rewrite_json(s3, ref.summary_key, **changes)
    s3.delete_object(Bucket=BUCKET, Key=ref.key("manifest-summary.checksum"))
    problems = _problems(s3, ref)
    assert len(problems) == 1
    assert message in problems[0]
    with pytest.raises(UnsupportedExport, match=message):
        list(iter_items(s3, ref))


def test_missing_summary(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, _ = export
    s3.delete_object(Bucket=BUCKET, Key=ref.summary_key)
    problems = _problems(s3, ref)
    assert len(problems) == 1
    assert "no manifest-summary.json" in problems[0]


def test_summary_not_json(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, _ = export
    _put(s3, ref.summary_key, b'{"tableArn": ')
    assert "manifest-summary.json is not JSON" in _problems(s3, ref)[0]


def test_summary_missing_field(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, _ = export
    doc = json.loads(_body(s3, ref.summary_key))
    del doc["manifestFilesS3Key"]
    _put(s3, ref.summary_key, json.dumps(doc).encode())
    assert _problems(s3, ref) == ["manifest-summary.json: field 'manifestFilesS3Key' is missing"]


def test_missing_manifest_files(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, _ = export
    s3.delete_object(Bucket=BUCKET, Key=ref.key("manifest-files.json"))
    problems = _problems(s3, ref)
    assert any("manifest-files.json" in p and "does not exist" in p for p in problems)


def test_manifest_files_line_not_json(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, _ = export
    key = ref.key("manifest-files.json")
    _put(s3, key, _body(s3, key) + b"{broken\n")
    problems = _problems(s3, ref)
    assert any("manifest-files.json line 6 is not JSON" in p for p in problems)


def test_manifest_changed_after_checksum_is_a_warning(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    # Given manifest-files.json edited but its checksum companion left as written
    ref, _ = export
    key = ref.key("manifest-files.json")
    _put(s3, key, _body(s3, key) + b"\n")
    # Then it is reported, but as a warning: AWS does not document what its .checksum files hold
    report = validate_export(s3, ref)
    assert report.ok
    assert report.warnings == [
        f"{ref.url}manifest-files.checksum does not match the manifest it guards (manifest changed after export)"
    ]


def test_every_problem_is_reported_at_once(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    # Given a wrong table, a missing file and a truncated file together
    ref, files = export
    s3.delete_object(Bucket=BUCKET, Key=files[0].data_file_s3_key)
    key = files[1].data_file_s3_key
    _put(s3, key, _body(s3, key)[:20])
    problems = _problems(s3, ref, expected_table_arn=OTHER_TABLE_ARN)
    assert any("wrong source table" in p for p in problems)
    assert any(files[0].data_file_s3_key in p and "does not exist" in p for p in problems)
    assert any(key in p and "truncated" in p for p in problems)


def test_not_gzip(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, files = export
    key = files[0].data_file_s3_key
    _put(s3, key, b'{"Item": {"id": {"S": "plain text, not gzip"}}}\n')
    problems = _problems(s3, ref)
    assert any(key in p and "not a valid gzip stream" in p for p in problems)


def test_data_file_listed_twice(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    # Given manifest-files.json listing the first file twice (summary count adjusted to match)
    ref, files = export
    key = read_summary(s3, ref).manifest_files_s3_key
    body = _body(s3, key)
    _put(s3, key, body + body.splitlines(keepends=True)[0])
    s3.delete_object(Bucket=BUCKET, Key=ref.key("manifest-files.checksum"))
    _rewrite_json(s3, ref.summary_key, itemCount=40 + files[0].item_count)
    s3.delete_object(Bucket=BUCKET, Key=ref.key("manifest-summary.checksum"))
    # Then the duplicate is named (its items would otherwise be loaded twice)
    assert _problems(s3, ref) == [
        f"manifest-files.json lists data file s3://{BUCKET}/{files[0].data_file_s3_key} twice"
    ]


def test_parallel_validation_reports_the_same_problems_in_order(
    s3: Any, export: tuple[ExportRef, list[DataFile]]
) -> None:
    ref, files = export
    s3.delete_object(Bucket=BUCKET, Key=files[3].data_file_s3_key)
    key = files[1].data_file_s3_key
    _put(s3, key, _body(s3, key)[:-30])
    sequential = validate_export(s3, ref).problems
    assert len(sequential) >= 3
    assert validate_export(s3, ref, workers=4).problems == sequential


def test_manifest_validation_reads_no_data_file(s3: Any, export: tuple[ExportRef, list[DataFile]]) -> None:
    # Given every data file gone
    ref, files = export
    for f in files:
        s3.delete_object(Bucket=BUCKET, Key=f.data_file_s3_key)
    # Then the manifest half passes, and each file check reports its own file
    assert validate_manifests(s3, ref, expected_table_arn=TABLE_ARN).problems == []
    check = check_data_file(s3, ref, files[0])
    assert not check.ok
    assert check.problems == [
        f"data file s3://{BUCKET}/{files[0].data_file_s3_key} listed in manifest-files.json does not exist"
    ]


def test_access_denied_is_reported_with_what_to_check() -> None:
    # Given a client that may not read the bucket (no moto needed: S3 never answers)
    from botocore.exceptions import ClientError

    class Denied:
        def get_object(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")

    ref = ExportRef.parse("s3://vault/exports/orders/AWSDynamoDB/01693685827463-2d8752fd/")
    # Then validation reports it, naming the permissions to check, without raising
    problems = validate_export(Denied(), ref).problems
    assert len(problems) == 1
    assert problems[0].startswith(f"cannot read s3://vault/{ref.summary_key}: AccessDenied: Access Denied")
    assert "s3:ListBucket" in problems[0]

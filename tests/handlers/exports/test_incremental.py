"""Incremental exports: AWS's manifest and line format, read strictly, written exactly.

Samples:
- AWS's sample incremental manifest-summary.json, from the DynamoDB developer guide page
  "DynamoDB table export output format" (incremental export output,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html);
- the manifests of a real incremental export (2026-01-14, eu-north-1, published with
  github.com/gurre/ddb-pitr `s3exportdata/`), whose data files are in `AWSDynamoDB/data/`;
- lines in the shape the same page documents (insert, update, delete) and generated ones.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.exports import (
    Change,
    DataFile,
    ExportCorrupt,
    ExportRef,
    ItemFormatError,
    ManifestSummary,
    UnsupportedExport,
    decode_change_line,
    decode_change_line_unchecked,
    encode_change_line,
    iter_changes,
    iter_file_changes,
    iter_items,
    iter_requests,
    list_exports,
    read_data_files,
    read_summary,
    scan_exports,
    validate_export,
    validate_manifests,
    write_incremental_export,
)
from handlers.exports.layout import FULL_EXPORT, INCREMENTAL_EXPORT, NEW_IMAGE, ManifestError
from handlers.exports.manifests import parse_data_files
from tests.support.export_fixtures import BUCKET, PREFIX, TABLE_ARN, realistic_items, write_fixture_export

FROM = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
TO = FROM + timedelta(minutes=15)

# AWS's sample (S3DataExport.Output.html, incremental export output).
AWS_SAMPLE_SUMMARY = {
    "version": "2023-08-01",
    "exportArn": "arn:aws:dynamodb:us-east-1:599882009758:table/export-test/export/01695097218000-d6299cbd",
    "startTime": "2023-09-19T04:20:18.000Z",
    "endTime": "2023-09-19T04:40:24.780Z",
    "tableArn": "arn:aws:dynamodb:us-east-1:599882009758:table/export-test",
    "tableId": "b116b490-6460-4d4a-9a6b-5d360abf4fb3",
    "exportFromTime": "2023-09-18T17:00:00.000Z",
    "exportToTime": "2023-09-19T04:00:00.000Z",
    "s3Bucket": "jason-exports",
    "s3Prefix": "20230919-prefix",
    "s3SseAlgorithm": "AES256",
    "s3SseKmsKeyId": None,
    "manifestFilesS3Key": "20230919-prefix/AWSDynamoDB/01693685934212-ac809da5/manifest-files.json",
    "billedSizeBytes": 20901239349,
    "itemCount": 169928274,
    "outputFormat": "DYNAMODB_JSON",
    "outputView": "NEW_AND_OLD_IMAGES",
    "exportType": "INCREMENTAL_EXPORT",
}
# A real export's manifests (s3Prefix null: data files in AWSDynamoDB/data/).
REAL_SUMMARY = (
    '{"version":"2023-08-01","exportArn":"arn:aws:dynamodb:eu-north-1:123456789123:table/test/export/'
    '01768386924000-d339e52d","startTime":"2026-01-14T10:35:24.000Z","endTime":"2026-01-14T10:40:27.622Z",'
    '"tableArn":"arn:aws:dynamodb:eu-north-1:123456789123:table/test","tableId":"cf263806-6bf1-4e51-a242-'
    '7067dcdecc72","exportFromTime":"2026-01-14T10:20:00.000Z","exportToTime":"2026-01-14T10:35:00.000Z",'
    '"s3Bucket":"test-1231x1x","s3Prefix":null,"s3SseAlgorithm":"AES256","s3SseKmsKeyId":null,'
    '"manifestFilesS3Key":"AWSDynamoDB/01768386924000-d339e52d/manifest-files.json","billedSizeBytes":10000000,'
    '"itemCount":6,"outputFormat":"DYNAMODB_JSON","outputView":"NEW_AND_OLD_IMAGES","exportType":"INCREMENTAL_EXPORT"}'
)
REAL_FILES = (
    b'{"itemCount":3,"md5Checksum":"c2c8Ly/xdhzeH92qunsAvQ==","etag":"cadeac813d83753935d9e4aae8c4427f-1",'
    b'"dataFileS3Key":"AWSDynamoDB/data/u2wov2dg246wzitouzsnk6jbd4.json.gz"}\n'
    b'{"itemCount":0,"md5Checksum":"FjvgqIxwymKf1RbbqtrZag==","etag":"7deb4078f238dd87d6af0538152c04e9-1",'
    b'"dataFileS3Key":"AWSDynamoDB/data/vortt3w45u2w7glaexsiwnz4li.json.gz"}\n'
    b'{"itemCount":0,"md5Checksum":"FjvgqIxwymKf1RbbqtrZag==","etag":"7deb4078f238dd87d6af0538152c04e9-1",'
    b'"dataFileS3Key":"AWSDynamoDB/data/auzjitnisa6dlortcics46chxq.json.gz"}\n'
    b'{"itemCount":3,"md5Checksum":"wRro6GGraOJMeeLLvHa6Zg==","etag":"20aef9b39b7b3bf37592c3c34fbbbe91-1",'
    b'"dataFileS3Key":"AWSDynamoDB/data/z2grmkfehu6e5phyeuxxtu6xve.json.gz"}\n'
)
# The documented line shapes.
INSERT = (
    b'{"Metadata":{"WriteTimestampMicros":{"N":"1680109764000000"}},"Keys":{"PK":{"S":"CUST#100"}},'
    b'"NewImage":{"PK":{"S":"CUST#100"},"FirstName":{"S":"John"},"LastName":{"S":"Don"}}}'
)
UPDATE = (
    b'{"Metadata":{"WriteTimestampMicros":{"N":"1680109764000000"}},"Keys":{"PK":{"S":"CUST#200"}},'
    b'"NewImage":{"PK":{"S":"CUST#200"},"FirstName":{"S":"Mary"},"LastName":{"S":"Grace"}},'
    b'"OldImage":{"PK":{"S":"CUST#200"},"FirstName":{"S":"Mary"},"LastName":{"S":"Don"}}}'
)
DELETE = (
    b'{"Metadata":{"WriteTimestampMicros":{"N":"1680109764000000"}},"Keys":{"PK":{"S":"CUST#300"}},'
    b'"OldImage":{"PK":{"S":"CUST#300"},"FirstName":{"S":"Jose"},"LastName":{"S":"Hernandez"}}}'
)


def realistic_changes(count: int = 40) -> list[Change]:
    """Every kind of change (insert, update, delete) over items of every attribute type."""
    items = realistic_items(count)
    changes = []
    for i, item in enumerate(items):
        keys = {"customerId": item["customerId"], "orderId": item["orderId"]}
        before = {**keys, "before": {"N": str(i)}}
        kind = i % 3
        new = None if kind == 2 else item
        old = None if kind == 0 else before
        changes.append(Change(keys, new, old, 1_764_126_000_000_000 + i))
    return changes


def write_window(s3: Any, changes: list[Change] | None = None, **kwargs: Any) -> ExportRef:
    if BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=BUCKET)
    options: dict[str, Any] = {"export_from_time": FROM, "export_to_time": TO, "items_per_file": 15}
    options.update(kwargs)
    return write_incremental_export(
        s3,
        bucket=BUCKET,
        prefix=PREFIX,
        table_arn=TABLE_ARN,
        changes=realistic_changes() if changes is None else changes,
        **options,
    )


# --- the manifest summary -------------------------------------------------------------------------


def test_aws_sample_summary_parses_and_writes_back_identically() -> None:
    summary = ManifestSummary.from_json(AWS_SAMPLE_SUMMARY)
    assert summary.is_incremental
    assert summary.export_from_time == datetime(2023, 9, 18, 17, 0, tzinfo=UTC)
    assert summary.export_to_time == summary.export_time == datetime(2023, 9, 19, 4, 0, tzinfo=UTC)
    assert summary.output_view == "NEW_AND_OLD_IMAGES"
    assert summary.item_count == 169928274
    # AWS's incremental summary has no exportTime; written back it is the same document, in order
    assert list(summary.to_json().items()) == list(AWS_SAMPLE_SUMMARY.items())


def test_real_export_manifests_resolve_into_the_shared_data_folder(s3: Any) -> None:
    summary = ManifestSummary.from_json(json.loads(REAL_SUMMARY))
    files = parse_data_files("manifest-files.json", REAL_FILES)
    ref = ExportRef(BUCKET, "AWSDynamoDB/01768386924000-d339e52d/")
    assert ref.resolve(files[0].data_file_s3_key) == "AWSDynamoDB/data/u2wov2dg246wzitouzsnk6jbd4.json.gz"
    assert sum(f.item_count for f in files) == summary.item_count == 6
    # The manifest half of validation accepts the real export as it is
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=ref.summary_key, Body=REAL_SUMMARY.encode())
    s3.put_object(Bucket=BUCKET, Key=ref.key("manifest-files.json"), Body=REAL_FILES)
    report = validate_manifests(s3, ref, expected_type=INCREMENTAL_EXPORT)
    assert report.ok, report.problems
    assert len(report.files) == 4
    # Copied under another prefix (replication, a restore's copy), the shared folder moves along
    copied = ExportRef("replica", "dr/exports/test/AWSDynamoDB/01768386924000-d339e52d/")
    assert (
        copied.resolve(files[0].data_file_s3_key)
        == "dr/exports/test/AWSDynamoDB/data/u2wov2dg246wzitouzsnk6jbd4.json.gz"
    )
    assert copied.resolve("20230919-prefix/AWSDynamoDB/data/x.json.gz") == "dr/exports/test/AWSDynamoDB/data/x.json.gz"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"exportFromTime": None}, "field 'exportFromTime' is missing"),
        ({"exportToTime": "yesterday"}, "not ISO-8601"),
        ({"exportToTime": "2023-09-18T17:00:00.000Z"}, "is not before exportToTime"),
        ({"outputView": None}, "field 'outputView' is missing"),
        ({"outputView": "KEYS_ONLY"}, "expected one of NEW_AND_OLD_IMAGES, NEW_IMAGE"),
    ],
)
def test_malformed_incremental_summaries_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        ManifestSummary.from_json({**AWS_SAMPLE_SUMMARY, **change})


# --- lines ----------------------------------------------------------------------------------------


def test_documented_lines_decode() -> None:
    insert, update, delete = (decode_change_line(line) for line in (INSERT, UPDATE, DELETE))
    assert insert == Change(
        {"PK": {"S": "CUST#100"}},
        {"PK": {"S": "CUST#100"}, "FirstName": {"S": "John"}, "LastName": {"S": "Don"}},
        None,
        1680109764000000,
    )
    assert update.old_image is not None and update.old_image["LastName"] == {"S": "Don"}
    assert update.new_image is not None and update.new_image["LastName"] == {"S": "Grace"}
    assert delete.is_delete and delete.old_image is not None
    # A delete with the NEW_IMAGE view is Keys alone
    keys_only = decode_change_line(b'{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"PK":{"S":"a"}}}')
    assert keys_only == Change({"PK": {"S": "a"}}, None, None, 1)


def test_lines_round_trip_every_attribute_type() -> None:
    for change in realistic_changes():
        line = encode_change_line(change)
        assert line.endswith(b"}\n") and line.count(b"\n") == 1
        assert decode_change_line(line) == change
        assert decode_change_line_unchecked(line) == change


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "must be an object"),
        (INSERT[:-1] + b',"Item":{}}', "unknown field(s) 'Item'"),
        (b'{"Keys":{"PK":{"S":"a"}},"NewImage":{"PK":{"S":"a"}}}', "needs Metadata and Keys"),
        (b'{"Metadata":{},"Keys":{"PK":{"S":"a"}}}', "Metadata.WriteTimestampMicros"),
        (b'{"Metadata":{"WriteTimestampMicros":{"N":"-1"}},"Keys":{"PK":{"S":"a"}}}', "WriteTimestampMicros"),
        (b'{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{}}', "one or two key attributes"),
        (b'{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"PK":{"M":{}}}}', "must be S, N or B"),
        (b'{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"PK":{"N":"x"}}}', "Keys.PK: N must be"),
        (
            b'{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"PK":{"S":"a"}},"NewImage":{"PK":{"S":"b"}}}',
            "NewImage.PK: does not match Keys.PK",
        ),
        (
            b'{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"PK":{"S":"a"}},"OldImage":{"v":{"S":"b"}}}',
            "OldImage.PK: does not match Keys.PK",
        ),
        (
            b'{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"PK":{"S":"a"}},'
            b'"NewImage":{"PK":{"S":"a"},"n":{"N":"1e"}}}',
            "NewImage.n: N must be",
        ),
        (b'{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"PK":{"S":"a"}},"NewImage":{}}', "non-empty"),
    ],
)
def test_malformed_lines_are_refused_with_the_place(line: bytes, message: str) -> None:
    with pytest.raises(ItemFormatError) as caught:
        decode_change_line(line)
    assert message in str(caught.value)


_values = st.recursive(
    st.one_of(
        st.text(max_size=5).map(lambda s: {"S": s}),
        st.integers(-(10**20), 10**20).map(lambda n: {"N": str(n)}),
        st.binary(max_size=5).map(lambda b: {"B": b}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(st.text(min_size=1, max_size=3), inner, max_size=3).map(lambda v: {"M": v}),
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    key=st.one_of(
        st.text(min_size=1, max_size=8).map(lambda s: {"S": s}), st.binary(min_size=1).map(lambda b: {"B": b})
    ),
    new=st.none() | st.dictionaries(st.text(min_size=1, max_size=4), _values, max_size=4),
    old=st.none() | st.dictionaries(st.text(min_size=1, max_size=4), _values, max_size=4),
    micros=st.integers(0, 2**62),
)
def test_any_change_round_trips_through_both_decoders(
    key: dict[str, Any], new: dict[str, Any] | None, old: dict[str, Any] | None, micros: int
) -> None:
    keys = {"pk": key}
    change = Change(keys, None if new is None else {**new, **keys}, None if old is None else {**old, **keys}, micros)
    line = encode_change_line(change)
    assert decode_change_line(line) == change
    assert decode_change_line_unchecked(line) == change


# --- writing and reading exports ------------------------------------------------------------------


def test_written_export_has_aws_layout_and_reads_back(s3: Any) -> None:
    changes = realistic_changes()
    ref = write_window(s3, changes, empty_files=1)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    data = [k for k in keys if "/data/" in k]
    # manifests in the export's folder, data files in the folder every incremental export shares
    assert {k for k in keys if k not in data} == {
        ref.key(n)
        for n in (
            "_started",
            "manifest-summary.json",
            "manifest-summary.checksum",
            "manifest-files.json",
            "manifest-files.checksum",
        )
    }
    assert all(k.startswith(f"{PREFIX}/AWSDynamoDB/data/") and k.endswith(".json.gz") for k in data)
    assert len(data) == 4  # 40 changes, 15 per file, and one empty file
    summary = read_summary(s3, ref)
    assert (summary.version, summary.export_type, summary.output_view) == (
        "2023-08-01",
        INCREMENTAL_EXPORT,
        "NEW_AND_OLD_IMAGES",
    )
    assert (summary.export_from_time, summary.export_to_time, summary.item_count) == (FROM, TO, 40)
    raw = json.loads(s3.get_object(Bucket=BUCKET, Key=ref.summary_key)["Body"].read())
    assert "exportTime" not in raw
    assert list(iter_changes(s3, ref)) == changes
    assert list(iter_changes(s3, ref, summary, check=False)) == changes
    report = validate_export(s3, ref, expected_type=INCREMENTAL_EXPORT)
    assert report.ok, report.problems
    assert (report.export_type, report.item_count) == (INCREMENTAL_EXPORT, 40)
    assert report.to_json()["exportFromTime"] == "2026-11-26T03:00:00.000Z"


def test_two_windows_share_the_data_folder_and_read_only_their_own_files(s3: Any) -> None:
    first = write_window(s3, realistic_changes(10))
    second = write_window(s3, realistic_changes(7), export_from_time=TO, export_to_time=TO + timedelta(minutes=15))
    assert len(list(iter_changes(s3, first))) == 10
    assert len(list(iter_changes(s3, second))) == 7
    # Listing: the shared data folder is not an export; full exports are what imports see
    full = write_fixture_export(s3)
    assert scan_exports(s3, BUCKET, PREFIX).skipped == []
    assert [ref for ref, _ in list_exports(s3, BUCKET, PREFIX)] == [full]
    assert {ref for ref, _ in list_exports(s3, BUCKET, PREFIX, export_type=None)} == {full, first, second}
    assert [ref for ref, _ in list_exports(s3, BUCKET, PREFIX, export_type=INCREMENTAL_EXPORT)] == [second, first]


def test_new_image_view(s3: Any) -> None:
    changes = [Change(c.keys, c.new_image, None, c.write_micros) for c in realistic_changes(9)]
    ref = write_window(s3, changes, view=NEW_IMAGE)
    assert read_summary(s3, ref).output_view == NEW_IMAGE
    assert list(iter_changes(s3, ref)) == changes


@pytest.mark.parametrize(
    ("changes", "kwargs", "message"),
    [
        ([Change({"pk": {"S": "a"}}, {"pk": {"S": "b"}}, None, 1)], {}, "change 1 is not valid: NewImage.pk"),
        ([Change({"pk": {"S": "a"}}, None, {"pk": {"S": "a"}}, 1)], {"view": NEW_IMAGE}, "NEW_IMAGE view"),
        ([Change({"pk": {"S": "a"}}, None, None, 1)], {}, "neither NewImage nor OldImage"),
        ([Change({"pk": {"BOOL": True}}, None, None, 1)], {"view": NEW_IMAGE}, "must be S, N or B"),
        ([Change({"pk": {"B": "text"}}, None, None, 1)], {"view": NEW_IMAGE}, "B must be bytes"),
        ([], {"export_to_time": FROM}, "the window is empty"),
        ([], {"export_from_time": FROM + timedelta(microseconds=5)}, "sub-millisecond"),
        ([], {"view": "KEYS_ONLY"}, "view must be one of"),
    ],
)
def test_invalid_changes_or_windows_publish_nothing(
    s3: Any, changes: list[Change], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_window(s3, changes, **kwargs)
    assert scan_exports(s3, BUCKET, PREFIX, export_type=None).exports == []


# --- full-export paths refuse an incremental export, and the other way round ---------------------


def test_full_export_paths_refuse_an_incremental_export(s3: Any) -> None:
    ref = write_window(s3)
    for read in (lambda: list(iter_items(s3, ref)), lambda: list(iter_requests(s3, ref))):
        with pytest.raises(
            UnsupportedExport, match="exportType is INCREMENTAL_EXPORT: an incremental export holds changes"
        ):
            read()
    for check in (validate_export, validate_manifests):
        problems = check(s3, ref).problems
        assert problems == [
            "exportType is INCREMENTAL_EXPORT: an incremental export holds changes in a window, not the table, "
            "so it cannot be imported or staged; use a FULL_EXPORT, then replay the windows after it"
        ]


def test_incremental_paths_refuse_a_full_export(s3: Any) -> None:
    ref = write_fixture_export(s3)
    with pytest.raises(UnsupportedExport, match="exportType is FULL_EXPORT: a full export holds the table"):
        list(iter_changes(s3, ref))
    assert not validate_export(s3, ref, expected_type=INCREMENTAL_EXPORT).ok
    report = validate_export(s3, ref, expected_type=None)
    assert report.ok
    assert report.export_type == FULL_EXPORT


# --- every corruption class of full exports, for incrementals -------------------------------------


@pytest.fixture
def window_export(s3: Any) -> tuple[ExportRef, list[DataFile]]:
    ref = write_window(s3)
    return ref, read_data_files(s3, ref, read_summary(s3, ref))


def _body(s3: Any, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return data


def _problems(s3: Any, ref: ExportRef) -> list[str]:
    return validate_export(s3, ref, expected_type=INCREMENTAL_EXPORT).problems


def test_flipped_byte(s3: Any, window_export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, files = window_export
    key = files[0].data_file_s3_key
    data = bytearray(_body(s3, key))
    data[len(data) // 2] ^= 0xFF
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    assert any(key in p and "MD5 mismatch" in p for p in _problems(s3, ref))
    with pytest.raises(ExportCorrupt):
        list(iter_file_changes(s3, ref, files[0]))


def test_truncated_gzip(s3: Any, window_export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, files = window_export
    key = files[1].data_file_s3_key
    s3.put_object(Bucket=BUCKET, Key=key, Body=_body(s3, key)[:-30])
    assert any(key in p and "truncated" in p for p in _problems(s3, ref))
    with pytest.raises(ExportCorrupt, match="truncated"):
        list(iter_changes(s3, ref))


def test_missing_data_file(s3: Any, window_export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, files = window_export
    s3.delete_object(Bucket=BUCKET, Key=files[2].data_file_s3_key)
    assert _problems(s3, ref) == [
        f"data file s3://{BUCKET}/{files[2].data_file_s3_key} listed in manifest-files.json does not exist"
    ]
    with pytest.raises(ExportCorrupt, match="does not exist"):
        list(iter_changes(s3, ref))


def _replace_lines(s3: Any, ref: ExportRef, data_file: DataFile, lines: list[bytes]) -> None:
    """Rewrite a data file and its manifest line so that only the lines themselves are wrong."""
    import base64
    import hashlib

    body = gzip.compress(b"".join(line + b"\n" for line in lines), mtime=1)
    s3.put_object(Bucket=BUCKET, Key=data_file.data_file_s3_key, Body=body)
    key = read_summary(s3, ref).manifest_files_s3_key
    docs = [json.loads(line) for line in _body(s3, key).splitlines()]
    for doc in docs:
        if doc["dataFileS3Key"] == data_file.data_file_s3_key:
            doc["md5Checksum"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"".join(json.dumps(d).encode() + b"\n" for d in docs))
    s3.delete_object(Bucket=BUCKET, Key=ref.key("manifest-files.checksum"))


def test_count_mismatch(s3: Any, window_export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, files = window_export
    lines = gzip.decompress(_body(s3, files[0].data_file_s3_key)).splitlines()
    _replace_lines(s3, ref, files[0], lines[:-1])
    problems = _problems(s3, ref)
    assert problems == [
        f"data file s3://{BUCKET}/{files[0].data_file_s3_key} holds 14 items, manifest-files.json says 15"
    ]
    with pytest.raises(ExportCorrupt, match="holds 14 items"):
        list(iter_changes(s3, ref))


def test_malformed_line(s3: Any, window_export: tuple[ExportRef, list[DataFile]]) -> None:
    ref, files = window_export
    lines = gzip.decompress(_body(s3, files[0].data_file_s3_key)).splitlines()
    lines[2] = lines[2].replace(b'"Keys":', b'"Key":', 1)
    _replace_lines(s3, ref, files[0], lines)
    problems = _problems(s3, ref)
    assert len(problems) == 1
    assert (
        f"data file s3://{BUCKET}/{files[0].data_file_s3_key} line 3 is not a valid item: unknown field(s) 'Key'"
        in problems[0]
    )
    with pytest.raises(ExportCorrupt, match="line 3"):
        list(iter_changes(s3, ref))


def test_a_line_the_view_cannot_have_is_refused(s3: Any) -> None:
    # Given a NEW_IMAGE export one of whose lines carries an OldImage
    changes = [Change(c.keys, c.new_image, None, c.write_micros) for c in realistic_changes(5)]
    ref = write_window(s3, changes, view=NEW_IMAGE)
    data_file = read_data_files(s3, ref, read_summary(s3, ref))[0]
    bad = Change(changes[0].keys, changes[0].new_image, changes[0].keys, 1)
    _replace_lines(
        s3,
        ref,
        data_file,
        [encode_change_line(bad).rstrip(b"\n"), *(encode_change_line(c).rstrip(b"\n") for c in changes[1:])],
    )
    assert any("OldImage: present in an export with the NEW_IMAGE view" in p for p in _problems(s3, ref))
    with pytest.raises(ExportCorrupt, match="NEW_IMAGE view"):
        list(iter_changes(s3, ref))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"exportToTime": None}, "field 'exportToTime' is missing"),
        ({"itemCount": 41}, "manifest-files.json lists 40 items in 3 files, manifest-summary.json says 41"),
        ({"manifestFilesS3Key": "elsewhere/manifest-files.json"}, "named by the summary does not exist"),
    ],
)
def test_wrong_manifest(
    s3: Any, window_export: tuple[ExportRef, list[DataFile]], change: dict[str, Any], message: str
) -> None:
    ref, _ = window_export
    doc = json.loads(_body(s3, ref.summary_key))
    doc.update(change)
    s3.put_object(Bucket=BUCKET, Key=ref.summary_key, Body=json.dumps(doc).encode())
    s3.delete_object(Bucket=BUCKET, Key=ref.key("manifest-summary.checksum"))
    problems = _problems(s3, ref)
    assert len(problems) == 1
    assert message in problems[0]

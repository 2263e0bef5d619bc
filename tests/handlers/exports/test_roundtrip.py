"""Exports written in AWS's layout read back item for item; layout details; finding exports."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from datetime import timedelta
from typing import Any

import boto3
import pytest

from handlers.exports import (
    ExportCorrupt,
    ExportNotFound,
    ExportRef,
    decode_export_line,
    encode_export_line,
    iter_file_items,
    iter_items,
    list_exports,
    read_data_files,
    read_summary,
    scan_exports,
    validate_export,
    write_export,
)
from handlers.exports import writer as export_writer
from tests.support.export_fixtures import (
    BUCKET,
    EXPORT_TIME,
    PREFIX,
    TABLE_ARN,
    realistic_items,
    write_fixture_export,
)


def _keys(s3: Any, ref: ExportRef) -> list[str]:
    return [o["Key"][len(ref.prefix) :] for o in s3.list_objects_v2(Bucket=ref.bucket, Prefix=ref.prefix)["Contents"]]


def test_realistic_export_reads_back_item_for_item(s3: Any) -> None:
    # Given every attribute type, 38-digit numbers, binary, unicode, deep nesting, a ~400 KB item
    items = realistic_items()
    # When written in AWS's layout over several files and read back
    ref = write_fixture_export(s3, items)
    got = list(iter_items(s3, ref))
    # Then every item is identical, in order
    assert got == items


def test_layout_matches_aws(s3: Any) -> None:
    # Given an export of 60 items, 17 per file, plus an empty partition
    ref = write_fixture_export(s3)
    # Then the folder holds AWS's files: marker, manifests, checksums and gzip data files
    keys = _keys(s3, ref)
    assert {"_started", "manifest-summary.json", "manifest-files.json"} <= set(keys)
    data = [k for k in keys if k.startswith("data/")]
    assert len(data) == 5  # ceil(60/17) = 4 files + 1 empty partition
    assert all(k.endswith(".json.gz") for k in data)
    assert ref.prefix.startswith(f"{PREFIX}/AWSDynamoDB/")


def test_summary_has_aws_fields(s3: Any) -> None:
    ref = write_fixture_export(s3)
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=ref.summary_key)["Body"].read())
    assert doc["version"] == "2020-06-30"
    assert doc["tableArn"] == TABLE_ARN
    assert doc["exportArn"] == f"{TABLE_ARN}/export/{ref.export_id}"
    assert doc["exportTime"] == "2026-11-26T03:00:00.123Z"
    assert doc["itemCount"] == 60
    assert doc["outputFormat"] == "DYNAMODB_JSON"
    assert doc["exportType"] == "FULL_EXPORT"
    assert doc["s3Bucket"] == BUCKET
    assert doc["s3Prefix"] == PREFIX
    assert doc["manifestFilesS3Key"] == ref.key("manifest-files.json")


def test_manifest_files_md5_is_base64_of_the_gzip_object(s3: Any) -> None:
    ref = write_fixture_export(s3)
    files = read_data_files(s3, ref, read_summary(s3, ref))
    for f in files:
        body = s3.get_object(Bucket=BUCKET, Key=f.data_file_s3_key)["Body"].read()
        assert f.md5_checksum == base64.b64encode(hashlib.md5(body).digest()).decode()
        assert f.etag
        assert len(gzip.decompress(body).splitlines()) == f.item_count
    assert [f.item_count for f in files] == [17, 17, 17, 9, 0]


def test_data_lines_are_dynamodb_json_with_base64_binary(s3: Any) -> None:
    ref = write_fixture_export(s3, [{"id": {"S": "a"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"\x01"]}}])
    f = read_data_files(s3, ref, read_summary(s3, ref))[0]
    line = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=f.data_file_s3_key)["Body"].read())
    assert json.loads(line) == {"Item": {"id": {"S": "a"}, "b": {"B": "AP8="}, "bs": {"BS": ["AQ=="]}}}


def test_export_validates_clean(s3: Any) -> None:
    ref = write_fixture_export(s3)
    report = validate_export(s3, ref, expected_table_arn=TABLE_ARN)
    assert report.problems == []
    assert report.ok
    assert report.item_count == 60
    assert len(report.files) == 5


def test_empty_table_export_has_one_empty_file(s3: Any) -> None:
    ref = write_fixture_export(s3, [], empty_files=0)
    files = read_data_files(s3, ref, read_summary(s3, ref))
    assert [f.item_count for f in files] == [0]
    assert validate_export(s3, ref).ok
    assert list(iter_items(s3, ref)) == []


def test_zero_byte_partition_file_reads_as_empty(s3: Any) -> None:
    # Given an AWS export whose empty partition is a zero-byte object
    ref = write_fixture_export(s3, [], empty_files=0)
    f = read_data_files(s3, ref, read_summary(s3, ref))[0]
    s3.put_object(Bucket=BUCKET, Key=f.data_file_s3_key, Body=b"")
    # Then it reads as no items (its MD5 no longer matches what we wrote, so skip that check)
    bare = type(f)(data_file_s3_key=f.data_file_s3_key, item_count=0)
    assert list(iter_file_items(s3, ref, bare)) == []


@pytest.mark.parametrize("style", ["full", "without-export-prefix", "relative-to-folder"])
def test_manifest_keys_with_and_without_prefix(s3: Any, style: str) -> None:
    # Given an export whose manifests name keys the ways AWS and copies do
    ref = write_fixture_export(s3, realistic_items(20))

    def rewrite(key: str) -> str:
        if style == "without-export-prefix":
            return key[len(ref.export_prefix) :]  # AWSDynamoDB/<id>/...
        if style == "relative-to-folder":
            return key[len(ref.prefix) :]  # data/...
        return key

    summary_doc = json.loads(s3.get_object(Bucket=BUCKET, Key=ref.summary_key)["Body"].read())
    files_key = summary_doc["manifestFilesS3Key"]
    lines = s3.get_object(Bucket=BUCKET, Key=files_key)["Body"].read().decode().splitlines()
    new_lines = []
    for line in lines:
        doc = json.loads(line)
        doc["dataFileS3Key"] = rewrite(doc["dataFileS3Key"])
        new_lines.append(json.dumps(doc))
    s3.put_object(Bucket=BUCKET, Key=files_key, Body="\n".join(new_lines).encode())
    s3.delete_object(Bucket=BUCKET, Key=ref.key("manifest-files.checksum"))
    summary_doc["manifestFilesS3Key"] = rewrite(files_key)
    s3.put_object(Bucket=BUCKET, Key=ref.summary_key, Body=json.dumps(summary_doc).encode())
    s3.delete_object(Bucket=BUCKET, Key=ref.key("manifest-summary.checksum"))
    # Then it validates and reads the same items
    assert validate_export(s3, ref).problems == []
    assert list(iter_items(s3, ref)) == realistic_items(20)


def test_copied_export_resolves_keys_naming_the_old_prefix(s3: Any) -> None:
    # Given an export copied to another prefix (its manifests still name the original keys)
    ref = write_fixture_export(s3, realistic_items(10))
    new = ExportRef(BUCKET, f"copies/{ref.prefix}")
    for key in _keys(s3, ref):
        s3.copy_object(Bucket=BUCKET, Key=new.key(key), CopySource={"Bucket": BUCKET, "Key": ref.key(key)})
    # Then the copy reads on its own
    assert validate_export(s3, new).ok
    assert list(iter_items(s3, new)) == realistic_items(10)


def test_large_file_is_uploaded_in_parts_and_reads_back(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given small multipart parts (moto's 5 MiB minimum lowered with them)
    import moto.s3.models

    monkeypatch.setattr(export_writer, "PART_SIZE", 4096)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)
    items = [{"id": {"S": f"{i}"}, "b": {"B": hashlib.sha512(str(i).encode()).digest() * 8}} for i in range(300)]
    # When one file spans many parts
    ref = write_fixture_export(s3, items, items_per_file=1000, empty_files=0)
    f = read_data_files(s3, ref, read_summary(s3, ref))[0]
    # Then the ETag is a multipart one, the MD5 covers the whole object, and items round-trip
    assert f.etag and f.etag.endswith(tuple(f"-{n}" for n in range(2, 1000)))
    assert validate_export(s3, ref).ok
    assert list(iter_items(s3, ref)) == items


def test_invalid_item_publishes_nothing(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    with pytest.raises(ValueError, match=r"item 2 .*b: B must be bytes"):
        write_export(
            s3,
            bucket=BUCKET,
            prefix=PREFIX,
            table_arn=TABLE_ARN,
            items=[{"id": {"S": "ok"}}, {"id": {"S": "x"}, "b": {"B": "not-bytes"}}],
            export_time=EXPORT_TIME,
        )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert not any(k.endswith("manifest-summary.json") for k in keys)


def test_kms_encrypted_export(s3: Any) -> None:
    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=BUCKET)
    ref = write_export(
        s3,
        bucket=BUCKET,
        prefix=PREFIX,
        table_arn=TABLE_ARN,
        items=realistic_items(8),
        export_time=EXPORT_TIME,
        kms_key_id=key_id,
    )
    head = s3.head_object(Bucket=BUCKET, Key=ref.summary_key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert read_summary(s3, ref).s3_sse_kms_key_id == key_id
    assert list(iter_items(s3, ref)) == realistic_items(8)


# --- ExportRef ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        (
            "s3://b-1/exports/t/AWSDynamoDB/01693685827463-2d8752fd/",
            "b-1",
            "exports/t/AWSDynamoDB/01693685827463-2d8752fd/",
        ),
        (
            "s3://b-1/exports/t/AWSDynamoDB/01693685827463-2d8752fd",
            "b-1",
            "exports/t/AWSDynamoDB/01693685827463-2d8752fd/",
        ),
        ("s3://b-1/AWSDynamoDB/01693685827463-2d8752fd/", "b-1", "AWSDynamoDB/01693685827463-2d8752fd/"),
        (
            "s3://b-1/p/AWSDynamoDB/01693685827463-2d8752fd/manifest-summary.json",
            "b-1",
            "p/AWSDynamoDB/01693685827463-2d8752fd/",
        ),
    ],
)
def test_export_ref_parses_export_urls(url: str, bucket: str, prefix: str) -> None:
    ref = ExportRef.parse(url)
    assert (ref.bucket, ref.prefix) == (bucket, prefix)
    assert ref.export_id == "01693685827463-2d8752fd"
    assert ref.url == f"s3://{bucket}/{prefix}"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "b/p/AWSDynamoDB/x/",
        "s3://b/p/",
        "s3://b/p/AWSDynamoDB/",
        "https://b/AWSDynamoDB/x/",
        "s3:///AWSDynamoDB/x/",
    ],
)
def test_export_ref_rejects_other_urls(url: str) -> None:
    with pytest.raises(ValueError, match=r"s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/"):
        ExportRef.parse(url)


def test_export_id_time() -> None:
    ref = ExportRef.parse("s3://b/AWSDynamoDB/01693685827463-2d8752fd/")
    assert ref.approx_time() is not None
    assert ref.approx_time().year == 2023  # type: ignore[union-attr]


# --- finding exports ----------------------------------------------------------------------------


def test_list_exports_newest_first_and_reports_unreadable_folders(s3: Any) -> None:
    # Given three exports of different ages and one folder whose summary is damaged
    s3.create_bucket(Bucket=BUCKET)
    refs = [
        write_export(
            s3,
            bucket=BUCKET,
            prefix=PREFIX,
            table_arn=TABLE_ARN,
            items=realistic_items(6),
            export_time=EXPORT_TIME - timedelta(days=i),
        )
        for i in (2, 0, 1)
    ]
    broken = write_export(
        s3,
        bucket=BUCKET,
        prefix=PREFIX,
        table_arn=TABLE_ARN,
        items=realistic_items(6),
        export_time=EXPORT_TIME + timedelta(days=1),
    )
    s3.put_object(Bucket=BUCKET, Key=broken.summary_key, Body=b"{not json")
    # When listed
    listing = scan_exports(s3, BUCKET, PREFIX)
    # Then the readable ones come newest first and the broken one is reported with its reason
    assert [ref for ref, _ in listing.exports] == [refs[1], refs[2], refs[0]]
    assert [s.ref for s in listing.skipped] == [broken]
    assert "not JSON" in listing.skipped[0].reason
    assert list_exports(s3, BUCKET, PREFIX) == listing.exports


def test_running_export_without_summary_is_skipped(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/AWSDynamoDB/01693685827463-2d8752fd/_started", Body=b"")
    listing = scan_exports(s3, BUCKET, PREFIX)
    assert listing.exports == []
    assert "no manifest-summary.json" in listing.skipped[0].reason
    with pytest.raises(ExportNotFound):
        read_summary(s3, listing.skipped[0].ref)


# --- codec ---------------------------------------------------------------------------------------


def test_line_codec_round_trip_is_exact() -> None:
    item = realistic_items(6)[0]
    assert decode_export_line(encode_export_line(item)) == item


def test_iter_file_items_raises_on_first_corrupt_line(s3: Any) -> None:
    ref = write_fixture_export(s3, realistic_items(10), empty_files=0)
    f = read_data_files(s3, ref, read_summary(s3, ref))[0]
    body = gzip.compress(b'{"Item":{"id":{"S":"a"}}}\n{"Item":{"id":{"X":"a"}}}\n')
    s3.put_object(Bucket=BUCKET, Key=f.data_file_s3_key, Body=body)
    items = iter_file_items(s3, ref, f)
    assert next(items) == {"id": {"S": "a"}}
    with pytest.raises(ExportCorrupt, match=r"line 2 .*unknown attribute type 'X'"):
        next(items)


def test_unchecked_reading_still_requires_items_and_decodes_binary(s3: Any) -> None:
    # Given a validated export read without per-value checks
    ref = write_fixture_export(s3)
    assert list(iter_items(s3, ref, check_items=False)) == realistic_items()
    # Then a line that is not {"Item": {...}} is still refused
    f = read_data_files(s3, ref, read_summary(s3, ref))[0]
    s3.put_object(Bucket=BUCKET, Key=f.data_file_s3_key, Body=gzip.compress(b'{"NotItem": 1}\n'))
    with pytest.raises(ExportCorrupt, match=r'line 1 .*\{"Item"'):
        list(iter_file_items(s3, ref, f, check_items=False))


def test_requests_are_the_export_lines_wrapped_and_still_checked_by_md5_and_count(s3: Any) -> None:
    from handlers.exports import DataFile, iter_file_requests, iter_requests
    from handlers.exports.batch_writer import put_item_request

    # Given a validated export: its requests are exactly the PutRequests of its items
    ref = write_fixture_export(s3)
    assert list(iter_requests(s3, ref)) == [put_item_request(i) for i in realistic_items()]
    # When a data file changes after validation (same count, other bytes), its MD5 stops the run
    f = read_data_files(s3, ref, read_summary(s3, ref))[0]
    lines = [encode_export_line({"id": {"S": f"x{i}"}}) for i in range(f.item_count)]
    s3.put_object(Bucket=BUCKET, Key=f.data_file_s3_key, Body=gzip.compress(b"".join(lines)))
    with pytest.raises(ExportCorrupt, match="MD5 mismatch"):
        list(iter_file_requests(s3, ref, f))
    # And a file holding other than its listed count is refused too (no MD5 to compare)
    bare = DataFile(data_file_s3_key=f.data_file_s3_key, item_count=f.item_count + 1, md5_checksum=None)
    with pytest.raises(ExportCorrupt, match=f"holds {f.item_count} items"):
        list(iter_file_requests(s3, ref, bare))


def test_consumer_stopping_early_closes_the_object(s3: Any) -> None:
    # Given a client that records whether each data file's body gets closed
    closed: list[str] = []

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(s3, name)

        def get_object(self, **kwargs: Any) -> Any:
            response = s3.get_object(**kwargs)
            body = response["Body"]
            original = body.close

            def close() -> None:
                closed.append(kwargs["Key"])
                original()

            body.close = close
            return response

    ref = write_fixture_export(s3)
    items = iter_items(Spy(), ref)
    # When the consumer takes one item and stops
    assert next(items) == realistic_items()[0]
    items.close()
    # Then the first data file's body was closed (its HTTP connection released)
    first = read_data_files(s3, ref, read_summary(s3, ref))[0]
    assert closed == [first.data_file_s3_key]


def test_listing_a_table_prefix_ignores_sibling_prefixes(s3: Any) -> None:
    # Given exports of `orders` and of `orders-archive` side by side in the vault
    ours = write_fixture_export(s3, realistic_items(6), prefix="exports/orders")
    write_fixture_export(s3, realistic_items(6), prefix="exports/orders-archive")
    # Then listing `exports/orders` finds only the orders export
    assert [ref for ref, _ in list_exports(s3, BUCKET, "exports/orders")] == [ours]


def test_listing_the_vault_root_finds_every_table_and_depth(s3: Any) -> None:
    refs = {
        write_fixture_export(s3, realistic_items(6), prefix=p)
        for p in ("exports/orders", "exports/customers", "exports/eu/nested/inventory", "")
    }
    assert {ref for ref, _ in list_exports(s3, BUCKET, "")} == refs
    assert {ref for ref, _ in list_exports(s3, BUCKET, "exports/")} == {
        r for r in refs if r.prefix.startswith("exports/")
    }


def test_listing_from_the_export_folder_itself(s3: Any) -> None:
    ref = write_fixture_export(s3, realistic_items(6))
    assert [r for r, _ in list_exports(s3, BUCKET, f"{PREFIX}/AWSDynamoDB")] == [ref]


def test_failing_source_publishes_nothing_and_aborts_uploads(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a source that fails after a multipart upload has started
    import moto.s3.models

    monkeypatch.setattr(export_writer, "PART_SIZE", 4096)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)
    s3.create_bucket(Bucket=BUCKET)

    def source() -> Any:
        for i in range(200):
            yield {"id": {"S": str(i)}, "b": {"B": hashlib.sha512(str(i).encode()).digest() * 8}}
        raise RuntimeError("scan segment failed")

    # When written
    with pytest.raises(RuntimeError, match="scan segment failed"):
        write_export(s3, bucket=BUCKET, prefix=PREFIX, table_arn=TABLE_ARN, items=source(), export_time=EXPORT_TIME)
    # Then no summary exists (readers see no export) and no upload is left open
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert not any(k.endswith("manifest-summary.json") for k in keys)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert scan_exports(s3, BUCKET, PREFIX).exports == []


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"a": {"M": {"x": {"L": [{"S": "ok"}, {"B": "text"}]}}}}, "a.x[1]: B must be bytes"),
        ({"a": {"L": [{"N": "1e"}]}}, "a[0]: N must be a decimal number string, got '1e'"),
        ({"a": {"SS": []}}, "a: SS must be a non-empty list"),
        ({"a": {"NULL": False}}, "a: NULL must be True"),
        ({"a": {"S": "x", "N": "1"}}, "a: an attribute value must be a dict with one type key"),
        ({"a": {"Q": 1}}, "a: unknown attribute type 'Q'"),
        ({}, "an item must be a non-empty dict"),
    ],
)
def test_writer_rejects_invalid_items_naming_the_path(item: dict[str, Any], message: str) -> None:
    from handlers.exports import ItemFormatError, check_item

    with pytest.raises(ItemFormatError, match=re.escape(message)):
        check_item(item)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            b'{"Item":{"o":{"M":{"lines":{"L":[{"S":"a"},{"M":{"n":{"N":"x"}}}]}}}}}',
            "o.lines[1].n: N must be",
        ),
        (b'{"Item":{"b":{"B":"not base64!"}}}', "b: B is not valid base64"),
        (b'{"Item":{"s":{"S":1}}}', "s: S must be a string"),
        (b'{"Item":{}}', "an item must be a non-empty object"),
        (b'{"Items":{}}', 'a line must be the object {"Item": {...}} and nothing else'),
        (b"[1]", 'a line must be the object {"Item": {...}} and nothing else'),
        # The refill sends the line itself as the request's item: nothing else may ride along.
        (b'{"Item":{"s":{"S":"a"}},"Extra":1}', 'a line must be the object {"Item": {...}} and nothing else'),
    ],
)
def test_reader_rejects_invalid_lines_naming_the_path(line: bytes, message: str) -> None:
    from handlers.exports import ItemFormatError

    with pytest.raises(ItemFormatError, match=re.escape(message)):
        decode_export_line(line)


def test_per_file_writing_then_publishing(s3: Any) -> None:
    # Given an export folder written file by file, as parallel workers would
    from handlers.exports import publish_export, start_export, write_data_file

    s3.create_bucket(Bucket=BUCKET)
    items = realistic_items(30)
    ref = start_export(s3, bucket=BUCKET, prefix=PREFIX)
    files = [write_data_file(s3, ref, items[i : i + 10]) for i in range(0, 30, 10)]
    # Then nothing is visible before publishing
    assert scan_exports(s3, BUCKET, PREFIX).exports == []
    # When published
    publish_export(s3, ref, files, table_arn=TABLE_ARN, export_time=EXPORT_TIME)
    # Then it is a valid export with every item, in file order
    assert validate_export(s3, ref, expected_table_arn=TABLE_ARN).problems == []
    assert list(iter_items(s3, ref)) == items
    assert read_summary(s3, ref).item_count == 30

"""Legacy AWS Data Pipeline (EMR) backups and Ion exports are read exactly."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from typing import Any

import pytest

from handlers.exports import (
    ExportCorrupt,
    ExportRef,
    ItemFormatError,
    convert_datapipeline_to_export,
    decode_datapipeline_line,
    decode_ion_line,
    iter_datapipeline_items,
    iter_items,
    validate_export,
)
from tests.support.export_fixtures import TABLE_ARN

DP_BUCKET = "legacy-backups"
DP_PREFIX = "orders/2024-06-30-03-00-00"

# One item per line as the EMR connector's Gson wrote them (SDK v1 field names, base64 binary).
SDK_V1_LINE = json.dumps(
    {
        "id": {"s": "order-1"},
        "total": {"n": "12345678901234567890123456789012345678"},
        "raw": {"b": base64.b64encode(b"\x00\xff").decode()},
        "tags": {"sS": ["a", "b"]},
        "sizes": {"nS": ["1", "2.5"]},
        "blobs": {"bS": [base64.b64encode(b"\x01").decode()]},
        "address": {"m": {"street": {"s": "Hauptstraße 1"}, "geo": {"l": [{"n": "52.5"}, {"n": "13.4"}]}}},
        "gone": {"nULLValue": True},
        "ok": {"bOOL": False},
    },
    ensure_ascii=False,
)
EXPECTED_ITEM = {
    "id": {"S": "order-1"},
    "total": {"N": "12345678901234567890123456789012345678"},
    "raw": {"B": b"\x00\xff"},
    "tags": {"SS": ["a", "b"]},
    "sizes": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"\x01"]},
    "address": {"M": {"street": {"S": "Hauptstraße 1"}, "geo": {"L": [{"N": "52.5"}, {"N": "13.4"}]}}},
    "gone": {"NULL": True},
    "ok": {"BOOL": False},
}


def test_sdk_v1_json_line() -> None:
    assert decode_datapipeline_line(SDK_V1_LINE) == EXPECTED_ITEM


def test_lowercase_type_names_line() -> None:
    line = '{"id":{"s":"x"},"tags":{"ss":["a"]},"n":{"null":true},"flag":{"bool":true},"l":{"l":[{"ns":["1"]}]}}'
    assert decode_datapipeline_line(line) == {
        "id": {"S": "x"},
        "tags": {"SS": ["a"]},
        "n": {"NULL": True},
        "flag": {"BOOL": True},
        "l": {"L": [{"NS": ["1"]}]},
    }


def test_hive_era_line_with_control_characters() -> None:
    # Attributes separated by STX (0x02), name and value by ETX (0x03)
    line = 'id\x03{"s":"Seattle"}\x02scores\x03{"nS":["100","30","45"]}\x02note\x03{"s":"a, b: c"}'
    assert decode_datapipeline_line(line) == {
        "id": {"S": "Seattle"},
        "scores": {"NS": ["100", "30", "45"]},
        "note": {"S": "a, b: c"},
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": {"x": "1"}}', "unknown Data Pipeline type key 'x'"),
        ('{"id": {"s": "1", "n": "2"}}', "expected one type key"),
        ('{"id": {"n": "abc"}}', "N must be a decimal number string"),
        ("{broken", "not JSON"),
        ("id{s:1}", "no value separator"),
    ],
)
def test_bad_legacy_lines(line: str, message: str) -> None:
    with pytest.raises(ItemFormatError, match=message):
        decode_datapipeline_line(line)


def _write_datapipeline_backup(s3: Any, *, with_manifest: bool = True) -> None:
    """A Data Pipeline export folder: two data files (one gzip), a manifest and _SUCCESS."""
    s3.create_bucket(Bucket=DP_BUCKET)
    lines_a = [SDK_V1_LINE, json.dumps({"id": {"s": "order-2"}, "total": {"n": "7"}})]
    lines_b = ['id\x03{"s":"order-3"}\x02total\x03{"n":"8"}']
    keys = [
        f"{DP_PREFIX}/5d2c5d5b-a8f4-4bd8-9b4b-0a1b2c3d4e5f",
        f"{DP_PREFIX}/9a8b7c6d-1e2f-3a4b-5c6d-7e8f9a0b1c2d",
    ]
    s3.put_object(Bucket=DP_BUCKET, Key=keys[0], Body=("\n".join(lines_a) + "\n").encode())
    s3.put_object(Bucket=DP_BUCKET, Key=keys[1], Body=gzip.compress(("\n".join(lines_b) + "\n").encode()))
    if with_manifest:
        manifest = {
            "name": "DynamoDB-export",
            "version": 3,
            "entries": [{"url": f"s3://{DP_BUCKET}/{k}", "mandatory": True} for k in keys],
        }
        s3.put_object(Bucket=DP_BUCKET, Key=f"{DP_PREFIX}/manifest", Body=json.dumps(manifest).encode())
    s3.put_object(Bucket=DP_BUCKET, Key=f"{DP_PREFIX}/_SUCCESS", Body=b"")


EXPECTED_ALL = [
    EXPECTED_ITEM,
    {"id": {"S": "order-2"}, "total": {"N": "7"}},
    {"id": {"S": "order-3"}, "total": {"N": "8"}},
]


def test_datapipeline_backup_read_through_its_manifest(s3: Any) -> None:
    _write_datapipeline_backup(s3)
    assert list(iter_datapipeline_items(s3, DP_BUCKET, DP_PREFIX)) == EXPECTED_ALL


def test_datapipeline_backup_without_manifest_reads_every_data_file(s3: Any) -> None:
    _write_datapipeline_backup(s3, with_manifest=False)
    assert list(iter_datapipeline_items(s3, DP_BUCKET, DP_PREFIX + "/")) == EXPECTED_ALL


def test_datapipeline_manifest_entry_missing(s3: Any) -> None:
    _write_datapipeline_backup(s3)
    s3.delete_object(Bucket=DP_BUCKET, Key=f"{DP_PREFIX}/5d2c5d5b-a8f4-4bd8-9b4b-0a1b2c3d4e5f")
    with pytest.raises(ExportCorrupt, match="does not exist"):
        list(iter_datapipeline_items(s3, DP_BUCKET, DP_PREFIX))


def test_datapipeline_bad_line_names_file_and_line(s3: Any) -> None:
    _write_datapipeline_backup(s3)
    s3.put_object(
        Bucket=DP_BUCKET,
        Key=f"{DP_PREFIX}/9a8b7c6d-1e2f-3a4b-5c6d-7e8f9a0b1c2d",
        Body=b'{"id":{"s":"a"}}\n{"id":{"q":1}}\n',
    )
    with pytest.raises(ExportCorrupt, match=r"9a8b7c6d-1e2f-3a4b-5c6d-7e8f9a0b1c2d: line 2 .*'q'"):
        list(iter_datapipeline_items(s3, DP_BUCKET, DP_PREFIX))


def test_datapipeline_backup_converted_to_native_layout(s3: Any) -> None:
    # Given a legacy backup
    _write_datapipeline_backup(s3)
    # When converted
    ref = convert_datapipeline_to_export(
        s3,
        bucket=DP_BUCKET,
        prefix=DP_PREFIX,
        dest_bucket=DP_BUCKET,
        dest_prefix="converted/orders",
        table_arn=TABLE_ARN,
    )
    # Then it is a valid native export with the same items, timed when the backup was written
    report = validate_export(s3, ref, expected_table_arn=TABLE_ARN)
    assert report.problems == []
    assert list(iter_items(s3, ref)) == EXPECTED_ALL
    manifest_time = s3.head_object(Bucket=DP_BUCKET, Key=f"{DP_PREFIX}/manifest")["LastModified"]
    assert report.summary is not None
    assert abs((report.summary.export_time - manifest_time).total_seconds()) < 1


# --- Ion exports --------------------------------------------------------------------------------

ION_LINE = (
    '$ion_1_0 {Item:{id:"x",n:12345678901234567890123456789012345678.,d:-2.50,i:7,b:{{AP8=}},'
    'ss:$dynamodb_SS::["a","b"],ns:$dynamodb_NS::[1.,2.5],bs:$dynamodb_BS::[{{AQ==}}],'
    'z:null,t:true,l:[1.,"s",{k:false}],m:{a:{b:[]}}}}'
)


def test_ion_line() -> None:
    assert decode_ion_line(ION_LINE) == {
        "id": {"S": "x"},
        "n": {"N": "12345678901234567890123456789012345678"},
        "d": {"N": "-2.50"},
        "i": {"N": "7"},
        "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"\x01"]},
        "z": {"NULL": True},
        "t": {"BOOL": True},
        "l": {"L": [{"N": "1"}, {"S": "s"}, {"M": {"k": {"BOOL": False}}}]},
        "m": {"M": {"a": {"M": {"b": {"L": []}}}}},
    }


def test_ion_version_marker_alone_is_not_an_item() -> None:
    assert decode_ion_line("$ion_1_0") is None


def test_ion_export_validates_and_reads(s3: Any) -> None:
    # Given an ION export in AWS's layout (written by hand: safetynet only writes DYNAMODB_JSON)
    s3.create_bucket(Bucket=DP_BUCKET)
    ref = ExportRef(DP_BUCKET, "ion/AWSDynamoDB/01732590000000-abcdef12/")
    body = gzip.compress(b'$ion_1_0 {Item:{id:"a",n:1.}}\n{Item:{id:"b",n:2.}}\n')
    data_key = ref.key("data/abcdefghijklmnopqrstuvwxyz.ion.gz")
    s3.put_object(Bucket=DP_BUCKET, Key=data_key, Body=body)
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    files_line = {"itemCount": 2, "md5Checksum": md5, "etag": "x", "dataFileS3Key": data_key}
    s3.put_object(Bucket=DP_BUCKET, Key=ref.key("manifest-files.json"), Body=json.dumps(files_line).encode())
    summary = {
        "tableArn": TABLE_ARN,
        "exportTime": "2024-11-26T03:00:00.000Z",
        "manifestFilesS3Key": ref.key("manifest-files.json"),
        "itemCount": 2,
        "outputFormat": "ION",
        "exportType": "FULL_EXPORT",
    }
    s3.put_object(Bucket=DP_BUCKET, Key=ref.summary_key, Body=json.dumps(summary).encode())
    # Then it validates and reads in the same low-level format
    assert validate_export(s3, ref).problems == []
    assert list(iter_items(s3, ref)) == [
        {"id": {"S": "a"}, "n": {"N": "1"}},
        {"id": {"S": "b"}, "n": {"N": "2"}},
    ]

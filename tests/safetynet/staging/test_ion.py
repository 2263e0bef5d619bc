"""ION exports staged in both modes: refill turns each Ion line into its PutRequest, replace asks
ImportTable for InputFormat ION; either way the table ends up item for item equal to the export."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from typing import Any

import pytest

from handlers import exports
from handlers.exports.dynamodb_json import encode_item
from handlers.exports.ion import decode_ion_line
from safetynet.staging.flow import stage_export
from tests.support.staging_fixtures import (
    EXPORT_TIME,
    MASK_BUCKET,
    VAULT,
    as_set,
    create_test_table,
    prod_arn,
    prod_spec,
    scan_all,
    target_for,
)

# Two data files as AWS writes an ION export: a version marker, then one item per line; sets are
# annotated lists, numbers decimals (38 digits stay exact), binary a blob.
ION_FILES = [
    b'$ion_1_0 {Item:{customerId:"c1",email:"a@example.org",'
    b'score:12345678901234567890123456789012345678.,tags:$dynamodb_SS::["x","y"],'
    b'raw:{{AP8=}},doc:{l:[1.5,null,true,"t"]}}}\n'
    b'{Item:{customerId:"c2",email:"b@example.org",n:-0.25,nums:$dynamodb_NS::[1.,2.]}}\n',
    b'$ion_1_0 {Item:{customerId:"c3",email:"c@example.org",blobs:$dynamodb_BS::[{{AQ==}},{{Ag==}}]}}\n',
]
EXPECTED = [
    {
        "customerId": {"S": "c1"},
        "email": {"S": "a@example.org"},
        "score": {"N": "12345678901234567890123456789012345678"},
        "tags": {"SS": ["x", "y"]},
        "raw": {"B": b"\x00\xff"},
        "doc": {"M": {"l": {"L": [{"N": "1.5"}, {"NULL": True}, {"BOOL": True}, {"S": "t"}]}}},
    },
    {"customerId": {"S": "c2"}, "email": {"S": "b@example.org"}, "n": {"N": "-0.25"}, "nums": {"NS": ["1", "2"]}},
    {"customerId": {"S": "c3"}, "email": {"S": "c@example.org"}, "blobs": {"BS": [b"\x01", b"\x02"]}},
]


def write_ion_export(s3: Any) -> exports.ExportRef:
    ref = exports.ExportRef(VAULT, f"exports/customers/AWSDynamoDB/{exports.new_export_id(EXPORT_TIME)}/")
    lines = []
    for i, text in enumerate(ION_FILES):
        body = gzip.compress(text)
        key = ref.key(f"data/file{i:02d}abcdefghijklmnopq.ion.gz")
        s3.put_object(Bucket=VAULT, Key=key, Body=body)
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        count = sum(1 for line in text.splitlines() if decode_ion_line(line) is not None)
        lines.append(json.dumps({"itemCount": count, "md5Checksum": md5, "etag": "e", "dataFileS3Key": key}))
    s3.put_object(Bucket=VAULT, Key=ref.key("manifest-files.json"), Body="\n".join(lines).encode())
    summary = {
        "tableArn": prod_arn("customers"),
        "exportTime": "2026-11-01T03:00:00.000Z",
        "manifestFilesS3Key": ref.key("manifest-files.json"),
        "itemCount": len(EXPECTED),
        "outputFormat": "ION",
        "exportType": "FULL_EXPORT",
    }
    s3.put_object(Bucket=VAULT, Key=ref.summary_key, Body=json.dumps(summary).encode())
    return ref


def emulate_ion_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's ImportTable reads DYNAMODB_JSON only: let it read Ion lines as AWS does (with the
    export codec's Ion reader), so the replace path can run end to end."""
    from py_partiql_parser import JsonParser

    def parse(original: str | None = None, **_: Any) -> Any:
        items = (decode_ion_line(line) for line in (original or "").split("\n") if line.strip())
        return [{"Item": json.loads(encode_item(item))} for item in items if item is not None]

    monkeypatch.setattr(JsonParser, "parse", staticmethod(parse))


def test_an_ion_export_is_refilled_item_for_item(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    ref = write_ion_export(s3)
    target = target_for(prod_spec("customers"), mode="refill")
    create_test_table(ddb, target)
    result = stage_export(s3, ddb, ref, target, sleep=lambda _: None)
    assert result.mode == "refill" and result.items == 3
    assert result.verification is not None and result.verification.ok
    assert as_set(scan_all(ddb, target.name)) == as_set(EXPECTED)


def test_an_ion_export_is_imported_with_input_format_ion(
    clients: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, ddb = clients
    emulate_ion_imports(monkeypatch)
    requests: list[dict[str, Any]] = []
    ddb.meta.events.register("provide-client-params.dynamodb.ImportTable", lambda params, **_: requests.append(params))
    ref = write_ion_export(s3)
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    result = stage_export(s3, ddb, ref, target, sleep=lambda _: None)
    assert [r["InputFormat"] for r in requests] == ["ION"]
    assert requests[0]["S3BucketSource"]["S3KeyPrefix"].startswith(ref.prefix)
    assert result.mode == "replace"
    assert result.verification is not None and result.verification.ok
    assert as_set(scan_all(ddb, target.name)) == as_set(EXPECTED)


def test_a_masked_ion_export_is_imported_as_dynamodb_json(
    clients: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Masking writes its copy in DYNAMODB_JSON, so that is what ImportTable must be told.
    s3, ddb = clients
    requests: list[dict[str, Any]] = []
    ddb.meta.events.register("provide-client-params.dynamodb.ImportTable", lambda params, **_: requests.append(params))
    ref = write_ion_export(s3)
    target = target_for(prod_spec("customers"), mode="replace", mask=[{"path": "score", "action": "drop"}])
    create_test_table(ddb, target)
    stage_export(s3, ddb, ref, target, mask_bucket=MASK_BUCKET, sleep=lambda _: None)
    assert [r["InputFormat"] for r in requests] == ["DYNAMODB_JSON"]
    expected = [{k: v for k, v in item.items() if k != "score"} for item in EXPECTED]
    assert as_set(scan_all(ddb, target.name)) == as_set(expected)

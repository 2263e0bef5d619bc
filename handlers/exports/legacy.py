"""Legacy AWS Data Pipeline (EMR) DynamoDB backups: their line format, reading them, and
converting them to the native layout.

A Data Pipeline export folder holds data files with one item per line (EMR DynamoDB connector
format, `decode_datapipeline_line`), a `manifest` JSON document
`{"name": "DynamoDB-export", "version": 3, "entries": [{"url": "s3://...", "mandatory": true}]}`
and a `_SUCCESS` marker. Files may be plain text or gzip.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from handlers.exports.dynamodb_json import decode_value
from handlers.exports.items import MAX_DEPTH, Item, ItemFormatError, join_path
from handlers.exports.layout import ExportCorrupt, ExportNotFound, ExportRef
from handlers.exports.manifests import is_missing
from handlers.exports.reader import READ_CHUNK, gunzip, split_lines
from handlers.exports.writer import DEFAULT_ITEMS_PER_FILE, write_export

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest"
_NOT_DATA = ("manifest", "_SUCCESS", "_started")


# -- the line format ---------------------------------------------------------------------------

# The EMR DynamoDB connector serialized the AWS SDK's AttributeValue with Gson: SDK v1 field
# names (`s`, `n`, `b`, `sS`, `nS`, `bS`, `m`, `l`, `nULLValue`, `bOOL`) in older files, the
# lower-cased type names (`ss`, `null`, `bool`, ...) in newer ones. Compared case-insensitively.
_LEGACY_TYPES = {
    "s": "S",
    "n": "N",
    "b": "B",
    "ss": "SS",
    "ns": "NS",
    "bs": "BS",
    "m": "M",
    "l": "L",
    "bool": "BOOL",
    "null": "NULL",
    "nul": "NULL",
    "nullvalue": "NULL",
}


def _legacy_value(av: Any, path: str, depth: int) -> dict[str, Any]:
    if not isinstance(av, dict):
        raise ItemFormatError(path, f"an attribute value must be an object, got {av!r:.80}")
    present = {k: v for k, v in av.items() if v is not None}
    if len(present) != 1:
        raise ItemFormatError(path, f"expected one type key, got {sorted(present)}")
    ((key, value),) = present.items()
    kind = _LEGACY_TYPES.get(key.lower())
    if kind is None:
        raise ItemFormatError(path, f"unknown Data Pipeline type key {key!r}")
    if depth >= MAX_DEPTH and kind in ("M", "L"):
        raise ItemFormatError(path, f"nested deeper than DynamoDB's {MAX_DEPTH} levels")
    if kind == "M":
        if not isinstance(value, dict):
            raise ItemFormatError(path, "m must be an object")
        return {"M": {k: _legacy_value(v, join_path(path, k), depth + 1) for k, v in value.items()}}
    if kind == "L":
        if not isinstance(value, list):
            raise ItemFormatError(path, "l must be an array")
        return {"L": [_legacy_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]}
    out = {kind: value}
    try:
        decode_value(out, depth)  # same checks and base64 handling as native exports
    except ItemFormatError as exc:
        raise ItemFormatError(path, exc.reason) from None
    return out


_STX = "\x02"  # between attributes in the Hive-era format
_ETX = "\x03"  # between an attribute's name and its value


def decode_datapipeline_line(line: bytes | str) -> Item:
    """One line of a Data Pipeline export file -> low-level item. Reads both the JSON-object
    form (`{"id":{"s":"a"}}`) and the older Hive form (`id<ETX>{"s":"a"}<STX>n<ETX>{"n":"1"}`)."""
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    text = text.strip("\r\n")
    try:
        if text.lstrip().startswith("{"):
            obj = json.loads(text)
        else:
            obj = {}
            for part in text.split(_STX):
                name, sep, value = part.partition(_ETX)
                if not sep:
                    raise ItemFormatError("", f"attribute {name!r:.40} has no value separator (ETX)")
                obj[name] = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ItemFormatError("", f"not JSON ({exc})") from None
    if not isinstance(obj, dict) or not obj:
        raise ItemFormatError("", "an item must be a non-empty object of attributes")
    return {name: _legacy_value(av, name, 1) for name, av in obj.items()}


# -- reading and converting a backup -------------------------------------------------------------


def _split_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise ValueError(f"manifest entry {url!r} is not an s3:// URL")
    bucket, _, key = url[5:].partition("/")
    return bucket, key


def datapipeline_files(s3: Any, bucket: str, prefix: str) -> list[tuple[str, str]]:
    """The (bucket, key) of every data file of the Data Pipeline export in `prefix`: the
    manifest's entries when there is a manifest, else every object but the markers."""
    folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    try:
        raw = s3.get_object(Bucket=bucket, Key=folder + MANIFEST_NAME)["Body"].read()
    except ClientError as exc:
        if not is_missing(exc):
            raise
        raw = None
    if raw is not None:
        try:
            doc = json.loads(raw)
            return [_split_url(entry["url"]) for entry in doc["entries"]]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ExportCorrupt(folder + MANIFEST_NAME, f"not a Data Pipeline manifest ({exc})") from None
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(folder) :]
            if "/" in name or name in _NOT_DATA or name.startswith(".") or obj["Key"].endswith("/"):
                continue
            keys.append((bucket, obj["Key"]))
    if not keys:
        raise ExportNotFound(f"no Data Pipeline export files in s3://{bucket}/{folder}")
    return keys


def _raw_lines(s3: Any, bucket: str, key: str) -> Iterator[bytes]:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if is_missing(exc):
            raise ExportCorrupt(key, "listed in the Data Pipeline manifest but does not exist") from None
        raise
    chunks = body.iter_chunks(READ_CHUNK)
    first = next(chunks, b"")
    if not first:
        return

    def all_chunks() -> Iterator[bytes]:
        yield first
        yield from chunks

    stream = gunzip(all_chunks(), key) if first[:2] == b"\x1f\x8b" else all_chunks()
    yield from split_lines(stream)


def iter_datapipeline_items(s3: Any, bucket: str, prefix: str) -> Iterator[Item]:
    """Stream the items of a legacy Data Pipeline export as low-level items (binary as bytes).
    Raises ExportCorrupt naming the file and line of anything unreadable."""
    for file_bucket, key in datapipeline_files(s3, bucket, prefix):
        for number, line in enumerate(_raw_lines(s3, file_bucket, key), start=1):
            if not line.strip():
                continue
            try:
                yield decode_datapipeline_line(line)
            except (ItemFormatError, UnicodeDecodeError) as exc:
                raise ExportCorrupt(key, f"line {number} is not a Data Pipeline item: {exc}") from None


def convert_datapipeline_to_export(
    s3: Any,
    *,
    bucket: str,
    prefix: str,
    dest_bucket: str,
    dest_prefix: str,
    table_arn: str,
    export_time: datetime | None = None,
    items_per_file: int = DEFAULT_ITEMS_PER_FILE,
    kms_key_id: str | None = None,
    on_item: Callable[[int], None] | None = None,
) -> ExportRef:
    """Rewrite a Data Pipeline backup as a native-layout export, so every reader, validator and
    loader serves it. `export_time` defaults to when the backup's manifest (or first file) was
    written."""
    if export_time is None:
        files = datapipeline_files(s3, bucket, prefix)
        folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        try:
            head = s3.head_object(Bucket=bucket, Key=folder + MANIFEST_NAME)
        except ClientError:
            head = s3.head_object(Bucket=files[0][0], Key=files[0][1])
        export_time = head["LastModified"]
    assert export_time is not None
    ref = write_export(
        s3,
        bucket=dest_bucket,
        prefix=dest_prefix,
        table_arn=table_arn,
        items=iter_datapipeline_items(s3, bucket, prefix),
        export_time=export_time,
        items_per_file=items_per_file,
        kms_key_id=kms_key_id,
        on_item=on_item,
    )
    logger.info("data pipeline backup converted", extra={"source": f"s3://{bucket}/{prefix}", "export": ref.url})
    return ref

"""Writing exports in DynamoDB's exact native layout (scan-based backups, masked copies, fixtures).

Data files are gzip-compressed as items arrive and uploaded in multipart parts once a part is
full, so memory stays bounded by one part per file whatever the export size. The MD5 written to
manifest-files.json is computed over exactly the bytes uploaded. manifest-summary.json is
written last: its creation is what triggers consumers (S3 -> EventBridge), so an interrupted
write leaves a folder without a summary, which every reader treats as "not an export".
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import zlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from handlers.exports.dynamodb_json import encode_export_line
from handlers.exports.incremental import Change, check_change, encode_change_line
from handlers.exports.items import Item, ItemFormatError, check_item
from handlers.exports.layout import (
    EXPORT_FOLDER,
    FILES_CHECKSUM_NAMES,
    FILES_NAME,
    INCREMENTAL_EXPORT,
    INCREMENTAL_VERSION,
    NEW_AND_OLD_IMAGES,
    SHARED_DATA_FOLDER,
    STARTED_NAME,
    SUMMARY_CHECKSUM_NAMES,
    SUMMARY_NAME,
    VIEW_TYPES,
    DataFile,
    ExportRef,
    ManifestSummary,
)

logger = logging.getLogger(__name__)

DEFAULT_ITEMS_PER_FILE = 50_000
PART_SIZE = 8 << 20  # multipart part size (S3's minimum is 5 MiB for all but the last part)


def new_export_id(at: datetime | None = None) -> str:
    """An ExportId in AWS's shape: epoch milliseconds (14 digits) and 8 random hex digits."""
    when = at or datetime.now(UTC)
    return f"{int(when.timestamp() * 1000):014d}-{secrets.token_hex(4)}"


def _data_file_name() -> str:
    # AWS names data files with 26 random base32 characters.
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower() + ".json.gz"


def _content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


class _DataFileWriter:
    """One gzip data file, streamed to S3 (a single PUT when small, multipart otherwise)."""

    def __init__(self, s3: Any, bucket: str, key: str, sse: dict[str, str]) -> None:
        self.s3, self.bucket, self.key, self.sse = s3, bucket, key, sse
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.items = 0
        self.raw_bytes = 0

    def add(self, line: bytes) -> None:
        self.buffer += self.compressor.compress(line)
        self.items += 1
        self.raw_bytes += len(line)
        if len(self.buffer) >= PART_SIZE:
            self._upload_part()

    def _upload_part(self) -> None:
        if self.upload_id is None:
            self.upload_id = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType="application/x-gzip", **self.sse
            )["UploadId"]
        data = bytes(self.buffer)
        self.buffer.clear()
        self.md5.update(data)
        number = len(self.parts) + 1
        response = self.s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=data,
            ContentMD5=_content_md5(data),
        )
        self.parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def close(self) -> DataFile:
        self.buffer += self.compressor.flush()
        if self.upload_id is not None:
            self._upload_part()
            response = self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )
        else:
            data = bytes(self.buffer)
            self.md5.update(data)
            response = self.s3.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=data,
                ContentType="application/x-gzip",
                ContentMD5=_content_md5(data),
                **self.sse,
            )
        return DataFile(
            data_file_s3_key=self.key,
            item_count=self.items,
            md5_checksum=base64.b64encode(self.md5.digest()).decode("ascii"),
            etag=str(response["ETag"]).strip('"'),
        )

    def abort(self) -> None:
        if self.upload_id is not None:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


def _put_small(s3: Any, bucket: str, key: str, body: bytes, *, content_type: str, sse: dict[str, str]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, ContentMD5=_content_md5(body), **sse)


def _publish(
    s3: Any,
    ref: ExportRef,
    files: list[DataFile],
    *,
    table_arn: str,
    export_time: datetime,
    start_time: datetime,
    table_id: str | None,
    kms_key_id: str | None,
    billed_size_bytes: int,
    item_count: int,
    window: tuple[datetime, datetime, str] | None = None,
) -> None:
    """Write manifest-files.json, the summary, and their checksum files; the summary last.
    `window` (from, to, view) makes it an incremental export's summary."""
    bucket = ref.bucket
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}
    root = ref.export_prefix.rstrip("/")
    files_body = b"".join(json.dumps(f.to_json(), separators=(",", ":")).encode() + b"\n" for f in files)
    files_key = ref.key(FILES_NAME)
    _put_small(s3, bucket, files_key, files_body, content_type="application/json", sse=sse)
    files_md5 = _content_md5(files_body).encode()  # base64 of the MD5, like the data files' md5Checksum
    _put_small(s3, bucket, ref.key(FILES_CHECKSUM_NAMES[0]), files_md5, content_type="text/plain", sse=sse)
    summary = ManifestSummary(
        table_arn=table_arn,
        export_time=export_time if export_time.tzinfo else export_time.replace(tzinfo=UTC),
        manifest_files_s3_key=files_key,
        item_count=item_count,
        export_arn=f"{table_arn}/export/{ref.export_id}",
        start_time=start_time,
        end_time=datetime.now(UTC),
        table_id=table_id,
        s3_bucket=bucket,
        s3_prefix=root or None,
        s3_sse_algorithm="KMS" if kms_key_id else "AES256",
        s3_sse_kms_key_id=kms_key_id,
        billed_size_bytes=billed_size_bytes,
    )
    if window is not None:
        summary = replace(
            summary,
            export_type=INCREMENTAL_EXPORT,
            version=INCREMENTAL_VERSION,
            export_from_time=window[0],
            export_to_time=window[1],
            output_view=window[2],
        )
    summary_body = json.dumps(summary.to_json(), separators=(",", ":")).encode()
    summary_md5 = _content_md5(summary_body).encode()
    summary_md5_key = ref.key(SUMMARY_CHECKSUM_NAMES[0])
    _put_small(s3, bucket, summary_md5_key, summary_md5, content_type="text/plain", sse=sse)
    _put_small(s3, bucket, ref.key(SUMMARY_NAME), summary_body, content_type="application/json", sse=sse)


def _item_line(numbered: tuple[int, Item]) -> bytes:
    number, item = numbered
    try:
        check_item(item)
        return encode_export_line(item)
    except ItemFormatError as exc:
        raise ValueError(f"item {number} is not valid DynamoDB data: {exc}") from None
    except UnicodeEncodeError as exc:
        raise ValueError(f"item {number} holds a string that is not valid UTF-8: {exc}") from None


def _write_data_files(
    s3: Any,
    ref: ExportRef,
    lines: Iterable[bytes],
    folder: str,
    items_per_file: int,
    sse: dict[str, str],
    empty_files: int,
    on_item: Callable[[int], None] | None,
) -> tuple[list[DataFile], int, int]:
    """Write `lines` into gzip data files of `items_per_file` lines under the key prefix
    `folder`; returns the files, their uncompressed size and the line count. AWS writes at least
    one file, empty when there is nothing; `empty_files` adds that many more."""
    files: list[DataFile] = []
    raw_total = 0
    count = 0
    writer: _DataFileWriter | None = None
    try:
        for line in lines:
            if writer is None:
                writer = _DataFileWriter(s3, ref.bucket, folder + _data_file_name(), sse)
            writer.add(line)
            count += 1
            if on_item is not None:
                on_item(count)
            if writer.items >= items_per_file:
                raw_total += writer.raw_bytes
                files.append(writer.close())
                writer = None
        if writer is not None:
            raw_total += writer.raw_bytes
            files.append(writer.close())
            writer = None
        for _ in range(empty_files if files else max(empty_files, 1)):
            files.append(_DataFileWriter(s3, ref.bucket, folder + _data_file_name(), sse).close())
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return files, raw_total, count


def write_export(
    s3: Any,
    *,
    bucket: str,
    prefix: str,
    table_arn: str,
    items: Iterable[Item],
    export_time: datetime,
    items_per_file: int = DEFAULT_ITEMS_PER_FILE,
    kms_key_id: str | None = None,
    export_id: str | None = None,
    table_id: str | None = None,
    empty_files: int = 0,
    on_item: Callable[[int], None] | None = None,
) -> ExportRef:
    """Write `items` (low-level format, binary as bytes) as a DYNAMODB_JSON export in AWS's
    layout under `s3://bucket/prefix/AWSDynamoDB/<ExportId>/` and return its ref.

    `empty_files` adds that many empty data files, as AWS writes for empty partitions.
    `on_item(n)` is called after every item with the running count (progress bars).
    Raises ValueError (naming the item) for an item that is not valid DynamoDB data; nothing
    is then published (no manifest-summary.json)."""
    if items_per_file < 1:
        raise ValueError("items_per_file must be at least 1")
    start_time = datetime.now(UTC)
    export_id = export_id or new_export_id(start_time)
    root = prefix.strip("/")
    ref = ExportRef(bucket, f"{root + '/' if root else ''}{EXPORT_FOLDER}/{export_id}/")
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}

    _put_small(s3, bucket, ref.key(STARTED_NAME), b"", content_type="application/octet-stream", sse=sse)
    files, raw_total, count = _write_data_files(
        s3, ref, map(_item_line, enumerate(items, start=1)), ref.key("data/"), items_per_file, sse, empty_files, on_item
    )
    _publish(
        s3,
        ref,
        files,
        table_arn=table_arn,
        export_time=export_time,
        start_time=start_time,
        table_id=table_id,
        kms_key_id=kms_key_id,
        billed_size_bytes=raw_total,
        item_count=count,
    )
    logger.info("export written", extra={"export": ref.url, "items": count, "files": len(files)})
    return ref


def _change_line(view: str) -> Callable[[tuple[int, Change]], bytes]:
    def line(numbered: tuple[int, Change]) -> bytes:
        number, change = numbered
        try:
            return encode_change_line(check_change(change, view))
        except ItemFormatError as exc:
            raise ValueError(f"change {number} is not valid: {exc}") from None
        except UnicodeEncodeError as exc:
            raise ValueError(f"change {number} holds a string that is not valid UTF-8: {exc}") from None

    return line


def _whole_millis(value: datetime, name: str) -> datetime:
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if utc.microsecond % 1000:
        raise ValueError(f"{name} {utc.isoformat()} has sub-millisecond digits, which the summary cannot hold")
    return utc


def write_incremental_export(
    s3: Any,
    *,
    bucket: str,
    prefix: str,
    table_arn: str,
    changes: Iterable[Change],
    export_from_time: datetime,
    export_to_time: datetime,
    view: str = NEW_AND_OLD_IMAGES,
    items_per_file: int = DEFAULT_ITEMS_PER_FILE,
    kms_key_id: str | None = None,
    export_id: str | None = None,
    table_id: str | None = None,
    empty_files: int = 0,
    on_item: Callable[[int], None] | None = None,
) -> ExportRef:
    """Write `changes` as an INCREMENTAL_EXPORT of the window [export_from_time, export_to_time)
    in AWS's layout: manifests under `s3://bucket/prefix/AWSDynamoDB/<ExportId>/`, data files in
    the folder all incremental exports share, `prefix/AWSDynamoDB/data/`, listed only by this
    export's manifest-files.json. Each key must appear once (AWS's exports are compacted).

    Raises ValueError, publishing nothing, for an invalid change (keys not the images' own, an
    OldImage with the NEW_IMAGE view, invalid DynamoDB data) or window."""
    if items_per_file < 1:
        raise ValueError("items_per_file must be at least 1")
    if view not in VIEW_TYPES:
        raise ValueError(f"view must be one of {', '.join(VIEW_TYPES)}, got {view!r}")
    start, end = _whole_millis(export_from_time, "export_from_time"), _whole_millis(export_to_time, "export_to_time")
    if start >= end:
        raise ValueError(
            f"the window is empty: export_from_time {start.isoformat()} >= export_to_time {end.isoformat()}"
        )
    start_time = datetime.now(UTC)
    export_id = export_id or new_export_id(start_time)
    root = prefix.strip("/")
    export_root = f"{root + '/' if root else ''}{EXPORT_FOLDER}/"
    ref = ExportRef(bucket, f"{export_root}{export_id}/")
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}

    _put_small(s3, bucket, ref.key(STARTED_NAME), b"", content_type="application/octet-stream", sse=sse)
    files, raw_total, count = _write_data_files(
        s3,
        ref,
        map(_change_line(view), enumerate(changes, start=1)),
        f"{export_root}{SHARED_DATA_FOLDER}/",
        items_per_file,
        sse,
        empty_files,
        on_item,
    )
    _publish(
        s3,
        ref,
        files,
        table_arn=table_arn,
        export_time=end,
        start_time=start_time,
        table_id=table_id,
        kms_key_id=kms_key_id,
        billed_size_bytes=raw_total,
        item_count=count,
        window=(start, end, view),
    )
    logger.info(
        "incremental export written",
        extra={
            "export": ref.url,
            "changes": count,
            "files": len(files),
            "from": start.isoformat(),
            "to": end.isoformat(),
        },
    )
    return ref


# --- per-file writing, for workers that each produce one data file (Distributed Map children) --


def start_export(
    s3: Any, *, bucket: str, prefix: str, export_id: str | None = None, kms_key_id: str | None = None
) -> ExportRef:
    """Create an export folder (its `_started` marker) and return its ref; then
    `write_data_file` per file (in parallel if wanted) and `publish_export` once at the end."""
    export_id = export_id or new_export_id()
    root = prefix.strip("/")
    ref = ExportRef(bucket, f"{root + '/' if root else ''}{EXPORT_FOLDER}/{export_id}/")
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}
    _put_small(s3, bucket, ref.key(STARTED_NAME), b"", content_type="application/octet-stream", sse=sse)
    return ref


def write_data_file(
    s3: Any,
    ref: ExportRef,
    items: Iterable[Item],
    *,
    name: str | None = None,
    kms_key_id: str | None = None,
) -> DataFile:
    """Write one gzip data file of `items` (checked like write_export's) into `ref`'s data/
    folder, streaming; returns its manifest line. Nothing is visible to readers until
    `publish_export` lists it. `name` defaults to AWS's random style (`<26 chars>.json.gz`)."""
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}
    writer = _DataFileWriter(s3, ref.bucket, ref.key("data/" + (name or _data_file_name())), sse)
    try:
        for count, item in enumerate(items, start=1):
            try:
                check_item(item)
            except ItemFormatError as exc:
                raise ValueError(f"item {count} is not valid DynamoDB data: {exc}") from None
            writer.add(encode_export_line(item))
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def publish_export(
    s3: Any,
    ref: ExportRef,
    files: list[DataFile],
    *,
    table_arn: str,
    export_time: datetime,
    start_time: datetime | None = None,
    table_id: str | None = None,
    kms_key_id: str | None = None,
) -> ExportRef:
    """Write the manifests of an export whose data files are written (summary last: its
    creation is what consumers react to). Item count and size come from `files`."""
    _publish(
        s3,
        ref,
        files,
        table_arn=table_arn,
        export_time=export_time,
        start_time=start_time or datetime.now(UTC),
        table_id=table_id,
        kms_key_id=kms_key_id,
        billed_size_bytes=0,  # uncompressed size is not known per file; AWS's own example shows 0
        item_count=sum(f.item_count for f in files),
    )
    logger.info("export published", extra={"export": ref.url, "files": len(files)})
    return ref

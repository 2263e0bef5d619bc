"""Streaming an export's items with bounded memory.

A data file is read as a stream of S3 chunks: each chunk feeds the MD5 and an incremental
gunzip, and lines are decoded one at a time, so neither a file nor an export is ever held in
memory. The iterators raise `ExportCorrupt` at the first problem (a checksum or count mismatch
only shows at the end of a file, after its items were yielded: consumers validate before they
act, as staging does); `handlers.exports.validation` reads the same way and reports every problem.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.exports.batch_writer import Request, put_item_request, put_request
from handlers.exports.dynamodb_json import decode_export_line, decode_export_line_unchecked
from handlers.exports.ion import decode_ion_line
from handlers.exports.items import Item, ItemFormatError
from handlers.exports.layout import (
    FULL_EXPORT,
    INCREMENTAL_EXPORT,
    SUPPORTED_FORMATS,
    DataFile,
    ExportCorrupt,
    ExportRef,
    ManifestSummary,
    UnsupportedExport,
)
from handlers.exports.manifests import describe_error, is_missing, read_data_files, read_summary

READ_CHUNK = 1 << 20  # bytes per S3 read
GUNZIP_CHUNK = 1 << 20  # most bytes one decompress step may produce (bounds memory, even for zip bombs)
MAX_LINE_PROBLEMS = 3  # malformed lines listed per file before summarizing the rest

LineDecoder = Callable[[bytes], Item | None]
"""One data file line -> its item (None for a line holding no item, as Ion's version marker)."""


def gunzip(chunks: Iterable[bytes], key: str) -> Iterator[bytes]:
    """Incrementally decompress a (possibly multi-member) gzip stream. An empty object is an
    empty file (AWS writes one per empty partition)."""
    decomp = zlib.decompressobj(wbits=31)
    seen_input = False
    for chunk in chunks:
        data = chunk
        while data:
            seen_input = True
            try:
                out = decomp.decompress(data, GUNZIP_CHUNK)
            except zlib.error as exc:
                raise ExportCorrupt(key, f"not a valid gzip stream ({exc})") from None
            if out:
                yield out
            if decomp.eof:
                data = decomp.unused_data
                if data:
                    decomp = zlib.decompressobj(wbits=31)
            else:
                data = decomp.unconsumed_tail
                # Output may still be pending inside zlib when the last call hit the limit.
                while not data and len(out) == GUNZIP_CHUNK and not decomp.eof:
                    out = decomp.decompress(b"", GUNZIP_CHUNK)
                    if out:
                        yield out
    if seen_input and not decomp.eof:
        raise ExportCorrupt(key, "gzip stream ends early (truncated file)")


def line_batches(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The lines of a byte stream (without their newlines), across chunk boundaries, a list per
    chunk: the readers loop over each list, one generator step per chunk instead of per line."""
    pending = b""
    for chunk in chunks:
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        if parts:
            yield parts
    if pending:
        yield [pending]


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a byte stream (without their newlines), across chunk boundaries."""
    for lines in line_batches(chunks):
        yield from lines


def _no_item(_line: bytes) -> None:
    """The decoder of a format that is not parsed: bytes only (MD5, gzip), no items counted."""


def _md5_matches(expected: str, digest: bytes) -> bool:
    expected = expected.strip()
    return expected in (base64.b64encode(digest).decode("ascii"), digest.hex())


def _is_ion(data_file: DataFile, output_format: str | None) -> bool:
    if output_format:
        return output_format == "ION"
    return data_file.data_file_s3_key.endswith((".ion.gz", ".ion"))


def decoder_for(data_file: DataFile, output_format: str | None = None, *, check_items: bool = True) -> LineDecoder:
    """The line decoder for a data file: from the summary's outputFormat, else the file suffix."""
    if _is_ion(data_file, output_format):
        return decode_ion_line
    return decode_export_line if check_items else decode_export_line_unchecked


def _ion_put_request(line: bytes) -> Request | None:
    item = decode_ion_line(line)
    return None if item is None else put_item_request(item)


def request_decoder_for(data_file: DataFile, output_format: str | None = None) -> Callable[[bytes], Request | None]:
    """Line -> BatchWriteItem PutRequest bytes. A DYNAMODB_JSON line already is the request's
    item, so it is wrapped without being parsed; an Ion line is decoded and encoded."""
    return _ion_put_request if _is_ion(data_file, output_format) else put_request


@dataclass
class FileScan:
    """What reading one data file found."""

    key: str
    items: int = 0
    bytes_read: int = 0
    problems: list[str] = field(default_factory=list)


def scan_file(
    s3: Any,
    ref: ExportRef,
    data_file: DataFile,
    *,
    decoder: Callable[[bytes], Any] | None,
    result: FileScan,
    stop_on_problem: bool,
) -> Iterator[Any]:
    """Stream one data file, yielding its items and recording problems in `result`: with
    `stop_on_problem` the first one raises ExportCorrupt (the iterators here), without it every
    one is collected (`validation.check_data_file`). `decoder=None` checks bytes only (MD5,
    gzip) for formats that cannot be parsed."""
    key = ref.resolve(data_file.data_file_s3_key)
    url = f"s3://{ref.bucket}/{key}"

    def problem(text: str) -> None:
        result.problems.append(text)
        if stop_on_problem:
            raise ExportCorrupt(key, text)

    try:
        body = s3.get_object(Bucket=ref.bucket, Key=key)["Body"]
    except ClientError as exc:
        missing = is_missing(exc)
        problem(
            f"data file {url} listed in manifest-files.json does not exist"
            if missing
            else f"cannot read data file {url}: {describe_error(exc)}"
        )
        return
    except BotoCoreError as exc:
        problem(f"cannot read data file {url}: {exc}")
        return
    try:
        yield from _scan_body(
            body, url, key, data_file, decoder=decoder, result=result, stop_on_problem=stop_on_problem
        )
    finally:
        body.close()  # also when the consumer stops early: release the HTTP connection


def _scan_body(
    body: Any,
    url: str,
    key: str,
    data_file: DataFile,
    *,
    decoder: Callable[[bytes], Any] | None,
    result: FileScan,
    stop_on_problem: bool,
) -> Iterator[Any]:
    def problem(text: str) -> None:
        result.problems.append(text)
        if stop_on_problem:
            raise ExportCorrupt(key, text)

    md5 = hashlib.md5(usedforsecurity=False)

    def raw_chunks() -> Iterator[bytes]:
        for chunk in body.iter_chunks(READ_CHUNK):
            md5.update(chunk)
            result.bytes_read += len(chunk)
            yield chunk

    bad_lines = 0
    number = 0  # lines before this batch
    decode = decoder if decoder is not None else _no_item
    try:
        for lines in line_batches(gunzip(raw_chunks(), key)):
            for at, line in enumerate(lines, start=number + 1):
                if not line or line.isspace():
                    continue
                try:
                    item = decode(line)
                except ItemFormatError as exc:
                    bad_lines += 1
                    if bad_lines <= MAX_LINE_PROBLEMS or stop_on_problem:
                        problem(f"data file {url} line {at} is not a valid item: {exc}")
                    continue
                if item is None:  # an Ion version marker
                    continue
                result.items += 1
                yield item
            number += len(lines)
    except ExportCorrupt as exc:
        if stop_on_problem:
            raise
        result.problems.append(f"data file {url}: {exc.reason}")
        # Drain the rest so the MD5 verdict below covers the whole object.
        for _ in raw_chunks():
            pass
    except (ClientError, BotoCoreError) as exc:
        problem(f"reading data file {url} failed: {describe_error(exc)}")
        return
    if bad_lines > MAX_LINE_PROBLEMS:
        result.problems.append(f"data file {url}: {bad_lines - MAX_LINE_PROBLEMS} more malformed lines")
    for text in _end_of_file_problems(url, data_file, md5.digest(), result.items + bad_lines, decoder):
        problem(text)


def _end_of_file_problems(
    url: str, data_file: DataFile, digest: bytes, lines: int, decoder: Callable[[bytes], Any] | None
) -> list[str]:
    problems = []
    if data_file.md5_checksum and not _md5_matches(data_file.md5_checksum, digest):
        problems.append(
            f"data file {url} MD5 mismatch: manifest says {data_file.md5_checksum}, object has "
            f"{base64.b64encode(digest).decode()} (damaged or replaced after the export)"
        )
    if decoder is not None and lines != data_file.item_count:
        problems.append(f"data file {url} holds {lines} items, manifest-files.json says {data_file.item_count}")
    return problems


def iter_file_items(
    s3: Any,
    ref: ExportRef,
    data_file: DataFile,
    *,
    output_format: str | None = None,
    check_items: bool = True,
) -> Iterator[Item]:
    """Stream one data file's items (low-level format). Raises ExportCorrupt on the first
    gzip, syntax, MD5 or count problem (MD5 and count are known only at the end of the file).

    `check_items=False` skips re-checking every attribute value (about 2x faster); use it only
    for an export that passed `validate_export`, whose bytes the MD5 check then pins down."""
    result = FileScan(key=data_file.data_file_s3_key)
    yield from scan_file(
        s3,
        ref,
        data_file,
        decoder=decoder_for(data_file, output_format, check_items=check_items),
        result=result,
        stop_on_problem=True,
    )


def iter_file_requests(
    s3: Any, ref: ExportRef, data_file: DataFile, *, output_format: str | None = None
) -> Iterator[Request]:
    """Stream one data file as BatchWriteItem PutRequests (DynamoDB JSON bytes, see
    `handlers.exports.batch_writer`), for an export that passed `validate_export`: lines are not parsed
    again, but every byte still goes through the MD5 and every line is counted, and ExportCorrupt
    is raised as by iter_file_items."""
    result = FileScan(key=data_file.data_file_s3_key)
    yield from scan_file(
        s3,
        ref,
        data_file,
        decoder=request_decoder_for(data_file, output_format),
        result=result,
        stop_on_problem=True,
    )


def check_supported(summary: ManifestSummary, expected_type: str | None = FULL_EXPORT) -> list[str]:
    """Why an export cannot be read (format, export type, status); empty when it can.
    `expected_type`: FULL_EXPORT (read as the table's items), INCREMENTAL_EXPORT (read as
    changes), or None (either, each as what it is)."""
    problems = []
    if summary.output_format not in SUPPORTED_FORMATS:
        problems.append(
            f"outputFormat {summary.output_format!r} is not supported (supported: "
            f"{', '.join(SUPPORTED_FORMATS)}); export again with ExportFormat DYNAMODB_JSON"
        )
    if summary.export_type not in (FULL_EXPORT, INCREMENTAL_EXPORT):
        problems.append(
            f"exportType {summary.export_type!r} is unknown (expected {FULL_EXPORT} or {INCREMENTAL_EXPORT})"
        )
    elif expected_type == FULL_EXPORT and summary.export_type == INCREMENTAL_EXPORT:
        problems.append(
            f"exportType is {INCREMENTAL_EXPORT}: an incremental export holds changes in a window, not the "
            "table, so it cannot be imported or staged; use a FULL_EXPORT, then replay the windows after it"
        )
    elif expected_type == INCREMENTAL_EXPORT and summary.export_type == FULL_EXPORT:
        problems.append(f"exportType is {FULL_EXPORT}: a full export holds the table, not the changes of a window")
    if summary.is_incremental and summary.output_format == "ION":
        problems.append("incremental exports are read in DYNAMODB_JSON only; export the window again in that format")
    if summary.status is not None and summary.status != "COMPLETED":
        problems.append(f"export status is {summary.status!r}, not COMPLETED")
    return problems


def _readable_files(s3: Any, ref: ExportRef, files: list[DataFile] | None) -> tuple[ManifestSummary, list[DataFile]]:
    summary = read_summary(s3, ref)
    unsupported = check_supported(summary)
    if unsupported:
        raise UnsupportedExport(f"{ref.url}: " + "; ".join(unsupported))
    return summary, files if files is not None else read_data_files(s3, ref, summary)


def iter_items(
    s3: Any, ref: ExportRef, files: list[DataFile] | None = None, *, check_items: bool = True
) -> Iterator[Item]:
    """Stream every item of an export, file by file. Raises UnsupportedExport for a format it
    cannot read and ExportCorrupt at the first damaged file (see iter_file_items)."""
    summary, data_files = _readable_files(s3, ref, files)
    for data_file in data_files:
        yield from iter_file_items(s3, ref, data_file, output_format=summary.output_format, check_items=check_items)


def iter_requests(s3: Any, ref: ExportRef, files: list[DataFile] | None = None) -> Iterator[Request]:
    """Every item of a validated export as a BatchWriteItem PutRequest, file by file (see
    iter_file_requests). Raises as iter_items does."""
    summary, data_files = _readable_files(s3, ref, files)
    for data_file in data_files:
        yield from iter_file_requests(s3, ref, data_file, output_format=summary.output_format)

"""Reading and validating exports in DynamoDB's native layout, with bounded memory.

A data file is read as a stream of S3 chunks: each chunk feeds the MD5 and an incremental
gunzip, and lines are decoded one at a time, so neither a file nor an export is ever held in
memory. Validation reads every file this way and reports every problem; the iterators raise
`ExportCorrupt` at the first one (a checksum or count mismatch only shows at the end of a file,
after its items were yielded: consumers validate before they act, as staging does).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.exports.batch_writer import Request, put_item_request, put_request
from handlers.exports.codec import (
    Item,
    ItemFormatError,
    decode_export_line,
    decode_export_line_unchecked,
    decode_ion_line,
)
from handlers.exports.layout import (
    EXPORT_FOLDER,
    FILES_CHECKSUM_NAMES,
    FULL_EXPORT,
    SUMMARY_CHECKSUM_NAMES,
    SUPPORTED_FORMATS,
    DataFile,
    ExportCorrupt,
    ExportError,
    ExportNotFound,
    ExportRef,
    ManifestError,
    ManifestSummary,
    UnsupportedExport,
)

logger = logging.getLogger(__name__)

READ_CHUNK = 1 << 20  # bytes per S3 read
GUNZIP_CHUNK = 1 << 20  # most bytes one decompress step may produce (bounds memory, even for zip bombs)
MAX_LINE_PROBLEMS = 3  # malformed lines listed per file before summarizing the rest
MAX_MANIFEST_BYTES = 256 << 20  # a manifest is small; refuse to buffer anything absurd


# --- S3 access ----------------------------------------------------------------------------------


def _is_missing(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "404", "NotFound")


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        text = f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
        if err.get("Code") in ("AccessDenied", "403"):
            # S3 answers 403, not 404, for a missing key when the caller may not list the bucket.
            text += (
                " (no s3:GetObject/kms:Decrypt permission, or the object is missing and s3:ListBucket is not allowed)"
            )
        return text
    return str(exc)


def _read_object(s3: Any, bucket: str, key: str) -> bytes | None:
    """A small object's bytes; None when it does not exist."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise
    if int(response.get("ContentLength") or 0) > MAX_MANIFEST_BYTES:
        raise ExportCorrupt(key, f"manifest is {response['ContentLength']} bytes, larger than any real one")
    data: bytes = response["Body"].read()
    return data


def read_summary(s3: Any, ref: ExportRef) -> ManifestSummary:
    """Read manifest-summary.json. Raises ExportNotFound or ExportCorrupt (never KeyError)."""
    try:
        raw = _read_object(s3, ref.bucket, ref.summary_key)
    except (ClientError, BotoCoreError) as exc:
        raise ExportError(f"cannot read s3://{ref.bucket}/{ref.summary_key}: {_describe(exc)}") from exc
    if raw is None:
        raise ExportNotFound(
            f"no manifest-summary.json in {ref.url}: the export is still running, failed, "
            "or the URL is wrong (it must end in AWSDynamoDB/<ExportId>/)"
        )
    try:
        return ManifestSummary.from_json(json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportCorrupt(ref.summary_key, f"manifest-summary.json is not JSON ({exc})") from None
    except ManifestError as exc:
        raise ExportCorrupt(ref.summary_key, f"manifest-summary.json: {exc}") from None


def _files_key(ref: ExportRef, summary: ManifestSummary) -> str:
    return ref.resolve(summary.manifest_files_s3_key)


def _parse_data_files(key: str, raw: bytes) -> list[DataFile]:
    files = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            files.append(DataFile.from_json(json.loads(line)))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ExportCorrupt(key, f"manifest-files.json line {number} is not JSON ({exc})") from None
        except ManifestError as exc:
            raise ExportCorrupt(key, f"manifest-files.json line {number}: {exc}") from None
    return files


def read_data_files(s3: Any, ref: ExportRef, summary: ManifestSummary) -> list[DataFile]:
    """Read manifest-files.json (one JSON line per data file). Raises ExportCorrupt."""
    key = _files_key(ref, summary)
    try:
        raw = _read_object(s3, ref.bucket, key)
    except (ClientError, BotoCoreError) as exc:
        raise ExportError(f"cannot read s3://{ref.bucket}/{key}: {_describe(exc)}") from exc
    if raw is None:
        raise ExportCorrupt(key, "manifest-files.json named by the summary does not exist")
    return _parse_data_files(key, raw)


# --- streaming a data file ------------------------------------------------------------------


def _gunzip(chunks: Iterable[bytes], key: str) -> Iterator[bytes]:
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


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        yield from parts
    if pending:
        yield pending


def _md5_matches(expected: str, digest: bytes) -> bool:
    expected = expected.strip()
    return expected in (base64.b64encode(digest).decode("ascii"), digest.hex())


def _is_ion(data_file: DataFile, output_format: str | None) -> bool:
    if output_format:
        return output_format == "ION"
    return data_file.data_file_s3_key.endswith((".ion.gz", ".ion"))


def decoder_for(
    data_file: DataFile, output_format: str | None = None, *, check_items: bool = True
) -> Callable[[bytes], Item | None]:
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
class _FileResult:
    """What reading one data file found."""

    key: str
    items: int = 0
    bytes_read: int = 0
    problems: list[str] = field(default_factory=list)


def _scan_file(
    s3: Any,
    ref: ExportRef,
    data_file: DataFile,
    *,
    decoder: Callable[[bytes], Any] | None,
    result: _FileResult,
    stop_on_problem: bool,
) -> Iterator[Any]:
    """Stream one data file, yielding its items and recording problems in `result`.
    `decoder=None` checks bytes only (MD5, gzip) for formats that cannot be parsed."""
    key = ref.resolve(data_file.data_file_s3_key)
    url = f"s3://{ref.bucket}/{key}"

    def problem(text: str) -> None:
        result.problems.append(text)
        if stop_on_problem:
            raise ExportCorrupt(key, text)

    try:
        body = s3.get_object(Bucket=ref.bucket, Key=key)["Body"]
    except ClientError as exc:
        missing = _is_missing(exc)
        problem(
            f"data file {url} listed in manifest-files.json does not exist"
            if missing
            else f"cannot read data file {url}: {_describe(exc)}"
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
    result: _FileResult,
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
    try:
        for number, line in enumerate(_lines(_gunzip(raw_chunks(), key)), start=1):
            if decoder is None or not line or line.isspace():
                continue
            try:
                item = decoder(line)
            except ItemFormatError as exc:
                bad_lines += 1
                if bad_lines <= MAX_LINE_PROBLEMS or stop_on_problem:
                    problem(f"data file {url} line {number} is not a valid item: {exc}")
                continue
            if item is None:  # an Ion version marker
                continue
            result.items += 1
            yield item
    except ExportCorrupt as exc:
        if stop_on_problem:
            raise
        result.problems.append(f"data file {url}: {exc.reason}")
        # Drain the rest so the MD5 verdict below covers the whole object.
        for _ in raw_chunks():
            pass
    except (ClientError, BotoCoreError) as exc:
        problem(f"reading data file {url} failed: {_describe(exc)}")
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
    result = _FileResult(key=data_file.data_file_s3_key)
    yield from _scan_file(
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
    result = _FileResult(key=data_file.data_file_s3_key)
    yield from _scan_file(
        s3,
        ref,
        data_file,
        decoder=request_decoder_for(data_file, output_format),
        result=result,
        stop_on_problem=True,
    )


def _check_supported(summary: ManifestSummary) -> list[str]:
    problems = []
    if summary.output_format not in SUPPORTED_FORMATS:
        problems.append(
            f"outputFormat {summary.output_format!r} is not supported (supported: "
            f"{', '.join(SUPPORTED_FORMATS)}); export again with ExportFormat DYNAMODB_JSON"
        )
    if summary.export_type != FULL_EXPORT:
        problems.append(
            f"exportType {summary.export_type!r} is not supported: an incremental export holds "
            "changes, not the table; use a FULL_EXPORT"
        )
    if summary.status is not None and summary.status != "COMPLETED":
        problems.append(f"export status is {summary.status!r}, not COMPLETED")
    return problems


def _readable_files(s3: Any, ref: ExportRef, files: list[DataFile] | None) -> tuple[ManifestSummary, list[DataFile]]:
    summary = read_summary(s3, ref)
    unsupported = _check_supported(summary)
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


# --- validation -------------------------------------------------------------------------------


@dataclass
class ValidationReport:
    """Everything `validate_export` found. `ok` is True only when `problems` is empty."""

    ref: ExportRef
    problems: list[str] = field(default_factory=list)
    summary: ManifestSummary | None = None
    files: list[DataFile] = field(default_factory=list)
    item_count: int = 0
    """Items actually read from the data files."""
    bytes_read: int = 0
    warnings: list[str] = field(default_factory=list)
    """Findings that do not make the export unusable (shown, never blocking)."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        return {
            "export": self.ref.url,
            "ok": self.ok,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "tableArn": s.table_arn if s else None,
            "exportTime": s.export_time.isoformat() if s else None,
            "outputFormat": s.output_format if s else None,
            "summaryItemCount": s.item_count if s else None,
            "itemCount": self.item_count,
            "dataFiles": len(self.files),
            "bytesRead": self.bytes_read,
        }


def _check_manifest_checksum(s3: Any, ref: ExportRef, names: Iterable[str], content: bytes) -> str | None:
    """Compare a manifest with its `.checksum`/`.md5` companion when that holds an MD5 (hex or
    base64). AWS does not document the companion's content, so anything else is not judged."""
    digest = hashlib.md5(content, usedforsecurity=False).digest()
    for name in names:
        raw = _read_object(s3, ref.bucket, ref.key(name))
        if raw is None:
            continue
        text = raw.decode("utf-8", "replace").strip()
        if re.fullmatch(r"[0-9a-fA-F]{32}", text):
            ok = text.lower() == digest.hex()
        elif re.fullmatch(r"[A-Za-z0-9+/]{22}==", text):
            ok = text == base64.b64encode(digest).decode()
        else:
            continue
        if not ok:
            return f"{ref.url}{name} does not match the manifest it guards (manifest changed after export)"
    return None


def _load_summary(s3: Any, ref: ExportRef, report: ValidationReport) -> bytes | None:
    """Read and parse the summary into the report; its raw bytes, or None (problem recorded)."""
    try:
        raw = _read_object(s3, ref.bucket, ref.summary_key)
    except (ClientError, BotoCoreError, ExportCorrupt) as exc:
        report.problems.append(f"cannot read s3://{ref.bucket}/{ref.summary_key}: {_describe(exc)}")
        return None
    if raw is None:
        report.problems.append(
            f"no manifest-summary.json in {ref.url}: the export is still running, failed, or the "
            "URL is wrong (it must end in AWSDynamoDB/<ExportId>/)"
        )
        return None
    try:
        report.summary = ManifestSummary.from_json(json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        report.problems.append(f"manifest-summary.json is not JSON ({exc})")
        return None
    except ManifestError as exc:
        report.problems.append(f"manifest-summary.json: {exc}")
        return None
    return raw


def _load_files(s3: Any, ref: ExportRef, summary: ManifestSummary, report: ValidationReport) -> bytes | None:
    """Read and parse manifest-files.json into the report; its raw bytes, or None."""
    files_key = _files_key(ref, summary)
    try:
        raw = _read_object(s3, ref.bucket, files_key)
    except (ClientError, BotoCoreError, ExportCorrupt) as exc:
        report.problems.append(f"cannot read s3://{ref.bucket}/{files_key}: {_describe(exc)}")
        return None
    if raw is None:
        report.problems.append(f"manifest-files.json s3://{ref.bucket}/{files_key} named by the summary does not exist")
        return None
    try:
        report.files = _parse_data_files(files_key, raw)
    except ExportCorrupt as exc:
        report.problems.append(exc.reason)
        return None
    return raw


def _checksum_problems(s3: Any, ref: ExportRef, names: tuple[str, ...], content: bytes) -> list[str]:
    try:
        problem = _check_manifest_checksum(s3, ref, names, content)
    except (ClientError, BotoCoreError, ExportCorrupt) as exc:
        return [f"cannot read {ref.url}{names[0]}: {_describe(exc)}"]
    return [problem] if problem else []


def validate_manifests(s3: Any, ref: ExportRef, *, expected_table_arn: str | None = None) -> ValidationReport:
    """The manifest half of `validate_export`: summary, source table, format, checksum files,
    manifest-files.json, and that the per-file counts add up to the summary. Reads no data file:
    a Step Functions Map can then run `check_data_file` per file in parallel."""
    report = ValidationReport(ref=ref)
    problems = report.problems
    summary_raw = _load_summary(s3, ref, report)
    summary = report.summary
    if summary_raw is None or summary is None:
        return report
    if expected_table_arn and summary.table_arn != expected_table_arn:
        problems.append(
            f"export is of table {summary.table_arn}, expected {expected_table_arn} "
            "(wrong source table: check the export URL or the configured source)"
        )
    problems.extend(_check_supported(summary))
    # AWS does not document the content of its `.checksum` files, so a mismatch there is a
    # warning: the documented guarantees (per-file MD5, counts) decide whether an export is usable.
    report.warnings.extend(_checksum_problems(s3, ref, SUMMARY_CHECKSUM_NAMES, summary_raw))
    files_raw = _load_files(s3, ref, summary, report)
    if files_raw is None:
        return report
    report.warnings.extend(_checksum_problems(s3, ref, FILES_CHECKSUM_NAMES, files_raw))
    seen: set[str] = set()
    for data_file in report.files:
        key = ref.resolve(data_file.data_file_s3_key)
        if key in seen:
            problems.append(f"manifest-files.json lists data file s3://{ref.bucket}/{key} twice")
        seen.add(key)
    listed_total = sum(f.item_count for f in report.files)
    if listed_total != summary.item_count:
        problems.append(
            f"manifest-files.json lists {listed_total} items in {len(report.files)} files, "
            f"manifest-summary.json says {summary.item_count}"
        )
    return report


@dataclass(frozen=True)
class FileCheck:
    """What `check_data_file` found in one data file."""

    key: str
    items: int
    bytes_read: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_data_file(
    s3: Any, ref: ExportRef, data_file: DataFile, *, output_format: str = "DYNAMODB_JSON", parse: bool = True
) -> FileCheck:
    """Read one data file completely: existence, gzip, MD5, item count and (with `parse`) every
    item. Never raises for damage; every problem is in the result."""
    decoder = decoder_for(data_file, output_format) if parse else None
    result = _FileResult(key=data_file.data_file_s3_key)
    for _ in _scan_file(s3, ref, data_file, decoder=decoder, result=result, stop_on_problem=False):
        pass
    key = ref.resolve(data_file.data_file_s3_key)
    return FileCheck(key=key, items=result.items, bytes_read=result.bytes_read, problems=result.problems)


def validate_export(
    s3: Any, ref: ExportRef, *, expected_table_arn: str | None = None, workers: int = 1
) -> ValidationReport:
    """Check an export completely before anything relies on it: manifests, source table, format,
    every data file's existence, MD5, item count and item syntax, and the total. Never raises
    for a damaged export: every problem found is in the report (in manifest order, whatever
    `workers`, the number of data files read at once)."""
    report = validate_manifests(s3, ref, expected_table_arn=expected_table_arn)
    summary = report.summary
    if summary is None or not report.files:
        return report
    # Formats that cannot be parsed still get their bytes checked (existence, gzip, MD5).
    parse = summary.output_format in SUPPORTED_FORMATS and summary.export_type == FULL_EXPORT

    def check(data_file: DataFile) -> FileCheck:
        return check_data_file(s3, ref, data_file, output_format=summary.output_format, parse=parse)

    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="validate") as pool:
            checks = list(pool.map(check, report.files))
    else:
        checks = [check(f) for f in report.files]
    for result in checks:
        report.item_count += result.items
        report.bytes_read += result.bytes_read
        report.problems.extend(result.problems)
    logger.info(
        "export validated",
        extra={"export": ref.url, "ok": report.ok, "problems": report.problems, "items": report.item_count},
    )
    return report


# --- finding exports --------------------------------------------------------------------------


@dataclass(frozen=True)
class SkippedExport:
    """An export folder whose summary could not be read, and why."""

    ref: ExportRef
    reason: str
    approx_time: datetime | None
    """From the ExportId (its leading epoch milliseconds), when it has the usual form."""


@dataclass
class ExportListing:
    """Exports under a prefix, newest first, and the folders that are not usable exports."""

    exports: list[tuple[ExportRef, ManifestSummary]] = field(default_factory=list)
    skipped: list[SkippedExport] = field(default_factory=list)


MAX_FOLDER_DEPTH = 12  # how deep under the given prefix export folders are looked for


def _export_folders(s3: Any, bucket: str, folder: str, depth: int = 0) -> Iterator[str]:
    """Export folders (`.../AWSDynamoDB/<id>/`) under `folder`, found by listing "directories"
    (Delimiter `/`) so the data files themselves are never listed."""
    paginator = s3.get_paginator("list_objects_v2")
    is_export_root = folder == f"{EXPORT_FOLDER}/" or folder.endswith(f"/{EXPORT_FOLDER}/")
    for page in paginator.paginate(Bucket=bucket, Prefix=folder, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            if is_export_root:
                yield common["Prefix"]
            elif depth < MAX_FOLDER_DEPTH:
                yield from _export_folders(s3, bucket, common["Prefix"], depth + 1)


def scan_exports(s3: Any, bucket: str, prefix: str = "") -> ExportListing:
    """Find every export folder under the folder `s3://bucket/prefix/` (at any depth) and read
    its summary. `exports/orders` does not match `exports/orders-archive/`. Folders without a
    readable summary (running, failed, damaged) are in `skipped` with the reason."""
    folder = prefix.strip("/")
    folder = f"{folder}/" if folder else ""
    folders = dict.fromkeys(_export_folders(s3, bucket, folder))
    listing = ExportListing()
    for folder in folders:
        try:
            ref = ExportRef(bucket, folder)
        except ValueError:
            continue
        try:
            listing.exports.append((ref, read_summary(s3, ref)))
        except ExportError as exc:
            listing.skipped.append(SkippedExport(ref, str(exc), ref.approx_time()))
            logger.warning("export skipped", extra={"export": ref.url, "reason": str(exc)})
    listing.exports.sort(key=lambda pair: pair[1].export_time, reverse=True)
    listing.skipped.sort(key=lambda s: s.approx_time.timestamp() if s.approx_time else 0.0, reverse=True)
    return listing


def list_exports(s3: Any, bucket: str, prefix: str = "") -> list[tuple[ExportRef, ManifestSummary]]:
    """Exports under `s3://bucket/prefix`, newest first (by exportTime). Folders without a
    readable summary are left out with a logged warning; `scan_exports` also returns them."""
    return scan_exports(s3, bucket, prefix).exports

"""Validating an export completely before anything relies on it: manifests, source table,
format, and every data file's existence, gzip, MD5, item count and item syntax. Validation never
raises for a damaged export: every problem found is in the report.

Full and incremental exports are validated alike (an incremental's lines as changes:
`handlers.exports.incremental`); `expected_type` says which one the caller can use. It defaults to
FULL_EXPORT, so every path that imports or stages an export refuses an incremental one.

`validate_manifests` and `check_data_file` are its two halves, for a Step Functions Map that
checks the data files in parallel (staging, the restore drill).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from handlers.exports.incremental import change_decoder
from handlers.exports.layout import (
    FILES_CHECKSUM_NAMES,
    FULL_EXPORT,
    INCREMENTAL_EXPORT,
    SUMMARY_CHECKSUM_NAMES,
    SUPPORTED_FORMATS,
    DataFile,
    ExportCorrupt,
    ExportRef,
    ManifestError,
    ManifestSummary,
    format_time,
)
from handlers.exports.manifests import describe_error, files_key, parse_data_files, read_object
from handlers.exports.reader import FileScan, check_supported, decoder_for, scan_file

logger = logging.getLogger(__name__)


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

    @property
    def export_type(self) -> str | None:
        """FULL_EXPORT or INCREMENTAL_EXPORT (as the summary says); None without a summary."""
        return self.summary.export_type if self.summary else None

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        incremental = s is not None and s.is_incremental
        return {
            "export": self.ref.url,
            "ok": self.ok,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "exportType": s.export_type if s else None,
            "tableArn": s.table_arn if s else None,
            "exportTime": s.export_time.isoformat() if s else None,
            "exportFromTime": format_time(s.export_from_time) if incremental and s and s.export_from_time else None,
            "exportToTime": format_time(s.export_to_time) if incremental and s and s.export_to_time else None,
            "outputView": s.output_view if s else None,
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
        raw = read_object(s3, ref.bucket, ref.key(name))
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
        raw = read_object(s3, ref.bucket, ref.summary_key)
    except (ClientError, BotoCoreError, ExportCorrupt) as exc:
        report.problems.append(f"cannot read s3://{ref.bucket}/{ref.summary_key}: {describe_error(exc)}")
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
    key = files_key(ref, summary)
    try:
        raw = read_object(s3, ref.bucket, key)
    except (ClientError, BotoCoreError, ExportCorrupt) as exc:
        report.problems.append(f"cannot read s3://{ref.bucket}/{key}: {describe_error(exc)}")
        return None
    if raw is None:
        report.problems.append(f"manifest-files.json s3://{ref.bucket}/{key} named by the summary does not exist")
        return None
    try:
        report.files = parse_data_files(key, raw)
    except ExportCorrupt as exc:
        report.problems.append(exc.reason)
        return None
    return raw


def _checksum_problems(s3: Any, ref: ExportRef, names: tuple[str, ...], content: bytes) -> list[str]:
    try:
        problem = _check_manifest_checksum(s3, ref, names, content)
    except (ClientError, BotoCoreError, ExportCorrupt) as exc:
        return [f"cannot read {ref.url}{names[0]}: {describe_error(exc)}"]
    return [problem] if problem else []


def validate_manifests(
    s3: Any, ref: ExportRef, *, expected_table_arn: str | None = None, expected_type: str | None = FULL_EXPORT
) -> ValidationReport:
    """The manifest half of `validate_export`: summary, source table, format and export type
    (`expected_type`: FULL_EXPORT, INCREMENTAL_EXPORT, or None for either), checksum files,
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
    problems.extend(check_supported(summary, expected_type))
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


class FileFindings(Protocol):
    """What checking one data file found (FileCheck, FileScan)."""

    @property
    def items(self) -> int: ...
    @property
    def bytes_read(self) -> int: ...
    @property
    def problems(self) -> list[str]: ...


def check_files(
    report: ValidationReport,
    check: Callable[[DataFile], FileFindings],
    *,
    workers: int,
    thread_name_prefix: str = "validate",
) -> None:
    """Run `check` on every data file of `report` (on `workers` threads when more than one) and
    add what each found to the report, in manifest order."""
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=thread_name_prefix) as pool:
            found = list(pool.map(check, report.files))
    else:
        found = [check(f) for f in report.files]
    for result in found:
        report.item_count += result.items
        report.bytes_read += result.bytes_read
        report.problems.extend(result.problems)


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
    s3: Any,
    ref: ExportRef,
    data_file: DataFile,
    *,
    output_format: str = "DYNAMODB_JSON",
    parse: bool = True,
    incremental_view: str | None = None,
) -> FileCheck:
    """Read one data file completely: existence, gzip, MD5, item count and (with `parse`) every
    item, or every change line when `incremental_view` (the summary's outputView) is given.
    Never raises for damage; every problem is in the result."""
    decoder: Any = None
    if parse:
        decoder = change_decoder(incremental_view) if incremental_view else decoder_for(data_file, output_format)
    result = FileScan(key=data_file.data_file_s3_key)
    for _ in scan_file(s3, ref, data_file, decoder=decoder, result=result, stop_on_problem=False):
        pass
    key = ref.resolve(data_file.data_file_s3_key)
    return FileCheck(key=key, items=result.items, bytes_read=result.bytes_read, problems=result.problems)


def validate_export(
    s3: Any,
    ref: ExportRef,
    *,
    expected_table_arn: str | None = None,
    workers: int = 1,
    expected_type: str | None = FULL_EXPORT,
) -> ValidationReport:
    """Check an export completely before anything relies on it: manifests, source table, format,
    export type (`expected_type`, see validate_manifests), every data file's existence, MD5,
    item count and item (or change line) syntax, and the total. Never raises for a damaged
    export: every problem found is in the report (in manifest order, whatever `workers`, the
    number of data files read at once)."""
    report = validate_manifests(s3, ref, expected_table_arn=expected_table_arn, expected_type=expected_type)
    summary = report.summary
    if summary is None or not report.files:
        return report
    # What cannot be parsed still gets its bytes checked (existence, gzip, MD5).
    view = summary.output_view if summary.is_incremental else None
    parse = summary.output_format in SUPPORTED_FORMATS and (
        summary.export_type == FULL_EXPORT or (summary.export_type == INCREMENTAL_EXPORT and view is not None)
    )
    if summary.is_incremental and summary.output_format != "DYNAMODB_JSON":
        parse = False

    def check(data_file: DataFile) -> FileCheck:
        return check_data_file(
            s3, ref, data_file, output_format=summary.output_format, parse=parse, incremental_view=view
        )

    check_files(report, check, workers=workers)
    logger.info(
        "export validated",
        extra={"export": ref.url, "ok": report.ok, "problems": report.problems, "items": report.item_count},
    )
    return report

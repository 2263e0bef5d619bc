"""Finding exports: every export folder under a prefix, newest first, and the folders that are
not usable exports (running, failed, damaged) with the reason."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conventions.chain import is_incremental_folder
from handlers.exports.layout import (
    EXPORT_FOLDER,
    FULL_EXPORT,
    SHARED_DATA_FOLDER,
    ExportError,
    ExportRef,
    ManifestSummary,
)
from handlers.exports.manifests import read_summary

logger = logging.getLogger(__name__)


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
SUMMARY_READERS = 16  # manifest summaries read at once


def _export_folders(s3: Any, bucket: str, folder: str, depth: int = 0, *, full_only: bool = False) -> Iterator[str]:
    """Export folders (`.../AWSDynamoDB/<id>/`) under `folder`, found by listing "directories"
    (Delimiter `/`) so the data files themselves are never listed. `.../AWSDynamoDB/data/`, the
    data folder incremental exports share, is not an export. `full_only`: a table's folder of
    chain windows (`exports/<table>/incremental/`, incremental exports only) is not entered: with
    a 15-minute chain it holds 96 exports a day, whose summaries a listing of full exports would
    otherwise read one by one."""
    paginator = s3.get_paginator("list_objects_v2")
    is_export_root = folder == f"{EXPORT_FOLDER}/" or folder.endswith(f"/{EXPORT_FOLDER}/")
    shared_data = f"{folder}{SHARED_DATA_FOLDER}/"
    for page in paginator.paginate(Bucket=bucket, Prefix=folder, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            child = common["Prefix"]
            if is_export_root:
                if child != shared_data:
                    yield child
            elif depth < MAX_FOLDER_DEPTH and not (full_only and is_incremental_folder(child)):
                yield from _export_folders(s3, bucket, child, depth + 1, full_only=full_only)


def scan_exports(s3: Any, bucket: str, prefix: str = "", *, export_type: str | None = FULL_EXPORT) -> ExportListing:
    """Find every export folder under the folder `s3://bucket/prefix/` (at any depth) and read
    its summary. `exports/orders` does not match `exports/orders-archive/`. Folders without a
    readable summary (running, failed, damaged) are in `skipped` with the reason.

    `export_type`: FULL_EXPORT (the default: what imports, staging and restores use),
    INCREMENTAL_EXPORT, or None for both (incremental ones sort by their window's end)."""
    folder = prefix.strip("/")
    folder = f"{folder}/" if folder else ""
    refs = []
    for found in dict.fromkeys(_export_folders(s3, bucket, folder, full_only=export_type == FULL_EXPORT)):
        try:
            refs.append(ExportRef(bucket, found))
        except ValueError:
            continue

    def read(ref: ExportRef) -> ManifestSummary | ExportError:
        try:
            return read_summary(s3, ref)
        except ExportError as exc:
            return exc

    listing = ExportListing()
    # The summaries are small objects read one GET each: in parallel, as a table's chain windows
    # alone are 96 a day (boto3 clients are thread-safe).
    with ThreadPoolExecutor(max_workers=min(SUMMARY_READERS, max(len(refs), 1))) as pool:
        for ref, summary in zip(refs, pool.map(read, refs), strict=True):
            if isinstance(summary, ExportError):
                listing.skipped.append(SkippedExport(ref, str(summary), ref.approx_time()))
                logger.warning("export skipped", extra={"export": ref.url, "reason": str(summary)})
            elif export_type is None or summary.export_type == export_type:
                listing.exports.append((ref, summary))
    listing.exports.sort(key=lambda pair: pair[1].export_time, reverse=True)
    listing.skipped.sort(key=lambda s: s.approx_time.timestamp() if s.approx_time else 0.0, reverse=True)
    return listing


def list_exports(
    s3: Any, bucket: str, prefix: str = "", *, export_type: str | None = FULL_EXPORT
) -> list[tuple[ExportRef, ManifestSummary]]:
    """Exports under `s3://bucket/prefix` (full ones unless `export_type` says otherwise), newest
    first (by exportTime). Folders without a readable summary are left out with a logged
    warning; `scan_exports` also returns them."""
    return scan_exports(s3, bucket, prefix, export_type=export_type).exports

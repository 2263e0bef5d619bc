"""The window's incremental export for `safetynet rewind`: which window to export, requesting it
(or finding the one a previous run requested), waiting for it, and validating it.

On AWS an incremental export covers 15 minutes to 24 hours inside the table's PITR period (start
inclusive, end exclusive). A rewind window [T1, T2) shorter than 15 minutes is exported as
[T1, T1 + 15 min) when that is already in the past: the export's OldImage is then exactly each
item's state at T1, and keys last written at or after T2 are left alone (and reported). When
T1 + 15 min is not yet exportable (the incident was minutes ago), the export ends at the latest
restorable time and starts 15 minutes before it, before T1: an item written both between that
start and T1 and again inside the window comes back to its state at the export's start, not at
T1 (the export is compacted: one line per key). The plan says so and when the exact export becomes
possible. Against an emulator the window comes from the table's stream
(`safetynet.backup.stream_export`), which exports exactly [T1, T2) at any length.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.exports.layout import INCREMENTAL_EXPORT, NEW_AND_OLD_IMAGES, ExportRef, format_time
from handlers.exports.listing import scan_exports
from handlers.exports.validation import ValidationReport, validate_export

MIN_WINDOW = timedelta(minutes=15)
MAX_WINDOW = timedelta(hours=24)


class WindowRefused(ValueError):
    """The window cannot be rewound as asked (exit 2); the message says what to write instead."""


class ExportFailed(RuntimeError):
    """The export failed, or is not valid (exit 1)."""


@dataclass(frozen=True)
class ExportWindow:
    """What is exported for a rewind window [start, end)."""

    start: datetime
    end: datetime
    exact_old_images: bool
    """True when each OldImage is the item's state at T1 (the export starts at T1)."""
    note: str | None = None
    """Why the export window differs from the rewind window, for the plan."""
    exact_after: datetime | None = None
    """When the export starts before T1: from when an export starting at T1 is possible."""


def millis(moment: datetime) -> datetime:
    """`moment` in UTC; refuses sub-millisecond digits (export summaries hold milliseconds)."""
    if moment.tzinfo is None:
        raise WindowRefused(
            f"{moment.isoformat()} has no time zone: write it in UTC (2026-11-26T03:00:00Z) or with an offset"
        )
    utc = moment.astimezone(UTC)
    if utc.microsecond % 1000:
        raise WindowRefused(f"{utc.isoformat()}: times are taken to the millisecond; drop the extra digits")
    return utc


def check_window(start: datetime, end: datetime, *, now: datetime, earliest: datetime | None) -> None:
    """Refuse T1 >= T2, T2 in the future, windows over 24 hours and windows starting before the
    table's PITR period (`earliest`, None: PITR is off)."""
    if start >= end:
        raise WindowRefused(f"--from {start.isoformat()} is not before --to {end.isoformat()}: the window is empty")
    if end > now:
        raise WindowRefused(f"--to {end.isoformat()} is in the future (now {now.isoformat(timespec='seconds')})")
    if end - start > MAX_WINDOW:
        raise WindowRefused(
            f"the window is {end - start} long; an incremental export covers at most 24 hours: rewind it in parts"
        )
    if earliest is None:
        raise WindowRefused(
            "point-in-time recovery is off on the table: no incremental export (and no rewind) is possible"
        )
    if start < earliest:
        raise WindowRefused(
            f"--from {start.isoformat()} is before the table's PITR period (earliest restorable "
            f"{earliest.isoformat(timespec='seconds')}): nothing older can be exported"
        )


def export_window(start: datetime, end: datetime, *, latest: datetime) -> ExportWindow:
    """The export window of a rewind window on AWS (see the module docstring); `latest` is the
    table's LatestRestorableDateTime."""
    if end > latest:
        raise WindowRefused(
            f"--to {end.isoformat()} is after the table's latest restorable time "
            f"({latest.isoformat(timespec='seconds')}, about 5 minutes ago): wait a few minutes and run again"
        )
    if end - start >= MIN_WINDOW:
        return ExportWindow(start, end, exact_old_images=True)
    if start + MIN_WINDOW <= latest:
        return ExportWindow(
            start,
            start + MIN_WINDOW,
            exact_old_images=True,
            note=(
                "AWS exports at least 15 minutes: exported [T1, T1+15min); keys last written at or after T2 "
                "are left alone"
            ),
        )
    begin = latest - MIN_WINDOW
    return ExportWindow(
        begin,
        latest,
        exact_old_images=False,
        note=(
            f"AWS exports at least 15 minutes and T1+15min is not restorable yet: exported from {begin.isoformat()} "
            "(before T1); a key written both before T1 in that span and inside the window comes back to its state "
            "at the export's start, not at T1"
        ),
        exact_after=start + MIN_WINDOW + (end - latest if end > latest else timedelta(0)),
    )


def client_token(table_arn: str, window: ExportWindow, prefix: str) -> str:
    """The same request (table, window, prefix) within 8 hours returns the same export."""
    text = f"{table_arn}|{window.start.isoformat()}|{window.end.isoformat()}|{prefix}"
    return hashlib.sha256(text.encode()).hexdigest()[:36]


def find_export(s3: Any, bucket: str, prefix: str, window: ExportWindow) -> ExportRef | None:
    """A complete incremental export of exactly `window` under `prefix` (a previous run's)."""
    listing = scan_exports(s3, bucket, prefix, export_type=INCREMENTAL_EXPORT)
    for ref, summary in listing.exports:
        if (summary.export_from_time, summary.export_to_time) == (window.start, window.end) and (
            summary.output_view == NEW_AND_OLD_IMAGES
        ):
            return ref
    return None


def request_export(
    ddb: Any,
    *,
    table_arn: str,
    bucket: str,
    prefix: str,
    window: ExportWindow,
    kms_key: str | None,
    owner: str | None = None,
) -> str:
    """Start the incremental export; returns its ExportArn (the same for a repeated request)."""
    request: dict[str, Any] = {
        "TableArn": table_arn,
        "S3Bucket": bucket,
        "S3Prefix": prefix,
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": INCREMENTAL_EXPORT,
        "IncrementalExportSpecification": {
            "ExportFromTime": window.start,
            "ExportToTime": window.end,
            "ExportViewType": NEW_AND_OLD_IMAGES,
        },
        "ClientToken": client_token(table_arn, window, prefix),
    }
    if kms_key:
        request.update(S3SseAlgorithm="KMS", S3SseKmsKeyId=kms_key)
    if owner:
        request["S3BucketOwner"] = owner
    arn: str = ddb.export_table_to_point_in_time(**request)["ExportDescription"]["ExportArn"]
    return arn


def wait_export(
    ddb: Any,
    export_arn: str,
    *,
    poll_seconds: float = 15.0,
    on_poll: Callable[[dict[str, Any]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ExportRef:
    """Poll DescribeExport until the export completes; ExportFailed when it fails."""
    while True:
        desc = ddb.describe_export(ExportArn=export_arn)["ExportDescription"]
        if on_poll is not None:
            on_poll(desc)
        status = desc.get("ExportStatus")
        if status == "COMPLETED":
            manifest = desc.get("ExportManifest") or ""
            return ExportRef.parse(f"s3://{desc['S3Bucket']}/{manifest}")
        if status == "FAILED":
            raise ExportFailed(
                f"the incremental export {export_arn} failed: {desc.get('FailureCode', '')} "
                f"{desc.get('FailureMessage', '')}".strip()
            )
        sleep(poll_seconds)


def vault_kms_key(s3: Any, bucket: str) -> str | None:
    """The vault's default SSE-KMS key (exports are written with it), None for another default."""
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse") and default.get("KMSMasterKeyID"):
            return str(default["KMSMasterKeyID"])
    return None


def validate_window_export(s3: Any, ref: ExportRef, *, table_arn: str, window: ExportWindow) -> ValidationReport:
    """Validate the export (manifests, every data file's MD5, count and lines), and that it is
    the table's export of exactly `window` with both images; ExportFailed lists the problems."""
    report = validate_export(s3, ref, expected_table_arn=table_arn, workers=4, expected_type=INCREMENTAL_EXPORT)
    problems = list(report.problems)
    summary = report.summary
    if summary is not None:
        if summary.output_view != NEW_AND_OLD_IMAGES:
            problems.append(f"outputView is {summary.output_view}: a rewind needs NEW_AND_OLD_IMAGES (the OldImage)")
        if (summary.export_from_time, summary.export_to_time) != (window.start, window.end):
            problems.append(
                f"the export covers {summary.export_from_time} .. {summary.export_to_time}, "
                f"not {format_time(window.start)} .. {format_time(window.end)}"
            )
    if problems:
        raise ExportFailed(f"the window's export {ref.url} is not usable: " + "; ".join(problems))
    return report

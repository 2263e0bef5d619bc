"""Reading an export's manifests from S3 (manifest-summary.json, manifest-files.json), and the
S3 error handling every export reader shares."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.exports.layout import (
    DataFile,
    ExportCorrupt,
    ExportError,
    ExportNotFound,
    ExportRef,
    ManifestError,
    ManifestSummary,
)

MAX_MANIFEST_BYTES = 256 << 20  # a manifest is small; refuse to buffer anything absurd


def is_missing(exc: ClientError) -> bool:
    """Whether S3 answered that the object does not exist."""
    code = exc.response.get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "404", "NotFound")


def describe_error(exc: Exception) -> str:
    """A short, readable description of an S3 error (with the likely cause of an AccessDenied)."""
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


def read_object(s3: Any, bucket: str, key: str) -> bytes | None:
    """A small object's bytes; None when it does not exist."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    if int(response.get("ContentLength") or 0) > MAX_MANIFEST_BYTES:
        raise ExportCorrupt(key, f"manifest is {response['ContentLength']} bytes, larger than any real one")
    data: bytes = response["Body"].read()
    return data


def read_summary(s3: Any, ref: ExportRef) -> ManifestSummary:
    """Read manifest-summary.json. Raises ExportNotFound or ExportCorrupt (never KeyError)."""
    try:
        raw = read_object(s3, ref.bucket, ref.summary_key)
    except (ClientError, BotoCoreError) as exc:
        raise ExportError(f"cannot read s3://{ref.bucket}/{ref.summary_key}: {describe_error(exc)}") from exc
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


def files_key(ref: ExportRef, summary: ManifestSummary) -> str:
    """The key of the manifest-files.json the summary names."""
    return ref.resolve(summary.manifest_files_s3_key)


def parse_data_files(key: str, raw: bytes) -> list[DataFile]:
    """The data files listed in manifest-files.json's bytes (one JSON line each). Raises ExportCorrupt."""
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
    key = files_key(ref, summary)
    try:
        raw = read_object(s3, ref.bucket, key)
    except (ClientError, BotoCoreError) as exc:
        raise ExportError(f"cannot read s3://{ref.bucket}/{key}: {describe_error(exc)}") from exc
    if raw is None:
        raise ExportCorrupt(key, "manifest-files.json named by the summary does not exist")
    return parse_data_files(key, raw)

"""DynamoDB's native export layout: where an export lives and what its manifests say.

    <export-prefix>/AWSDynamoDB/<ExportId>/_started
    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json     one JSON object
    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-summary.checksum
    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-files.json       JSON lines, one per data file
    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-files.checksum
    <export-prefix>/AWSDynamoDB/<ExportId>/data/<random>.json.gz     full exports (.ion.gz for ION)
    <export-prefix>/AWSDynamoDB/data/<random>.json.gz                incremental exports: one data
                                                                     folder shared by all of them

(AWS docs: "DynamoDB table export output format".) Field names below are AWS's. A full export's
summary has `version` 2020-06-30 and `exportTime`; an incremental export's has `version`
2023-08-01, `exportType` INCREMENTAL_EXPORT, the window `exportFromTime` (inclusive) ..
`exportToTime` (exclusive) and `outputView`, and no `exportTime`. Which data files belong to an
export is said only by its manifest-files.json: never list a data folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EXPORT_FOLDER = "AWSDynamoDB"
SUMMARY_NAME = "manifest-summary.json"
FILES_NAME = "manifest-files.json"
SUMMARY_CHECKSUM_NAMES = ("manifest-summary.checksum", "manifest-summary.md5")
FILES_CHECKSUM_NAMES = ("manifest-files.checksum", "manifest-files.md5")
STARTED_NAME = "_started"

SUPPORTED_FORMATS = ("DYNAMODB_JSON", "ION")
FULL_EXPORT = "FULL_EXPORT"
INCREMENTAL_EXPORT = "INCREMENTAL_EXPORT"
FULL_VERSION = "2020-06-30"
INCREMENTAL_VERSION = "2023-08-01"
NEW_AND_OLD_IMAGES = "NEW_AND_OLD_IMAGES"
NEW_IMAGE = "NEW_IMAGE"
VIEW_TYPES = (NEW_AND_OLD_IMAGES, NEW_IMAGE)
SHARED_DATA_FOLDER = "data"
"""`<export-prefix>/AWSDynamoDB/data/`: where incremental exports put their data files."""

_URL = re.compile(r"s3://(?P<bucket>[^/]+)/(?P<prefix>(?:.*/)?AWSDynamoDB/(?P<id>[^/]+)/?)")
# ExportIds look like `01693685827463-2d8752fd`: milliseconds since the epoch, then a random part.
_EXPORT_ID_TIME = re.compile(r"(\d{13,14})-[0-9a-zA-Z]+")


def export_id_time(export_id: str) -> datetime | None:
    """When an export was requested, read from its ExportId (also the last part of its
    ExportArn), when the id has the usual form; else None."""
    match = _EXPORT_ID_TIME.fullmatch(export_id)
    if not match:
        return None
    return datetime.fromtimestamp(int(match[1]) / 1000, tz=UTC)


class ExportError(Exception):
    """Base of every export problem; the message says what is wrong and what to do."""


class ExportNotFound(ExportError):
    """No manifest-summary.json where the export should be."""


class ExportCorrupt(ExportError):
    """An export's manifest or data file is damaged (checksum, count, syntax, truncation)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class UnsupportedExport(ExportError):
    """A well-formed export that safetynet cannot use (format, export type, status)."""


@dataclass(frozen=True)
class ExportRef:
    """One export folder: `s3://<bucket>/<prefix>` with `prefix` ending in `AWSDynamoDB/<ExportId>/`."""

    bucket: str
    prefix: str

    def __post_init__(self) -> None:
        if not _URL.fullmatch(f"s3://{self.bucket}/{self.prefix}") or not self.prefix.endswith("/"):
            raise ValueError(
                f"not an export folder: s3://{self.bucket}/{self.prefix} "
                "(expected s3://BUCKET/[PREFIX/]AWSDynamoDB/<ExportId>/)"
            )

    @classmethod
    def parse(cls, url: str) -> ExportRef:
        """Parse `s3://BUCKET/[PREFIX/]AWSDynamoDB/<ExportId>/` (trailing slash optional; a URL
        of the export's manifest-summary.json is accepted too)."""
        text = url.strip()
        for suffix in (SUMMARY_NAME, FILES_NAME):
            if text.endswith("/" + suffix):
                text = text[: -len(suffix)]
        match = _URL.fullmatch(text)
        if not match:
            raise ValueError(
                f"not an export URL: {url!r}. Write s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/ "
                "(the folder holding manifest-summary.json)"
            )
        prefix = match["prefix"] if match["prefix"].endswith("/") else match["prefix"] + "/"
        return cls(match["bucket"], prefix)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def export_id(self) -> str:
        return self.prefix.rstrip("/").rsplit("/", 1)[-1]

    @property
    def export_prefix(self) -> str:
        """The prefix the export was requested with ('' for none), with a trailing slash."""
        return self.prefix[: -len(f"{EXPORT_FOLDER}/{self.export_id}/")]

    @property
    def summary_key(self) -> str:
        return self.prefix + SUMMARY_NAME

    def key(self, name: str) -> str:
        """The S3 key of a file in this export's folder."""
        return self.prefix + name

    def resolve(self, key: str) -> str:
        """The full S3 key of a manifest key, which AWS writes with or without the export prefix
        (`[prefix/]AWSDynamoDB/<id>/data/x.json.gz`; also accepted: `data/x.json.gz`)."""
        key = key.lstrip("/")
        if key.startswith(self.prefix):
            return key
        # A copied export (other bucket or prefix) keeps manifests naming the old prefix.
        marker = f"{EXPORT_FOLDER}/{self.export_id}/"
        at = key.find(marker)
        if at >= 0:
            return self.prefix + key[at + len(marker) :]
        # Incremental exports share `<export-prefix>/AWSDynamoDB/data/`, also when copied.
        shared = f"{EXPORT_FOLDER}/{SHARED_DATA_FOLDER}/"
        at = key.find(shared)
        if at >= 0 and (at == 0 or key[at - 1] == "/"):
            return self.export_prefix + key[at:]
        if key.startswith(f"{EXPORT_FOLDER}/"):
            return self.export_prefix + key
        if key.startswith("data/") or "/" not in key:
            return self.prefix + key
        return key

    def approx_time(self) -> datetime | None:
        """The export's start time read from its ExportId, when it has the usual form."""
        return export_id_time(self.export_id)


def parse_time(value: Any) -> datetime | None:
    """AWS's manifest times (ISO-8601 with Z) -> aware datetime; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """Aware datetime -> AWS's manifest time format (`2020-11-04T07:28:34.028Z`)."""
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def human_age(delta_seconds: float) -> str:
    """`3d 4h`, `2h 5m`, `40s`: a duration people read at a glance."""
    s = max(0, int(delta_seconds))
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


class ManifestError(ValueError):
    """A manifest that does not have AWS's shape; the message names the field."""


def _require(doc: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in doc or doc[name] is None:
        raise ManifestError(f"field {name!r} is missing")
    value = doc[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ManifestError(f"field {name!r} has the wrong type ({type(value).__name__})")
    return value


@dataclass(frozen=True)
class ManifestSummary:
    """manifest-summary.json. `raw` keeps every field, including ones this class does not name.

    For an incremental export `export_time` is its window's end (`exportToTime`: AWS writes no
    `exportTime` there), so every export sorts by the point in time it reaches."""

    table_arn: str
    export_time: datetime
    manifest_files_s3_key: str
    item_count: int
    output_format: str = "DYNAMODB_JSON"
    export_type: str = FULL_EXPORT
    version: str = FULL_VERSION
    export_arn: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    table_id: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str | None = None
    s3_sse_algorithm: str | None = None
    s3_sse_kms_key_id: str | None = None
    billed_size_bytes: int | None = None
    status: str | None = None
    """Not written by AWS today; checked when present (`COMPLETED`)."""
    export_from_time: datetime | None = None
    """Incremental exports: the window's start (inclusive)."""
    export_to_time: datetime | None = None
    """Incremental exports: the window's end (exclusive)."""
    output_view: str | None = None
    """Incremental exports: NEW_AND_OLD_IMAGES or NEW_IMAGE."""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def table_name(self) -> str:
        return self.table_arn.rsplit("/", 1)[-1]

    @property
    def is_incremental(self) -> bool:
        return self.export_type == INCREMENTAL_EXPORT

    @classmethod
    def from_json(cls, doc: Any) -> ManifestSummary:
        """Parse a manifest-summary.json document; ManifestError names the bad field."""
        if not isinstance(doc, dict):
            raise ManifestError("the summary is not a JSON object")
        export_type = str(doc.get("exportType") or FULL_EXPORT)
        incremental = export_type == INCREMENTAL_EXPORT
        try:
            start_time = parse_time(doc.get("startTime"))
            end_time = parse_time(doc.get("endTime"))
            if incremental:
                from_time = parse_time(_require(doc, "exportFromTime", str))
                to_time = parse_time(_require(doc, "exportToTime", str))
                export_time = parse_time(doc.get("exportTime")) or to_time
            else:
                from_time = to_time = None
                export_time = parse_time(_require(doc, "exportTime", str))
        except ValueError as exc:
            if isinstance(exc, ManifestError):
                raise
            raise ManifestError(f"a time field is not ISO-8601 ({exc})") from None
        assert export_time is not None
        view = None
        if incremental:
            assert from_time is not None and to_time is not None
            if from_time >= to_time:
                raise ManifestError(
                    f"exportFromTime {format_time(from_time)} is not before exportToTime {format_time(to_time)}"
                )
            view = _require(doc, "outputView", str)
            if view not in VIEW_TYPES:
                raise ManifestError(f"field 'outputView' is {view!r}, expected one of {', '.join(VIEW_TYPES)}")
        billed = doc.get("billedSizeBytes")
        return cls(
            table_arn=_require(doc, "tableArn", str),
            export_time=export_time,
            manifest_files_s3_key=_require(doc, "manifestFilesS3Key", str),
            item_count=_require(doc, "itemCount", int),
            output_format=str(doc.get("outputFormat") or "DYNAMODB_JSON"),
            export_type=export_type,
            version=str(doc.get("version") or ""),
            export_arn=doc.get("exportArn"),
            start_time=start_time,
            end_time=end_time,
            table_id=doc.get("tableId"),
            s3_bucket=doc.get("s3Bucket"),
            s3_prefix=doc.get("s3Prefix"),
            s3_sse_algorithm=doc.get("s3SseAlgorithm"),
            s3_sse_kms_key_id=doc.get("s3SseKmsKeyId"),
            billed_size_bytes=billed if isinstance(billed, int) else None,
            status=doc.get("status") or doc.get("exportStatus"),
            export_from_time=from_time,
            export_to_time=to_time,
            output_view=view,
            raw=dict(doc),
        )

    def to_json(self) -> dict[str, Any]:
        """The document as AWS writes it (fields and their order as in AWS's docs: an
        incremental summary has the window and view instead of `exportTime`)."""
        doc: dict[str, Any] = {
            "version": self.version,
            "exportArn": self.export_arn,
            "startTime": format_time(self.start_time) if self.start_time else None,
            "endTime": format_time(self.end_time) if self.end_time else None,
            "tableArn": self.table_arn,
            "tableId": self.table_id,
        }
        if self.is_incremental:
            assert self.export_from_time is not None and self.export_to_time is not None
            doc["exportFromTime"] = format_time(self.export_from_time)
            doc["exportToTime"] = format_time(self.export_to_time)
        else:
            doc["exportTime"] = format_time(self.export_time)
        doc.update(
            {
                "s3Bucket": self.s3_bucket,
                "s3Prefix": self.s3_prefix,
                "s3SseAlgorithm": self.s3_sse_algorithm,
                "s3SseKmsKeyId": self.s3_sse_kms_key_id,
                "manifestFilesS3Key": self.manifest_files_s3_key,
                "billedSizeBytes": self.billed_size_bytes,
                "itemCount": self.item_count,
                "outputFormat": self.output_format,
            }
        )
        if self.is_incremental:
            doc["outputView"] = self.output_view
        doc["exportType"] = self.export_type
        if self.status:
            doc["status"] = self.status
        return doc


@dataclass(frozen=True)
class DataFile:
    """One line of manifest-files.json.

    `md5_checksum` is the base64 of the binary MD5 of the compressed object (checked while
    streaming). `etag` is the S3 ETag AWS saw when writing; it is kept for reference but not
    checked, because a copy (replication, KMS re-encryption, multipart re-upload) changes it
    while the bytes, and so the MD5, stay the same."""

    data_file_s3_key: str
    item_count: int
    md5_checksum: str | None = None
    etag: str | None = None

    @classmethod
    def from_json(cls, doc: Any) -> DataFile:
        if not isinstance(doc, dict):
            raise ManifestError("a manifest-files line is not a JSON object")
        md5 = doc.get("md5Checksum")
        etag = doc.get("etag")
        return cls(
            data_file_s3_key=_require(doc, "dataFileS3Key", str),
            item_count=_require(doc, "itemCount", int),
            md5_checksum=md5 if isinstance(md5, str) else None,
            etag=etag if isinstance(etag, str) else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "itemCount": self.item_count,
            "md5Checksum": self.md5_checksum,
            "etag": self.etag,
            "dataFileS3Key": self.data_file_s3_key,
        }

"""Exports in DynamoDB's native layout: the one backup format safetynet reads and writes.

This module is the stable import surface; the code lives in:
- `items`         items in memory (boto3's low-level format) and `check_item`
- `dynamodb_json` DYNAMODB_JSON export lines <-> items
- `ion`           ION export lines -> items
- `layout`        ExportRef, manifest dataclasses, domain exceptions
- `manifests`     reading the manifests from S3
- `reader`        streaming an export's items and BatchWriteItem requests
- `incremental`   incremental exports: change lines (`Change`), streaming them
- `validation`    `validate_export` (full and incremental) and its halves (manifests, one data file)
- `listing`       finding exports under a prefix
- `chain`         a full export and the contiguous incremental windows after it
- `writer`        `write_export` and `write_incremental_export` in AWS's exact layout
- `batch_writer`  BatchWriteItem, retried until every item is written
- `legacy`        AWS Data Pipeline (EMR) backups: their line format, reading and converting them

Items are dicts in boto3's low-level client format with binary values as `bytes` and numbers
as exact strings; see `items` for the rationale.
"""

from __future__ import annotations

from handlers.exports.chain import Chain, ChainError, ChainGap, ChainLink, build_chain, read_chain
from handlers.exports.dynamodb_json import decode_export_line, decode_export_line_unchecked, encode_export_line
from handlers.exports.incremental import (
    Change,
    decode_change_line,
    decode_change_line_unchecked,
    encode_change_line,
    iter_changes,
    iter_file_changes,
)
from handlers.exports.ion import decode_ion_line
from handlers.exports.items import Item, ItemFormatError, check_item
from handlers.exports.layout import (
    FULL_EXPORT,
    INCREMENTAL_EXPORT,
    DataFile,
    ExportCorrupt,
    ExportError,
    ExportNotFound,
    ExportRef,
    ManifestError,
    ManifestSummary,
    UnsupportedExport,
)
from handlers.exports.legacy import (
    convert_datapipeline_to_export,
    datapipeline_files,
    decode_datapipeline_line,
    iter_datapipeline_items,
)
from handlers.exports.listing import ExportListing, SkippedExport, list_exports, scan_exports
from handlers.exports.manifests import read_data_files, read_summary
from handlers.exports.reader import iter_file_items, iter_file_requests, iter_items, iter_requests
from handlers.exports.validation import (
    FileCheck,
    ValidationReport,
    check_data_file,
    validate_export,
    validate_manifests,
)
from handlers.exports.writer import (
    DEFAULT_ITEMS_PER_FILE,
    new_export_id,
    publish_export,
    start_export,
    write_data_file,
    write_export,
    write_incremental_export,
)

__all__ = [
    "DEFAULT_ITEMS_PER_FILE",
    "FULL_EXPORT",
    "INCREMENTAL_EXPORT",
    "Chain",
    "ChainError",
    "ChainGap",
    "ChainLink",
    "Change",
    "DataFile",
    "ExportCorrupt",
    "ExportError",
    "ExportListing",
    "ExportNotFound",
    "ExportRef",
    "FileCheck",
    "Item",
    "ItemFormatError",
    "ManifestError",
    "ManifestSummary",
    "SkippedExport",
    "UnsupportedExport",
    "ValidationReport",
    "build_chain",
    "check_data_file",
    "check_item",
    "convert_datapipeline_to_export",
    "datapipeline_files",
    "decode_change_line",
    "decode_change_line_unchecked",
    "decode_datapipeline_line",
    "decode_export_line",
    "decode_export_line_unchecked",
    "decode_ion_line",
    "encode_change_line",
    "encode_export_line",
    "iter_changes",
    "iter_datapipeline_items",
    "iter_file_changes",
    "iter_file_items",
    "iter_file_requests",
    "iter_items",
    "iter_requests",
    "list_exports",
    "new_export_id",
    "publish_export",
    "read_chain",
    "read_data_files",
    "read_summary",
    "scan_exports",
    "start_export",
    "validate_export",
    "validate_manifests",
    "write_data_file",
    "write_export",
    "write_incremental_export",
]

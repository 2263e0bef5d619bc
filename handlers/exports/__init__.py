"""Exports in DynamoDB's native layout: the one backup format safetynet reads and writes.

This module is the stable import surface; the code lives in:
- `export_codec`  items in boto3's low-level format <-> DynamoDB JSON / Ion / Data Pipeline lines
- `export_layout` ExportRef, manifest dataclasses, domain exceptions
- `export_reader` streaming reads, `validate_export`, finding exports
- `export_writer` `write_export` in AWS's exact layout
- `export_legacy` AWS Data Pipeline (EMR) backups

Items are dicts in boto3's low-level client format with binary values as `bytes` and numbers
as exact strings; see `export_codec` for the rationale.
"""

from __future__ import annotations

from handlers.exports.codec import (
    Item,
    ItemFormatError,
    check_item,
    decode_datapipeline_line,
    decode_export_line,
    decode_export_line_unchecked,
    decode_ion_line,
    encode_export_line,
)
from handlers.exports.layout import (
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
    iter_datapipeline_items,
)
from handlers.exports.reader import (
    ExportListing,
    FileCheck,
    SkippedExport,
    ValidationReport,
    check_data_file,
    iter_file_items,
    iter_file_requests,
    iter_items,
    iter_requests,
    list_exports,
    read_data_files,
    read_summary,
    scan_exports,
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
)

__all__ = [
    "DEFAULT_ITEMS_PER_FILE",
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
    "check_data_file",
    "check_item",
    "convert_datapipeline_to_export",
    "datapipeline_files",
    "decode_datapipeline_line",
    "decode_export_line",
    "decode_export_line_unchecked",
    "decode_ion_line",
    "encode_export_line",
    "iter_datapipeline_items",
    "iter_file_items",
    "iter_file_requests",
    "iter_items",
    "iter_requests",
    "list_exports",
    "new_export_id",
    "publish_export",
    "read_data_files",
    "read_summary",
    "scan_exports",
    "start_export",
    "validate_export",
    "validate_manifests",
    "write_data_file",
    "write_export",
]

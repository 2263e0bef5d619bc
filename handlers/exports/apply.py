"""Applying one incremental export window to a table: every change line becomes one write.

An incremental export is compacted: each item changed in the window [start, end) appears once,
with its state at the window's end. So a window is applied by writing those final states - a
`PutRequest` of `NewImage`, or a `DeleteRequest` of `Keys` when the line has no `NewImage` -
in any order and in parallel: no two lines of one window touch the same item. Both writes are
idempotent (a put of a final state, a delete), so a window applied twice, or applied again after
a partial run, leaves the same table.

Two passes, as staging's validate-then-refill (`handlers.exports.batch_writer`):
- `validate_window` before anything is written: the manifests (summary, type, table, the files'
  counts adding up), then every data file in full - existence, gzip, MD5, line count - and every
  line as replay will use it: only the fields Metadata, Keys, NewImage and OldImage, Keys the one
  or two key attributes (S, N or B), and everything replay writes - Keys and NewImage - valid
  DynamoDB JSON with NewImage holding the same key. OldImage must be an object; its values are
  not checked, since replay never writes them (`safetynet verify` checks them). Each line is
  parsed once and checked inline without building or changing anything (`check_line`); only a
  line that fails is checked again rule by rule, which names the field and the reason.
- `apply_window` then streams the validated files again (MD5 checked and lines counted once
  more) and turns each line into its write request **without decoding a value**: DynamoDB JSON
  in the file is BatchWriteItem's wire format, so NewImage (or Keys) is re-serialized as parsed
  (binary stays base64 text) and sent as the request body by the batch writer's sink.

Writes go through the checked batch writer: batches of 25, `UnprocessedItems` retried until
written or WriteIncomplete. Every write is counted: the puts and deletes sent must add up to the
window's line count in its manifests, and the batch writer must confirm every one, or
`WindowIncomplete` is raised.
"""

from __future__ import annotations

import binascii
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from handlers.exports.batch_writer import Request, Sink, delete_request, put_item_request, write_requests
from handlers.exports.dynamodb_json import _valid_values, valid_values
from handlers.exports.incremental import KEY_TYPES, Change, require_incremental
from handlers.exports.items import NUMBER, ItemFormatError
from handlers.exports.layout import INCREMENTAL_EXPORT, DataFile, ExportRef, ManifestSummary
from handlers.exports.manifests import read_data_files
from handlers.exports.reader import FileScan, scan_file
from handlers.exports.validation import ValidationReport, check_files, validate_manifests

logger = logging.getLogger(__name__)

_FIELDS = frozenset({"Metadata", "Keys", "NewImage", "OldImage"})
_PUT = b'{"PutRequest":{"Item":'
_DELETE = b'{"DeleteRequest":{"Key":'
_number_match = NUMBER.fullmatch
_a2b_base64 = binascii.a2b_base64


class WindowIncomplete(RuntimeError):
    """A window's writes do not add up to its line count (nothing may be assumed applied)."""


@dataclass(frozen=True)
class WindowResult:
    """What applying one window wrote."""

    puts: int
    deletes: int

    @property
    def changes(self) -> int:
        return self.puts + self.deletes


def change_request(change: Change) -> Request:
    """The write that makes the item what the window left: its NewImage, or gone."""
    if change.new_image is not None:
        return put_item_request(change.new_image)
    return delete_request(change.keys)


# --- lines -> requests ---------------------------------------------------------------------------


def _parse(line: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ItemFormatError("", f"not JSON ({exc})") from None
    if type(obj) is not dict:
        raise ItemFormatError("", "a change line must be an object")
    return obj


def check_line(line: bytes) -> bool:
    """Check a change line as replay will use it (see the module docstring); True, or
    ItemFormatError saying what is wrong (the reader adds the file and line).

    The hot path of `validate_window`: one parse and every rule tested inline, nothing changed
    (`_line_ok`); only a line it does not pass is parsed again by the detailed checks, which
    raise with the field and the reason."""
    try:
        if _line_ok(orjson.loads(line)):
            return True
    except (ValueError, LookupError, TypeError, AttributeError):  # JSONDecodeError is a ValueError
        pass
    return _check_line_detailed(line)


def _line_ok(obj: Any) -> bool:  # noqa: PLR0911, PLR0912 (one early return per rule)
    """True when a parsed line passes every rule of `_check_line_detailed`; False, or a
    LookupError/TypeError/AttributeError/ValueError, when it may not (`check_line` then runs
    those). Subscripts stand for the type tests: of orjson's types only a dict takes a str key
    (a list or str raises TypeError), only a dict has `.values()`."""
    if not _FIELDS.issuperset(obj):
        return False
    micros = obj["Metadata"]["WriteTimestampMicros"]["N"]
    if type(micros) is not str or not micros.isdigit():
        return False
    keys = obj["Keys"]
    if type(keys) is not dict or not 1 <= len(keys) <= 2:
        return False
    for av in keys.values():  # each an S, N or B value (`valid_values`' rules for those three)
        (kind,) = av
        value = av[kind]
        if type(av) is not dict or type(value) is not str:
            return False
        if kind == "N":
            if not (value.isdigit() and value.isascii()) and _number_match(value) is None:
                return False
        elif kind == "B":
            _a2b_base64(value, strict_mode=True)  # binascii.Error (a ValueError) unless base64
        elif kind != "S":
            return False
    old = obj.get("OldImage")
    if old is not None and type(old) is not dict:
        return False
    new = obj.get("NewImage")
    if new is None:
        return "NewImage" not in obj
    if type(new) is not dict or not new:
        return False
    for name, value in keys.items():
        if new[name] != value:
            return False
    return valid_values(new.values())


def _check_line_detailed(line: bytes) -> bool:
    """`check_line`'s rules one by one, raising ItemFormatError at the first one broken."""
    obj = _parse(line)
    unknown = obj.keys() - _FIELDS
    if unknown:
        raise ItemFormatError("", f"unknown field(s) {', '.join(sorted(map(repr, unknown)))} in a change line")
    meta = obj.get("Metadata")
    stamp = meta.get("WriteTimestampMicros") if type(meta) is dict else None
    if type(stamp) is not dict or type(stamp.get("N")) is not str or not stamp["N"].isdigit():
        raise ItemFormatError("Metadata.WriteTimestampMicros", 'must be {"N": "<microseconds>"}')
    keys = obj.get("Keys")
    if type(keys) is not dict or not 1 <= len(keys) <= 2:
        raise ItemFormatError("Keys", "must be an object of the one or two key attributes")
    old = obj.get("OldImage")
    if old is not None and type(old) is not dict:
        raise ItemFormatError("OldImage", "must be an object")
    new = obj.get("NewImage")
    if new is None and "NewImage" in obj:
        raise ItemFormatError("NewImage", "is null (a delete has no NewImage at all)")
    if new is not None:
        if type(new) is not dict or not new:
            raise ItemFormatError("NewImage", "must be a non-empty object of attributes")
        # Compared as written (before the value checks turn base64 binaries into bytes).
        if any(new.get(name) != value for name, value in keys.items()):
            raise ItemFormatError("NewImage", "does not hold the line's Keys")
        if not _valid_values(new.values(), 1):
            raise ItemFormatError("NewImage", "holds a value that is not valid DynamoDB JSON")
    if not _valid_values(keys.values(), 1):
        raise ItemFormatError("Keys", "holds a value that is not valid DynamoDB JSON")
    for name, av in keys.items():
        if next(iter(av)) not in KEY_TYPES:
            raise ItemFormatError(f"Keys.{name}", "a key attribute must be S, N or B")
    return True


def request_of(line: bytes) -> Request:
    """A line of a validated window -> its write request, no value decoded (the hot path)."""
    try:
        obj = orjson.loads(line)
        new = obj.get("NewImage")
        if new is not None:
            return _PUT + orjson.dumps(new) + b"}}"
        return _DELETE + orjson.dumps(obj["Keys"]) + b"}}"
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise ItemFormatError("", f"not a change line ({exc})") from None


def is_put(request: Request) -> bool:
    return request.startswith(_PUT)


# --- validating ----------------------------------------------------------------------------------


def validate_window(
    s3: Any, ref: ExportRef, *, expected_table_arn: str | None = None, workers: int = 1
) -> ValidationReport:
    """Check a window completely before any of it is written (see the module docstring). Never
    raises for a damaged export: every problem found is in the report."""
    report = validate_manifests(s3, ref, expected_table_arn=expected_table_arn, expected_type=INCREMENTAL_EXPORT)
    if report.summary is None or not report.files:
        return report

    def check(data_file: DataFile) -> FileScan:
        result = FileScan(key=data_file.data_file_s3_key)
        deque(scan_file(s3, ref, data_file, decoder=check_line, result=result, stop_on_problem=False), maxlen=0)
        return result

    check_files(report, check, workers=workers, thread_name_prefix="validate-window")
    return report


# --- applying ------------------------------------------------------------------------------------


def window_requests(s3: Any, ref: ExportRef, summary: ManifestSummary) -> Iterator[Request]:
    """Every write request of a validated window, file by file in manifest order; ExportCorrupt
    when a file changed since validation (MD5, line count, a line that is not a change)."""
    require_incremental(ref, summary)
    for data_file in read_data_files(s3, ref, summary):
        result = FileScan(key=data_file.data_file_s3_key)
        yield from scan_file(s3, ref, data_file, decoder=request_of, result=result, stop_on_problem=True)


def apply_window(
    s3: Any,
    sink: Sink,
    ref: ExportRef,
    summary: ManifestSummary,
    *,
    concurrency: int = 4,
    on_progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> WindowResult:
    """Write every change of one validated incremental export through `sink`, `concurrency`
    writers at a time; returns the puts and deletes, which add up to the manifest's count.

    Raises WindowIncomplete when they do not, WriteIncomplete when DynamoDB keeps items
    unprocessed, ExportCorrupt when a data file changed since validation."""
    puts = deletes = 0

    def requests() -> Iterator[Request]:
        nonlocal puts, deletes
        for request in window_requests(s3, ref, summary):
            if is_put(request):
                puts += 1
            else:
                deletes += 1
            yield request

    written = write_requests(sink, requests(), concurrency=concurrency, on_progress=on_progress, sleep=sleep)
    result = WindowResult(puts=puts, deletes=deletes)
    if written != result.changes or result.changes != summary.item_count:
        raise WindowIncomplete(
            f"{ref.url}: {written} writes confirmed for {result.puts} puts and {result.deletes} deletes read, "
            f"the manifests list {summary.item_count} changes; the window is not applied - run again"
        )
    logger.info("window applied", extra={"export": ref.url, "puts": puts, "deletes": deletes})
    return result

"""Incremental exports (ExportType INCREMENTAL_EXPORT): their change lines, read and written.

An incremental export holds, for every item whose state changed in its window
[exportFromTime, exportToTime), one line of DynamoDB JSON:

    {"Metadata":{"WriteTimestampMicros":{"N":"1680109764000000"}},
     "Keys":{"PK":{"S":"a"}},"NewImage":{...},"OldImage":{...}}

The export is compacted: `NewImage` is the item at the window's end, absent when it does not
exist then (deleted); `OldImage` is the item just before the window's start, absent when it did
not exist then, or always with the NEW_IMAGE view. `WriteTimestampMicros` is the item's last
write in the window. An item created and deleted inside the window has no line. (AWS docs:
"DynamoDB table export output format", incremental export output.)

Reading gives the same guarantees as for full exports (`handlers.exports.reader`): streaming,
the MD5 and line count of every data file checked, every line decoded strictly - only the four
fields above, `Keys` exactly the images' key attributes, every attribute value valid DynamoDB
JSON - and ExportCorrupt (or UnsupportedExport for a full export) at the first problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import orjson

from handlers.exports.dynamodb_json import (
    _parse_line,
    _valid_values,
    decode_item,
    decode_line_binaries,
    encode_item,
)
from handlers.exports.items import Item, ItemFormatError, check_item
from handlers.exports.layout import (
    INCREMENTAL_EXPORT,
    NEW_IMAGE,
    DataFile,
    ExportRef,
    ManifestSummary,
    UnsupportedExport,
)
from handlers.exports.manifests import read_data_files, read_summary
from handlers.exports.reader import FileScan, check_supported, scan_file

KEY_TYPES = frozenset({"S", "N", "B"})
"""The attribute types a table's key attributes can have."""
_FIELDS = frozenset({"Metadata", "Keys", "NewImage", "OldImage"})


class Change(NamedTuple):
    """One line of an incremental export (items in boto3's low-level format, binary as bytes).
    A NamedTuple: immutable like a frozen dataclass, and built about twice as fast (one
    per line of every export read; bench/rewind.py)."""

    keys: Item
    new_image: Item | None
    """None: the item does not exist at the window's end (deleted in the window)."""
    old_image: Item | None
    """None: the item did not exist at the window's start, or the view is NEW_IMAGE."""
    write_micros: int
    """Metadata.WriteTimestampMicros: the item's last write in the window, in microseconds."""

    @property
    def is_delete(self) -> bool:
        """Whether replaying this change deletes the item (no NewImage)."""
        return self.new_image is None


def _micros(metadata: Any) -> int:
    if type(metadata) is not dict:
        raise ItemFormatError("Metadata", "must be an object")
    value = metadata.get("WriteTimestampMicros")
    # AWS writes it as a DynamoDB number ({"N": "..."}); a bare integer string is taken too.
    if type(value) is dict and len(value) == 1:
        value = value.get("N")
    if type(value) is str and value.isdigit() and value.isascii():
        return int(value)
    if type(value) is int and value >= 0:
        return value
    raise ItemFormatError("Metadata.WriteTimestampMicros", f'must be {{"N": "<microseconds>"}}, got {value!r:.60}')


def _check_keys(keys: Any) -> None:
    if type(keys) is not dict or not 1 <= len(keys) <= 2:
        raise ItemFormatError("Keys", "must be an object of the one or two key attributes")
    for name, av in keys.items():
        if type(av) is not dict or len(av) != 1 or next(iter(av)) not in KEY_TYPES:
            raise ItemFormatError(f"Keys.{name}", f"a key attribute must be S, N or B, got {av!r:.60}")


def _check_image_keys(keys: Item, image: Item, field: str) -> None:
    for name, value in keys.items():
        if image.get(name) != value:
            raise ItemFormatError(
                f"{field}.{name}", f"does not match Keys.{name} ({image.get(name)!r:.60} vs {value!r:.60})"
            )


def _checked_image(obj: dict[str, Any], field: str, line: bytes | str) -> Item | None:
    image = obj.get(field)
    if image is None and field not in obj:
        return None
    if type(image) is dict and image and _valid_values(image.values(), 1):
        return image
    # Something is wrong: the detailed checks, on a fresh parse, say where and why.
    fresh = _parse_line(line).get(field)
    if type(fresh) is not dict or not fresh:
        raise ItemFormatError(field, "must be a non-empty object of attributes")
    try:
        return decode_item(fresh)
    except ItemFormatError as exc:
        raise exc.within(field) from None


def decode_change_line(line: bytes | str) -> Change:
    """One incremental export line -> Change, strictly checked: only the fields Metadata, Keys,
    NewImage and OldImage; Keys the one or two key attributes, equal to the images' own;
    every attribute value valid (binary base64 -> bytes). ItemFormatError says what and where;
    callers add the file and line number."""
    obj = _parse_line(line)
    if type(obj) is not dict:
        raise ItemFormatError("", 'a line must be an object {"Metadata": ..., "Keys": ..., ...}')
    unknown = obj.keys() - _FIELDS
    if unknown:
        raise ItemFormatError("", f"unknown field(s) {', '.join(sorted(map(repr, unknown)))} in a change line")
    if "Metadata" not in obj or "Keys" not in obj:
        raise ItemFormatError("", "a change line needs Metadata and Keys")
    micros = _micros(obj["Metadata"])
    keys = obj["Keys"]
    _check_keys(keys)
    if not _valid_values(keys.values(), 1):
        try:
            keys = decode_item(_parse_line(line)["Keys"])
        except ItemFormatError as exc:
            raise exc.within("Keys") from None
    new_image = _checked_image(obj, "NewImage", line)
    old_image = _checked_image(obj, "OldImage", line)
    if new_image is not None:
        _check_image_keys(keys, new_image, "NewImage")
    if old_image is not None:
        _check_image_keys(keys, old_image, "OldImage")
    return Change(keys, new_image, old_image, micros)


def decode_change_line_unchecked(line: bytes) -> Change:
    """decode_change_line for lines of a file that passed validation (and whose MD5 is checked
    again while streaming): the JSON and the field shapes are still required, attribute values
    are not re-checked, and a line without binaries is not walked at all."""
    try:
        obj = orjson.loads(line)  # `_parse_line`, inline: once per line of every export read
        keys = obj["Keys"]
        new_image = obj.get("NewImage")
        old_image = obj.get("OldImage")
        meta = obj["Metadata"]["WriteTimestampMicros"]
        micros = int(meta["N"] if type(meta) is dict else meta)
        if type(keys) is not dict or not keys:
            raise TypeError("Keys is not an object")
        decode_line_binaries(line, (keys, new_image, old_image))
    except orjson.JSONDecodeError as exc:  # also invalid UTF-8
        raise ItemFormatError("", f"not JSON ({exc})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ItemFormatError("", f"not a change line ({exc})") from None
    return Change(keys, new_image, old_image, micros)


def check_change(change: Change, view: str | None = None) -> Change:
    """Raise ItemFormatError unless `change` (in memory: binary as bytes) can be written: keys
    of one or two S/N/B attributes equal to the images' own, valid images, no OldImage with the
    NEW_IMAGE view, a non-negative timestamp. Returns `change`."""
    check_item(change.keys)
    _check_keys(change.keys)
    for field, image in (("NewImage", change.new_image), ("OldImage", change.old_image)):
        if image is not None:
            try:
                check_item(image)
            except ItemFormatError as exc:
                raise exc.within(field) from None
            _check_image_keys(change.keys, image, field)
    if type(change.write_micros) is not int or change.write_micros < 0:
        raise ItemFormatError(
            "Metadata.WriteTimestampMicros", f"must be a non-negative int, got {change.write_micros!r}"
        )
    return check_view(change, view)


def encode_change_line(change: Change) -> bytes:
    """A Change -> one incremental export line (UTF-8, newline-terminated), fields in AWS's
    order; NewImage/OldImage left out when None."""
    parts = [b'{"Metadata":{"WriteTimestampMicros":{"N":"', str(change.write_micros).encode(), b'"}},"Keys":']
    parts.append(encode_item(change.keys))
    if change.new_image is not None:
        parts += [b',"NewImage":', encode_item(change.new_image)]
    if change.old_image is not None:
        parts += [b',"OldImage":', encode_item(change.old_image)]
    parts.append(b"}\n")
    return b"".join(parts)


def require_incremental(ref: ExportRef, summary: ManifestSummary) -> None:
    """Raise UnsupportedExport unless `summary` is a readable incremental export."""
    problems = check_supported(summary, INCREMENTAL_EXPORT)
    if problems:
        raise UnsupportedExport(f"{ref.url}: " + "; ".join(problems))


def check_view(change: Change, view: str | None) -> Change:
    """Raise ItemFormatError when a change cannot come from an export with this view: with
    NEW_IMAGE a line has no OldImage; with NEW_AND_OLD_IMAGES it has at least one image (an item
    absent at both ends of the window is not exported)."""
    if view == NEW_IMAGE:
        if change.old_image is not None:
            raise ItemFormatError("OldImage", "present in an export with the NEW_IMAGE view")
    elif view is not None and change.new_image is None and change.old_image is None:
        raise ItemFormatError("", f"neither NewImage nor OldImage in an export with the {view} view")
    return change


def change_decoder(view: str | None, *, check: bool = True) -> Callable[[bytes], Change]:
    """The line decoder of a data file of an export with this `view` (None: not checked)."""
    if not check:
        return decode_change_line_unchecked
    if view is None:
        return decode_change_line

    def decode(line: bytes) -> Change:
        return check_view(decode_change_line(line), view)

    return decode


def iter_file_changes(
    s3: Any, ref: ExportRef, data_file: DataFile, *, check: bool = True, view: str | None = None
) -> Iterator[Change]:
    """Stream one data file's changes. Raises ExportCorrupt on the first gzip, syntax, MD5 or
    count problem (MD5 and count are known only at the end of the file, after its changes were
    yielded: validate before acting). `view` (the summary's outputView) adds its checks.
    `check=False` skips re-checking attribute values, for an export that passed
    `validate_export` (whose bytes the MD5 check then pins down)."""
    result = FileScan(key=data_file.data_file_s3_key)
    # scan_file's own generator, not one more around it (a step less per change; it starts lazily all the same)
    return scan_file(s3, ref, data_file, decoder=change_decoder(view, check=check), result=result, stop_on_problem=True)


def iter_changes(
    s3: Any, ref: ExportRef, summary: ManifestSummary | None = None, *, check: bool = True
) -> Iterator[Change]:
    """Stream every change of an incremental export, file by file in manifest order. Raises
    UnsupportedExport for a full export (or an unreadable format) and ExportCorrupt at the first
    damaged file. Each key appears once in an export, so files can also be read in parallel
    (`iter_file_changes`)."""
    summary = summary or read_summary(s3, ref)
    require_incremental(ref, summary)
    for data_file in read_data_files(s3, ref, summary):
        yield from iter_file_changes(s3, ref, data_file, check=check, view=summary.output_view)

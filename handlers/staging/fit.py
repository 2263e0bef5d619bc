"""Does an export fit the test table it is about to replace? Checked before anything is deleted
or written, in the CLI (`safetynet.staging.flow`) and in the state machine (the ValidateFiles map
checks each data file, PrepareReplace the source once more before its delete):

- the items carry the table's key: every item has the table's key attributes with their declared
  types and sizes (a partition key value 1 to 2,048 bytes, a sort key 1 to 1,024, DynamoDB
  developer guide, "Constraints"), and any index key attribute it has is of the index's type and
  not empty. ImportTable skips an item that does not fit (it counts an error and may skip the
  rest of its file), so an export of another table would leave an empty or half-loaded table;
- the export is of the table the target stages (`SourceCheck`): its summary's table ARN, or its
  table name where only that is known.

The key check runs while the data file is read anyway (validation parses every line), one dict
lookup per key attribute per item: streaming, no extra read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers import exports
from handlers.exports.items import Item, ItemFormatError
from handlers.exports.reader import FileScan, decoder_for, scan_file
from handlers.exports.validation import check_files

PARTITION_KEY_BYTES = 2048
SORT_KEY_BYTES = 1024
FOUND_ATTRIBUTES = 5
"""Attributes of a bad item named in the message (its first ones, with their types)."""


class KeyMismatch(ItemFormatError):
    """An item does not fit the target table's key schema (a line problem of its data file)."""


@dataclass(frozen=True)
class KeyAttribute:
    """One key attribute of the table or of an index."""

    name: str
    type: str
    """S, N or B."""
    role: str
    """`partition key`, `sort key`, `partition key of index by-email`, ..."""
    max_bytes: int


@dataclass(frozen=True)
class KeySchema:
    """What every item of an export staged into `table` must carry."""

    table: str
    required: tuple[KeyAttribute, ...]
    """The table's own key: present in every item."""
    indexed: tuple[KeyAttribute, ...]
    """Index keys that are not table keys: optional (a sparse index), typed when present."""

    @classmethod
    def of(cls, table: str, schema: Mapping[str, Any]) -> KeySchema:
        """From a CreateTable request (the TargetTable's `schema`)."""
        types = {a["AttributeName"]: a["AttributeType"] for a in schema["AttributeDefinitions"]}
        required = tuple(_attributes(schema["KeySchema"], types, ""))
        names = {a.name for a in required}
        indexed: dict[str, KeyAttribute] = {}
        for index in [*schema.get("GlobalSecondaryIndexes", []), *schema.get("LocalSecondaryIndexes", [])]:
            for attr in _attributes(index["KeySchema"], types, f" of index {index['IndexName']}"):
                if attr.name not in names:
                    indexed.setdefault(attr.name, attr)
        return cls(table, required, tuple(indexed.values()))

    def expected(self) -> str:
        """`customerId (S)` or `sku (S), warehouse (N)`: the table's key, for messages."""
        return ", ".join(f"{a.name} ({a.type})" for a in self.required)

    def problem(self, item: Item) -> str | None:
        """Why `item` cannot go into the table (None when it fits)."""
        for attr in self.required:
            value = item.get(attr.name)
            if value is None:
                return (
                    f"does not fit {self.table}'s key: expected {self.expected()}, found no {attr.name} "
                    f"(the item has {_found(item)})"
                )
            wrong = _value_problem(attr, value)
            if wrong:
                return f"does not fit {self.table}'s key: expected {self.expected()}, found {wrong}"
        for attr in self.indexed:
            value = item.get(attr.name)
            wrong = None if value is None else _value_problem(attr, value)
            if wrong:
                return f"does not fit {self.table}'s {attr.role}: expected {attr.name} ({attr.type}), found {wrong}"
        return None

    def checking(self, decode: Callable[[bytes], Item | None]) -> Callable[[bytes], Item | None]:
        """`decode` that also raises KeyMismatch for an item that does not fit (the reader then
        reports it as a problem of its file and line)."""

        def decode_and_check(line: bytes) -> Item | None:
            item = decode(line)
            if item is not None:
                problem = self.problem(item)
                if problem:
                    raise KeyMismatch("", problem)
            return item

        return decode_and_check


def _attributes(
    key_schema: Sequence[Mapping[str, str]], types: Mapping[str, str], where: str
) -> Iterator[KeyAttribute]:
    for k in key_schema:
        hash_key = k["KeyType"] == "HASH"
        yield KeyAttribute(
            name=k["AttributeName"],
            type=types[k["AttributeName"]],
            role=("partition key" if hash_key else "sort key") + where,
            max_bytes=PARTITION_KEY_BYTES if hash_key else SORT_KEY_BYTES,
        )


def _value_problem(attr: KeyAttribute, value: Any) -> str | None:
    kind = next(iter(value)) if isinstance(value, dict) and len(value) == 1 else None
    if kind != attr.type:
        return f"{attr.name} ({kind or 'not an attribute value'})"
    raw = value[kind]
    if kind in ("S", "B"):
        size = len(raw.encode()) if isinstance(raw, str) else len(raw)
        if size == 0:
            return f"{attr.name} empty (a {attr.role} value is at least 1 byte)"
        if size > attr.max_bytes:
            return f"{attr.name} of {size} bytes (a {attr.role} value is at most {attr.max_bytes})"
    return None


def _found(item: Item) -> str:
    names = [f"{name} ({next(iter(v), '?') if isinstance(v, dict) else '?'})" for name, v in item.items()]
    shown = ", ".join(names[:FOUND_ATTRIBUTES])
    return shown + (f" and {len(names) - FOUND_ATTRIBUTES} more" if len(names) > FOUND_ATTRIBUTES else "")


# -- data files ------------------------------------------------------------------------------------


def check_data_file(
    s3: Any,
    ref: exports.ExportRef,
    data_file: exports.DataFile,
    *,
    output_format: str,
    keys: KeySchema | None,
    parse: bool = True,
) -> exports.FileCheck:
    """`handlers.exports.check_data_file` (existence, gzip, MD5, count, every item's syntax) with
    each item's key checked against `keys` in the same read. A key problem names the file and
    line, the expected key and what the item has."""
    decoder = decoder_for(data_file, output_format) if parse else None
    if decoder is not None and keys is not None:
        decoder = keys.checking(decoder)
    result = FileScan(key=data_file.data_file_s3_key)
    for _ in scan_file(s3, ref, data_file, decoder=decoder, result=result, stop_on_problem=False):
        pass
    return exports.FileCheck(
        key=ref.resolve(data_file.data_file_s3_key),
        items=result.items,
        bytes_read=result.bytes_read,
        problems=result.problems,
    )


# -- the source table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceCheck:
    """Which table's exports may be staged into a target, and where that comes from (for the
    message). `table_arn` is compared exactly; without one, `table_name` with the name in the
    summary's ARN (a prod table in another account or region has another ARN, the same name)."""

    table_arn: str | None = None
    table_name: str | None = None
    why: str = ""
    """`customers-test is the staging target of customers (its tags and Pulumi.test.yaml)`."""
    override: str = ""
    """How to stage an export of another table anyway (a CLI option), or empty."""

    @property
    def known(self) -> bool:
        return bool(self.table_arn or self.table_name)

    def expected(self) -> str:
        return self.table_arn or f"a table named {self.table_name}"

    def problem(self, summary_table_arn: str) -> str | None:
        """Why an export of `summary_table_arn` may not be staged here (None when it may)."""
        if self.table_arn:
            ok = summary_table_arn == self.table_arn
        elif self.table_name:
            ok = table_name_of(summary_table_arn) == self.table_name
        else:
            return None
        if ok:
            return None
        text = f"export is of table {summary_table_arn}, expected {self.expected()}"
        text += f" ({self.why})" if self.why else " (wrong source table: check the export URL or the configured source)"
        return text + (f"; {self.override}" if self.override else "")


def table_name_of(table_arn: str) -> str:
    """`arn:aws:dynamodb:<region>:<account>:table/<name>` -> `<name>` ('' for anything else)."""
    _, _, name = table_arn.partition(":table/")
    return name.split("/", 1)[0]


def validate_for_target(
    s3: Any, ref: exports.ExportRef, *, keys: KeySchema | None, source: SourceCheck, workers: int = 1
) -> exports.ValidationReport:
    """`handlers.exports.validate_export` for staging into one table: the manifests, the source
    table (`source`; an export of another table is rejected before any data file is read), then
    every data file with each item's key checked (`keys`). Never raises for a damaged export:
    every problem is in the report, in manifest order."""
    from handlers.exports.layout import FULL_EXPORT, SUPPORTED_FORMATS

    report = exports.validate_manifests(s3, ref)
    summary = report.summary
    if summary is None:
        return report
    wrong_source = source.problem(summary.table_arn)
    if wrong_source:
        report.problems.insert(0, wrong_source)
        return report
    parse = summary.output_format in SUPPORTED_FORMATS and summary.export_type == FULL_EXPORT

    def check(data_file: exports.DataFile) -> exports.FileCheck:
        return check_data_file(s3, ref, data_file, output_format=summary.output_format, keys=keys, parse=parse)

    check_files(report, check, workers=workers)
    return report


def check_source(s3: Any, ref: exports.ExportRef, source: SourceCheck) -> str | None:
    """Read the export's summary again and check its table (the state machine's last check
    before its delete)."""
    if not source.known:
        return None
    return source.problem(exports.read_summary(s3, ref).table_arn)

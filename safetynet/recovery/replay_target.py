"""The table a replay writes into: what it is (`inspect_target`), whether the replay may write
into it (`check_target`), and how far replays have brought it (the journal, a tag on it).

**The journal is a tag on the target table** (`safetynet:replay`), not a file: the operator may
resume from another machine, and a tag goes wherever the table goes and dies with it. A vault
object would outlive the table it describes: a table deleted and imported again would inherit a
journal saying windows were applied that are not in it, and the replay would skip them. The vault
also stays read-only for restores (its blast radius is the point of it; in the account-lost and
region-down runbooks it is another account's or region's replica). The tag's value:

    <anchor ExportId> <done> [<applying>]     e.g. `01764216000000-ab12cd34 2026-11-27T03:15:00.000Z
                                                     2026-11-27T03:30:00.000Z`

`done` is the end of the last window whose every write was confirmed (the anchor's time before the
first); `applying` is the end of the window being written, set (and read back) before its first
write. DynamoDB applies tags eventually (ListTagsOfResource may show the previous value for a few
seconds; the TagResource API reference), so every write is read back until visible. Why that is
enough: re-applying windows in order from any earlier point is correct (each window writes final
states), so a stale `done` only costs time; what must never be stale is how far writes may have
gone, because a replay to an earlier time over a table already past it would be wrong - and
`applying` is visible before any write of its window.

`check_target` refuses (exit 1) what can never be right - a missing or differently keyed table,
the very table the anchor was exported from (same TableId), a table already past the requested
time - and, unless forced, what says the table did not come from this anchor: created before the
anchor's export time (the live table is older than any export of it), a journal naming another
anchor, an import (ListImports) from another export or of another item count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from handlers.exports.layout import ExportRef, ManifestSummary, format_time, parse_time

logger = logging.getLogger(__name__)

JOURNAL_TAG = "safetynet:replay"
VISIBLE_TIMEOUT = 60.0  # seconds a journal tag may take to show (AWS: "a few seconds")
IMPORT_MATCH = timedelta(hours=1)  # an import that created the table started this close to its creation


class JournalError(RuntimeError):
    """The journal tag could not be written or did not become visible; nothing after it ran."""


@dataclass(frozen=True)
class JournalEntry:
    """How far replays have brought a table (the value of its `safetynet:replay` tag)."""

    anchor_id: str
    done: datetime
    """End of the last window whose every write is confirmed (the anchor's time before any)."""
    applying: datetime | None = None
    """End of the window being written, when one was started and not confirmed."""

    def encode(self) -> str:
        parts = [self.anchor_id, format_time(self.done)]
        if self.applying is not None:
            parts.append(format_time(self.applying))
        return " ".join(parts)

    @classmethod
    def decode(cls, text: str) -> JournalEntry:
        """Parse a tag value; ValueError when it is not one this module wrote."""
        parts = text.split()
        try:
            if len(parts) not in (2, 3):
                raise ValueError("wrong number of fields")
            done = parse_time(parts[1])
            applying = parse_time(parts[2]) if len(parts) == 3 else None
        except ValueError:
            raise ValueError(
                f"{JOURNAL_TAG} tag {text!r} is not '<anchor> <done> [<applying>]' (written by hand? remove it "
                "only if the table holds nothing but the anchor)"
            ) from None
        assert done is not None  # parse_time returns None only for an empty string
        return cls(parts[0], done, applying)

    @property
    def reached(self) -> datetime:
        """The latest time any write of a replay may have brought items to."""
        return self.applying or self.done


class TagJournal:
    """The journal of one table, kept in its `safetynet:replay` tag."""

    def __init__(
        self,
        ddb: Any,
        table_arn: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        visible_timeout: float = VISIBLE_TIMEOUT,
    ) -> None:
        self.ddb, self.table_arn, self.sleep, self.visible_timeout = ddb, table_arn, sleep, visible_timeout

    def _value(self) -> str | None:
        kwargs: dict[str, Any] = {"ResourceArn": self.table_arn}
        value: str | None = None
        while True:
            page = self.ddb.list_tags_of_resource(**kwargs)
            for tag in page.get("Tags", []):
                # The last one: DynamoDB replaces a tag's value, moto 5.1 appends a second tag of
                # the same key (the newest last); on AWS there is only one.
                if tag["Key"] == JOURNAL_TAG:
                    value = str(tag["Value"])
            if not page.get("NextToken"):
                return value
            kwargs["NextToken"] = page["NextToken"]

    def read(self) -> JournalEntry | None:
        """The journal, None when the table has none; ValueError for a tag this module did not write."""
        value = self._value()
        return None if value is None else JournalEntry.decode(value)

    def write(self, entry: JournalEntry) -> None:
        """Tag the table and wait until the tag reads back (JournalError after the timeout)."""
        value = entry.encode()
        self.ddb.tag_resource(ResourceArn=self.table_arn, Tags=[{"Key": JOURNAL_TAG, "Value": value}])
        waited, delay = 0.0, 0.2
        while self._value() != value:
            if waited >= self.visible_timeout:
                raise JournalError(
                    f"the {JOURNAL_TAG} tag on {self.table_arn} did not read back as {value!r} within "
                    f"{self.visible_timeout:.0f} s; nothing was written after it - run the same command again"
                )
            self.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)


# --- the target table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportFact:
    """One ImportTable into the target table (ListImports + DescribeImport)."""

    arn: str
    status: str
    bucket: str
    key_prefix: str
    started: datetime | None
    imported_items: int | None


@dataclass
class TargetFacts:
    """What DynamoDB says about the target table."""

    name: str
    exists: bool
    arn: str | None = None
    table_id: str | None = None
    status: str | None = None
    created: datetime | None = None
    key_schema: list[dict[str, str]] = field(default_factory=list)
    journal: JournalEntry | None = None
    journal_problem: str | None = None
    imports: list[ImportFact] | None = None
    """None: not known (ListImports not allowed or not available, e.g. on an emulator)."""
    notes: list[str] = field(default_factory=list)


def _imports(ddb: Any, table_arn: str) -> tuple[list[ImportFact] | None, str | None]:
    facts: list[ImportFact] = []
    kwargs: dict[str, Any] = {"TableArn": table_arn}
    try:
        while True:
            page = ddb.list_imports(**kwargs)
            for summary in page.get("ImportSummaryList", []):
                desc = ddb.describe_import(ImportArn=summary["ImportArn"])["ImportTableDescription"]
                source = desc.get("S3BucketSource") or summary.get("S3BucketSource") or {}
                facts.append(
                    ImportFact(
                        arn=summary["ImportArn"],
                        status=str(desc.get("ImportStatus") or summary.get("ImportStatus")),
                        bucket=str(source.get("S3Bucket", "")),
                        key_prefix=str(source.get("S3KeyPrefix", "")),
                        started=desc.get("StartTime") or summary.get("StartTime"),
                        imported_items=desc.get("ImportedItemCount"),
                    )
                )
            if not page.get("NextToken"):
                return facts, None
            kwargs["NextToken"] = page["NextToken"]
    except NotImplementedError:  # moto in-process has no ListImports
        return None, "ListImports is not available here: the import that created the table was not checked"
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if "AccessDenied" in code or code in ("UnknownOperationException", "InternalFailure", "NotImplemented"):
            return (
                None,
                f"ListImports/DescribeImport not possible ({code}): the import that created the table was not checked",
            )
        raise


def inspect_target(ddb: Any, table: str) -> TargetFacts:
    """DescribeTable, the journal tag and the imports into the table (AWS errors propagate)."""
    try:
        desc = ddb.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return TargetFacts(name=table, exists=False)
        raise
    facts = TargetFacts(
        name=table,
        exists=True,
        arn=desc["TableArn"],
        table_id=desc.get("TableId"),
        status=desc.get("TableStatus"),
        created=desc.get("CreationDateTime"),
        key_schema=list(desc.get("KeySchema", [])),
    )
    try:
        facts.journal = TagJournal(ddb, desc["TableArn"]).read()
    except ValueError as exc:
        facts.journal_problem = str(exc)
    facts.imports, note = _imports(ddb, desc["TableArn"])
    if note:
        facts.notes.append(note)
    return facts


@dataclass
class TargetVerdict:
    """What `check_target` decided: refusals (`hard` ones even --force does not lift), notes."""

    hard: list[str] = field(default_factory=list)
    soft: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    done: datetime | None = None
    """Where the journal says the table is (None: at the anchor, nothing replayed yet)."""

    def refusals(self, *, force: bool) -> list[str]:
        return self.hard + ([] if force else self.soft)


def creating_import(facts: TargetFacts) -> ImportFact | None:
    """The import that created this incarnation of the table (ListImports lists imports into any
    table of that name in the past 90 days; this one started about when the table was created)."""
    if not facts.imports or facts.created is None:
        return None
    created = facts.created
    near = [i for i in facts.imports if i.started is not None and abs(i.started - created) <= IMPORT_MATCH]
    return min(near, key=lambda i: abs(i.started - created) if i.started else IMPORT_MATCH, default=None)


def check_target(
    facts: TargetFacts,
    *,
    anchor: ExportRef,
    anchor_summary: ManifestSummary,
    key_schema: Sequence[dict[str, str]],
    to: datetime,
) -> TargetVerdict:
    """May a replay of `anchor`'s chain up to `to` write into this table?"""
    v = TargetVerdict(notes=list(facts.notes))
    name = facts.name
    if not facts.exists:
        v.hard.append(f"table {name} does not exist: create it from the anchor first (restore-plan, then pulumi up)")
        return v
    if facts.status != "ACTIVE":
        v.hard.append(f"table {name} is {facts.status}: wait until it is ACTIVE")
    if list(facts.key_schema) != list(key_schema):
        v.hard.append(f"table {name} has the key schema {facts.key_schema}, not the configured {list(key_schema)}")
    if anchor_summary.table_id and facts.table_id == anchor_summary.table_id:
        v.hard.append(
            f"table {name} is the table the anchor was exported from (TableId {facts.table_id}): replay "
            "writes only into a table restored from the anchor (restore-plan --target-suffix restores beside it)"
        )
    anchor_time = anchor_summary.export_time
    if facts.created is not None and facts.created <= anchor_time:
        v.soft.append(
            f"table {name} was created {format_time(facts.created)}, before the anchor's export time "
            f"{format_time(anchor_time)}: it cannot hold that export's import (it looks like the live table)"
        )
    _check_journal(facts, anchor, anchor_time, to, v)
    _check_import(facts, anchor, anchor_summary, v)
    return v


def _check_journal(
    facts: TargetFacts, anchor: ExportRef, anchor_time: datetime, to: datetime, v: TargetVerdict
) -> None:
    name = facts.name
    if facts.journal_problem:
        v.soft.append(f"table {name}: {facts.journal_problem}")
        return
    journal = facts.journal
    if journal is None:
        return
    if journal.anchor_id != anchor.export_id:
        v.soft.append(
            f"table {name} was replayed from another anchor ({journal.anchor_id}, up to "
            f"{format_time(journal.reached)}), not {anchor.export_id}: pass --anchor with that export"
        )
        return
    if journal.reached > to:
        v.hard.append(
            f"table {name} was already replayed up to {format_time(journal.reached)}, past "
            f"{format_time(to)}: a table cannot be replayed backwards; restore it again from the anchor"
        )
        return
    if journal.done > anchor_time:
        v.done = journal.done


def _check_import(facts: TargetFacts, anchor: ExportRef, summary: ManifestSummary, v: TargetVerdict) -> None:
    if facts.imports is None:
        return
    imp = creating_import(facts)
    if imp is None:
        v.notes.append(
            f"table {facts.name} was not created by an import (an LSI table refilled, or created empty): "
            "its content was not checked against the anchor"
        )
        return
    marker = f"AWSDynamoDB/{anchor.export_id}/"
    if marker not in imp.key_prefix:
        v.soft.append(
            f"table {facts.name} was imported from s3://{imp.bucket}/{imp.key_prefix}, not from the anchor "
            f"{anchor.url}: pass --anchor with the export it was imported from"
        )
    elif imp.status != "COMPLETED":
        v.soft.append(f"the import into {facts.name} ended {imp.status}: restore the table again")
    elif imp.imported_items is not None and imp.imported_items != summary.item_count:
        v.soft.append(
            f"the import into {facts.name} loaded {imp.imported_items} items, the anchor holds "
            f"{summary.item_count}: a partial import; restore the table again"
        )

"""The table a replay writes into: the refusals that protect the live table and a table already
past the requested time, what `--force` lifts, and the journal tag (read back until visible)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest

from handlers.exports import ExportRef, ManifestSummary
from safetynet.recovery.replay_target import (
    JOURNAL_TAG,
    ImportFact,
    JournalEntry,
    JournalError,
    TagJournal,
    TargetFacts,
    check_target,
    inspect_target,
)
from tests.safetynet.recovery import replay_fixtures as fx

ANCHOR = ExportRef(fx.BUCKET, "exports/orders/AWSDynamoDB/01795748400000-abcd1234/")
SUMMARY = ManifestSummary(
    table_arn=fx.TABLE_ARN,
    export_time=fx.ANCHOR_TIME,
    manifest_files_s3_key=ANCHOR.key("manifest-files.json"),
    item_count=120,
    table_id="live-table-id",
)
TARGET_ARN = f"arn:aws:dynamodb:{fx.REGION}:123456789012:table/orders-restored"


def restored(**changes: Any) -> TargetFacts:
    """A table `pulumi up` created from the anchor an hour after it was taken."""
    facts = TargetFacts(
        name="orders-restored",
        exists=True,
        arn=TARGET_ARN,
        table_id="restored-table-id",
        status="ACTIVE",
        created=fx.at(60),
        key_schema=list(fx.KEY_SCHEMA),
        imports=[
            ImportFact(
                arn=TARGET_ARN + "/import/1",
                status="COMPLETED",
                bucket=fx.BUCKET,
                key_prefix=ANCHOR.prefix + "data/",
                started=fx.at(60) - timedelta(seconds=2),
                imported_items=120,
            )
        ],
    )
    return replace(facts, **changes)


def verdict(facts: TargetFacts, to: Any = None) -> Any:
    return check_target(facts, anchor=ANCHOR, anchor_summary=SUMMARY, key_schema=fx.KEY_SCHEMA, to=to or fx.at(45))


def test_a_table_restored_from_the_anchor_is_accepted() -> None:
    v = verdict(restored())
    assert v.refusals(force=False) == []
    assert v.done is None


def test_the_live_table_is_refused_it_is_older_than_the_anchor() -> None:
    v = verdict(restored(created=fx.ANCHOR_TIME - timedelta(days=200), imports=[]))
    assert v.hard == []
    assert len(v.soft) == 1 and "before the anchor's export time" in v.soft[0]
    assert v.refusals(force=True) == []


def test_the_very_table_the_anchor_was_exported_from_is_refused_even_with_force() -> None:
    v = verdict(restored(table_id=SUMMARY.table_id))
    assert any("the table the anchor was exported from" in r for r in v.refusals(force=True))


def test_a_missing_or_differently_keyed_or_busy_table_is_refused() -> None:
    assert "does not exist" in verdict(TargetFacts(name="x", exists=False)).hard[0]
    assert "key schema" in verdict(restored(key_schema=fx.KEY_SCHEMA[:1])).hard[0]
    assert "is UPDATING" in verdict(restored(status="UPDATING")).hard[0]


def test_a_table_imported_from_another_export_or_partially_is_refused_unless_forced() -> None:
    other = restored(imports=[replace(restored().imports[0], key_prefix="exports/orders/AWSDynamoDB/0179-x/data/")])
    assert "pass --anchor with the export it was imported from" in verdict(other).soft[0]
    partial = restored(imports=[replace(restored().imports[0], imported_items=80)])
    assert "loaded 80 items, the anchor holds 120" in verdict(partial).soft[0]
    failed = restored(imports=[replace(restored().imports[0], status="FAILED")])
    assert "ended FAILED" in verdict(failed).soft[0]
    assert verdict(partial).refusals(force=True) == []


def test_an_import_into_an_older_table_of_the_same_name_does_not_count() -> None:
    # ListImports lists imports into any table of that name in the past 90 days.
    old = replace(restored().imports[0], key_prefix="exports/orders/AWSDynamoDB/0179-x/data/", started=fx.at(-3000))
    v = verdict(restored(imports=[old]))
    assert v.refusals(force=False) == []
    assert "was not created by an import" in v.notes[0]


def test_without_list_imports_the_import_check_is_a_note() -> None:
    v = verdict(restored(imports=None, notes=["ListImports is not available here"]))
    assert v.refusals(force=False) == []
    assert v.notes == ["ListImports is not available here"]


def test_the_journal_says_where_to_resume() -> None:
    v = verdict(restored(journal=JournalEntry(ANCHOR.export_id, fx.at(15), applying=fx.at(30))))
    assert v.refusals(force=False) == []
    assert v.done == fx.at(15)


def test_a_table_already_past_the_requested_time_is_refused_even_with_force() -> None:
    past = restored(journal=JournalEntry(ANCHOR.export_id, fx.at(30)))
    assert "cannot be replayed backwards" in verdict(past, fx.at(15)).refusals(force=True)[0]
    # Writes of a window that was being applied may have gone as far as its end.
    applying = restored(journal=JournalEntry(ANCHOR.export_id, fx.at(15), applying=fx.at(30)))
    assert "already replayed up to 2026-11-27T03:30:00.000Z" in verdict(applying, fx.at(15)).hard[0]


def test_a_journal_of_another_anchor_is_refused_unless_forced() -> None:
    other = restored(journal=JournalEntry("01795000000000-ffffffff", fx.at(15)))
    v = verdict(other)
    assert "replayed from another anchor (01795000000000-ffffffff" in v.soft[0]
    assert v.refusals(force=True) == []
    assert v.done is None


def test_journal_entries_round_trip_and_foreign_tags_are_named() -> None:
    entry = JournalEntry("01795748400000-abcd1234", fx.at(15), applying=fx.at(30))
    assert entry.encode() == "01795748400000-abcd1234 2026-11-27T03:15:00.000Z 2026-11-27T03:30:00.000Z"
    assert JournalEntry.decode(entry.encode()) == entry
    assert len(entry.encode()) <= 256  # DynamoDB's tag value limit
    with pytest.raises(ValueError, match="is not '<anchor> <done> \\[<applying>\\]'"):
        JournalEntry.decode("written by hand")
    v = verdict(restored(journal_problem="safetynet:replay tag 'x' is not ..."))
    assert v.soft == ["table orders-restored: safetynet:replay tag 'x' is not ..."]


class EventuallyConsistent:
    """TagResource applied at once; ListTagsOfResource shows the previous value `lag` more times."""

    def __init__(self, lag: int) -> None:
        self.lag, self.value, self.shown = lag, "old", "old"
        self.reads = 0

    def tag_resource(self, ResourceArn: str, Tags: list[dict[str, str]]) -> None:
        self.value = Tags[0]["Value"]
        self.reads = 0

    def list_tags_of_resource(self, ResourceArn: str) -> dict[str, Any]:
        self.reads += 1
        if self.reads > self.lag:
            self.shown = self.value
        return {"Tags": [{"Key": JOURNAL_TAG, "Value": self.shown}]}


def test_a_journal_write_returns_only_once_it_reads_back() -> None:
    ddb, sleeps = EventuallyConsistent(lag=3), []
    TagJournal(ddb, TARGET_ARN, sleep=sleeps.append).write(JournalEntry("a", fx.at(0)))
    assert ddb.shown == "a 2026-11-27T03:00:00.000Z"
    assert len(sleeps) == 3


def test_a_journal_that_never_reads_back_stops_the_replay() -> None:
    ddb = EventuallyConsistent(lag=10_000)
    with pytest.raises(JournalError, match="did not read back"):
        TagJournal(ddb, TARGET_ARN, sleep=lambda _: None, visible_timeout=3).write(JournalEntry("a", fx.at(0)))


def test_inspect_target_reads_the_table_its_journal_and_notes_what_it_cannot_check(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name=fx.REGION)
    fx.create_table(ddb, "orders-restored")
    arn = ddb.describe_table(TableName="orders-restored")["Table"]["TableArn"]
    TagJournal(ddb, arn).write(JournalEntry(ANCHOR.export_id, fx.at(15)))
    TagJournal(ddb, arn).write(JournalEntry(ANCHOR.export_id, fx.at(30)))
    facts = inspect_target(ddb, "orders-restored")
    assert facts.exists and facts.status == "ACTIVE" and facts.key_schema == fx.KEY_SCHEMA
    assert facts.journal == JournalEntry(ANCHOR.export_id, fx.at(30))
    assert facts.imports is None and "ListImports" in facts.notes[0]  # moto has no ListImports
    assert inspect_target(ddb, "missing").exists is False

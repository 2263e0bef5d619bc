"""The ledger record (handlers/backup/chain_ledger.py): its invariant (windows contiguous from the
chain's end) and its DynamoDB item, read back exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.backup.chain_ledger import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    MAX_GAPS,
    ChainRecord,
    Gap,
    LedgerError,
    WindowRun,
    replace_window,
    windows_summary,
)
from handlers.backup.chain_windows import Window

T = datetime(2026, 11, 30, 3, tzinfo=UTC)


def at(hh: int, mm: int = 0) -> datetime:
    return T.replace(hour=hh, minute=mm)


def full_record() -> ChainRecord:
    return ChainRecord(
        table="orders",
        anchor=datetime(2026, 11, 30, 3, 0, 2, 123000, tzinfo=UTC),
        anchor_export_id="01764471602123-aaaa",
        chain_start=at(3),
        chain_end=at(9),
        windows=(
            WindowRun(
                Window(at(9), at(9, 15)),
                attempt=2,
                state=FAILED,
                error="S3AccessDenied: no",
                error_code="S3AccessDenied",
            ),
            WindowRun(
                Window(at(9, 15), at(9, 30)), state=IN_PROGRESS, export_arn="arn:aws:dynamodb:x:1:table/orders/export/1"
            ),
            WindowRun(
                Window(at(9, 30), at(9, 45)), state=COMPLETED, export_arn="arn:aws:dynamodb:x:1:table/orders/export/2"
            ),
        ),
        gaps=(Gap(at(1), at(3), "outside the PITR period"),),
        version=7,
        updated_at=at(9, 50),
    )


def test_a_record_reads_back_from_its_item_exactly() -> None:
    rec = full_record()
    item = rec.to_item(version=8, updated_at=at(9, 55))
    back = ChainRecord.from_item(item)
    assert back == rec.with_changes(version=8, updated_at=at(9, 55))
    assert item["table"] == {"S": "orders"} and item["version"] == {"N": "8"}
    assert item["windows"]["L"][0]["M"]["from"] == {"S": "2026-11-30T09:00:00Z"}


def test_a_new_table_has_an_item_without_a_chain() -> None:
    item = ChainRecord("orders").to_item(version=1, updated_at=at(3))
    assert "chainEnd" not in item and "anchor" not in item
    assert ChainRecord.from_item(item).chain_end is None


def test_windows_must_start_where_the_chain_ends_and_follow_each_other() -> None:
    with pytest.raises(LedgerError, match="does not start where the chain ends"):
        ChainRecord("orders", chain_end=at(9), windows=(WindowRun(Window(at(9, 15), at(9, 30))),))
    with pytest.raises(LedgerError, match="does not start where the chain ends"):
        ChainRecord(
            "orders",
            chain_end=at(9),
            windows=(WindowRun(Window(at(9), at(9, 15))), WindowRun(Window(at(9, 30), at(9, 45)))),
        )
    with pytest.raises(LedgerError, match="no chain"):
        ChainRecord("orders", windows=(WindowRun(Window(at(9), at(9, 15))),))


def test_an_item_that_is_not_a_record_is_named_not_half_read() -> None:
    with pytest.raises(LedgerError, match="not a chain record"):
        ChainRecord.from_item({"table": {"S": "orders"}, "windows": {"L": [{"M": {"from": {"S": "yesterday"}}}]}})
    item = full_record().to_item(version=1, updated_at=at(3))
    item["windows"]["L"][0]["M"]["state"] = {"S": "LOST"}
    with pytest.raises(LedgerError, match="'LOST' is not one of"):
        ChainRecord.from_item(item)


def test_only_the_newest_gaps_are_kept() -> None:
    gaps = tuple(Gap(at(0), at(1), f"gap {i}") for i in range(MAX_GAPS + 5))
    item = ChainRecord("orders", gaps=gaps).to_item(version=1, updated_at=at(3))
    assert [g.reason for g in ChainRecord.from_item(item).gaps] == [f"gap {i}" for i in range(5, MAX_GAPS + 5)]


def test_a_window_is_replaced_only_by_a_run_of_the_same_window() -> None:
    rec = full_record()
    done = WindowRun(Window(at(9), at(9, 15)), state=COMPLETED)
    assert replace_window(rec.windows, 0, done)[0] == done
    with pytest.raises(LedgerError, match="cannot become"):
        replace_window(rec.windows, 0, WindowRun(Window(at(9), at(9, 30))))
    assert windows_summary(rec.windows) == {"PLANNED": 0, "IN_PROGRESS": 1, "COMPLETED": 1, "FAILED": 1}

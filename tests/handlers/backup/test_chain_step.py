"""One table's step (handlers/backup/chain_step.py): what its ledger record becomes given the
exports' states, the newest full export in the vault and the time. Pure: no AWS, no fakes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from handlers.backup.chain_ledger import COMPLETED, FAILED, IN_PROGRESS, PLANNED, ChainRecord, WindowRun, new_record
from handlers.backup.chain_step import Anchor, ExportStatus, resume_point, step
from handlers.backup.chain_windows import Window
from tests.support.chain_fakes import chain_table

LAG = 600
TABLE = chain_table("orders", every=900)


def at(hh: int, mm: int = 0, ss: int = 0, day: int = 30, ms: int = 0) -> datetime:
    return datetime(2026, 11, day, hh, mm, ss, ms * 1000, tzinfo=UTC)


ANCHOR = Anchor("01764471602123-aaaa", at(3, 0, 2, ms=123))


def running(record: ChainRecord, *arns: str) -> ChainRecord:
    """The record with its planned windows started, ARNs in order."""
    windows = list(record.windows)
    names = iter(arns)
    for i, w in enumerate(windows):
        if w.state == PLANNED:
            windows[i] = replace(w, state=IN_PROGRESS, export_arn=next(names))
    return record.with_changes(windows=tuple(windows))


def chain(end: datetime, *windows: tuple[datetime, datetime, str, str | None], anchor: Anchor = ANCHOR) -> ChainRecord:
    return ChainRecord(
        table="orders",
        anchor=anchor.time,
        anchor_export_id=anchor.export_id,
        chain_start=end,
        chain_end=end,
        windows=tuple(WindowRun(Window(s, e), state=st, export_arn=arn) for s, e, st, arn in windows),
        version=3,
    )


# -- starting a chain ---------------------------------------------------------------------------


def test_a_table_without_a_full_export_waits() -> None:
    out = step(new_record("orders"), TABLE, now=at(12), safety_lag_seconds=LAG)
    assert out.waiting and out.record.windows == () and out.notes == ["no full export yet"]


def test_a_chain_starts_at_the_first_full_export_and_plans_up_to_now_minus_the_lag() -> None:
    out = step(new_record("orders"), TABLE, now=at(3, 40), safety_lag_seconds=LAG, anchor=ANCHOR)
    rec = out.record
    assert (rec.anchor, rec.anchor_export_id) == (ANCHOR.time, ANCHOR.export_id)
    assert rec.chain_start == rec.chain_end == at(3, 0, 2)
    # 03:30 minus the lag is 03:30; 03:00:02 -> 03:30 (03:15 would be under 15 minutes)
    assert [w.window for w in rec.windows] == [Window(at(3, 0, 2), at(3, 30))]
    assert all(w.state == PLANNED and w.attempt == 0 for w in rec.windows)
    assert out.planned == (Window(at(3, 0, 2), at(3, 30)),)


def test_a_table_added_later_starts_its_chain_at_its_own_first_full_export() -> None:
    # Given a table added to the stack on day 30 whose first full export runs on day 1 at 03:00
    first = step(new_record("added"), TABLE, now=at(15), safety_lag_seconds=LAG)
    assert first.waiting
    anchor = Anchor("x", datetime(2026, 12, 1, 3, 0, 5, tzinfo=UTC))
    # When the export is in the vault
    later = step(
        first.record, TABLE, now=datetime(2026, 12, 1, 4, 0, tzinfo=UTC), safety_lag_seconds=LAG, anchor=anchor
    )
    # Then its chain starts there, not when the table was added
    assert later.record.chain_start == datetime(2026, 12, 1, 3, 0, 5, tzinfo=UTC)
    assert later.record.windows[0].window.start == datetime(2026, 12, 1, 3, 0, 5, tzinfo=UTC)


def test_a_chain_continues_the_windows_already_in_the_vault_after_its_full_export() -> None:
    # The ledger was lost (or the CLI wrote windows): the vault has windows from the anchor on
    out = step(new_record("orders"), TABLE, now=at(5), safety_lag_seconds=LAG, anchor=ANCHOR, vault_end=at(4, 15))
    assert out.record.chain_start == at(3, 0, 2)
    assert out.record.chain_end == at(4, 15)
    assert out.record.windows[0].window.start == at(4, 15)


def test_resume_point_follows_contiguous_windows_from_the_one_that_starts_at_the_anchor() -> None:
    windows = [
        Window(at(3, 0, 2), at(3, 30)),  # starts at the anchor's second
        Window(at(3, 30), at(4)),
        Window(at(4, 15), at(4, 30)),  # after a gap: not reached
        Window(at(2, 45), at(3, 15)),  # straddles the anchor: never a first window (not replayable on it)
    ]
    assert resume_point(ANCHOR.time, windows) == at(4)
    assert resume_point(ANCHOR.time, windows[1:]) is None
    assert resume_point(ANCHOR.time, []) is None


# -- exports completing and failing -------------------------------------------------------------


def test_completed_windows_move_the_end_in_order_and_never_past_an_unfinished_one() -> None:
    rec = chain(
        at(9),
        (at(9), at(9, 15), IN_PROGRESS, "e1"),
        (at(9, 15), at(9, 30), IN_PROGRESS, "e2"),
        (at(9, 30), at(9, 45), IN_PROGRESS, "e3"),
    )
    # e2 and e3 completed, e1 still running: nothing moves
    out = step(
        rec,
        TABLE,
        now=at(9, 50),
        safety_lag_seconds=LAG,
        statuses={"e1": ExportStatus(IN_PROGRESS), "e2": ExportStatus(COMPLETED), "e3": ExportStatus(COMPLETED)},
    )
    assert out.record.chain_end == at(9)
    assert [w.state for w in out.record.windows] == [IN_PROGRESS, COMPLETED, COMPLETED]
    # e1 completes: the end jumps over all three
    again = step(out.record, TABLE, now=at(9, 55), safety_lag_seconds=LAG, statuses={"e1": ExportStatus(COMPLETED)})
    assert again.record.chain_end == at(9, 45)
    assert again.record.windows == ()
    assert again.completed == (Window(at(9), at(9, 15)),)


def test_a_failed_window_is_planned_again_with_the_same_bounds_and_the_next_attempt() -> None:
    rec = chain(at(9), (at(9), at(9, 15), IN_PROGRESS, "e1"), (at(9, 15), at(9, 30), IN_PROGRESS, "e2"))
    out = step(
        rec,
        TABLE,
        now=at(9, 42),
        safety_lag_seconds=LAG,
        statuses={"e1": ExportStatus(FAILED, "S3AccessDenied: no", "S3AccessDenied"), "e2": ExportStatus(COMPLETED)},
    )
    first = out.record.windows[0]
    assert (first.window, first.state, first.attempt, first.export_arn) == (Window(at(9), at(9, 15)), PLANNED, 1, None)
    assert first.error == "S3AccessDenied: no"
    assert [f.window for f in out.failed] == [Window(at(9), at(9, 15))]
    # the window after it stays completed, the end stays before the failed one: never skipped
    assert out.record.chain_end == at(9)
    assert out.record.windows[1].state == COMPLETED


def test_a_run_that_repeats_with_the_same_observations_plans_nothing_new() -> None:
    first = step(new_record("orders"), TABLE, now=at(3, 40), safety_lag_seconds=LAG, anchor=ANCHOR)
    again = step(first.record, TABLE, now=at(3, 40), safety_lag_seconds=LAG, anchor=ANCHOR)
    assert again.record == first.record
    assert again.planned == ()


def test_a_late_run_plans_one_window_up_to_the_last_grid_point() -> None:
    rec = chain(at(9))
    out = step(rec, TABLE, now=at(11, 7), safety_lag_seconds=LAG)
    assert [w.window for w in out.record.windows] == [Window(at(9), at(10, 45))]


def test_far_behind_one_run_plans_24_hour_windows_up_to_now() -> None:
    rec = chain(at(9, day=27))
    out = step(rec, TABLE, now=at(9, 20, day=30), safety_lag_seconds=LAG)
    assert [w.window for w in out.record.windows] == [
        Window(at(9, day=27), at(9, day=28)),
        Window(at(9, day=28), at(9, day=29)),
        Window(at(9, day=29), at(9, day=30)),
    ]


def test_open_windows_are_capped() -> None:
    rec = chain(at(9, day=1))
    out = step(rec, TABLE, now=at(9, day=30), safety_lag_seconds=LAG, max_open_windows=5)
    assert len(out.record.windows) == 5


# -- the anchor --------------------------------------------------------------------------------


def test_each_new_full_export_starts_a_new_chain_and_the_previous_one_closes_at_it() -> None:
    # Given yesterday's chain, two windows running across tonight's 03:00 full export
    rec = chain(
        at(2, 45, day=29) + timedelta(days=1),
        (at(2, 45), at(3), IN_PROGRESS, "e1"),
        (at(3), at(3, 15), IN_PROGRESS, "e2"),
        anchor=Anchor("prev", at(3, 0, 2, day=29)),
    )
    tonight = Anchor("tonight", at(3, 0, 7))
    out = step(rec, TABLE, now=at(3, 40), safety_lag_seconds=LAG, anchor=tonight)
    r = out.record
    # Then the anchor moves and a new chain starts exactly at the full export's second
    assert (r.anchor, r.anchor_export_id) == (tonight.time, "tonight")
    assert r.chain_start == r.chain_end == at(3, 0, 7)
    assert [w.window for w in r.windows] == [Window(at(3, 0, 7), at(3, 30))]
    # and the previous chain keeps the windows up to the new anchor, which straddles it, to finish
    assert (r.closing_end, r.closing_until) == (at(2, 45), at(3, 0, 7))
    assert [w.window for w in r.closing] == [Window(at(2, 45), at(3)), Window(at(3), at(3, 15))]
    # When they complete, the previous chain is done
    done = step(
        r,
        TABLE,
        now=at(3, 55),
        safety_lag_seconds=LAG,
        statuses={"e1": ExportStatus(COMPLETED), "e2": ExportStatus(COMPLETED)},
    )
    assert (done.record.closing, done.record.closing_end, done.record.closing_until) == ((), None, None)
    assert done.gaps == ()


def test_a_full_export_on_the_grid_keeps_the_windows_already_planned_from_it() -> None:
    # The nightly export's ExportTime is 03:00:00.412: windows from 03:00:00 are the new chain's
    rec = chain(
        at(2, 45),
        (at(2, 45), at(3), IN_PROGRESS, "e1"),
        (at(3), at(3, 15), IN_PROGRESS, "e2"),
        anchor=Anchor("prev", at(3, 0, 2, day=29)),
    )
    tonight = Anchor("tonight", datetime(2026, 11, 30, 3, 0, 0, 412000, tzinfo=UTC))
    out = step(rec, TABLE, now=at(3, 25), safety_lag_seconds=LAG, anchor=tonight)
    assert out.record.chain_start == out.record.chain_end == at(3)
    assert [w.export_arn for w in out.record.windows] == ["e2"]
    assert [w.export_arn for w in out.record.closing] == ["e1"] and out.record.closing_until == at(3)


def test_the_previous_chain_retries_its_failed_windows_and_a_second_new_anchor_records_its_gap() -> None:
    rec = chain(at(2, 45), (at(2, 45), at(3), IN_PROGRESS, "e1"))
    out = step(rec, TABLE, now=at(3, 40), safety_lag_seconds=LAG, anchor=Anchor("a2", at(3, 0, 5)))
    out = step(out.record, TABLE, now=at(3, 55), safety_lag_seconds=LAG, statuses={"e1": ExportStatus(FAILED, "boom")})
    # (the previous chain also planned [03:00, 03:30), which reaches the new anchor)
    retry = out.record.closing[0]
    assert (retry.window, retry.state, retry.attempt) == (Window(at(2, 45), at(3)), PLANNED, 1)
    assert [w.window for w in out.record.closing[1:]] == [Window(at(3), at(3, 30))]
    assert next((w, i) for w, i, _ in out.to_start()) == ("closing", 0)
    # A day later the previous chain still has not reached its anchor: a newer one gives it up
    later = step(
        out.record,
        TABLE,
        now=at(3, 40) + timedelta(days=1),
        safety_lag_seconds=LAG,
        anchor=Anchor("a3", at(3, 0, 9) + timedelta(days=1)),
    )
    assert [(g.start, g.end) for g in later.gaps] == [(at(2, 45), at(3, 0, 5))]
    assert later.record.gaps == later.gaps
    assert later.record.closing_until == at(3, 0, 9) + timedelta(days=1)


def test_an_older_full_export_never_moves_the_anchor_back() -> None:
    rec = chain(at(9))
    out = step(rec, TABLE, now=at(9, 20), safety_lag_seconds=LAG, anchor=Anchor("old", ANCHOR.time - timedelta(days=1)))
    assert out.record.anchor == ANCHOR.time and out.record.anchor_export_id == ANCHOR.export_id


# -- a chain that cannot continue -------------------------------------------------------------


def test_a_chain_older_than_pitr_gives_way_to_a_newer_full_export_and_records_the_gap() -> None:
    old_end = at(9, day=30) - timedelta(days=40)
    rec = chain(old_end, anchor=Anchor("old", old_end - timedelta(hours=6)))
    fresh = Anchor("fresh", at(3, 0, 7))
    out = step(rec, TABLE, now=at(9), safety_lag_seconds=LAG, anchor=fresh)
    [gap] = out.gaps
    assert (gap.start, gap.end) == (old_end, at(3, 0, 7))
    assert "outside the table's PITR period" in gap.reason
    assert out.record.chain_start == out.record.chain_end == at(3, 0, 7)
    assert out.record.gaps == (gap,) and out.record.closing == ()
    assert out.record.windows[0].window.start == at(3, 0, 7)


def test_without_a_newer_full_export_a_chain_older_than_pitr_is_broken_and_plans_nothing() -> None:
    old_end = at(9) - timedelta(days=40)
    rec = chain(old_end, anchor=Anchor("old", old_end - timedelta(hours=6)))
    out = step(rec, TABLE, now=at(9), safety_lag_seconds=LAG)
    assert out.broken is not None and "no newer full export" in out.broken
    assert out.record.windows == () and out.record.chain_end == old_end


def test_a_window_refused_as_outside_pitr_is_given_up_only_when_it_is_not_just_too_recent() -> None:
    refused = WindowRun(
        Window(at(6), at(6, 15)), state=FAILED, error="outside the window", error_code="InvalidExportTimeException"
    )
    old = ChainRecord("orders", anchor=ANCHOR.time, chain_start=at(3), chain_end=at(6), windows=(refused,), version=1)
    # PITR was turned off and on again at 07:00: the 06:00 window can never be exported; the full
    # export after it starts the next chain and the old one is given up
    out = step(old, TABLE, now=at(9), safety_lag_seconds=LAG, anchor=Anchor("fresh", at(8, 0, 3)))
    [gap] = out.gaps
    assert (gap.start, gap.end) == (at(6), at(8, 0, 3)) and "refused" in gap.reason
    assert out.record.chain_end == at(8, 0, 3) and out.record.closing == ()
    # without a newer full export the chain is broken, not silently skipped
    assert step(old, TABLE, now=at(9), safety_lag_seconds=LAG).broken is not None
    # a window refused minutes after it ended is retried instead (PITR's latest time trails now)
    recent = replace(refused, window=Window(at(8, 30), at(8, 45)))
    young = ChainRecord(
        "orders", anchor=ANCHOR.time, chain_start=at(3), chain_end=at(8, 30), windows=(recent,), version=1
    )
    retried = step(young, TABLE, now=at(9), safety_lag_seconds=LAG)
    assert retried.gaps == () and retried.broken is None
    assert retried.record.windows[0].attempt == 1 and retried.record.windows[0].state == PLANNED


@pytest.mark.parametrize("every", [900, 3600, 86400])
def test_every_planned_window_is_contiguous_and_aws_sized(every: int) -> None:
    rec = chain(at(3, 0, 2, day=25))
    out = step(rec, chain_table(every=every), now=at(16, 47), safety_lag_seconds=LAG)
    cursor = at(3, 0, 2, day=25)
    for w in out.record.windows:
        assert w.window.start == cursor
        assert timedelta(minutes=15) <= w.window.length <= timedelta(hours=24)
        cursor = w.window.end
    assert cursor <= at(16, 37)

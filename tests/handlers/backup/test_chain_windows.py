"""The chain's window arithmetic (handlers/backup/chain_windows.py): windows start where the
previous one ended, end on the table's grid, last 15 minutes to 24 hours, end at least the safety
lag before now, and catch up in as few windows as AWS's 24-hour limit allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.backup.chain_windows import (
    MAX_WINDOW,
    MIN_WINDOW,
    Window,
    WindowError,
    chain_start,
    client_token,
    export_target,
    floor_to_grid,
    iso,
    next_window,
    parse_iso,
    plan_windows,
)

EVERY = [900, 1800, 3600, 7200, 10800, 14400, 21600, 28800, 43200, 86400]
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/orders"


def at(hh: int, mm: int = 0, ss: int = 0, day: int = 30) -> datetime:
    return datetime(2026, 11, day, hh, mm, ss, tzinfo=UTC)


# -- the grid and the bounds ------------------------------------------------------------------


def test_the_grid_is_midnight_utc_aligned_for_every_allowed_length() -> None:
    t = at(13, 52, 17)
    assert floor_to_grid(t, 900) == at(13, 45)
    assert floor_to_grid(t, 3600) == at(13)
    assert floor_to_grid(t, 3 * 3600) == at(12)
    assert floor_to_grid(t, 86400) == at(0)
    assert floor_to_grid(at(13, 45), 900) == at(13, 45)  # a grid point is its own floor


def test_a_grid_that_does_not_divide_a_day_is_refused() -> None:
    with pytest.raises(WindowError, match="does not divide a day"):
        floor_to_grid(T0, 5 * 3600)


def test_a_chain_starts_at_its_anchor_floored_to_the_second() -> None:
    assert chain_start(datetime(2026, 11, 30, 3, 0, 2, 987000, tzinfo=UTC)) == at(3, 0, 2)


def test_the_target_is_now_minus_the_safety_lag() -> None:
    assert export_target(datetime(2026, 11, 30, 10, 20, 30, 500000, tzinfo=UTC), 600) == at(10, 10, 30)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (at(10), at(10, 14, 59), "15 minutes to 24 hours"),
        (at(10), at(10, 0, 0, day=30) + MAX_WINDOW + timedelta(seconds=1), "15 minutes to 24 hours"),
        (at(10), at(9), "15 minutes to 24 hours"),
        (at(10), datetime(2026, 11, 30, 10, 15, 0, 1, tzinfo=UTC), "whole seconds"),
    ],
)
def test_windows_aws_would_refuse_cannot_be_built(start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(WindowError, match=message):
        Window(start, end)


def test_the_limits_themselves_are_valid_windows() -> None:
    assert Window(at(10), at(10) + MIN_WINDOW).length == MIN_WINDOW
    assert Window(at(10), at(10) + MAX_WINDOW).length == MAX_WINDOW


def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(WindowError, match="naive"):
        Window(datetime(2026, 11, 30, 10), datetime(2026, 11, 30, 11))


def test_instants_round_trip_through_their_ledger_text() -> None:
    assert iso(at(3, 15)) == "2026-11-30T03:15:00Z"
    assert parse_iso("2026-11-30T03:15:00Z") == at(3, 15)
    assert parse_iso("2026-11-30T04:15:00+01:00") == at(3, 15)


# -- one window ------------------------------------------------------------------------------


def test_a_window_is_due_once_the_next_grid_point_is_15_minutes_away_and_past_the_target() -> None:
    assert next_window(at(10), at(10, 14, 59), 900) is None
    assert next_window(at(10), at(10, 15), 900) == Window(at(10), at(10, 15))
    # a late run: one longer window up to the last grid point before the target, not two
    assert next_window(at(10), at(10, 52), 900) == Window(at(10), at(10, 45))


def test_a_table_with_an_hourly_window_waits_for_the_hour() -> None:
    assert next_window(at(10), at(10, 50), 3600) is None
    assert next_window(at(10), at(11, 5), 3600) == Window(at(10), at(11))


def test_the_first_window_after_an_anchor_ends_on_the_grid_and_is_never_under_15_minutes() -> None:
    anchor = at(3, 7, 33)
    # 7 minutes 27 seconds to 03:15: too short, the window waits and ends at 03:30
    assert next_window(anchor, at(3, 20), 900) is None
    assert next_window(anchor, at(3, 35), 900) == Window(anchor, at(3, 30))
    assert next_window(at(3, 50), at(5, 5), 3600) == Window(at(3, 50), at(5))


def test_a_daily_chain_that_began_just_before_midnight_realigns_on_the_15_minute_grid() -> None:
    start = at(23, 55, day=1)
    assert next_window(start, at(0, 5, day=2), 86400) is None  # 5 minutes to midnight: too short
    # 24 hours later the day's grid still gives 5 minutes: the window ends on the 15-minute grid
    first = next_window(start, at(0, 5, day=3), 86400)
    assert first == Window(start, at(23, 45, day=2))
    # and the next one ends at midnight: from then on whole days
    assert next_window(at(23, 45, day=2), at(0, 5, day=3), 86400) == Window(at(23, 45, day=2), at(0, day=3))
    assert next_window(at(0, day=3), at(0, 5, day=4), 86400) == Window(at(0, day=3), at(0, day=4))


def test_nothing_is_due_when_the_target_is_before_the_chain_end() -> None:
    # A retried run carries its old scheduled time: the chain may already be further.
    assert next_window(at(11), at(10, 30), 900) is None


# -- catching up --------------------------------------------------------------------------------


def test_catch_up_takes_24_hour_windows_then_the_rest_on_the_grid() -> None:
    windows = plan_windows(at(10, 0, day=1), at(9, 10, day=4), 900)
    assert windows == [
        Window(at(10, day=1), at(10, day=2)),
        Window(at(10, day=2), at(10, day=3)),
        Window(at(10, day=3), at(9, day=4)),
    ]


def test_catch_up_from_an_off_grid_start_stays_within_24_hours() -> None:
    windows = plan_windows(at(10, 7, 33, day=1), at(12, day=3), 900)
    assert windows[0] == Window(at(10, 7, 33, day=1), at(10, day=2))  # floor of start + 24 h
    assert all(w.length <= MAX_WINDOW for w in windows)
    assert windows[-1].end == at(12, day=3)


def test_the_final_partial_window_waits_rather_than_being_shorter_than_15_minutes() -> None:
    # 24 h + 10 min behind, 15-minute grid: one 24-hour window, the last 10 minutes wait
    windows = plan_windows(at(10, day=1), at(10, 10, day=2), 900)
    assert windows == [Window(at(10, day=1), at(10, day=2))]


def test_a_limit_caps_how_many_windows_one_run_plans() -> None:
    assert len(plan_windows(at(0, day=1), at(0, day=10), 900, limit=3)) == 3


@settings(max_examples=300, deadline=None)
@given(
    start_s=st.integers(min_value=0, max_value=40 * 86400),
    behind_s=st.integers(min_value=0, max_value=40 * 86400),
    every=st.sampled_from(EVERY),
)
def test_planned_windows_are_contiguous_aws_sized_on_the_grid_and_leave_less_than_a_window(
    start_s: int, behind_s: int, every: int
) -> None:
    start = T0 + timedelta(seconds=start_s)
    target = start + timedelta(seconds=behind_s)
    windows = plan_windows(start, target, every)
    cursor = start
    for w in windows:
        assert w.start == cursor, "contiguous: each window starts at the previous end"
        assert MIN_WINDOW <= w.length <= MAX_WINDOW
        assert w.end <= target
        # on the table's grid, or (24 hours binding) on the 15-minute grid
        assert floor_to_grid(w.end, every) == w.end or (
            w.length > MAX_WINDOW - timedelta(minutes=15) and floor_to_grid(w.end, 900) == w.end
        )
        cursor = w.end
    # what is left is not yet a window: the next grid point is too close, or past the target
    assert next_window(cursor, target, every) is None
    assert target - cursor < MAX_WINDOW


@settings(max_examples=200, deadline=None)
@given(
    start_s=st.integers(min_value=0, max_value=3 * 86400),
    runs=st.lists(st.integers(min_value=0, max_value=6 * 3600), min_size=1, max_size=12),
    every=st.sampled_from(EVERY[:5]),
)
def test_late_and_duplicated_runs_reach_where_one_late_run_would(start_s: int, runs: list[int], every: int) -> None:
    # Runs at arbitrary, repeated or late instants, each continuing where the previous one left
    # off, end exactly where one run at the last instant ends.
    start = (T0 + timedelta(seconds=start_s)).replace(microsecond=0)
    instants = sorted(start + timedelta(seconds=s) for s in runs)
    cursor = start
    for now in instants:
        for w in plan_windows(cursor, now, every):
            assert w.start == cursor
            cursor = w.end
    single = plan_windows(start, instants[-1], every)
    assert cursor == (single[-1].end if single else start)


# -- the ClientToken -------------------------------------------------------------------------


def test_the_client_token_is_the_same_for_a_retried_call_and_new_for_the_next_attempt() -> None:
    w = Window(at(10), at(10, 15))
    first = client_token(ARN, w, "NEW_AND_OLD_IMAGES", 0)
    assert first == client_token(ARN, w, "NEW_AND_OLD_IMAGES", 0)
    assert first != client_token(ARN, w, "NEW_AND_OLD_IMAGES", 1)
    assert first != client_token(ARN, Window(at(10), at(10, 30)), "NEW_AND_OLD_IMAGES", 0)
    assert first != client_token(ARN.replace("orders", "customers"), w, "NEW_AND_OLD_IMAGES", 0)
    assert first != client_token(ARN, w, "NEW_IMAGE", 0)
    # DynamoDB's pattern for ClientToken: ^[^$]+$
    assert "$" not in first and first

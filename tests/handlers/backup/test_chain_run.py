"""A run of the chain task over a stack's tables (handlers/backup/chain_run.py), against the fake
of its AWS access layer (tests/support/chain_fakes.py): DynamoDB's ClientToken idempotency, the
account's concurrent-export limit, exports completing and failing, runs that die midway, runs
that repeat, run late, or race each other on the ledger."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conventions.chain import (
    COMPLETED_METRIC,
    DEFERRED_METRIC,
    FAILED_WINDOWS_METRIC,
    LAG_METRIC,
    LATE_TABLES_METRIC,
    STARTED_METRIC,
    WAITING_METRIC,
)
from handlers.backup.chain_ledger import FAILED, IN_PROGRESS, PLANNED
from handlers.backup.chain_run import run
from handlers.backup.chain_step import Anchor
from handlers.backup.chain_windows import MAX_WINDOW, MIN_WINDOW, Window, chain_start
from handlers.exports.chain import build_chain
from handlers.exports.layout import ExportRef, ManifestSummary, format_time
from tests.support.chain_fakes import Crash, FakeChainAws, chain_context, chain_table


def at(hh: int, mm: int = 0, ss: int = 0, day: int = 30) -> datetime:
    return datetime(2026, 11, day, hh, mm, ss, tzinfo=UTC)


ANCHOR = Anchor("01764471600000-aaaa", at(3, 0, 0))


def fake(*tables: str, every: int = 900, **kw: object) -> FakeChainAws:
    ctx = chain_context(*[chain_table(t, every=every) for t in (tables or ("orders",))])
    aws = FakeChainAws(ctx, **kw)  # type: ignore[arg-type]
    for t in tables or ("orders",):
        aws.anchors[t] = ANCHOR
    return aws


def test_a_run_records_the_intent_before_it_starts_and_the_export_after() -> None:
    aws = fake()
    report = run(aws.ctx, aws, now=at(3, 40))
    [window] = aws.windows()
    assert window == Window(at(3), at(3, 30))
    # the ledger was written before the start call, then again with the export's ARN
    order = [c for c in aws.calls if c.startswith(("save", "start"))]
    assert order == ["save orders", f"start orders {window} #0", "save orders"]
    rec = aws.record("orders")
    assert rec.windows[0].state == IN_PROGRESS and rec.windows[0].export_arn in aws.exports
    assert report.metrics()[STARTED_METRIC] == 1


def test_a_duplicated_run_starts_nothing_twice() -> None:
    aws = fake()
    run(aws.ctx, aws, now=at(3, 40))
    run(aws.ctx, aws, now=at(3, 40))  # the same invocation again (a retry)
    run(aws.ctx, aws, now=at(3, 44))  # a run a few minutes later, no new grid point
    assert len(aws.exports) == 1


def test_the_chain_moves_only_when_exports_complete_and_the_next_window_starts_at_the_end() -> None:
    aws = fake()
    run(aws.ctx, aws, now=at(3, 40))
    run(aws.ctx, aws, now=at(3, 55))  # still running: the next window [03:30, 03:45) starts anyway
    assert aws.record("orders").chain_end == at(3)
    aws.complete()
    report = run(aws.ctx, aws, now=at(4, 10))
    rec = aws.record("orders")
    assert rec.chain_end == at(3, 45)
    assert rec.windows[0].window.start == at(3, 45)
    assert aws.windows() == [Window(at(3), at(3, 30)), Window(at(3, 30), at(3, 45)), Window(at(3, 45), at(4))]
    assert report.metrics()[COMPLETED_METRIC] == 2


def test_a_run_that_dies_after_the_start_call_is_finished_by_the_next_without_a_twin_export() -> None:
    aws = fake(crash_after_starts=0)
    with pytest.raises(Crash):
        run(aws.ctx, aws, now=at(3, 40))
    # the intent was recorded, the export started, its ARN not recorded
    assert aws.record("orders").windows[0].state == PLANNED
    assert len(aws.exports) == 1
    # the next run, later (another grid point passed): the same window is started again with the
    # same ClientToken, DynamoDB returns the running export; the new window follows it
    run(aws.ctx, aws, now=at(3, 55))
    assert len(aws.exports) == 2
    assert aws.windows() == [Window(at(3), at(3, 30)), Window(at(3, 30), at(3, 45))]
    assert aws.record("orders").windows[0].export_arn == aws.by_token[next(iter(aws.by_token))]


def test_a_failed_export_is_retried_as_the_same_window_and_counted() -> None:
    aws = fake()
    run(aws.ctx, aws, now=at(3, 40))
    aws.fail(Window(at(3), at(3, 30)))
    report = run(aws.ctx, aws, now=at(3, 50))
    assert report.metrics()[FAILED_WINDOWS_METRIC] == 1
    assert report.tables[0].state == "failed"
    assert "S3AccessDenied" in report.tables[0].problems[0]
    # two exports of the same window (the failed one, its retry) and the chain has not moved
    exported = [e for e in aws.exports.values() if e.window == Window(at(3), at(3, 30))]
    assert sorted(e.state for e in exported) == ["FAILED", "IN_PROGRESS"]
    assert exported[0].token != exported[1].token
    rec = aws.record("orders")
    assert rec.chain_end == at(3) and rec.windows[0].attempt == 1
    aws.complete()
    run(aws.ctx, aws, now=at(4, 5))
    assert aws.record("orders").chain_end == at(3, 30)


def test_a_refused_start_is_recorded_and_retried_at_the_next_run() -> None:
    aws = fake()
    aws.start_errors[("orders", at(3))] = "PointInTimeRecoveryUnavailableException"
    report = run(aws.ctx, aws, now=at(3, 40))
    assert report.metrics()[FAILED_WINDOWS_METRIC] == 1
    rec = aws.record("orders")
    assert rec.windows[0].state == FAILED and rec.windows[0].error_code == "PointInTimeRecoveryUnavailableException"
    run(aws.ctx, aws, now=at(3, 50))
    assert aws.record("orders").windows[0].state == IN_PROGRESS
    assert aws.record("orders").windows[0].attempt == 1


def test_the_account_export_limit_defers_windows_to_the_next_run_without_failing_them() -> None:
    aws = fake("orders", "customers", "inventory", concurrent_limit=1)
    report = run(aws.ctx, aws, now=at(3, 40))
    assert report.metrics()[STARTED_METRIC] == 1
    assert report.metrics()[DEFERRED_METRIC] == 2
    assert report.metrics()[FAILED_WINDOWS_METRIC] == 0
    aws.complete()
    run(aws.ctx, aws, now=at(3, 41))
    aws.complete()
    run(aws.ctx, aws, now=at(3, 42))
    for t in ("orders", "customers", "inventory"):
        assert aws.windows(t) == [Window(at(3), at(3, 30))]


def test_windows_deferred_for_a_long_time_are_exported_as_one_longer_window_not_a_queue() -> None:
    # Given the account's exports all in use for an hour (one slot, held by orders)
    aws = fake("orders", "customers", concurrent_limit=1)
    for minute in (40, 55, 70, 85):
        run(aws.ctx, aws, now=at(3) + timedelta(minutes=minute))
    assert aws.windows("customers") == []
    assert aws.record("customers").windows == ()  # nothing queued up in the ledger
    # When a slot frees
    aws.complete()
    aws.concurrent_limit = 300
    run(aws.ctx, aws, now=at(4, 40))
    # Then the waiting table exports its whole backlog as one window, on the grid
    assert aws.windows("customers") == [Window(at(3), at(4, 30))]


def test_a_run_that_loses_the_race_for_a_ledger_item_leaves_the_table_to_the_other_run() -> None:
    aws = fake()
    run(aws.ctx, aws, now=at(3, 40))
    real_load = aws.load_records

    def stale_load() -> tuple[dict, dict]:
        records, bad = real_load()
        # another run writes the item after this run read it
        aws.items["orders"]["version"] = {"N": str(int(aws.items["orders"]["version"]["N"]) + 1)}
        return records, bad

    aws.load_records = stale_load  # type: ignore[method-assign]
    aws.complete()
    report = run(aws.ctx, aws, now=at(4, 10))
    assert report.tables[0].state == "conflict"
    assert len(aws.exports) == 1


def test_only_the_tables_of_the_context_are_touched() -> None:
    # A table opted out (incremental: false) is not in the context: its old record stays as it is
    aws = fake("orders", "audit")
    run(aws.ctx, aws, now=at(3, 40))
    before = aws.items["audit"]
    opted_out = chain_context(chain_table("orders"))
    aws.ctx = opted_out
    run(opted_out, aws, now=at(4, 40))
    assert aws.items["audit"] == before
    assert len(aws.windows("audit")) == 1


def test_a_table_without_a_full_export_is_reported_waiting_and_the_anchor_is_looked_for_every_run() -> None:
    aws = fake()
    aws.anchors.clear()
    report = run(aws.ctx, aws, now=at(3, 40))
    assert report.tables[0].state == "waiting" and report.metrics()[WAITING_METRIC] == 1
    run(aws.ctx, aws, now=at(3, 55))
    assert aws.calls.count("anchor orders") == 2


def test_the_anchor_is_looked_for_once_a_new_full_export_is_due_not_at_every_run() -> None:
    aws = fake()
    run(aws.ctx, aws, now=at(3, 40))
    aws.complete()
    for minute in (55, 70, 85):
        run(aws.ctx, aws, now=at(3) + timedelta(minutes=minute))
        aws.complete()
    assert aws.calls.count("anchor orders") == 1
    # a day after the anchor, the nightly export is due: the run looks, and the anchor moves
    aws.anchors["orders"] = Anchor("01764558000000-bbbb", at(3, 0, 0, day=30) + timedelta(days=1))
    run(aws.ctx, aws, now=at(3, 20, day=30) + timedelta(days=1))
    assert aws.record("orders").anchor_export_id == "01764558000000-bbbb"


def test_lag_and_late_tables_are_measured_against_each_tables_window() -> None:
    aws = fake()
    run(aws.ctx, aws, now=at(3, 40))  # exports never complete from here on
    report = run(aws.ctx, aws, now=at(4, 40))
    assert report.metrics()[LAG_METRIC] == 100.0
    assert report.metrics()[LATE_TABLES_METRIC] == 0  # limit: 2 x 15 + 10 + 60 = 100 minutes
    report = run(aws.ctx, aws, now=at(4, 41))
    assert report.metrics()[LATE_TABLES_METRIC] == 1 and report.tables[0].state == "late"


def test_a_run_out_of_time_leaves_the_rest_for_the_next_run() -> None:
    aws = fake("orders", "customers")
    report = run(aws.ctx, aws, now=at(3, 40), time_left=lambda: 5.0)
    assert {t.state for t in report.tables} == {"skipped"}
    assert aws.exports == {}


def test_many_tables_are_stepped_in_parallel_and_all_started() -> None:
    names = [f"t{i:03d}" for i in range(60)]
    aws = fake(*names)
    report = run(aws.ctx, aws, now=at(3, 40), workers=8)
    assert report.metrics()[STARTED_METRIC] == 60
    assert {e.window for e in aws.exports.values()} == {Window(at(3), at(3, 30))}


# -- a simulation: whatever happens, the vault holds a restorable chain for every full export --

ACTIONS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=5 * 3600),  # seconds until the run (0: a duplicate)
        st.sampled_from(["complete", "complete", "fail-one", "nothing", "crash", "limit", "full-export"]),
        st.integers(min_value=0, max_value=59),  # the full export's second within its minute
    ),
    min_size=1,
    max_size=25,
)


def summaries(aws: FakeChainAws, anchors: list[Anchor]) -> list[tuple[ExportRef, ManifestSummary]]:
    """What the vault holds, as the chain reader sees it: the full exports and the completed windows."""
    arn = aws.ctx.tables[0].arn
    out = []
    for a in anchors:
        doc = {"version": "2020-06-30", "exportTime": format_time(a.time), "tableArn": arn,
               "manifestFilesS3Key": "x/m.json", "itemCount": 1, "outputFormat": "DYNAMODB_JSON"}  # fmt: skip
        out.append((ExportRef("vault-1", f"exports/orders/AWSDynamoDB/{a.export_id}/"), ManifestSummary.from_json(doc)))
    for i, e in enumerate(e for e in aws.exports.values() if e.state == "COMPLETED"):
        doc = {"version": "2023-08-01", "exportType": "INCREMENTAL_EXPORT", "tableArn": arn,
               "exportFromTime": format_time(e.window.start), "exportToTime": format_time(e.window.end),
               "outputView": e.view, "manifestFilesS3Key": "x/manifest-files.json", "itemCount": 0,
               "outputFormat": "DYNAMODB_JSON"}  # fmt: skip
        ref = ExportRef("vault-1", f"exports/orders/incremental/AWSDynamoDB/{i:014d}-w/")
        out.append((ref, ManifestSummary.from_json(doc)))
    return out


@settings(max_examples=50, deadline=None)
@given(actions=ACTIONS, every=st.sampled_from([900, 1800, 3600]))
def test_whatever_runs_exports_and_full_exports_do_every_full_export_anchors_a_restorable_chain(
    actions: list[tuple[int, str, int]], every: int
) -> None:
    aws = fake(every=every)
    aws.ctx = chain_context(chain_table("orders", every=every), anchor_interval_hours=1.0)
    anchors = [ANCHOR]
    seen: list[Anchor] = []
    """The full exports the chain saw as its anchor (one superseded before a run saw it never was)."""
    now = at(3, 10)
    for delay, action, second in actions:
        now += timedelta(seconds=delay)
        aws.concurrent_limit = 0 if action == "limit" else 300
        if action == "crash":
            aws.crash_after_starts = 0
        if action == "full-export" and now - timedelta(minutes=20) > anchors[-1].time + timedelta(minutes=1):
            taken = (now - timedelta(minutes=20)).replace(second=second, microsecond=137000)
            anchors.append(Anchor(f"{int(taken.timestamp() * 1000):014d}-full", taken))
            aws.anchors["orders"] = anchors[-1]
        with contextlib.suppress(Crash):
            run(aws.ctx, aws, now=now)
        if "orders" in aws.items and aws.record("orders").anchor_export_id not in (None, *[a.export_id for a in seen]):
            seen.append(next(a for a in anchors if a.export_id == aws.record("orders").anchor_export_id))
        aws.crash_after_starts = None
        if action == "complete":
            aws.complete()
        elif action == "fail-one" and aws.running():
            aws.fail(aws.running()[0].window)
    # Every window exported is 15 minutes to 24 hours
    assert all(MIN_WINDOW <= w.length <= MAX_WINDOW for w in aws.windows())
    # Then, exports completing again, a few runs two hours later (the newest full export due)
    # bring the ledger to the last grid point before then
    aws.concurrent_limit = 300
    now += timedelta(hours=2)
    for _ in range(4):
        aws.complete()
        run(aws.ctx, aws, now=now)
        if aws.record("orders").anchor_export_id != seen[-1].export_id:
            seen.append(next(a for a in anchors if a.export_id == aws.record("orders").anchor_export_id))
    aws.complete()
    run(aws.ctx, aws, now=now)
    record = aws.record("orders")
    assert record.windows == () and record.closing == ()
    # and the chain reader finds the newest full export's chain, without a break, to the ledger's end
    vault = summaries(aws, anchors)
    newest = build_chain(vault)
    assert newest.anchor is not None and newest.anchor[0].export_id == seen[-1].export_id == anchors[-1].export_id
    assert newest.gap is None and newest.recovery_point == record.chain_end
    # and every earlier full export's chain reaches the next one (a restore between them works),
    # unless the ledger recorded that stretch as given up
    for a, b in itertools.pairwise(seen):
        ref = next(r for r, s in vault if r.export_id == a.export_id)
        reach = build_chain(vault, anchor=ref).recovery_point
        assert reach is not None
        assert reach >= chain_start(b.time) or any(g.start <= reach < g.end for g in record.gaps), (a, b, reach)

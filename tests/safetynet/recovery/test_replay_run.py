"""Running a replay: windows strictly in order, writes within a window in parallel, every write
counted, the journal on the table, and resuming after an interruption at any point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import boto3
import pytest

from conventions.vault import export_prefix
from handlers.exports.apply import WindowIncomplete, apply_window
from handlers.exports.batch_writer import DynamoDBSink, WriteIncomplete
from safetynet.recovery.replay import (
    ReplayPlan,
    ReplayStopped,
    choose_anchor,
    list_vault,
    plan_replay,
    run_replay,
    validate_windows,
)
from safetynet.recovery.replay_target import JOURNAL_TAG, JournalEntry, TagJournal
from tests.safetynet.recovery import replay_fixtures as fx

TARGET = "orders-restored"
KEYS = [f"k{i:03d}" for i in range(120)]


@pytest.fixture
def clients(aws: None) -> tuple[Any, Any]:
    s3 = boto3.client("s3", region_name=fx.REGION)
    s3.create_bucket(Bucket=fx.BUCKET)
    ddb = boto3.client("dynamodb", region_name=fx.REGION)
    fx.create_table(ddb, TARGET)
    return s3, ddb


def _history(s3: Any) -> list[list[Any]]:
    """Anchor: 120 items at v=0. Window w (1..3) sets every key to v=w, except that window 2
    deletes the first 30 keys and window 3 re-creates the first 10 of them."""
    fx.full_export(s3, [fx.item(k, 0) for k in KEYS])
    windows = [
        [fx.put(k, 1, window=1, old=0) for k in KEYS],
        [fx.delete(k, old=1) for k in KEYS[:30]] + [fx.put(k, 2, window=2, old=1) for k in KEYS[30:]],
        [fx.put(k, 3, window=3) for k in KEYS[:10]] + [fx.put(k, 3, window=3, old=2) for k in KEYS[30:]],
    ]
    fx.chain(s3, windows, items_per_file=25)  # several data files per window
    return windows


def _plan(s3: Any, to: datetime | None = None) -> ReplayPlan:
    exports = list_vault(s3, fx.BUCKET, export_prefix(fx.TABLE))
    ref, summary, _ = choose_anchor(s3, exports, to=to, expected_table_arn=fx.TABLE_ARN)
    return validate_windows(s3, exports, plan_replay(exports, ref, summary, to=to))


def _load_anchor(s3: Any, ddb: Any, plan: ReplayPlan) -> None:
    """What `pulumi up` does with the restore-plan's export: the table holds the anchor."""
    from handlers.exports import iter_requests
    from handlers.exports.batch_writer import write_requests

    write_requests(DynamoDBSink(ddb, TARGET), iter_requests(s3, plan.anchor))


def _journal(ddb: Any) -> TagJournal:
    arn = ddb.describe_table(TableName=TARGET)["Table"]["TableArn"]
    return TagJournal(ddb, arn)


def _expected_after_window_3() -> dict[str, int]:
    state = dict.fromkeys(KEYS[:10], 3)
    state.update(dict.fromkeys(KEYS[30:], 3))
    return state


def _values(ddb: Any) -> dict[str, int]:
    return {pk: int(it["v"]["N"]) for pk, it in fx.table_items(ddb, TARGET).items()}


def test_the_chain_brings_the_table_to_the_state_at_its_end(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    _history(s3)
    plan = _plan(s3)
    _load_anchor(s3, ddb, plan)
    outcomes = run_replay(plan, s3=s3, sink=DynamoDBSink(ddb, TARGET), journal=_journal(ddb), concurrency=4)
    assert [(o.result.puts, o.result.deletes) for o in outcomes if o.result] == [(120, 0), (90, 30), (100, 0)]
    assert _values(ddb) == _expected_after_window_3()
    assert _journal(ddb).read() == JournalEntry(plan.anchor.export_id, fx.at(45))


def test_windows_are_strictly_ordered_and_written_in_parallel_within(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    many = [f"m{i:04d}" for i in range(1000)]
    fx.full_export(s3, [])
    # A writer task takes 8 batches of 25: 1,000 changes are 5 tasks, enough for 4 threads.
    fx.chain(
        s3,
        [
            [fx.put(k, 1, window=1) for k in many],
            [fx.put(k, 2, window=2) for k in many[:600]],
            [fx.put(k, 3, window=3) for k in many[:400]],
        ],
        items_per_file=300,
    )
    plan = _plan(s3)
    sink = fx.RecordingSink(hold=0.01)
    run_replay(plan, s3=s3, sink=sink, journal=_journal(ddb), concurrency=4)
    by_window: dict[int, list[fx.Batch]] = {}
    for batch in sink.batches:
        assert len(batch.windows) == 1, batch  # every batch belongs to one window
        by_window.setdefault(next(iter(batch.windows)), []).append(batch)
    assert {w: sum(b.size for b in bs) for w, bs in by_window.items()} == {1: 1000, 2: 600, 3: 400}
    for earlier, later in ((1, 2), (2, 3)):
        # Every write of a window is confirmed before the first of the next one starts.
        assert max(b.ended for b in by_window[earlier]) <= min(b.started for b in by_window[later])
    # Within a window, batches ran on several threads at the same time.
    window_1 = by_window[1]
    assert len({b.thread for b in window_1}) > 1
    assert any(a.started < b.ended and b.started < a.ended for a in window_1 for b in window_1 if a is not b)


def test_a_window_whose_writes_do_not_add_up_to_its_manifest_is_not_applied(clients: tuple[Any, Any]) -> None:
    s3, _ = clients
    _history(s3)
    window = _plan(s3).windows[1]
    sink = fx.RecordingSink()
    assert apply_window(s3, sink, window.ref, window.summary).changes == 120
    # A summary claiming one line more than the data files hold (validation refuses such an
    # export; the count after writing is the second lock).
    with pytest.raises(
        WindowIncomplete, match="120 writes confirmed for 90 puts and 30 deletes read, the manifests list 121"
    ):
        apply_window(s3, sink, window.ref, replace(window.summary, item_count=121))


def test_unprocessed_items_that_stay_unprocessed_stop_the_window(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    _history(s3)
    plan = _plan(s3)

    class Throttled(fx.RecordingSink):
        def write(self, requests: list[bytes]) -> list[bytes]:
            return requests  # DynamoDB keeps handing everything back

    with pytest.raises(ReplayStopped) as caught:
        run_replay(plan, s3=s3, sink=Throttled(), journal=_journal(ddb), sleep=lambda _: None)
    assert isinstance(caught.value.cause, WriteIncomplete)
    assert caught.value.window.number == 1
    assert _journal(ddb).read() == JournalEntry(plan.anchor.export_id, fx.ANCHOR_TIME, applying=fx.at(15))


# Batches of 25 with items_per_file 25: window 1 is batches 1-5, window 2 6-10, window 3 11-14.
@pytest.mark.parametrize(
    ("stop_at_batch", "stopped_in", "done"),
    [(1, 1, fx.ANCHOR_TIME), (3, 1, fx.ANCHOR_TIME), (6, 2, fx.at(15)), (9, 2, fx.at(15)), (14, 3, fx.at(30))],
)
def test_a_replay_interrupted_anywhere_resumes_to_the_same_table(
    clients: tuple[Any, Any], stop_at_batch: int, stopped_in: int, done: datetime
) -> None:
    s3, ddb = clients
    _history(s3)
    plan = _plan(s3)
    _load_anchor(s3, ddb, plan)
    real = DynamoDBSink(ddb, TARGET)

    class Interrupting(fx.RecordingSink):
        """Writes to the table until Ctrl-C arrives at batch `stop_after`."""

        def write(self, requests: list[bytes]) -> list[bytes]:
            super().write(requests)
            return real.write(requests)

    sink = Interrupting(stop_after=stop_at_batch, error=KeyboardInterrupt(), hold=0.0)
    with pytest.raises(ReplayStopped) as caught:
        run_replay(plan, s3=s3, sink=sink, journal=_journal(ddb), concurrency=1)
    stop = caught.value
    assert stop.interrupted
    assert stop.window.number == stopped_in
    assert stop.done == done
    journal = _journal(ddb).read()
    assert journal == JournalEntry(plan.anchor.export_id, done, applying=plan.windows[stopped_in - 1].end)

    # The same command again: windows before the interrupted one are skipped, it is applied again.
    resumed = run_replay(plan, s3=s3, sink=real, journal=_journal(ddb), done=journal.done, concurrency=4)
    assert [o.window.number for o in resumed if o.skipped] == list(range(1, stopped_in))
    assert _values(ddb) == _expected_after_window_3()
    assert _journal(ddb).read() == JournalEntry(plan.anchor.export_id, fx.at(45))


def test_an_interruption_while_the_journal_is_written_resumes_too(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    _history(s3)
    plan = _plan(s3)
    _load_anchor(s3, ddb, plan)
    journal = _journal(ddb)
    writes: list[JournalEntry] = []
    original: Callable[[JournalEntry], None] = journal.write

    def write(entry: JournalEntry) -> None:
        original(entry)
        writes.append(entry)
        if len(writes) == 3:  # window 3's `applying` is on the table, nothing of window 3 written
            raise KeyboardInterrupt

    journal.write = write  # type: ignore[method-assign]
    with pytest.raises(ReplayStopped) as caught:
        run_replay(plan, s3=s3, sink=DynamoDBSink(ddb, TARGET), journal=journal)
    assert caught.value.window.number == 3
    resumed = run_replay(plan, s3=s3, sink=DynamoDBSink(ddb, TARGET), journal=_journal(ddb), done=fx.at(30))
    assert [o.window.number for o in resumed if not o.skipped] == [3]
    assert _values(ddb) == _expected_after_window_3()


def test_a_replay_to_an_earlier_end_stops_there(clients: tuple[Any, Any]) -> None:
    s3, ddb = clients
    _history(s3)
    plan = _plan(s3, fx.at(30))
    _load_anchor(s3, ddb, plan)
    run_replay(plan, s3=s3, sink=DynamoDBSink(ddb, TARGET), journal=_journal(ddb))
    assert _values(ddb) == dict.fromkeys(KEYS[30:], 2)
    tags = ddb.list_tags_of_resource(ResourceArn=_journal(ddb).table_arn)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags}[JOURNAL_TAG] == f"{plan.anchor.export_id} 2026-11-27T03:30:00.000Z"

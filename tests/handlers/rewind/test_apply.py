"""The rewind engine on moto: each kind, each outcome, races, failures, interruption, reruns."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers.exports.incremental import Change
from handlers.rewind.apply import Applier, KeyResult, run_changes
from handlers.rewind.filters import parse_filter
from handlers.rewind.plan import Kind, Outcome
from tests.handlers.rewind.support import (
    AFTER_WINDOW,
    BEFORE_WINDOW,
    TABLE,
    change,
    get,
    item,
    key,
    put,
    spec,
)


def rewind(
    ddb: Any, changes: list[Change], *, dry_run: bool = False, concurrency: int = 1, **kw: Any
) -> list[KeyResult]:
    results: list[KeyResult] = []
    run_changes(
        changes, Applier(ddb, TABLE, spec(**kw), dry_run=dry_run), on_result=results.append, concurrency=concurrency
    )
    return results


def only(results: list[KeyResult]) -> KeyResult:
    assert len(results) == 1
    return results[0]


# -- each kind ------------------------------------------------------------------------------------


def test_an_overwritten_item_gets_its_state_before_the_window_back(ddb: Any) -> None:
    before, bad = item("a", status="PAID", total=10), item("a", status="LOST")
    put(ddb, bad)
    result = only(rewind(ddb, [change(before, bad)]))
    assert (result.kind, result.outcome, result.guard) == (Kind.RESTORE, Outcome.REVERTED, "full")
    assert get(ddb, key("a")) == before


def test_an_item_deleted_in_the_window_is_put_back(ddb: Any) -> None:
    before = item("a", status="PAID")
    result = only(rewind(ddb, [change(before, None)]))
    assert (result.kind, result.outcome, result.guard) == (Kind.RECREATE, Outcome.REVERTED, "absent")
    assert get(ddb, key("a")) == before


def test_an_item_created_in_the_window_is_deleted(ddb: Any) -> None:
    bad = item("a", status="JUNK")
    put(ddb, bad)
    result = only(rewind(ddb, [change(None, bad)]))
    assert (result.kind, result.outcome) == (Kind.DELETE, Outcome.REVERTED)
    assert get(ddb, key("a")) is None


def test_an_item_with_only_key_attributes_is_guarded_by_its_existence(ddb: Any) -> None:
    bad = key("a")
    put(ddb, bad)
    result = only(rewind(ddb, [change(None, bad)]))
    assert (result.outcome, result.guard) == (Outcome.REVERTED, "exists")
    assert get(ddb, key("a")) is None


# -- conflicts: written again after the window ----------------------------------------------------


def test_an_item_written_again_after_the_window_is_a_conflict_and_left_as_it_is(ddb: Any) -> None:
    before, bad, good = item("a", status="PAID"), item("a", status="LOST"), item("a", status="REFUNDED")
    put(ddb, good)
    result = only(rewind(ddb, [change(before, bad)]))
    assert (result.outcome, result.now) == (Outcome.CONFLICT, good)
    assert get(ddb, key("a")) == good


def test_an_item_that_only_gained_an_attribute_after_the_window_is_a_conflict(ddb: Any) -> None:
    before, bad = item("a", status="PAID"), item("a", status="LOST")
    put(ddb, {**bad, "seenAt": {"S": "later"}})
    assert only(rewind(ddb, [change(before, bad)])).outcome is Outcome.CONFLICT
    assert get(ddb, key("a")) == {**bad, "seenAt": {"S": "later"}}


def test_an_item_deleted_in_the_window_and_created_again_after_it_is_a_conflict(ddb: Any) -> None:
    before, good = item("a", v=1), item("a", v=2)
    put(ddb, good)
    assert only(rewind(ddb, [change(before, None)])).outcome is Outcome.CONFLICT
    assert get(ddb, key("a")) == good


def test_an_item_created_in_the_window_and_deleted_after_it_is_unchanged(ddb: Any) -> None:
    # Its state before the window (absent) is already its state now: nothing to undo.
    assert only(rewind(ddb, [change(None, item("a", v=1))])).outcome is Outcome.UNCHANGED


def test_the_override_writes_the_state_before_the_window_over_a_later_write(ddb: Any) -> None:
    before, bad, good = item("a", v=1), item("a", v=2), item("a", v=3)
    put(ddb, good)
    result = only(rewind(ddb, [change(before, bad)], override_conflicts=True))
    assert (result.outcome, result.overridden) == (Outcome.REVERTED, True)
    assert get(ddb, key("a")) == before


# -- unchanged, reruns, noop ----------------------------------------------------------------------


def test_an_item_already_in_its_state_before_the_window_is_unchanged_and_not_written(ddb: Any) -> None:
    before = item("a", v=1)
    put(ddb, before)
    writes = CountingWrites(ddb)
    assert only(rewind(writes, [change(before, item("a", v=2))])).outcome is Outcome.UNCHANGED
    assert writes.writes == 0


def test_rerunning_a_rewind_reports_every_reverted_key_unchanged(ddb: Any) -> None:
    changes = [change(item(f"k{i}", v=i), item(f"k{i}", v=-i - 1)) for i in range(5)]
    changes += [change(None, item("new", v=1)), change(item("gone", v=1), None)]
    put(ddb, *[c.new_image for c in changes if c.new_image is not None])
    first = rewind(ddb, changes)
    second = rewind(ddb, changes)
    assert [r.outcome for r in first] == [Outcome.REVERTED] * 7
    assert [r.outcome for r in second] == [Outcome.UNCHANGED] * 7


def test_numbers_are_compared_by_value_and_sets_as_sets(ddb: Any) -> None:
    # The export may spell a number or order a set differently from what a read returns.
    before = item("a", total={"N": "1.5"}, tags={"SS": ["x", "y"]})
    put(ddb, item("a", total={"N": "2.50"}, tags={"SS": ["y", "x"]}))
    result = only(rewind(ddb, [change(before, item("a", total={"N": "2.5"}, tags={"SS": ["x", "y"]}))]))
    assert result.outcome is Outcome.REVERTED
    assert get(ddb, key("a")) == before


def test_a_change_that_ended_as_it_began_is_unchanged(ddb: Any) -> None:
    same = item("a", v=1)
    put(ddb, same)
    result = only(rewind(ddb, [change(same, dict(same))]))
    assert (result.kind, result.outcome) == (Kind.NOOP, Outcome.UNCHANGED)


# -- left alone -----------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [BEFORE_WINDOW, AFTER_WINDOW])
def test_a_key_last_written_outside_the_window_is_left_alone(ddb: Any, at: int) -> None:
    bad = item("a", v=2)
    put(ddb, bad)
    assert only(rewind(ddb, [change(item("a", v=1), bad, at=at)])).outcome is Outcome.OUTSIDE_WINDOW
    assert get(ddb, key("a")) == bad


def test_a_key_the_filter_does_not_keep_is_left_alone(ddb: Any) -> None:
    ours, theirs = item("a", by="bad-svc@2.0"), item("b", by="good-svc@1.0")
    put(ddb, ours, theirs)
    results = rewind(
        ddb, [change(item("a"), ours), change(item("b"), theirs)], where=parse_filter('NewImage.by = "bad-svc@2.0"')
    )
    assert [r.outcome for r in results] == [Outcome.FILTERED, Outcome.REVERTED] or [r.outcome for r in results] == [
        Outcome.REVERTED,
        Outcome.FILTERED,
    ]
    assert get(ddb, key("a")) == item("a") and get(ddb, key("b")) == theirs


# -- dry run --------------------------------------------------------------------------------------


def test_a_dry_run_predicts_every_outcome_and_writes_nothing(ddb: Any) -> None:
    put(ddb, item("a", v=2), item("c", v=9))
    changes = [
        change(item("a", v=1), item("a", v=2)),
        change(item("b", v=1), None),
        change(item("c", v=1), item("c", v=2)),
    ]
    writes = CountingWrites(ddb)
    results = {r.change.keys["pk"]["S"]: r.outcome for r in rewind(writes, changes, dry_run=True)}
    assert results == {"a": Outcome.REVERTED, "b": Outcome.REVERTED, "c": Outcome.CONFLICT}
    assert writes.writes == 0 and get(ddb, key("a")) == item("a", v=2)


# -- the check is atomic with the write -----------------------------------------------------------


class CountingWrites:
    """The real client; counts writes, and can run `before_write` just before the first one."""

    def __init__(self, ddb: Any, before_write: Any = None, fail_for: str | None = None) -> None:
        self.ddb, self.before_write, self.fail_for, self.writes = ddb, before_write, fail_for, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ddb, name)

    def _write(self, op: str, **kwargs: Any) -> Any:
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook()
        pk = (kwargs.get("Item") or kwargs.get("Key") or {}).get("pk", {}).get("S")
        if pk == self.fail_for:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, op)
        self.writes += 1
        return getattr(self.ddb, op)(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        return self._write("put_item", **kwargs)

    def delete_item(self, **kwargs: Any) -> Any:
        return self._write("delete_item", **kwargs)


def test_a_write_after_the_read_is_caught_by_the_condition_and_becomes_a_conflict(ddb: Any) -> None:
    before, bad, racing = item("a", v=1), item("a", v=2), item("a", v=3)
    put(ddb, bad)
    client = CountingWrites(ddb, before_write=lambda: put(ddb, racing))
    result = only(rewind(client, [change(before, bad)]))
    assert (result.outcome, result.now) == (Outcome.CONFLICT, racing)
    assert get(ddb, key("a")) == racing


def test_a_revert_by_someone_else_after_the_read_is_unchanged(ddb: Any) -> None:
    before, bad = item("a", v=1), item("a", v=2)
    put(ddb, bad)
    client = CountingWrites(ddb, before_write=lambda: put(ddb, before))
    assert only(rewind(client, [change(before, bad)])).outcome is Outcome.UNCHANGED


def test_a_delete_after_the_read_of_an_item_to_delete_is_unchanged(ddb: Any) -> None:
    bad = item("a", v=2)
    put(ddb, bad)
    client = CountingWrites(ddb, before_write=lambda: ddb.delete_item(TableName=TABLE, Key=key("a")))
    assert only(rewind(client, [change(None, bad)])).outcome is Outcome.UNCHANGED


def test_an_item_wider_than_one_condition_gets_a_partial_guard_led_by_the_changed_attributes(ddb: Any) -> None:
    wide = {f"a{i:03d}": {"N": str(i)} for i in range(200)}
    before, bad = item("a", **wide, status="PAID"), item("a", **wide, status="LOST")
    put(ddb, bad)
    # A write racing on the attribute the window changed is still caught by the partial guard.
    client = CountingWrites(ddb, before_write=lambda: put(ddb, {**bad, "status": {"S": "RACED"}}))
    result = only(rewind(client, [change(before, bad)]))
    assert result.outcome is Outcome.CONFLICT
    put(ddb, bad)
    result = only(rewind(ddb, [change(before, bad)]))
    assert (result.outcome, result.guard) == (Outcome.REVERTED, "partial 150/201")
    assert get(ddb, key("a")) == before


# -- failures and interruption -------------------------------------------------------------------


def test_a_write_that_fails_after_its_retries_is_failed_and_the_others_go_on(ddb: Any) -> None:
    put(ddb, item("a", v=2), item("b", v=2))
    client = CountingWrites(ddb, fail_for="a")
    results = {r.change.keys["pk"]["S"]: r for r in rewind(client, [change(item(p, v=1), item(p, v=2)) for p in "ab"])}
    assert results["a"].outcome is Outcome.FAILED and "ProvisionedThroughputExceeded" in (results["a"].error or "")
    assert results["a"].guard == "full"  # what was attempted stays in the outcome (and the audit line)
    assert results["b"].outcome is Outcome.REVERTED
    assert get(ddb, key("a")) == item("a", v=2)


def test_a_failed_read_fails_its_chunk_only(ddb: Any) -> None:
    class BrokenReads(CountingWrites):
        def batch_get_item(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "oops"}}, "BatchGetItem")

    results = rewind(BrokenReads(ddb), [change(item("a", v=1), item("a", v=2))])
    assert only(results).outcome is Outcome.FAILED and "InternalServerError" in (results[0].error or "")


def test_many_keys_on_several_threads_end_in_exactly_one_outcome_each(ddb: Any) -> None:
    changes = [change(item(f"k{i:04d}", v=i), item(f"k{i:04d}", v=-i - 1)) for i in range(450)]
    put(ddb, *[c.new_image for c in changes if c.new_image is not None and int(c.keys["pk"]["S"][1:]) % 3])
    results = rewind(ddb, changes, concurrency=4)
    assert sorted(r.change.keys["pk"]["S"] for r in results) == sorted(c.keys["pk"]["S"] for c in changes)
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.REVERTED) == 300 and outcomes.count(Outcome.CONFLICT) == 150


def test_an_interrupted_rewind_reports_what_it_did_and_a_rerun_finishes_it(ddb: Any) -> None:
    changes = [change(item(f"k{i:04d}", v=i), item(f"k{i:04d}", v=-i - 1)) for i in range(600)]
    put(ddb, *[c.new_image for c in changes if c.new_image is not None])
    seen: list[KeyResult] = []

    def interrupt_after_150(result: KeyResult) -> None:
        seen.append(result)
        if len(seen) == 150:
            raise KeyboardInterrupt

    applier = Applier(ddb, TABLE, spec(), dry_run=False)
    with pytest.raises(KeyboardInterrupt):
        run_changes(changes, applier, on_result=interrupt_after_150, concurrency=2)
    reported = [r.change.keys["pk"]["S"] for r in seen]
    settled = [r for r in seen if r.outcome is not Outcome.NOT_REACHED]
    assert len(reported) == len(set(reported)) and len(settled) < 600  # stopped early, no key twice
    reverted = {r.change.keys["pk"]["S"] for r in seen if r.outcome is Outcome.REVERTED}
    assert reverted and all(get(ddb, key(pk)) == item(pk, v=int(pk[1:])) for pk in reverted)
    rerun = rewind(ddb, changes, concurrency=2)
    by_key = {r.change.keys["pk"]["S"]: r.outcome for r in rerun}
    assert all(by_key[pk] is Outcome.UNCHANGED for pk in reverted)
    assert set(by_key.values()) <= {Outcome.UNCHANGED, Outcome.REVERTED} and len(by_key) == 600
    assert all(get(ddb, key(c.keys["pk"]["S"])) == c.old_image for c in changes)


def test_keys_batchgetitem_leaves_unprocessed_are_read_again(ddb: Any) -> None:
    class Throttled(CountingWrites):
        calls = 0

        def batch_get_item(self, RequestItems: Any) -> Any:
            self.calls += 1
            ((table, request),) = RequestItems.items()
            keys = request["Keys"]
            if self.calls == 1:  # the first answer leaves all but one key unprocessed
                out = self.ddb.batch_get_item(RequestItems={table: {**request, "Keys": keys[:1]}})
                out["UnprocessedKeys"] = {table: {**request, "Keys": keys[1:]}}
                return out
            return self.ddb.batch_get_item(RequestItems=RequestItems)

    put(ddb, *[item(p, v=2) for p in "abc"])
    client = Throttled(ddb)
    applier = Applier(client, TABLE, spec(), dry_run=False, sleep=lambda _s: None)
    results: list[KeyResult] = []
    run_changes([change(item(p, v=1), item(p, v=2)) for p in "abc"], applier, on_result=results.append, concurrency=1)
    assert client.calls == 2 and [r.outcome for r in results] == [Outcome.REVERTED] * 3


def test_keys_left_unprocessed_after_every_attempt_fail_their_chunk_and_nothing_is_written(ddb: Any) -> None:
    class AlwaysThrottled(CountingWrites):
        def batch_get_item(self, RequestItems: Any) -> Any:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}

    put(ddb, item("a", v=2))
    client = AlwaysThrottled(ddb)
    applier = Applier(client, TABLE, spec(), dry_run=False, sleep=lambda _s: None)
    results: list[KeyResult] = []
    run_changes([change(item("a", v=1), item("a", v=2))], applier, on_result=results.append, concurrency=1)
    assert only(results).outcome is Outcome.FAILED and "unprocessed" in (results[0].error or "")
    assert client.writes == 0 and get(ddb, key("a")) == item("a", v=2)

"""Applying a rewind to the live table: every key checked, written at most once, and reported.

Per chunk of up to CHUNK (25) changed keys, on one worker thread:

1. the live items are read with one strongly consistent BatchGetItem (unprocessed keys retried);
2. each key is settled against its live item:
   - live == OldImage (the state before the window): `unchanged`, nothing written - a key a
     previous run already reverted, so a rerun resumes where an interrupted one stopped;
   - live == NewImage (as the window left it): the undo is written (PutItem of OldImage, or
     DeleteItem) with a condition that the item is still NewImage (`handlers.rewind.conditions`),
     so the check and the write are one atomic step; `reverted`;
   - anything else: it was written again after the window: `conflict`, never written, reported
     with its three versions - unless the operator overrides conflicts, when OldImage is written
     with a condition that the item is still the version just read;
3. a write whose condition fails is settled again from the item DynamoDB returns with the failure
   (ReturnValuesOnConditionCheckFailure=ALL_OLD): already OldImage -> `unchanged`, else `conflict`.

Throttling is retried by the client (`handlers.clients.RETRIES`, adaptive mode); an error that
outlasts the retries makes that key `failed` (the others go on; a rerun retries it).

The guarantee: a write lands only if every attribute of the expected version it compares still
has that value, atomically (DynamoDB evaluates the condition and writes in one step). For items
with up to 150 top-level attributes the condition compares every attribute of the expected
version. It cannot name attributes the expected version does not have: a write after the window
that only *added* an attribute is caught by the consistent read just before (whole items are
compared), not by the condition, so such a write landing in the milliseconds between that read
and the conditional write would be overwritten. Items with more than 150 attributes are compared
whole on the read and on as many attributes as the limits allow in the condition (the window's
changed attributes first); their outcome records say `guard: partial n/m`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.exports.incremental import Change
from handlers.exports.items import Item
from handlers.rewind.conditions import FULL_GUARD_ATTRIBUTES, guard_request
from handlers.rewind.images import changed_attributes, key_id, key_names, same
from handlers.rewind.plan import (
    CONFLICT,
    FAILED,
    NOOP,
    REVERTED,
    UNCHANGED,
    Kind,
    Outcome,
    RewindSpec,
    kind_of,
    screen,
)

CHUNK = 25
"""Changed keys read with one BatchGetItem (which takes up to 100) and then settled. A quarter of
its limit: the read units are the same (DynamoDB charges per item, not per call) and the read is
still one call per 25 conditional writes (about 4% of a thread's round trips, against 1% at 100),
but a chunk's changes are still in the CPU's cache when they are settled, right after being
parsed: 2 to 5% less CPU per key than at 100 in runs of bench/rewind.py."""
MAX_READ_ATTEMPTS = 10
DEFAULT_CONCURRENCY = 8


@dataclass(slots=True)
class KeyResult:
    """The outcome of one key, with what a report needs to explain it."""

    change: Change
    kind: Kind
    outcome: Outcome
    guard: str = ""
    """The write's guard (`full`, `partial n/m`, `absent`, `exists`), when a write was made or planned."""
    now: Item | None = None
    """The live item, when read (conflicts: the version written after the window)."""
    now_read: bool = False
    error: str | None = None
    overridden: bool = False
    """A conflict overwritten on the operator's explicit override."""


def error_text(exc: BaseException) -> str:
    """`Code: message` of an AWS error, else the exception's text."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class Applier:
    """Settles chunks of changes against one table (`dry_run`: reads, never writes)."""

    def __init__(
        self,
        ddb: Any,
        table: str,
        spec: RewindSpec,
        *,
        dry_run: bool,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ddb = ddb
        self.table = table
        self.spec = spec
        self.dry_run = dry_run
        self.sleep = sleep

    # -- reading ---------------------------------------------------------------------------------

    def read_live(self, keys: list[Item]) -> dict[tuple[Any, ...], Item]:
        """The live items of `keys` (by `key_id`; absent ones are missing), strongly consistent."""
        names = key_names(keys[0])
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        found: dict[tuple[Any, ...], Item] = {}
        for attempt in range(MAX_READ_ATTEMPTS):
            out = self.ddb.batch_get_item(RequestItems=request)
            for item in out.get("Responses", {}).get(self.table, []):
                found[key_id(item, names)] = item
            unprocessed = out.get("UnprocessedKeys", {}).get(self.table)
            if not unprocessed or not unprocessed.get("Keys"):
                return found
            request = {self.table: unprocessed}
            self.sleep(random.uniform(0, min(5.0, 0.05 * 2**attempt)))  # noqa: S311 (jitter)
        raise RuntimeError(f"BatchGetItem left keys unprocessed after {MAX_READ_ATTEMPTS} attempts (throttled table)")

    def _read_one(self, keys: Item) -> Item | None:
        out = self.ddb.get_item(TableName=self.table, Key=keys, ConsistentRead=True)
        item: Item | None = out.get("Item")
        return item

    # -- writing ---------------------------------------------------------------------------------

    def _write(
        self,
        change: Change,
        kind: Kind,
        live: Item | None,
        target: Item | None,
        expected: Item | None,
        *,
        overridden: bool = False,
    ) -> KeyResult:
        """Write `target` (None: delete) if the item is still `expected`; the key's result."""
        keys = change.keys
        # Only items too wide for a full guard need the attributes it compares first.
        first: list[str] = []
        if expected is not None and len(expected) > FULL_GUARD_ATTRIBUTES:
            first = changed_attributes(target, expected)
        guard, request = guard_request(expected, keys, first=first)
        if self.dry_run:
            return KeyResult(change, kind, REVERTED, guard, live, True, None, overridden)
        try:
            try:
                if target is None:
                    self.ddb.delete_item(
                        TableName=self.table, Key=keys, ReturnValuesOnConditionCheckFailure="ALL_OLD", **request
                    )
                else:
                    self.ddb.put_item(
                        TableName=self.table, Item=target, ReturnValuesOnConditionCheckFailure="ALL_OLD", **request
                    )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                # Changed between the read and the write: settle again on the version that failed it.
                response: dict[str, Any] = dict(exc.response)
                now = response["Item"] if "Item" in response else self._read_one(keys)
                outcome = UNCHANGED if same(now, target) else CONFLICT
                return KeyResult(change, kind, outcome, guard, now, True)
        except (ClientError, BotoCoreError) as exc:
            # The write's guard stays in the outcome (the audit line says what was attempted).
            return KeyResult(change, kind, FAILED, guard, live, True, error_text(exc), overridden)
        return KeyResult(change, kind, REVERTED, guard, live, True, None, overridden)

    def settle(self, change: Change, kind: Kind, live: Item | None) -> KeyResult:
        """Decide and (unless a dry run) write one key whose live item is `live`."""
        target, expected = change.old_image, change.new_image
        try:
            # Plain equality first (C-level: what nearly every key meets), DynamoDB's after.
            if live is not None and live == expected and kind is not NOOP:
                return self._write(change, kind, live, target, expected)
            if same(live, target):
                return KeyResult(change, kind, UNCHANGED, "", live, True)
            if same(live, expected):
                return self._write(change, kind, live, target, expected)
            if self.spec.override_conflicts:
                return self._write(change, kind, live, target, live, overridden=True)
            return KeyResult(change, kind, CONFLICT, "", live, True)
        except (ClientError, BotoCoreError) as exc:
            return KeyResult(change, kind, FAILED, "", live, True, error_text(exc))

    def apply_chunk(self, chunk: Chunk, emit: Callable[[KeyResult], None] | None = None) -> list[KeyResult]:
        """Settle up to CHUNK changes of distinct keys: one consistent read, then one write each.
        With `emit`, each result is handed over as soon as its key is settled (and not returned);
        a KeyboardInterrupt then reports the chunk's unsettled keys NOT_REACHED (the one being
        written included: a rerun settles it) before it is re-raised."""
        results: list[KeyResult] = []
        out = emit or results.append
        try:
            live = self.read_live([c.keys for c, _, _ in chunk])
        except (ClientError, BotoCoreError, RuntimeError) as exc:
            text = error_text(exc)
            for c, k, _ in chunk:
                out(KeyResult(c, k, Outcome.FAILED, error=f"reading the live item: {text}"))
            return results
        settled = 0
        try:
            for c, k, ident in chunk:
                result = self.settle(c, k, live.get(ident))
                settled += 1
                out(result)
        except KeyboardInterrupt:
            for c, k, _ in chunk[settled:]:
                out(KeyResult(c, k, Outcome.NOT_REACHED))
            raise
        return results


Chunk = list[tuple[Change, Kind, tuple[Any, ...]]]
"""Up to CHUNK changes of distinct keys, each with its kind and key identity (`key_id`)."""


def _chunks(changes: Iterable[Change], spec: RewindSpec, on_result: Callable[[KeyResult], None]) -> Iterator[Chunk]:
    """Screen each change (outside the window, filtered: reported at once) and group the others
    in chunks of distinct keys."""
    chunk: Chunk = []
    ids: set[tuple[Any, ...]] = set()
    names: tuple[str, ...] | None = None
    start, end = spec.window.start_micros, spec.window.end_micros
    for change in changes:
        kind = kind_of(change)
        # `screen` decides; inside the window and without a filter it has nothing to say.
        if not (start <= change.write_micros < end and spec.where is None):
            left_alone = screen(change, spec)
            if left_alone is not None:
                on_result(KeyResult(change, kind, left_alone))
                continue
        names = names or key_names(change.keys)
        ident = key_id(change.keys, names)
        if ident in ids or len(chunk) == CHUNK:  # a key twice in a chunk: BatchGetItem refuses it
            yield chunk
            chunk, ids = [], set()
        chunk.append((change, kind, ident))
        ids.add(ident)
    if chunk:
        yield chunk


def run_changes(
    changes: Iterable[Change],
    applier: Applier,
    *,
    on_result: Callable[[KeyResult], None],
    concurrency: int = DEFAULT_CONCURRENCY,
) -> None:
    """Settle every change, reporting each key's KeyResult through `on_result` (always called
    on this thread). At most `concurrency` chunks are settled at once and twice that many queued,
    so memory does not grow with the export. On KeyboardInterrupt, chunks not yet started are
    reported NOT_REACHED, running ones are finished and reported, and the interrupt is re-raised."""
    chunks = _chunks(changes, applier.spec, on_result)
    if concurrency <= 1:
        for chunk in chunks:
            applier.apply_chunk(chunk, emit=on_result)
        return
    pending: dict[Future[list[KeyResult]], Chunk] = {}

    def collect(done: Iterable[Future[list[KeyResult]]]) -> None:
        # Every settled key is reported, even when Ctrl-C lands while reporting: then the rest
        # of what is done is reported too, and the interrupt re-raised after.
        stopped: KeyboardInterrupt | None = None
        for future in done:
            chunk = pending.pop(future)
            if future.cancelled():
                results = [KeyResult(change, kind, Outcome.NOT_REACHED) for change, kind, _ in chunk]
            else:
                results = future.result()
            for result in results:
                try:
                    on_result(result)
                except KeyboardInterrupt as exc:
                    stopped = exc
        if stopped is not None:
            raise stopped

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="rewind")
    try:
        for chunk in chunks:
            if len(pending) >= concurrency * 2:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                collect(done)
            pending[pool.submit(applier.apply_chunk, chunk)] = chunk
        done, _ = wait(pending)
        collect(done)
    except KeyboardInterrupt:
        for future in pending:
            future.cancel()
        done, _ = wait(pending)
        collect(done)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

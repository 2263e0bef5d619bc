"""Checked bulk writes into DynamoDB: every item is written or the run fails loudly.

BatchWriteItem takes at most 25 requests and may hand some back as UnprocessedItems (throttling,
capacity). Those are retried with full-jitter exponential backoff until written; when the
attempts run out the caller gets `WriteIncomplete` naming how many remain - never a silently
shorter table. Used by staging's refill and sweep, the DR refill, and the demo's loader.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

Item = dict[str, Any]
BATCH_SIZE = 25  # BatchWriteItem's limit per request
MAX_BATCH_ATTEMPTS = 12


class WriteIncomplete(RuntimeError):
    """Requests stayed unprocessed after every retry."""


class Sink(Protocol):
    """Where batches of write requests go: DynamoDB, or a no-op sink for the benchmark."""

    def write(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send up to 25 requests; return the unprocessed ones."""
        ...


@dataclass
class DynamoDBSink:
    """BatchWriteItem into one table."""

    ddb: Any
    table: str

    def write(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send one batch; return what DynamoDB left unprocessed."""
        out = self.ddb.batch_write_item(RequestItems={self.table: requests})
        unprocessed: list[dict[str, Any]] = out.get("UnprocessedItems", {}).get(self.table, [])
        return unprocessed


@dataclass
class NullSink:
    """Accepts everything (benchmarks: measures reading, validating and batching only)."""

    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Count and drop."""
        with self._lock:
            self.count += len(requests)
        return []


def write_batch(
    sink: Sink,
    requests: list[dict[str, Any]],
    *,
    max_attempts: int = MAX_BATCH_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    base_delay: float = 0.05,
    max_delay: float = 5.0,
) -> None:
    """Write one batch, retrying `UnprocessedItems` with full-jitter exponential backoff.

    Raises WriteIncomplete (naming how many items remain) when attempts run out: never drops."""
    pending = requests
    for attempt in range(max_attempts):
        pending = sink.write(pending)
        if not pending:
            return
        delay = min(max_delay, base_delay * 2**attempt)
        sleep(random.uniform(0, delay))  # noqa: S311 (jitter, not cryptography)
    raise WriteIncomplete(
        f"{len(pending)} items still unprocessed after {max_attempts} attempts (throttled table or "
        "capacity too low); the run stops rather than drop them - raise write capacity or retry"
    )


def batched(items: Iterable[Item], size: int = BATCH_SIZE) -> Iterator[list[dict[str, Any]]]:
    """PutRequests in batches of `size`."""
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_items(
    sink: Sink,
    items: Iterable[Item],
    *,
    concurrency: int = 4,
    on_progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    batches_per_task: int = 8,
) -> int:
    """Write every item through `sink` with at most `concurrency` workers, each sending
    `batches_per_task` batches of 25 in a row (fewer thread hand-offs), and at most two tasks per
    worker queued: memory stays bounded because the reader waits for the writers.
    Returns the number of items written; the first WriteIncomplete fails the whole run."""
    written = 0

    def one(group: list[list[dict[str, Any]]]) -> int:
        n = 0
        for batch in group:
            write_batch(sink, batch, sleep=sleep)
            n += len(batch)
            if on_progress:
                on_progress(len(batch))
        return n

    def groups() -> Iterator[list[list[dict[str, Any]]]]:
        group: list[list[dict[str, Any]]] = []
        for batch in batched(items):
            group.append(batch)
            if len(group) == batches_per_task:
                yield group
                group = []
        if group:
            yield group

    if concurrency <= 1:
        return sum(one(g) for g in groups())
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        in_flight: set[Future[int]] = set()
        for group in groups():
            if len(in_flight) >= concurrency * 2:
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                written += sum(f.result() for f in finished)  # re-raises WriteIncomplete here
            in_flight.add(pool.submit(one, group))
        written += sum(f.result() for f in in_flight)
    return written

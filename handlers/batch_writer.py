"""Checked bulk writes into DynamoDB: every item is written or the run fails loudly.

BatchWriteItem takes at most 25 items and may hand some back as UnprocessedItems (throttling,
capacity). Those are retried with exponential backoff and jitter until written; after the
attempts run out the caller gets `WriteIncomplete` naming how many items were not written —
never a silently shorter table.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import islice
from typing import Any

BATCH_SIZE = 25  # DynamoDB's limit per BatchWriteItem request
DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_ATTEMPTS = 12


class WriteIncomplete(RuntimeError):
    """Items stayed unprocessed after every retry."""

    def __init__(self, table: str, unwritten: int, attempts: int):
        self.unwritten = unwritten
        super().__init__(
            f"{unwritten} items could not be written to {table} after {attempts} attempts "
            "(throttled or over capacity); nothing was dropped silently - rerun, or raise the table's "
            "write capacity / lower the concurrency"
        )


def batches(items: Iterable[dict[str, Any]], size: int = BATCH_SIZE) -> Iterator[list[dict[str, Any]]]:
    """Consecutive lists of at most `size` items."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _write_batch(
    ddb: Any, table: str, requests: list[dict[str, Any]], max_attempts: int, sleep: Callable[[float], None]
) -> int:
    pending = requests
    for attempt in range(1, max_attempts + 1):
        resp = ddb.batch_write_item(RequestItems={table: pending})
        pending = resp.get("UnprocessedItems", {}).get(table, [])
        if not pending:
            return len(requests)
        if attempt < max_attempts:
            # Full jitter: spreads retries of parallel writers apart.
            sleep(random.uniform(0, min(5.0, 0.05 * 2**attempt)))  # noqa: S311 (jitter, not crypto)
    raise WriteIncomplete(table, len(pending), max_attempts)


def write_requests(
    ddb: Any,
    table: str,
    requests: Iterable[dict[str, Any]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    on_progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send PutRequest/DeleteRequest entries in batches of 25 with at most `concurrency`
    requests in flight (memory stays bounded: batches are pulled from the iterator as slots
    free up). Returns how many were written; raises WriteIncomplete otherwise."""
    done = 0
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        in_flight: set[Future[int]] = set()
        for batch in batches(requests):
            if len(in_flight) >= concurrency:
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for f in finished:
                    n = f.result()
                    done += n
                    if on_progress:
                        on_progress(n)
            in_flight.add(pool.submit(_write_batch, ddb, table, batch, max_attempts, sleep))
        for f in in_flight:
            n = f.result()
            done += n
            if on_progress:
                on_progress(n)
    return done


def write_items(ddb: Any, table: str, items: Iterable[dict[str, Any]], **kwargs: Any) -> int:
    """Put every item (low-level attribute format); see `write_requests`."""
    return write_requests(ddb, table, ({"PutRequest": {"Item": item}} for item in items), **kwargs)


def delete_keys(ddb: Any, table: str, keys: Iterable[dict[str, Any]], **kwargs: Any) -> int:
    """Delete items by primary key; see `write_requests`."""
    return write_requests(ddb, table, ({"DeleteRequest": {"Key": key}} for key in keys), **kwargs)

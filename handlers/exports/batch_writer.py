"""Checked bulk writes into DynamoDB: every item is written or the run fails loudly.

BatchWriteItem takes at most 25 requests and may hand some back as UnprocessedItems (throttling,
capacity). Those are retried with full-jitter exponential backoff until written; when the
attempts run out the caller gets `WriteIncomplete` naming how many remain - never a silently
shorter table. Used by staging's refill and sweep, the DR refill, and the demo's loader.

Write requests travel as **DynamoDB JSON bytes**, the wire format of BatchWriteItem and exactly
what an export's data line holds: a line `{"Item":{...}}` becomes the request
`{"PutRequest":{"Item":{...}}}` by concatenation (`put_request`), so a refill never parses an
item to write it, and nothing converts numbers, binaries or sets on the way. boto3 still
validates the call, resolves the endpoint, signs, sends, retries and parses the response: only
the request body is ours (`DynamoDBSink`). boto3's own per-attribute serializer would cost about
170 us of CPU per item (bench/refill.py prints it), 20 times the cost of reading the export.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from handlers.exports.dynamodb_json import encode_item, json_default
from handlers.exports.items import Item

Request = bytes
"""One BatchWriteItem WriteRequest in DynamoDB JSON (`{"PutRequest":...}` or `{"DeleteRequest":...}`)."""

BATCH_SIZE = 25  # BatchWriteItem's limit per request
MAX_BATCH_ATTEMPTS = 12


class WriteIncomplete(RuntimeError):
    """Requests stayed unprocessed after every retry."""


# --- requests ---------------------------------------------------------------------------------


def encode_request(request: dict[str, Any]) -> Request:
    """A WriteRequest in boto3's low-level format (binary as bytes) -> DynamoDB JSON bytes."""
    return orjson.dumps(request, default=json_default)


def put_item_request(item: Item) -> Request:
    """A PutRequest for a low-level item."""
    return b'{"PutRequest":{"Item":' + encode_item(item) + b"}}"


def delete_request(key: Item) -> Request:
    """A DeleteRequest for a low-level key."""
    return b'{"DeleteRequest":{"Key":' + encode_item(key) + b"}}"


def put_request(export_line: bytes) -> Request:
    """The PutRequest of one DYNAMODB_JSON export line (`{"Item":{...}}`, which validation
    proved is exactly that object): no parsing, no conversion."""
    return b'{"PutRequest":' + export_line.strip() + b"}"


# --- sinks ------------------------------------------------------------------------------------


class Sink(Protocol):
    """Where batches of write requests go: DynamoDB, or a no-op sink for the benchmark."""

    def write(self, requests: list[Request]) -> list[Request]:
        """Send up to 25 requests; return the unprocessed ones."""
        ...


_BODY_HANDLER_ID = "safetynet.batch_writer.body"
_pending = threading.local()
# boto3 checks the call's parameters before our body replaces them: an item without attributes
# passes that check, and should the body ever not be replaced, DynamoDB refuses it (no key)
# rather than writing anything.
_PLACEHOLDER: list[dict[str, Any]] = [{"PutRequest": {"Item": {}}}]


def _use_pending_body(params: dict[str, Any], **_: Any) -> None:
    """botocore `before-call` handler: the serialized request dict is about to be signed and
    sent; put in the body this thread prepared (handlers run in the calling thread)."""
    body = getattr(_pending, "body", None)
    if body is not None:
        params["body"] = body
        _pending.used = True


@dataclass
class DynamoDBSink:
    """BatchWriteItem into one table, the body built from the requests' bytes."""

    ddb: Any
    table: str
    _prefix: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._prefix = b'{"RequestItems":{' + orjson.dumps(self.table) + b":["
        # Per client, once (the unique id makes a second registration a no-op).
        self.ddb.meta.events.register(
            "before-call.dynamodb.BatchWriteItem", _use_pending_body, unique_id=_BODY_HANDLER_ID
        )

    def write(self, requests: list[Request]) -> list[Request]:
        """Send one batch; return what DynamoDB left unprocessed (as request bytes)."""
        _pending.body = self._prefix + b",".join(requests) + b"]}}"
        _pending.used = False
        try:
            out = self.ddb.batch_write_item(RequestItems={self.table: _PLACEHOLDER})
        finally:
            _pending.body = None
        if not _pending.used:  # cannot happen with botocore's event system as it is; never guess
            raise RuntimeError("the BatchWriteItem body was not replaced; nothing can be assumed written")
        unprocessed: list[dict[str, Any]] = out.get("UnprocessedItems", {}).get(self.table, [])
        return [encode_request(r) for r in unprocessed]


@dataclass
class NullSink:
    """Accepts everything (benchmarks: measures reading, validating and batching only)."""

    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(self, requests: list[Request]) -> list[Request]:
        """Count and drop."""
        with self._lock:
            self.count += len(requests)
        return []


# --- writing ----------------------------------------------------------------------------------


def write_batch(
    sink: Sink,
    requests: list[Request],
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


def batched(requests: Iterable[Request], size: int = BATCH_SIZE) -> Iterator[list[Request]]:
    """Requests in batches of `size`."""
    batch: list[Request] = []
    for request in requests:
        batch.append(request)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_requests(
    sink: Sink,
    requests: Iterable[Request],
    *,
    concurrency: int = 4,
    on_progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    batches_per_task: int = 8,
) -> int:
    """Write every request through `sink` with at most `concurrency` workers, each sending
    `batches_per_task` batches of 25 in a row (fewer thread hand-offs), and at most two tasks per
    worker queued: memory stays bounded because the reader waits for the writers.
    Returns the number of requests written; the first WriteIncomplete fails the whole run."""
    written = 0

    def one(group: list[list[Request]]) -> int:
        n = 0
        for batch in group:
            write_batch(sink, batch, sleep=sleep)
            n += len(batch)
            if on_progress:
                on_progress(len(batch))
        return n

    def groups() -> Iterator[list[list[Request]]]:
        group: list[list[Request]] = []
        for batch in batched(requests):
            group.append(batch)
            if len(group) == batches_per_task:
                yield group
                group = []
        if group:
            yield group

    if concurrency <= 1:
        return sum(one(g) for g in groups())
    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        in_flight: set[Future[int]] = set()
        for group in groups():
            if len(in_flight) >= concurrency * 2:
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                written += sum(f.result() for f in finished)  # re-raises WriteIncomplete here
            in_flight.add(pool.submit(one, group))
        written += sum(f.result() for f in in_flight)
    except BaseException:
        # Ctrl-C, SIGTERM or a failed batch: the groups not started yet are dropped, not written
        # (a plain `with` would write up to 2 x concurrency queued groups before it lets go).
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return written


def write_items(
    sink: Sink,
    items: Iterable[Item],
    *,
    concurrency: int = 4,
    on_progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """`write_requests` for low-level items (PutRequests)."""
    return write_requests(
        sink,
        (put_item_request(item) for item in items),
        concurrency=concurrency,
        on_progress=on_progress,
        sleep=sleep,
    )

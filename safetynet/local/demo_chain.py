"""The demo's chain step: after the nightly export, writes go on; the incremental chain captures
them; the table is lost; it comes back from the nightly export (the anchor) plus the chain, to the
chain's last second, item for item.

`chain_step` runs it against the emulator with the product's own code: the emulator exporter
(`safetynet.backup.stream_export`, reading the table's DynamoDB stream, which must have the
NEW_AND_OLD_IMAGES view) writes each window in AWS's incremental layout; the table is deleted and
created again from the anchor (CreateTable + the refill, as `pulumi up` + `safetynet refill` do for
an LSI table); `safetynet replay`'s engine (`safetynet.recovery.replay`: plan, validate every
window, apply in order, journal on the table) brings it forward. The result holds the figures the
demo's summary prints. Windows are whole seconds (the emulator exporter's boundaries), so the step
takes a few seconds of real time.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_WRITES = 300
DEFAULT_WINDOWS = 3


class ChainStepFailed(RuntimeError):
    """The chain step could not run or the restored table differs from the source."""


@dataclass(frozen=True)
class ChainStepResult:
    """What the step did and found (the demo's summary)."""

    table: str
    anchor: str
    writes: int
    """Puts, updates and deletes made after the nightly export."""
    windows: int
    changes: int
    """Lines in the windows (compacted: one per item changed in a window)."""
    puts: int
    deletes: int
    recovery_point: datetime
    items: int
    """Items in the table brought back."""
    mismatches: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.mismatches == 0


def _canonical(item: dict[str, Any]) -> bytes:
    import orjson

    from handlers.exports.dynamodb_json import json_default

    return orjson.dumps(item, option=orjson.OPT_SORT_KEYS, default=json_default)


def _scan(ddb: Any, table: str, key_names: list[str]) -> dict[bytes, bytes]:
    """Every item of `table` (consistent scan), canonical bytes by canonical key."""
    out: dict[bytes, bytes] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        for item in page.get("Items", []):
            out[_canonical({k: item[k] for k in key_names})] = _canonical(item)
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _wait(ddb: Any, table: str, *, gone: bool = False, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = ddb.describe_table(TableName=table)["Table"]["TableStatus"]
        except ddb.exceptions.ResourceNotFoundException:
            if gone:
                return
            status = None
        if not gone and status == "ACTIVE":
            return
        time.sleep(0.05)
    raise ChainStepFailed(f"timed out waiting for {table} to be {'deleted' if gone else 'ACTIVE'}")


def _next_second(after: datetime) -> datetime:
    return after.replace(microsecond=0) + timedelta(seconds=1)


def _write_window(
    ddb: Any,
    table: str,
    rng: random.Random,
    keys: list[dict[str, Any]],
    key_names: list[str],
    new_item: Callable[[int], dict[str, Any]],
    n: int,
    counter: list[int],
) -> int:
    """`n` writes: about half updates of existing items, a fifth deletes, the rest new items and
    re-creations; several land on the same item within the window."""
    for _ in range(n):
        roll = rng.random()
        if keys and roll < 0.5:
            key = rng.choice(keys)
            ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET chainEdits = if_not_exists(chainEdits, :zero) + :one",
                ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}},
            )
        elif keys and roll < 0.7:
            ddb.delete_item(TableName=table, Key=rng.choice(keys))
        else:
            counter[0] += 1
            item = new_item(counter[0])
            ddb.put_item(TableName=table, Item=item)
            keys.append({k: item[k] for k in key_names})
    return n


def chain_step(
    *,
    ddb: Any,
    streams: Any,
    s3: Any,
    table: str,
    bucket: str,
    anchor: Any,
    create_request: dict[str, Any],
    new_item: Callable[[int], dict[str, Any]],
    writes: int = DEFAULT_WRITES,
    windows: int = DEFAULT_WINDOWS,
    seed: int = 7,
    on_step: Callable[[str], None] | None = None,
) -> ChainStepResult:
    """Writes after the nightly export `anchor` of `table`, captured in `windows` windows, then
    the table lost and brought back from the anchor and the chain; compares it item for item
    with the table as it was at the chain's end. `create_request` is the table's CreateTable
    request (its declared inputs, `safetynet.local.deploy.create_table_request`), `new_item(i)`
    a new item of the table. Raises ChainStepFailed when the table cannot be brought back."""
    from conventions.chain import incremental_export_prefix
    from conventions.vault import export_prefix
    from handlers.exports import iter_requests, read_summary
    from handlers.exports.batch_writer import DynamoDBSink, write_requests
    from handlers.exports.layout import format_time
    from safetynet.backup.stream_export import export_stream_window
    from safetynet.recovery.replay import ReplayError, list_vault, plan_replay, run_replay, validate_windows
    from safetynet.recovery.replay_target import TagJournal

    say = on_step or (lambda _: None)
    started = time.perf_counter()
    rng = random.Random(f"chain:{seed}:{table}")  # noqa: S311 (demo data, not secrets)
    key_names = [k["AttributeName"] for k in create_request["KeySchema"]]
    summary = read_summary(s3, anchor)
    sample = ddb.scan(TableName=table, Limit=200).get("Items", [])
    keys = [{k: item[k] for k in key_names} for item in sample]
    counter = [1_000_000]
    start = summary.export_time
    if start.microsecond:
        raise ChainStepFailed(
            f"the anchor's exportTime {format_time(start)} is not a whole second (emulator windows are)"
        )
    refs = []
    made = 0
    for w in range(windows):
        made += _write_window(ddb, table, rng, keys, key_names, new_item, writes // windows, counter)
        end = _next_second(datetime.now(UTC))
        refs.append(
            export_stream_window(
                ddb,
                streams,
                s3,
                table=table,
                bucket=bucket,
                prefix=incremental_export_prefix(table),
                start=start,
                end=end,
            )
        )
        say(f"window {w + 1}/{windows} {format_time(start)} .. {format_time(end)} exported: {refs[-1].url}")
        start = end
    expected = _scan(ddb, table, key_names)

    # The table is lost: protection off, then DeleteTable (what the accident step does too).
    ddb.update_table(TableName=table, DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=table)
    _wait(ddb, table, gone=True)
    say(f"table {table} deleted")
    # Back from the anchor (pulumi up creates it; the refill loads the nightly export) ...
    ddb.create_table(**create_request)
    _wait(ddb, table)
    write_requests(DynamoDBSink(ddb, table), iter_requests(s3, anchor))
    # ... and forward through the chain (safetynet replay --latest).
    try:
        exports = list_vault(s3, bucket, export_prefix(table))
        plan = validate_windows(s3, exports, plan_replay(exports, anchor, summary, to=None))
    except ReplayError as exc:
        raise ChainStepFailed(str(exc)) from exc
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    outcomes = run_replay(plan, s3=s3, sink=DynamoDBSink(ddb, table), journal=TagJournal(ddb, arn))
    say(f"replayed {len(plan.windows)} windows up to {format_time(plan.to)}")
    restored = _scan(ddb, table, key_names)
    mismatches = sum(1 for k in expected.keys() | restored.keys() if expected.get(k) != restored.get(k))
    results = [o.result for o in outcomes if o.result is not None]
    return ChainStepResult(
        table=table,
        anchor=anchor.url,
        writes=made,
        windows=len(plan.windows),
        changes=plan.changes,
        puts=sum(r.puts for r in results),
        deletes=sum(r.deletes for r in results),
        recovery_point=plan.to,
        items=len(restored),
        mismatches=mismatches,
        seconds=time.perf_counter() - started,
    )

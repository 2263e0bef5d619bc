"""The demo's rewind step: a bad release overwrites and deletes orders for a few seconds while good
writes go on beside it and after it; `safetynet rewind` undoes exactly the release's writes.

Against the emulator, with the product's own code (`safetynet.recovery.rewind`, what the command
runs): the window's export is written from the table's stream (`safetynet.backup.stream_export`),
validated, planned (every live item read), applied with conditional writes and audited in the
vault. The release's writes carry `release = 2.3.1`; the filter keeps them and the window's
deletes (no other service deletes orders). A table with fewer orders than the story needs (a
small `--items`) first gets copies of its own orders under new order ids, before the window.
Expected: the overwritten orders not written again are back as before (OVERWRITES - LATER), the
deleted ones are back (DELETES), the LATER orders written again after the window are conflicts
left as they are, the good writes in the window (GOOD) are kept; every one of those keys is read
back and compared (0 mismatches).
Windows are whole seconds (the stream exporter's boundaries): the step takes a few seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.rewind import Outcome, RewindSpec, RunLocation, Window, new_run_id, parse_filter
from handlers.rewind.images import key_id, key_names, same

TABLE = "orders"
BAD_RELEASE = "2.3.1"
GOOD_RELEASE = "2.3.0"
FILTER = f'NewImage.release = "{BAD_RELEASE}" or not exists(NewImage.release)'
OVERWRITES, DELETES, LATER, GOOD = 300, 50, 20, 40


class RewindStepFailed(RuntimeError):
    """The step could not run (too few items, the export or the rewind failed)."""


@dataclass(frozen=True)
class RewindStepResult:
    """What the step did and found (the demo's summary)."""

    table: str
    window: str
    changed_keys: int
    reverted: int
    conflicts: int
    filtered: int
    good_writes_kept: int
    mismatches: int
    audit: str
    seconds: float

    def figures(self) -> dict[str, int | str]:
        """The figures the demo's summary prints (`items`, `mismatches` as every step has)."""
        return {
            "items": self.reverted,
            "rewind reverted": self.reverted,
            "rewind conflicts": self.conflicts,
            "rewind good writes kept": self.good_writes_kept,
            "mismatches": self.mismatches,
        }


def _next_second(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(microsecond=0) + timedelta(seconds=1)


def _sleep_until(moment: datetime) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)


def _read(ddb: Any, table: str, keys: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    names = key_names(keys[0])
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for i in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": keys[i : i + 100], "ConsistentRead": True}}
        while request:
            out = ddb.batch_get_item(RequestItems=request)
            for item in out.get("Responses", {}).get(table, []):
                found[key_id(item, names)] = item
            request = out.get("UnprocessedKeys") or {}
    return found


def _first_items(ddb: Any, table: str, n: int) -> list[dict[str, Any]]:
    """The first `n` items of a scan (pages of at most 1 MB: as many as it takes)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while len(items) < n:
        page = ddb.scan(**kwargs, Limit=n - len(items))
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items[:n]


@dataclass
class _History:
    """The orders the story writes, the window [t1, t2) and each key's expected end state."""

    items: list[dict[str, Any]]
    keys: list[str]
    t1: datetime
    t2: datetime
    expected: dict[tuple[Any, ...], dict[str, Any]]
    good: list[tuple[Any, ...]]
    """The keys of the good writes (in the window, and after it)."""

    def key_of(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in self.keys}


def _orders(ddb: Any, table: str, keys: list[str]) -> list[dict[str, Any]]:
    """OVERWRITES + DELETES + GOOD orders; a small table first gets copies under new order ids."""
    needed = OVERWRITES + DELETES + GOOD
    items = _first_items(ddb, table, needed)
    if not items:
        raise RewindStepFailed(f"{table} is empty: the step rewinds writes to existing orders")
    for i in range(needed - len(items)):
        copy = {**items[i % len(items)], keys[-1]: {"S": f"rewind-demo-{i:04d}"}}
        ddb.put_item(TableName=table, Item=copy)
        items.append(copy)
    return items


def _history(ddb: Any, table: str, keys: list[str]) -> _History:
    """Write the story: the bad release and the good writes in [t1, t2), good writes after it."""
    items = _orders(ddb, table, keys)
    bad, gone, good = items[:OVERWRITES], items[OVERWRITES : OVERWRITES + DELETES], items[OVERWRITES + DELETES :]
    names = tuple(sorted(keys))
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    t1 = _next_second()  # windows are whole seconds
    _sleep_until(t1)
    for item in bad:
        ddb.put_item(TableName=table, Item={**item, "release": {"S": BAD_RELEASE}, "total": {"N": "0"}})
        expected[key_id(item, names)] = item
    for item in gone:
        ddb.delete_item(TableName=table, Key={k: item[k] for k in keys})
        expected[key_id(item, names)] = item
    for item in good:  # a good service writes other orders in the same window
        kept = {**item, "release": {"S": GOOD_RELEASE}, "note": {"S": "reviewed"}}
        ddb.put_item(TableName=table, Item=kept)
        expected[key_id(item, names)] = kept
    t2 = _next_second()
    _sleep_until(t2)
    for item in bad[:LATER]:  # after the window, good writes reach some of the bad release's orders
        later = {**item, "release": {"S": GOOD_RELEASE}, "status": {"S": "REFUNDED"}}
        ddb.put_item(TableName=table, Item=later)
        expected[key_id(item, names)] = later
    good_keys = [key_id(item, names) for item in [*good, *bad[:LATER]]]
    return _History(items, keys, t1, t2, expected, good_keys)


def rewind_step(clients: Any, cfg: Any, *, bucket: str, topic_arn: str | None = None) -> tuple[RewindStepResult, Any]:
    """Run the story on the emulator behind `clients` (a `Clients`-like `get(service)`); `cfg` is
    the prod stack's config. Returns the result and the applied Tally (for the report)."""
    from safetynet.recovery import rewind as flow

    started = time.perf_counter()
    ddb, s3 = clients.get("dynamodb"), clients.get("s3")
    spec = next(t for t in cfg.tables if t.name == TABLE)
    physical = cfg.physical_name(spec)
    story = _history(ddb, physical, [k["AttributeName"] for k in spec.key_schema()])
    rewind = RewindSpec(window=Window.of(story.t1, story.t2), where=parse_filter(FILTER))
    try:
        prepared = flow.prepare(
            clients, cfg, table=TABLE, start=story.t1, end=story.t2, bucket=bucket, from_stream=True
        )
    except (flow.RewindRefused, flow.WindowRefused, flow.ExportFailed) as exc:
        raise RewindStepFailed(str(exc)) from exc
    run = RunLocation(bucket, prepared.window_prefix, new_run_id())
    started_at = datetime.now(UTC)

    def doc(status: str, counted: Any) -> dict[str, Any]:
        return flow.run_doc(
            stack="prod", prepared=prepared, spec=rewind, run=run, caller="demo", status=status,
            started=started_at, tally=counted,
        )  # fmt: skip

    flow.write_doc(s3, run, run.plan_key, doc("planned", flow.settle_files(clients, prepared, rewind, dry_run=True)))
    tally = flow.settle_files(clients, prepared, rewind, dry_run=False, run=run)
    summary = doc("completed", tally)
    flow.write_doc(s3, run, run.summary_key, summary)
    if topic_arn:
        flow.notify(clients.get("sns"), topic_arn, summary)

    live = _read(ddb, physical, [story.key_of(i) for i in story.items])
    by = tally.by_outcome()
    result = RewindStepResult(
        table=physical,
        window=f"{story.t1.isoformat()} .. {story.t2.isoformat()}",
        changed_keys=prepared.changes,
        reverted=by[Outcome.REVERTED],
        conflicts=by[Outcome.CONFLICT],
        filtered=by[Outcome.FILTERED],
        good_writes_kept=sum(1 for ident in story.good if same(live.get(ident), story.expected[ident])),
        mismatches=sum(1 for ident, item in story.expected.items() if not same(live.get(ident), item)),
        audit=run.url,
        seconds=time.perf_counter() - started,
    )
    return result, tally


def run_step(demo: Any) -> dict[str, int | str]:
    """The demo's step 7 (`safetynet.local.demo.LATER_STEPS`): the story on the demo's emulator,
    the result table printed on its console; returns the summary's figures."""
    from components.config.loading import decode_pulumi_config, parse_stack_config
    from safetynet.commands.common import Clients
    from safetynet.commands.rewind import render
    from safetynet.synth import read_stack_config

    flat, _ = read_stack_config(demo.project_dir, "prod")
    cfg = parse_stack_config(decode_pulumi_config(flat))
    clients = Clients(demo.region)
    sns = clients.get("sns")
    topics = [
        t["TopicArn"] for t in sns.list_topics().get("Topics", []) if t["TopicArn"].endswith(":safetynet-prod-alerts")
    ]
    bucket = demo.prod.outputs["vaultBucketName"]
    demo.console.print(
        f"  release {BAD_RELEASE} overwrites {OVERWRITES} orders and deletes {DELETES} within seconds; "
        f"release {GOOD_RELEASE} writes {GOOD} other orders meanwhile and {LATER} of the bad ones after it"
    )
    # Two lines of at most 80 columns, to copy as one command.
    demo.console.print(f"  $ safetynet rewind -s prod --table {TABLE} --from T1 --to T2 --yes \\", soft_wrap=True)
    demo.console.print(f"      --where '{FILTER}'", soft_wrap=True)
    result, tally = rewind_step(clients, cfg, bucket=bucket, topic_arn=topics[0] if topics else None)
    render(demo.console, tally, applied=True, conflicts_shown=1)
    demo.console.print(
        f"  {result.reverted} reverted, {result.conflicts} conflicts left as written after the window, "
        f"{result.filtered} good writes in the window kept by the filter; {result.mismatches} mismatches; "
        f"audit {result.audit}"
    )
    return result.figures()


__all__ = ["RewindStepFailed", "RewindStepResult", "rewind_step", "run_step"]

"""Counting a test table in parallel Scan segments: how many segments, one segment's count, the sum,
and the tasks the state machine's CountTable map runs (moto supports Segment/TotalSegments: it
assigns items to segments by their partition key's hash)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from handlers.staging import entrypoints
from handlers.staging.count import (
    MAX_SEGMENTS,
    SCAN_MAX_TOTAL_SEGMENTS,
    SEGMENT_BYTES,
    choose_segments,
    count_items,
    count_segment,
    sum_segment_counts,
)
from handlers.staging.exceptions import NotAStagingTarget, StagingError
from handlers.staging.refill import delete_extra_items
from tests.support.staging_fixtures import LEDGER, REGION, STACK, create_test_table, prod_spec, target_for

GIB = 1024**3

# -- how many segments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "segments"),
    [
        (None, 1),
        (0, 1),
        (1, 1),
        (SEGMENT_BYTES, 1),
        (SEGMENT_BYTES + 1, 2),
        (10 * SEGMENT_BYTES, 10),
        (MAX_SEGMENTS * SEGMENT_BYTES - 1, MAX_SEGMENTS),
        (MAX_SEGMENTS * SEGMENT_BYTES, MAX_SEGMENTS),
        (MAX_SEGMENTS * SEGMENT_BYTES + 1, MAX_SEGMENTS),
        (50 * 1024 * GIB, MAX_SEGMENTS),
    ],
)
def test_one_segment_per_gib_at_least_one_at_most_the_limit(size: int | None, segments: int) -> None:
    assert SEGMENT_BYTES == GIB and MAX_SEGMENTS == 1000
    assert choose_segments(size) == segments


def test_the_limit_stays_within_the_scan_apis_total_segments() -> None:
    assert choose_segments(10**18, per_segment=1, limit=SCAN_MAX_TOTAL_SEGMENTS) == 1_000_000
    with pytest.raises(ValueError, match="limit"):
        choose_segments(1, limit=SCAN_MAX_TOTAL_SEGMENTS + 1)


@pytest.mark.parametrize("kwargs", [{"per_segment": 0}, {"limit": 0}])
def test_a_nonsensical_segment_size_or_limit_is_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="per_segment must be >= 1"):
        choose_segments(GIB, **kwargs)


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        choose_segments(-1)


def test_the_segment_size_is_read_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine tests shrink it to get several segments from a small export.
    monkeypatch.setattr("handlers.staging.count.SEGMENT_BYTES", 1000)
    assert choose_segments(2001) == 3


# -- one segment, on moto ------------------------------------------------------------------------


@pytest.fixture
def ddb(aws: None) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def table(ddb: Any) -> str:
    """The customers test table holding 90 items with distinct partition keys."""
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target)
    for i in range(90):
        ddb.put_item(TableName=target.name, Item={"customerId": {"S": f"c-{i:05d}"}, "n": {"N": str(i)}})
    return target.name


@pytest.mark.parametrize("total", [1, 3, 7])
def test_segment_counts_add_up_to_the_tables_item_count(ddb: Any, table: str, total: int) -> None:
    # When each segment of `total` is counted on its own
    counts = [count_segment(ddb, table, s, total) for s in range(total)]
    # Then they add up to the item count, and (for more than one) each segment holds only part
    # of the table: moto really splits the scan, so a count ignoring Segment would show here
    assert sum(counts) == 90
    if total > 1:
        assert all(c < 90 for c in counts) and sum(1 for c in counts if c) >= 2


def test_count_items_over_segments_in_threads_equals_the_sequential_count(ddb: Any, table: str) -> None:
    assert count_items(ddb, table) == count_items(ddb, table, segments=7, workers=3) == 90


def test_a_segment_of_a_missing_table_raises_dynamodbs_error(ddb: Any) -> None:
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        count_segment(ddb, "no-such-table", 0, 3)


@pytest.mark.parametrize(("segment", "total"), [(3, 3), (-1, 3), (0, 0), (0, SCAN_MAX_TOTAL_SEGMENTS + 1)])
def test_a_segment_outside_the_scan_apis_range_is_refused_before_any_call(segment: int, total: int) -> None:
    with pytest.raises(ValueError, match="need 0 <= segment < total"):
        count_segment(object(), "t", segment, total)


class PagedScan:
    """A DynamoDB client whose Scan answers COUNT pages from a script, recording each request."""

    def __init__(self, pages: list[dict[str, Any]]):
        self.pages = list(pages)
        self.requests: list[dict[str, Any]] = []

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        return self.pages.pop(0)


def test_a_segment_is_counted_over_every_page_with_consistent_reads() -> None:
    # Given a segment whose COUNT scan comes back in three pages
    client = PagedScan(
        [{"Count": 5, "LastEvaluatedKey": {"k": 1}}, {"Count": 0, "LastEvaluatedKey": {"k": 2}}, {"Count": 7}]
    )
    # When it is counted
    assert count_segment(client, "t", 2, 5) == 12
    # Then every request was a consistent COUNT of that segment, continuing where the last stopped
    base = {"TableName": "t", "Select": "COUNT", "ConsistentRead": True, "Segment": 2, "TotalSegments": 5}
    assert client.requests == [base, {**base, "ExclusiveStartKey": {"k": 1}}, {**base, "ExclusiveStartKey": {"k": 2}}]


def test_one_segment_is_the_plain_sequential_scan() -> None:
    # (the CLI's count, unchanged, and valid for emulators without parallel scans)
    client = PagedScan([{"Count": 3}])
    assert count_segment(client, "t", 0, 1) == 3
    assert client.requests == [{"TableName": "t", "Select": "COUNT", "ConsistentRead": True}]


# -- the sum of the map's results ----------------------------------------------------------------


def test_the_sum_of_every_segment_in_any_order() -> None:
    results = [{"segment": 2, "count": 4}, {"segment": 0, "count": 1}, {"segment": 1, "count": 0}]
    assert sum_segment_counts(results, 3) == 5


@pytest.mark.parametrize(
    "results",
    [
        [{"segment": 0, "count": 1}, {"segment": 1, "count": 1}],
        [{"segment": 0, "count": 1}, {"segment": 1, "count": 1}, {"segment": 1, "count": 1}],
        [{"segment": 0, "count": 1}, {"segment": 1, "count": 1}, {"segment": 3, "count": 1}],
    ],
    ids=["missing", "twice", "unknown"],
)
def test_a_result_list_without_each_segment_exactly_once_is_refused(results: list[dict[str, int]]) -> None:
    with pytest.raises(StagingError, match="segment results for 3 segments"):
        sum_segment_counts(results, 3)


# -- Sweep with the map's count ------------------------------------------------------------------


def test_sweep_reads_no_export_key_when_the_count_is_not_above_the_exports(ddb: Any, table: str) -> None:
    def export_keys() -> list[dict[str, Any]]:
        raise AssertionError("the export's keys were read")

    assert delete_extra_items(ddb, table, ["customerId"], export_keys, 90, table_count=90) == 0


def test_sweep_trusts_the_given_count_and_deletes_what_the_export_lacks(ddb: Any, table: str) -> None:
    export = [{"customerId": {"S": f"c-{i:05d}"}} for i in range(88)]
    assert delete_extra_items(ddb, table, ["customerId"], lambda: export, 88, table_count=90) == 2
    assert count_items(ddb, table) == 88


# -- the tasks -----------------------------------------------------------------------------------


@pytest.fixture
def task_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STAGING_STACK", STACK)
    monkeypatch.setenv("LEDGER_TABLE", LEDGER)
    for cached in (entrypoints._client, entrypoints._env):
        cached.cache_clear()
    yield
    for cached in (entrypoints._client, entrypoints._env):
        cached.cache_clear()


def _plan_event(size_bytes: int | None, target: Any = None) -> dict[str, Any]:
    target = target or target_for(prod_spec("customers"))
    return {"target": target.to_json(), "plan": {"sizeBytes": size_bytes}}


@pytest.mark.parametrize(("size", "segments"), [(None, 1), (5 * GIB + 1, 6), (2000 * GIB, MAX_SEGMENTS)])
def test_plan_count_sizes_segments_by_the_export_when_the_table_says_less(
    ddb: Any, table: str, task_env: None, size: int | None, segments: int
) -> None:
    # Given a freshly loaded table (moto, like a new AWS table, reports TableSizeBytes 0)
    assert ddb.describe_table(TableName=table)["Table"]["TableSizeBytes"] == 0
    # When the count is planned for an export of `size` bytes
    out = entrypoints.task_plan_count(_plan_event(size), entrypoints._env())
    # Then the map gets one number per segment
    assert out == {"totalSegments": segments, "segments": list(range(segments))}


def test_plan_count_refuses_a_table_that_is_not_a_staging_target(ddb: Any, task_env: None) -> None:
    target = target_for(prod_spec("customers"))
    create_test_table(ddb, target, tags={"safetynet:environment": "test"})
    with pytest.raises(NotAStagingTarget):
        entrypoints.task_plan_count(_plan_event(0, target), entrypoints._env())


def test_plan_count_of_a_missing_table_says_so(ddb: Any, task_env: None) -> None:
    with pytest.raises(StagingError, match="customers-test does not exist; nothing to count"):
        entrypoints.task_plan_count(_plan_event(0), entrypoints._env())


def test_count_segment_task_returns_its_segment_and_count(ddb: Any, table: str, task_env: None) -> None:
    env = entrypoints._env()
    target = target_for(prod_spec("customers")).to_json()
    results = [
        entrypoints.TASKS["count_segment"]({"target": target, "segment": s, "totalSegments": 3}, env) for s in range(3)
    ]
    assert [r["segment"] for r in results] == [0, 1, 2]
    assert sum_segment_counts(results, 3) == 90

"""The exact item count of a test table (DescribeTable's count lags by hours): consistent COUNT
scans in parallel segments. In one process `count_items` runs them on a thread pool; the state
machine's CountTable map counts each segment in its own Lambda (`plan_segments`, then
`count_segment` per segment, then `sum_segment_counts`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger

from handlers.staging.exceptions import StagingError
from handlers.staging.target import TargetTable, guard_table

logger = Logger(service="safetynet-staging", child=True)

# Counting the table: one parallel-scan segment per GiB (a COUNT scan of 1 GiB is ~1,000
# consistent pages of 1 MB, for one Lambda with 15 minutes; an estimate, not measured on AWS),
# at most 1,000 segments (the CountTable map's results stay under ~40 KB, its ~7 history events
# per segment far below Step Functions' 25,000). Beyond 1,000 GiB the segments grow instead.
SEGMENT_BYTES = 1024**3
MAX_SEGMENTS = 1000
SCAN_MAX_TOTAL_SEGMENTS = 1_000_000  # the Scan API's limit on TotalSegments


def choose_segments(size_bytes: int | None, *, per_segment: int | None = None, limit: int = MAX_SEGMENTS) -> int:
    """How many parallel Scan segments to count a table of `size_bytes` in: one per
    `per_segment` bytes (SEGMENT_BYTES, read at call time), at least 1, at most `limit`.

    Unknown size (None) counts as 0. Past `limit` segments the segments grow instead: each
    Lambda then counts more than SEGMENT_BYTES."""
    per = SEGMENT_BYTES if per_segment is None else per_segment
    if per < 1 or not 1 <= limit <= SCAN_MAX_TOTAL_SEGMENTS:
        raise ValueError(f"per_segment must be >= 1 and limit within 1..{SCAN_MAX_TOTAL_SEGMENTS}")
    size = size_bytes or 0
    if size < 0:
        raise ValueError(f"a table size cannot be negative ({size})")
    return max(1, min(limit, -(-size // per)))


def count_segment(ddb: Any, table: str, segment: int, total: int) -> int:
    """The exact item count of one segment of a parallel Scan (`Select: COUNT`, consistent,
    every page); the counts of segments 0..total-1 add up to the table's item count."""
    if not 1 <= total <= SCAN_MAX_TOTAL_SEGMENTS or not 0 <= segment < total:
        raise ValueError(f"segment {segment} of {total}: need 0 <= segment < total <= {SCAN_MAX_TOTAL_SEGMENTS}")
    count = 0
    kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT", "ConsistentRead": True}
    if total > 1:  # one segment is the plain sequential scan (as before, for any emulator too)
        kwargs.update(Segment=segment, TotalSegments=total)
    while True:
        page = ddb.scan(**kwargs)
        count += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_items(ddb: Any, table: str, *, segments: int = 1, workers: int = 1) -> int:
    """The exact item count (consistent COUNT scans; DescribeTable's count lags by hours): the
    sum over `segments` parallel-scan segments, `workers` of them at a time in this process.
    The state machine counts each segment in its own Lambda instead (`count_segment`)."""
    if workers <= 1 or segments == 1:
        return sum(count_segment(ddb, table, s, segments) for s in range(segments))
    with ThreadPoolExecutor(max_workers=min(workers, segments)) as pool:
        return sum(pool.map(lambda s: count_segment(ddb, table, s, segments), range(segments)))


def sum_segment_counts(results: Sequence[Mapping[str, Any]], total: int) -> int:
    """The table's item count from the CountTable map's results (`{"segment", "count"}` each).
    Refuses a list that does not hold every segment 0..total-1 exactly once: a partial sum
    would look like missing items."""
    seen = sorted(int(r["segment"]) for r in results)
    if seen != list(range(total)):
        raise StagingError(
            f"the table count has {len(results)} segment results for {total} segments "
            f"(expected each of 0..{total - 1} once); count the table again"
        )
    return sum(int(r["count"]) for r in results)


def plan_segments(ddb: Any, target: TargetTable, export_bytes: int) -> int:
    """Guard, then how many parallel-scan segments the CountTable map counts the table in:
    sized by the larger of DescribeTable's TableSizeBytes (updated only every few hours) and
    the export's size, so a freshly refilled or imported table is not counted as empty."""
    desc = guard_table(ddb, target.name, target.stack)
    if desc is None:
        raise StagingError(f"{target.name} does not exist; nothing to count (was it deleted during staging?)")
    table_bytes = int(desc.get("TableSizeBytes") or 0)
    total = choose_segments(max(table_bytes, export_bytes))
    logger.info(
        {"message": "counting in segments", "segments": total, "tableBytes": table_bytes, "exportBytes": export_bytes}
    )
    return total

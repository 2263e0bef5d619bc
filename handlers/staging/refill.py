"""Refill: keep the test table (its ARN, stream and event source mappings) and make it hold
exactly the export's items: BatchWriteItem each data file's items (`refill_file`; unprocessed
items retried until written, or the run fails loudly), then delete the items whose key is not in
the export (`delete_extra_items`)."""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from aws_lambda_powertools import Logger

from handlers import exports
from handlers.exports.batch_writer import BATCH_SIZE, DynamoDBSink, Request, delete_request, write_batch, write_requests
from handlers.exports.items import Item
from handlers.staging.compare import key_digest
from handlers.staging.count import count_items

logger = Logger(service="safetynet-staging", child=True)


def refill_file(
    ddb: Any,
    s3: Any,
    table: str,
    ref: exports.ExportRef,
    data_file: exports.DataFile,
    *,
    output_format: str,
    concurrency: int = 4,
) -> int:
    """BatchWriteItem one data file's items into `table`, streamed (a DYNAMODB_JSON line is sent
    as its request's item without being parsed; the file's MD5 and count are still checked, see
    `iter_file_requests`). Returns how many were written."""
    requests = exports.iter_file_requests(s3, ref, data_file, output_format=output_format)
    return write_requests(DynamoDBSink(ddb, table), requests, concurrency=concurrency)


def scan_keys(ddb: Any, table: str, key_names: Sequence[str], segments: int = 1) -> Iterator[Item]:
    """Every primary key in the table (keys only, paginated)."""
    names = {f"#k{i}": k for i, k in enumerate(key_names)}
    for segment in range(segments):
        kwargs: dict[str, Any] = {
            "TableName": table,
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "ConsistentRead": True,
        }
        if segments > 1:
            kwargs.update(Segment=segment, TotalSegments=segments)
        while True:
            page = ddb.scan(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def delete_extra_items(
    ddb: Any,
    table: str,
    key_names: Sequence[str],
    export_items: Callable[[], Iterable[Item]],
    export_count: int,
    *,
    table_count: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Delete the table's items whose key is not in the export. Returns how many were deleted.

    After a refill the table holds every exported key, so it has extra items exactly when it
    counts more than the export: the common case costs one COUNT (`table_count` when the caller
    counted already, as the state machine's CountTable map does; else one scan here) and no
    memory. Otherwise the export's keys are collected as 64-bit digests (8 bytes per item), all
    in this process, and the table is swept."""
    counted = count_items(ddb, table) if table_count is None else table_count
    if counted <= export_count:
        return 0
    digests = array("Q", (key_digest(it, key_names) for it in export_items()))
    known = set(digests)
    del digests
    doomed = (k for k in scan_keys(ddb, table, key_names) if key_digest(k, key_names) not in known)
    deleted = 0
    sink = DynamoDBSink(ddb, table)
    batch: list[Request] = []
    for key in doomed:
        batch.append(delete_request(key))
        if len(batch) == BATCH_SIZE:
            write_batch(sink, batch, sleep=sleep)
            deleted += len(batch)
            batch = []
    if batch:
        write_batch(sink, batch, sleep=sleep)
        deleted += len(batch)
    logger.info({"message": "deleted items not in the export", "table": table, "deleted": deleted})
    return deleted

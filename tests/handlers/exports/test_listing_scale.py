"""Listing full exports does not read the chain's windows: a table's `incremental/` folder (96
exports a day with a 15-minute chain) is not entered, so the hourly freshness task, `status`,
staging and restore planning read one summary per full export, however long the chain."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conventions.chain import incremental_export_prefix
from handlers.exports import Change, list_exports, read_chain, write_incremental_export
from handlers.exports.layout import INCREMENTAL_EXPORT
from handlers.exports.listing import scan_exports
from tests.support.export_fixtures import (
    BUCKET,
    EXPORT_TIME,
    PREFIX,
    TABLE_ARN,
    CountingS3,
    realistic_items,
    write_fixture_export,
)

WINDOWS = 12


def _chain(s3: Any) -> None:
    write_fixture_export(s3, realistic_items(5))
    for n in range(WINDOWS):
        key = {"customerId": {"S": "c"}, "orderId": {"S": f"o-{n}"}}
        write_incremental_export(
            s3,
            bucket=BUCKET,
            prefix=incremental_export_prefix("orders"),
            table_arn=TABLE_ARN,
            changes=[Change(key, {**key, "v": {"N": str(n)}}, None, 1)],
            export_from_time=EXPORT_TIME + timedelta(minutes=15 * n),
            export_to_time=EXPORT_TIME + timedelta(minutes=15 * (n + 1)),
        )


def test_listing_full_exports_reads_no_window_summary(s3: Any) -> None:
    _chain(s3)
    counting = CountingS3(s3)
    exports = list_exports(counting, BUCKET, PREFIX + "/")
    assert len(exports) == 1
    assert counting.got == [exports[0][0].key("manifest-summary.json")]
    assert not [key for key in counting.got if "/incremental/" in key]


def test_the_windows_are_still_found_by_what_reads_them(s3: Any) -> None:
    _chain(s3)
    windows = scan_exports(s3, BUCKET, PREFIX + "/", export_type=INCREMENTAL_EXPORT).exports
    assert len(windows) == WINDOWS
    assert len(scan_exports(s3, BUCKET, PREFIX + "/", export_type=None).exports) == WINDOWS + 1
    chain = read_chain(s3, BUCKET, PREFIX)
    assert len(chain.links) == WINDOWS
    assert chain.recovery_point == EXPORT_TIME + timedelta(minutes=15 * WINDOWS)

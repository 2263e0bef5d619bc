"""read_chain and verify_chain on a vault prefix in moto: exports found by listing, each export on
the chain validated completely, damaged ones left out (a duplicate or an older anchor then takes
their place)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handlers.exports import (
    Change,
    ExportRef,
    read_chain,
    read_data_files,
    read_summary,
    write_export,
    write_incremental_export,
)
from handlers.exports.chain import ChainGap, verify_chain
from tests.support.export_fixtures import BUCKET, EXPORT_TIME, PREFIX, TABLE_ARN, realistic_items, write_fixture_export

GRID = EXPORT_TIME  # windows start at the anchor's ExportTime (03:00:00.123)


def at(minutes: int) -> datetime:
    return GRID + timedelta(minutes=minutes)


def _window(s3: Any, start: int, end: int) -> ExportRef:
    key = {"customerId": {"S": "c"}, "orderId": {"S": f"o-{start}"}}
    return write_incremental_export(
        s3,
        bucket=BUCKET,
        prefix=PREFIX,
        table_arn=TABLE_ARN,
        changes=[Change(key, {**key, "v": {"N": str(end)}}, None, 1)],
        export_from_time=at(start),
        export_to_time=at(end),
    )


def _damage(s3: Any, ref: ExportRef) -> None:
    data_file = read_data_files(s3, ref, read_summary(s3, ref))[0]
    s3.put_object(Bucket=BUCKET, Key=data_file.data_file_s3_key, Body=b"not gzip")


def test_a_contiguous_chain_verifies(s3: Any) -> None:
    anchor = write_fixture_export(s3, realistic_items(10))
    windows = [_window(s3, m, m + 15) for m in (0, 15, 30)]
    chain = read_chain(s3, BUCKET, PREFIX)
    assert chain.anchor is not None and chain.anchor[0] == anchor
    assert [link.ref for link in chain.links] == windows
    assert chain.recovery_point == at(45)
    report = verify_chain(s3, BUCKET, PREFIX, workers=2)
    assert report.ok
    assert (report.validated, report.damaged) == (4, {})
    assert report.to_json()["recoveryPoint"] == "2026-11-26T03:45:00.123Z"


def test_a_damaged_window_with_a_duplicate_is_replaced_but_reported(s3: Any) -> None:
    write_fixture_export(s3, realistic_items(10))
    _window(s3, 0, 15)
    damaged = _window(s3, 15, 30)
    retry = _window(s3, 15, 30)
    _window(s3, 30, 45)
    _damage(s3, damaged)
    report = verify_chain(s3, BUCKET, PREFIX)
    # Then the chain holds through the duplicate, and the damaged export is named
    assert report.chain.complete
    assert report.chain.links[1].ref == retry
    assert report.chain.recovery_point == at(45)
    assert list(report.damaged) == [damaged]
    assert any("not a valid gzip stream" in p for p in report.damaged[damaged])
    assert not report.ok


def test_a_damaged_window_without_a_duplicate_breaks_the_chain(s3: Any) -> None:
    write_fixture_export(s3, realistic_items(10))
    _window(s3, 0, 15)
    damaged = _window(s3, 15, 30)
    _window(s3, 30, 45)
    _damage(s3, damaged)
    report = verify_chain(s3, BUCKET, PREFIX)
    assert report.chain.recovery_point == at(15)
    assert report.chain.gap == ChainGap(at(15), at(30), "gap")
    assert any("not a valid gzip stream" in p for p in report.damaged[damaged])
    assert not report.ok


def test_a_damaged_anchor_gives_way_to_the_older_one(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    older = write_export(
        s3,
        bucket=BUCKET,
        prefix=PREFIX,
        table_arn=TABLE_ARN,
        items=realistic_items(6),
        export_time=EXPORT_TIME - timedelta(days=1),
    )
    newer = write_fixture_export(s3, realistic_items(10))
    _damage(s3, newer)
    report = verify_chain(s3, BUCKET, PREFIX)
    assert report.chain.anchor is not None and report.chain.anchor[0] == older
    assert list(report.damaged) == [newer]
    assert report.chain.recovery_point == EXPORT_TIME - timedelta(days=1)


def test_no_full_export_no_chain(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    _window(s3, 0, 15)
    report = verify_chain(s3, BUCKET, PREFIX)
    assert report.chain.anchor is None
    assert report.validated == 0
    assert not report.ok

"""Freshness and health: export age, item count, drop ratio and failed exports, computed from a
moto account with exports of several ages and published to CloudWatch."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from conventions.watch import STACK_METRICS, WatchContext, WatchedTable, schedule_interval_hours
from handlers.watch import freshness
from handlers.watch.aws import export_statuses, write_drill_record
from handlers.watch.freshness import ExportPoint, FailedExport, assess
from tests.support.watch_fixtures import NOW, REGION, VAULT, add_export, customer, item, make_account

TABLE = WatchedTable("orders", "orders", "arn:aws:dynamodb:us-east-1:123456789012:table/orders", "exports/orders")


def _point(hours: float, count: int) -> ExportPoint:
    return ExportPoint(f"id-{hours}", NOW - timedelta(hours=hours), count)


# -- pure assessment --------------------------------------------------------------------------


def test_fresh_export_with_growth_has_no_drop() -> None:
    r = assess(TABLE, [_point(3, 120), _point(27, 100)], [], None, now=NOW, limit_hours=30)
    assert (r.age_hours, r.item_count, r.previous_item_count, r.drop_ratio) == (3.0, 120, 100, 0.0)
    assert not r.stale


def test_drop_ratio_against_the_previous_export() -> None:
    r = assess(TABLE, [_point(3, 25), _point(27, 100), _point(51, 100)], [], None, now=NOW, limit_hours=30)
    assert r.drop_ratio == 0.75


def test_previous_empty_export_is_no_drop() -> None:
    assert assess(TABLE, [_point(3, 0), _point(27, 0)], [], None, now=NOW, limit_hours=30).drop_ratio == 0.0


def test_export_older_than_the_limit_is_stale() -> None:
    r = assess(TABLE, [_point(31, 5)], [], None, now=NOW, limit_hours=30)
    assert r.stale and r.drop_ratio is None


def test_no_export_is_stale_and_publishes_no_age() -> None:
    r = assess(TABLE, [], [], None, now=NOW, limit_hours=30)
    assert r.stale and r.age_hours is None
    names = {m["MetricName"] for m in freshness.metric_data(r, NOW)}
    # Missing data is the alarm's business (treated as breaching), never a made-up age.
    assert names == {"ExportFailed"}


def test_only_recent_failed_exports_count() -> None:
    failed = [
        FailedExport("arn:new", NOW - timedelta(hours=2), "S3NoSuchBucket"),
        FailedExport("arn:old", NOW - timedelta(hours=40), "S3NoSuchBucket"),
    ]
    r = assess(TABLE, [_point(3, 5)], failed, None, now=NOW, limit_hours=30)
    assert r.failed_exports == ["arn:new (S3NoSuchBucket)"]


def test_last_successful_drill_age() -> None:
    record = {"lastSuccessAt": (NOW - timedelta(days=3)).isoformat(), "ok": False}
    r = assess(TABLE, [], [], record, now=NOW, limit_hours=30)
    assert r.restore_age_hours == 72.0


@pytest.mark.parametrize(
    ("expr", "hours"),
    [
        ("cron(0 3 * * ? *)", 24.0),
        ("cron(0 3,15 * * ? *)", 12.0),
        ("cron(0 5 ? * SUN *)", 168.0),
        ("rate(6 hours)", 6.0),
        ("rate(1 day)", 24.0),
        ("rate(30 minutes)", 0.5),
    ],
)
def test_schedule_interval(expr: str, hours: float) -> None:
    assert schedule_interval_hours(expr) == hours


# -- against a moto account -------------------------------------------------------------------


def _metric(cw: Any, name: str, table: str, *, dimension: str = "Table") -> float | None:
    """The maximum of one metric around NOW, for one value of `dimension`, or None."""
    stats = cw.get_metric_statistics(
        Namespace="safetynet",
        MetricName=name,
        Dimensions=[{"Name": dimension, "Value": table}],
        StartTime=NOW - timedelta(hours=1),
        EndTime=NOW + timedelta(hours=1),
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    return stats[0]["Maximum"] if stats else None


def _run(ctx: WatchContext) -> list[freshness.FreshnessReport]:
    return freshness.run(
        ctx,
        ddb=boto3.client("dynamodb", region_name=REGION),
        s3=boto3.client("s3", region_name=REGION),
        cw=boto3.client("cloudwatch", region_name=REGION),
        now=NOW,
    )


@pytest.mark.usefixtures("aws")
def test_metrics_from_exports_of_several_ages() -> None:
    # Given orders exported 50h, 26h and 2h ago (20, 20, then 12 items: a 40% drop) and customers
    # last exported 40h ago
    ctx = make_account(schedule_hours=24, freshness_grace_hours=6)
    orders, customers = ctx.tables
    add_export(orders, [item(i) for i in range(20)], age_hours=50)
    add_export(orders, [item(i) for i in range(20)], age_hours=26)
    add_export(orders, [item(i) for i in range(12)], age_hours=2)
    add_export(customers, [customer(i) for i in range(3)], age_hours=40)
    # When the freshness task runs
    reports = {r.table: r for r in _run(ctx)}
    # Then the newest export of each table sets the metrics
    cw = boto3.client("cloudwatch", region_name=REGION)
    assert _metric(cw, "ExportAgeHours", "orders") == 2.0
    assert _metric(cw, "ExportItemCount", "orders") == 12.0
    assert _metric(cw, "ExportItemDropRatio", "orders") == 0.4
    assert _metric(cw, "ExportFailed", "orders") == 0.0
    assert _metric(cw, "ExportAgeHours", "customers") == 40.0
    assert _metric(cw, "ExportItemDropRatio", "customers") is None
    assert not reports["orders"].stale and reports["customers"].stale


@pytest.mark.usefixtures("aws")
def test_failed_export_is_counted() -> None:
    # Given an export DynamoDB could not write (its bucket does not exist: moto marks it FAILED)
    ctx = make_account()
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.export_table_to_point_in_time(TableArn=ctx.tables[0].arn, S3Bucket="no-such-bucket", S3Prefix="x")
    for _ in range(100):  # moto runs the export in a thread
        statuses = {s["ExportStatus"] for s in ddb.list_exports(TableArn=ctx.tables[0].arn)["ExportSummaries"]}
        if statuses != {"IN_PROGRESS"}:
            break
        time.sleep(0.02)
    # When the freshness task runs
    [orders, _] = _run(ctx)
    # Then the failure is counted and explained
    assert len(orders.failed_exports) == 1
    assert "S3NoSuchBucket" in orders.failed_exports[0]
    assert _metric(boto3.client("cloudwatch", region_name=REGION), "ExportFailed", "orders") == 1.0


@pytest.mark.usefixtures("aws")
def test_export_of_another_table_in_the_prefix_is_ignored() -> None:
    # Given the only export under orders' prefix is really of another table
    ctx = make_account()
    add_export(ctx.tables[0], [item(1)], age_hours=1, table_arn=ctx.tables[1].arn)
    # When assessed / Then it is not taken as orders' backup
    [orders, _] = _run(ctx)
    assert orders.age_hours is None and orders.stale
    assert any("not arn:aws:dynamodb" in p for p in orders.problems)


@pytest.mark.usefixtures("aws")
def test_unreadable_vault_is_a_problem_not_a_crash() -> None:
    ctx = make_account()
    boto3.client("s3", region_name=REGION).delete_bucket(Bucket=VAULT)
    [orders, _] = _run(ctx)
    assert orders.stale
    assert any(p.startswith("vault listing failed: NoSuchBucket") for p in orders.problems)


# -- the stack's numbers and the coverage count --------------------------------------------------


def _stack_metric(cw: Any, name: str, stack: str = "prod") -> float | None:
    return _metric(cw, name, stack, dimension="Stack")


def _create(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _calls(client: Any) -> list[str]:
    """The DynamoDB operations `client` makes from now on."""
    seen: list[str] = []
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: seen.append(model.name))
    return seen


@pytest.mark.usefixtures("aws")
def test_stack_numbers_aggregate_every_table() -> None:
    # Given orders exported 2h ago after a 40% drop, its last drill failed, and customers last
    # exported 40h ago (stale) and never drilled
    ctx = make_account(schedule_hours=24, freshness_grace_hours=6)
    orders, customers = ctx.tables
    add_export(orders, [item(i) for i in range(20)], age_hours=26)
    add_export(orders, [item(i) for i in range(12)], age_hours=2)
    add_export(customers, [customer(i) for i in range(3)], age_hours=40)
    s3 = boto3.client("s3", region_name=REGION)
    write_drill_record(s3, VAULT, orders.physical_name, {"ok": False, "lastSuccessAt": None})
    # When the freshness task runs
    result = freshness.run_all(
        ctx,
        ddb=boto3.client("dynamodb", region_name=REGION),
        s3=s3,
        cw=boto3.client("cloudwatch", region_name=REGION),
        now=NOW,
    )
    # Then the stack's numbers say it in one value each (dimension Stack)
    cw = boto3.client("cloudwatch", region_name=REGION)
    assert {m: _stack_metric(cw, m) for m in STACK_METRICS} == {
        "StaleExportTables": 1.0,
        "OldestExportAgeHours": 40.0,
        "FailedExports": 0.0,
        "MaxItemDropRatio": 0.4,
        "UnverifiedRestoreTables": 2.0,
        "FailedDrillTables": 1.0,
        "UnprotectedTables": 0.0,
    }
    assert result.stack.unprotected_tables == []


@pytest.mark.usefixtures("aws")
def test_unprotected_tables_are_counted_from_names_alone() -> None:
    # Given, beside the stack's two tables, a drill's scratch table, an excluded table and two
    # tables nobody protects
    ctx = make_account(coverage_exclude=["etl-scratch-*"])
    ddb = boto3.client("dynamodb", region_name=REGION)
    for name in ("reports", "sessions", "etl-scratch-1", "safetynet-drill-orders-0179-abc-20261127T050000"):
        _create(ddb, name)
    calls = _calls(ddb)
    # When the freshness task runs
    result = freshness.run_all(
        ctx,
        ddb=ddb,
        s3=boto3.client("s3", region_name=REGION),
        cw=boto3.client("cloudwatch", region_name=REGION),
        now=NOW,
    )
    # Then the two are counted and named, from ListTables alone (nothing of theirs is described)
    assert result.stack.unprotected_tables == ["reports", "sessions"]
    assert _stack_metric(boto3.client("cloudwatch", region_name=REGION), "UnprotectedTables") == 2.0
    assert "ListTables" in calls and "DescribeTable" not in calls


@pytest.mark.usefixtures("aws")
def test_the_count_reads_every_page_of_list_tables() -> None:
    # Given more unprotected tables than one ListTables page holds (100)
    ctx = make_account()
    ddb = boto3.client("dynamodb", region_name=REGION)
    for i in range(103):
        _create(ddb, f"legacy-{i:03d}")
    calls = _calls(ddb)
    # When counted / Then every one is
    result = freshness.run_all(
        ctx,
        ddb=ddb,
        s3=boto3.client("s3", region_name=REGION),
        cw=boto3.client("cloudwatch", region_name=REGION),
        now=NOW,
    )
    assert result.stack.unprotected_tables is not None and len(result.stack.unprotected_tables) == 103
    assert calls.count("ListTables") == 2


class _NoListTables:
    """A DynamoDB client whose ListTables is denied (the role lacks it, or the API failed)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def get_paginator(self, name: str) -> Any:
        if name == "list_tables":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListTables")
        return self._real.get_paginator(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.mark.usefixtures("aws")
def test_an_unreadable_table_list_publishes_no_count() -> None:
    ctx = make_account()
    result = freshness.run_all(
        ctx,
        ddb=_NoListTables(boto3.client("dynamodb", region_name=REGION)),
        s3=boto3.client("s3", region_name=REGION),
        cw=boto3.client("cloudwatch", region_name=REGION),
        now=NOW,
    )
    # A missing count breaks the alarm's streak; a made-up 0 would hide the gap.
    assert result.stack.unprotected_tables is None
    assert result.stack.problems == ["ListTables failed, unprotected tables not counted: AccessDeniedException: no"]
    cw = boto3.client("cloudwatch", region_name=REGION)
    assert _stack_metric(cw, "UnprotectedTables") is None
    assert _stack_metric(cw, "StaleExportTables") == 2.0


class _PagedExports:
    """ListExports as DynamoDB answers it: newest first (reverse order of ExportArn, whose ExportId
    begins with the request time in milliseconds), 25 a page; every call counted."""

    def __init__(self, ages_hours: list[float], failed: set[int]) -> None:
        millis = [int((NOW - timedelta(hours=h)).timestamp() * 1000) for h in ages_hours]
        ids = [f"{ms:014d}-abcdef{i:02d}" for i, ms in enumerate(millis)]
        self.summaries = sorted(
            (
                {"ExportArn": f"{TABLE.arn}/export/{eid}", "ExportStatus": "FAILED" if i in failed else "COMPLETED"}
                for i, eid in enumerate(ids)
            ),
            key=lambda s: s["ExportArn"],
            reverse=True,
        )
        self.pages = self.described = 0

    def list_exports(self, TableArn: str, NextToken: str = "0") -> dict[str, Any]:
        self.pages += 1
        start = int(NextToken)
        page = {"ExportSummaries": self.summaries[start : start + 25]}
        if start + 25 < len(self.summaries):
            page["NextToken"] = str(start + 25)
        return page

    def describe_export(self, ExportArn: str) -> dict[str, Any]:
        self.described += 1
        return {"ExportDescription": {"FailureCode": "X", "FailureMessage": "failed"}}


def test_failed_exports_are_read_back_to_the_limit_only() -> None:
    # Given a 15-minute chain's 90 days of exports (8,640), two failures inside the limit and
    # one 3 days ago
    ages = [i / 4 for i in range(90 * 96)]
    ddb = _PagedExports(ages, failed={8, 40, 3 * 96})
    since = NOW - timedelta(hours=30)
    # When the failed exports since the limit are listed
    found = [e for e in export_statuses(ddb, TABLE.arn, since=since) if e["status"] == "FAILED"]
    # Then paging stops at the page that reaches back before the limit: 5 pages, not 346
    assert len(found) == 2
    assert ddb.pages == 5 and ddb.described == 2
    # and without a limit every page is read
    ddb = _PagedExports(ages, failed={8, 40, 3 * 96})
    assert len([e for e in export_statuses(ddb, TABLE.arn) if e["status"] == "FAILED"]) == 3
    assert ddb.pages == 346

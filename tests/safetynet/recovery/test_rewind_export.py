"""The window's export on AWS: which window is exported, the request (checked against botocore's
service model), waiting for it, finding a previous run's, and `prepare` end to end against a fake
export service that writes AWS's incremental layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from handlers.exports.incremental import Change
from handlers.exports.writer import write_incremental_export
from handlers.rewind import RewindSpec, Window, window_id
from safetynet.recovery import rewind as flow
from safetynet.recovery.rewind_export import (
    ExportFailed,
    ExportWindow,
    WindowRefused,
    check_window,
    client_token,
    export_window,
    request_export,
    wait_export,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATEST = NOW - timedelta(minutes=5)
T1 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def test_a_window_of_15_minutes_or_more_is_exported_as_it_is() -> None:
    plan = export_window(T1, T1 + timedelta(minutes=40), latest=LATEST)
    assert (plan.start, plan.end, plan.exact_old_images, plan.note) == (T1, T1 + timedelta(minutes=40), True, None)


def test_a_short_window_is_exported_from_t1_for_15_minutes_so_old_images_are_the_state_at_t1() -> None:
    plan = export_window(T1, T1 + timedelta(minutes=4), latest=LATEST)
    assert (plan.start, plan.end, plan.exact_old_images) == (T1, T1 + timedelta(minutes=15), True)
    assert plan.note is not None and "left alone" in plan.note


def test_a_short_recent_window_starts_before_t1_and_says_what_that_costs_and_when_it_is_exact() -> None:
    t1 = LATEST - timedelta(minutes=6)
    plan = export_window(t1, t1 + timedelta(minutes=2), latest=LATEST)
    assert (plan.start, plan.end, plan.exact_old_images) == (LATEST - timedelta(minutes=15), LATEST, False)
    assert plan.note is not None and "not at T1" in plan.note
    assert plan.exact_after == t1 + timedelta(minutes=15)


def test_a_window_ending_after_the_latest_restorable_time_is_refused() -> None:
    with pytest.raises(WindowRefused, match="wait a few minutes"):
        export_window(LATEST - timedelta(minutes=1), LATEST + timedelta(minutes=1), latest=LATEST)


@pytest.mark.parametrize(
    ("start", "end", "earliest", "message"),
    [
        (T1 - timedelta(days=2), T1 - timedelta(hours=23), T1 - timedelta(days=3), "at most 24 hours"),
        (T1, T1 + timedelta(minutes=5), None, "point-in-time recovery is off"),
        (T1, T1 + timedelta(minutes=5), T1 + timedelta(minutes=1), "before the table's PITR period"),
        (T1, T1, T1 - timedelta(days=1), "the window is empty"),
        (T1, NOW + timedelta(seconds=1), T1 - timedelta(days=1), "in the future"),
    ],
)
def test_windows_outside_what_aws_can_export_are_refused(
    start: datetime, end: datetime, earliest: datetime | None, message: str
) -> None:
    with pytest.raises(WindowRefused, match=message):
        check_window(start, end, now=NOW, earliest=earliest)


def test_the_export_request_is_valid_for_botocore_and_idempotent() -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    plan = ExportWindow(T1, T1 + timedelta(minutes=15), exact_old_images=True)
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
    expected = {
        "TableArn": arn,
        "S3Bucket": "vault",
        "S3Prefix": "rewinds/orders/w",
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "INCREMENTAL_EXPORT",
        "IncrementalExportSpecification": {
            "ExportFromTime": plan.start,
            "ExportToTime": plan.end,
            "ExportViewType": "NEW_AND_OLD_IMAGES",
        },
        "ClientToken": client_token(arn, plan, "rewinds/orders/w"),
        "S3SseAlgorithm": "KMS",
        "S3SseKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
    }
    with Stubber(ddb) as stub:
        stub.add_response(
            "export_table_to_point_in_time", {"ExportDescription": {"ExportArn": f"{arn}/export/1"}}, expected
        )
        got = request_export(
            ddb,
            table_arn=arn,
            bucket="vault",
            prefix="rewinds/orders/w",
            window=plan,
            kms_key=expected["S3SseKmsKeyId"],
        )
    assert got == f"{arn}/export/1"
    assert client_token(arn, plan, "p") == client_token(arn, plan, "p") != client_token(arn, plan, "q")


def test_waiting_returns_the_export_folder_when_it_completes_and_fails_loudly_when_it_fails() -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/export/01764126000000-abcdef12"
    polls: list[str] = []
    with Stubber(ddb) as stub:
        stub.add_response("describe_export", {"ExportDescription": {"ExportArn": arn, "ExportStatus": "IN_PROGRESS"}})
        stub.add_response(
            "describe_export",
            {
                "ExportDescription": {
                    "ExportArn": arn,
                    "ExportStatus": "COMPLETED",
                    "S3Bucket": "vault",
                    "ExportManifest": "rewinds/orders/w/AWSDynamoDB/01764126000000-abcdef12/manifest-summary.json",
                }
            },
        )
        stub.add_response(
            "describe_export",
            {"ExportDescription": {"ExportArn": arn, "ExportStatus": "FAILED", "FailureCode": "S3AccessDenied"}},
        )
        ref = wait_export(ddb, arn, sleep=lambda _s: None, on_poll=lambda d: polls.append(d["ExportStatus"]))
        with pytest.raises(ExportFailed, match="S3AccessDenied"):
            wait_export(ddb, arn, sleep=lambda _s: None)
    assert ref.url == "s3://vault/rewinds/orders/w/AWSDynamoDB/01764126000000-abcdef12/"
    assert polls == ["IN_PROGRESS", "COMPLETED"]


class FakeExports:
    """moto's DynamoDB with AWS's incremental exports: the export is written (AWS's layout) from
    `changes` when requested; PITR reports a realistic period."""

    def __init__(self, ddb: Any, s3: Any, changes: list[Any]) -> None:
        self.ddb, self.s3, self.changes, self.requests = ddb, s3, changes, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ddb, name)

    def describe_continuous_backups(self, **kw: Any) -> Any:
        now = datetime.now(UTC)
        return {
            "ContinuousBackupsDescription": {
                "ContinuousBackupsStatus": "ENABLED",
                "PointInTimeRecoveryDescription": {
                    "PointInTimeRecoveryStatus": "ENABLED",
                    "EarliestRestorableDateTime": now - timedelta(days=35),
                    "LatestRestorableDateTime": now - timedelta(minutes=5),
                },
            }
        }

    def export_table_to_point_in_time(self, **kw: Any) -> Any:
        self.requests.append(kw)
        spec = kw["IncrementalExportSpecification"]
        self.ref = write_incremental_export(
            self.s3, bucket=kw["S3Bucket"], prefix=kw["S3Prefix"], table_arn=kw["TableArn"], changes=self.changes,
            export_from_time=spec["ExportFromTime"], export_to_time=spec["ExportToTime"],
        )  # fmt: skip
        return {"ExportDescription": {"ExportArn": kw["TableArn"] + "/export/x", "ExportStatus": "IN_PROGRESS"}}

    def describe_export(self, ExportArn: str) -> Any:
        return {
            "ExportDescription": {
                "ExportArn": ExportArn, "ExportStatus": "COMPLETED", "S3Bucket": self.ref.bucket,
                "ExportManifest": self.ref.summary_key,
            }
        }  # fmt: skip


class Clients:
    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def get(self, service: str) -> Any:
        return self.clients[service]


def test_prepare_requests_the_window_waits_and_validates_and_a_rerun_reuses_it(aws: None) -> None:
    from tests.support.restore_fixtures import PROJECT_DIR, prod_config

    cfg = prod_config(PROJECT_DIR)
    ddb, s3 = boto3.client("dynamodb", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    ddb.create_table(**next(t for t in cfg.tables if t.name == "customers").create_table_request("customers"))
    s3.create_bucket(Bucket="vault")
    t1 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    at = int((t1 + timedelta(minutes=2)).timestamp() * 1_000_000)
    late = int((t1 + timedelta(minutes=12)).timestamp() * 1_000_000)
    changes = [
        Change(keys={"customerId": {"S": pk}}, new_image={"customerId": {"S": pk}, "v": {"N": "2"}},
               old_image={"customerId": {"S": pk}, "v": {"N": "1"}}, write_micros=when)
        for pk, when in (("a", at), ("b", late))
    ]  # fmt: skip
    fake = FakeExports(ddb, s3, changes)
    clients = Clients(dynamodb=fake, s3=s3)
    steps: list[str] = []
    prepared = flow.prepare(
        clients, cfg, table="customers", start=t1, end=t1 + timedelta(minutes=5), bucket="vault",
        kms_key="arn:aws:kms:us-east-1:123456789012:key/k", on_export=lambda step, _info: steps.append(step),
    )  # fmt: skip
    assert steps == ["requested", "poll", "validating"] and prepared.source == "incremental export"
    assert (prepared.export.start, prepared.export.end) == (t1, t1 + timedelta(minutes=15))
    assert prepared.window_prefix == f"rewinds/customers/{window_id(Window.of(t1, t1 + timedelta(minutes=5)))}"
    assert fake.requests[0]["S3Prefix"] == prepared.window_prefix and prepared.changes == 2
    # The key last written after T2 (inside the wider export) is left alone and reported
    ddb.put_item(TableName="customers", Item={"customerId": {"S": "a"}, "v": {"N": "2"}})
    spec = RewindSpec(window=prepared.window)
    tally = flow.settle_files(clients, prepared, spec, dry_run=False)
    assert tally.counts["restore"] == {"reverted": 1, "outside-window": 1}
    assert ddb.get_item(TableName="customers", Key={"customerId": {"S": "a"}})["Item"]["v"] == {"N": "1"}
    again = flow.prepare(clients, cfg, table="customers", start=t1, end=t1 + timedelta(minutes=5), bucket="vault")
    assert again.source == "vault" and again.ref == prepared.ref and len(fake.requests) == 1


def test_prepare_refuses_a_table_outside_the_stack(aws: None) -> None:
    from tests.support.restore_fixtures import PROJECT_DIR, prod_config

    with pytest.raises(flow.RewindRefused, match="orders \\(orders\\), customers"):
        flow.prepare(
            Clients(), prod_config(PROJECT_DIR), table="payments", start=T1, end=T1 + timedelta(minutes=1), bucket="v"
        )


def test_times_are_taken_to_the_millisecond_with_a_zone() -> None:
    from safetynet.recovery.rewind_export import millis

    assert millis(datetime(2026, 11, 26, 4, 0, 0, 123000, tzinfo=UTC)) == datetime(
        2026, 11, 26, 4, 0, 0, 123000, tzinfo=UTC
    )
    with pytest.raises(WindowRefused, match="to the millisecond"):
        millis(datetime(2026, 11, 26, 4, 0, 0, 123456, tzinfo=UTC))
    with pytest.raises(WindowRefused, match="no time zone"):
        millis(datetime(2026, 11, 26, 4, 0, 0))  # the mistake under test: no zone

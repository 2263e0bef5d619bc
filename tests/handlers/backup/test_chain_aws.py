"""The chain task's AWS access layer (handlers/backup/aws.py) on moto, and its Lambda entrypoint
(handlers/backup/entrypoints.py) end to end: the ledger written conditionally, exports started as
botocore's service model requires, the newest full export found in the vault, the windows already
there, metrics published."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

from conventions.chain import CHAIN_ENV, LEDGER_KEY, ChainConfigError, ChainContext
from handlers.backup import entrypoints
from handlers.backup.aws import ChainAws, ExportLimitExceeded, ExportStartFailed, LedgerConflict, export_request
from handlers.backup.chain_ledger import IN_PROGRESS, ChainRecord, WindowRun
from handlers.backup.chain_windows import Window
from handlers.backup.context import load_context
from handlers.exports import write_export
from handlers.exports.writer import new_export_id, write_incremental_export
from tests.support.chain_fakes import ACCOUNT, chain_context, chain_table

REGION = "eu-central-1"
LAMBDA_CONTEXT = SimpleNamespace(
    function_name="incremental-exports-task",
    memory_limit_in_mb=512,
    invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:incremental-exports-task",
    aws_request_id="req-1",
    get_remaining_time_in_millis=lambda: 600_000,
)


def at(hh: int, mm: int = 0, day: int = 30) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=UTC)


@pytest.fixture
def account(aws: None, monkeypatch: pytest.MonkeyPatch) -> ChainAws:
    """moto with the vault, the ledger and a PITR-enabled `orders` table, as the stack declares them."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    ddb = boto3.client("dynamodb", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    ctx = chain_context()
    s3.create_bucket(Bucket=ctx.vault_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    ddb.create_table(
        TableName=ctx.ledger_table,
        KeySchema=[{"AttributeName": LEDGER_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": LEDGER_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    arn = ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    ddb.update_continuous_backups(
        TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    ctx = chain_context(replace(chain_table("orders"), arn=arn))
    return ChainAws(ctx, ddb=ddb, s3=s3, cloudwatch=boto3.client("cloudwatch", region_name=REGION))


def full_export(a: ChainAws, when: datetime, *, complete: bool = True) -> str:
    """A full export of `orders` in the vault taken at `when` (complete: its summary written)."""
    export_id = new_export_id(when)
    if complete:
        write_export(
            a.s3, bucket=a.ctx.vault_bucket, prefix="exports/orders", table_arn=a.ctx.tables[0].arn,
            items=[{"id": {"S": "1"}}], export_time=when, export_id=export_id,
        )  # fmt: skip
    else:  # a running export: only its _started marker
        a.s3.put_object(Bucket=a.ctx.vault_bucket, Key=f"exports/orders/AWSDynamoDB/{export_id}/_started", Body=b"")
    return export_id


# -- the ledger ---------------------------------------------------------------------------------


def test_records_are_written_only_over_the_version_read(account: ChainAws) -> None:
    rec = ChainRecord("orders", chain_start=at(3), chain_end=at(3))
    saved = account.save(rec, now=at(3, 40))
    assert saved.version == 1
    with pytest.raises(LedgerConflict):
        account.save(rec, now=at(3, 41))  # a second "new" record: the item exists
    again = account.save(saved.with_changes(chain_end=at(3, 30)), now=at(3, 42))
    with pytest.raises(LedgerConflict):
        account.save(saved.with_changes(chain_end=at(3, 45)), now=at(3, 43))  # stale version 1
    records, unreadable = account.load_records()
    assert records["orders"] == again and unreadable == {}


def test_an_item_that_is_not_a_record_is_reported_and_left_alone(account: ChainAws) -> None:
    account.ddb.put_item(
        TableName=account.ctx.ledger_table, Item={LEDGER_KEY: {"S": "orders"}, "chainEnd": {"S": "soon"}}
    )
    records, unreadable = account.load_records()
    assert records == {} and "not a chain record" in unreadable["orders"]


# -- exports --------------------------------------------------------------------------------------


def test_the_export_request_is_valid_for_botocore_and_goes_to_the_incremental_folder() -> None:
    ctx = chain_context(chain_table("orders", view="NEW_IMAGE"))
    request = export_request(ctx, ctx.tables[0], WindowRun(Window(at(9), at(9, 15)), attempt=1))
    model = boto3.client("dynamodb", region_name=REGION).meta.service_model
    validate_parameters(request, model.operation_model("ExportTableToPointInTime").input_shape)
    assert request["ExportType"] == "INCREMENTAL_EXPORT"
    assert request["S3Prefix"] == "exports/orders/incremental"
    assert request["IncrementalExportSpecification"] == {
        "ExportFromTime": at(9),
        "ExportToTime": at(9, 15),
        "ExportViewType": "NEW_IMAGE",
    }
    assert (request["S3SseAlgorithm"], request["S3SseKmsKeyId"]) == ("KMS", ctx.kms_key_arn)
    assert request["S3BucketOwner"] == ACCOUNT


def test_an_export_starts_and_its_state_is_read_back(account: ChainAws) -> None:
    arn = account.start_export(account.ctx.tables[0], WindowRun(Window(at(9), at(9, 15))))
    for _ in range(50):  # moto exports on a thread
        status = account.describe_export(arn)
        if status.state != "IN_PROGRESS":
            break
        time.sleep(0.02)
    assert status.state == "COMPLETED"


def test_a_refused_start_carries_dynamodbs_error_code(account: ChainAws) -> None:
    account.ddb.update_continuous_backups(
        TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    with pytest.raises(ExportStartFailed) as refused:
        account.start_export(account.ctx.tables[0], WindowRun(Window(at(9), at(9, 15))))
    assert refused.value.code == "PointInTimeRecoveryUnavailableException"


def test_the_accounts_export_limit_is_not_a_failure(account: ChainAws) -> None:
    class Busy:
        def export_table_to_point_in_time(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "300 exports"}}, "Export")

    busy = ChainAws(account.ctx, ddb=Busy(), s3=account.s3, cloudwatch=account.cloudwatch)
    with pytest.raises(ExportLimitExceeded):
        busy.start_export(account.ctx.tables[0], WindowRun(Window(at(9), at(9, 15))))


def test_an_export_dynamodb_no_longer_knows_counts_as_failed(account: ChainAws) -> None:
    class Forgot:
        def describe_export(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "ExportNotFoundException", "Message": "gone"}}, "DescribeExport")

    status = ChainAws(account.ctx, ddb=Forgot(), s3=account.s3, cloudwatch=account.cloudwatch).describe_export("arn:x")
    assert (status.state, status.failure_code) == ("FAILED", "ExportNotFoundException")


# -- the vault ----------------------------------------------------------------------------------


def test_the_anchor_is_the_newest_complete_full_export(account: ChainAws) -> None:
    assert account.newest_full_export(account.ctx.tables[0]) is None
    full_export(account, at(3, 0, day=28))
    newest = full_export(account, at(3, 0, day=29))
    full_export(account, at(3, 0, day=30), complete=False)  # still running tonight
    # an incremental export is never an anchor, even a newer one
    write_incremental_export(
        account.s3, bucket=account.ctx.vault_bucket, prefix="exports/orders/incremental",
        table_arn=account.ctx.tables[0].arn, changes=[], export_from_time=at(3), export_to_time=at(3, 15),
    )  # fmt: skip
    anchor = account.newest_full_export(account.ctx.tables[0])
    assert anchor is not None and anchor.export_id == newest and anchor.time == at(3, 0, day=29)


def test_the_windows_already_in_the_vault_after_a_time_are_read_from_their_summaries(account: ChainAws) -> None:
    def window(start: datetime, end: datetime, requested: datetime) -> None:
        write_incremental_export(
            account.s3, bucket=account.ctx.vault_bucket, prefix="exports/orders/incremental",
            table_arn=account.ctx.tables[0].arn, changes=[], export_from_time=start, export_to_time=end,
            export_id=new_export_id(requested),
        )  # fmt: skip

    window(at(2, 30), at(2, 45), at(2, 56))  # requested before the anchor: not read
    window(at(2, 45), at(3, 15), at(3, 26))
    window(at(3, 15), at(3, 30), at(3, 41))
    found = account.vault_windows(account.ctx.tables[0], since=at(3))
    assert sorted(found) == [Window(at(2, 45), at(3, 15)), Window(at(3, 15), at(3, 30))]


def test_metrics_go_to_the_safetynet_namespace_with_the_stack_dimension(account: ChainAws) -> None:
    account.put_metrics({"ChainFailedWindows": 2.0}, now=datetime.now(UTC))
    [metric] = account.cloudwatch.list_metrics(Namespace="safetynet", MetricName="ChainFailedWindows")["Metrics"]
    assert metric["Dimensions"] == [{"Name": "Stack", "Value": "prod"}]


# -- the entrypoint ------------------------------------------------------------------------------


def test_a_scheduled_run_starts_the_first_window_after_the_nightly_export_and_records_it(
    account: ChainAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the table's nightly export in the vault and the context the stack ships
    # (the runs' scheduled times are in the past: the task does not trust a schedule ahead of its clock)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=15)
    full_export(account, now - timedelta(minutes=45))
    monkeypatch.setenv(CHAIN_ENV, account.ctx.to_json())
    monkeypatch.setattr(entrypoints, "_CONTEXT", None)
    # When the schedule invokes the task
    out = entrypoints.chain_handler({"scheduledTime": now.isoformat().replace("+00:00", "Z")}, LAMBDA_CONTEXT)
    # Then one window from the export to the last grid point before now - 10 min was started
    [table] = out["tables"]
    assert table["started"] == 1 and table["state"] == "ok"
    records, _ = account.load_records()
    [run] = records["orders"].windows
    assert run.state == IN_PROGRESS and run.window.start == now - timedelta(minutes=45)
    assert out["metrics"]["ChainWindowsStarted"] == 1.0
    # When the export completes and the next run comes 15 minutes later
    for _ in range(50):  # moto exports on a thread
        if account.describe_export(str(run.export_arn)).state != "IN_PROGRESS":
            break
        time.sleep(0.02)
    later = (now + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
    out = entrypoints.chain_handler({"scheduledTime": later}, LAMBDA_CONTEXT)
    # Then the chain ends where that window ended, and the next window starts there
    records, _ = account.load_records()
    assert out["tables"][0]["completed"] == 1
    assert records["orders"].chain_end == run.window.end
    assert records["orders"].windows[0].window.start == run.window.end


def test_the_run_time_is_the_schedules_unless_it_lies_in_the_future() -> None:
    now = at(10)
    assert entrypoints.run_time({"scheduledTime": "2026-11-30T09:45:00Z"}, now) == at(9, 45)
    assert entrypoints.run_time({"scheduledTime": "2026-11-30T10:03:00Z"}, now) == now  # clock skew
    assert entrypoints.run_time({"scheduledTime": "2026-12-30T10:00:00Z"}, now) == now
    assert entrypoints.run_time({"scheduledTime": "<aws.scheduler.scheduled-time>"}, now) == now
    assert entrypoints.run_time({}, now) == now


def test_a_missing_or_broken_context_fails_on_cold_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    with pytest.raises(ChainConfigError, match="SAFETYNET_CHAIN is not set"):
        load_context({}, bundled=tmp_path / "none.json")
    with pytest.raises(ChainConfigError, match="not a valid chain document"):
        load_context({CHAIN_ENV: '{"stack": "prod"}'})
    bad = json.loads(chain_context().to_json())
    bad["tables"][0]["every_seconds"] = 600
    with pytest.raises(ChainConfigError, match="divide a day"):
        load_context({CHAIN_ENV: json.dumps(bad)})
    good = chain_context()
    assert load_context({CHAIN_ENV: good.to_json()}) == good
    assert ChainContext.from_json(good.to_json()) == good

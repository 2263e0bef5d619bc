"""The Lambda entrypoints: environment validated on cold start, then the logic runs with
clients from the access layer (against moto)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from conventions.watch import WATCH_ENV, WatchConfigError, WatchContext
from handlers.exports import read_data_files, read_summary
from handlers.watch import aws as watch_aws
from handlers.watch import entrypoints as watch_lambdas
from handlers.watch.context import load_context
from tests.support import cloudtrail_samples as ct
from tests.support.watch_fixtures import LAMBDA_CONTEXT, REGION, add_export, fill, item, make_account


@pytest.fixture
def deployed(aws: None, monkeypatch: pytest.MonkeyPatch) -> WatchContext:
    ctx = make_account(drill_sample_size=3)
    monkeypatch.setenv(WATCH_ENV, ctx.to_json())
    monkeypatch.setattr(watch_lambdas, "_CONTEXT", None)
    watch_aws.client.cache_clear()  # clients are cached per warm container; moto needs fresh ones
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return ctx


def test_missing_environment_fails_on_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WATCH_ENV, raising=False)
    monkeypatch.setattr(watch_lambdas, "_CONTEXT", None)
    with pytest.raises(WatchConfigError, match="SAFETYNET_WATCH is not set"):
        watch_lambdas.classify_handler(ct.sample("DeleteTable"), LAMBDA_CONTEXT)


def test_malformed_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WATCH_ENV, '{"stack": "prod"}')
    monkeypatch.setattr(watch_lambdas, "_CONTEXT", None)
    with pytest.raises(WatchConfigError, match="not a valid watch document"):
        watch_lambdas.freshness_handler({}, LAMBDA_CONTEXT)


def test_classify_handler_publishes(deployed: WatchContext) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", region_name=REGION).subscribe(TopicArn=deployed.topic_arn, Protocol="sqs", Endpoint=arn)
    out = watch_lambdas.classify_handler(ct.sample("DeleteTable", ct.root()), LAMBDA_CONTEXT)
    assert out["classification"] == "unexpected" and out["messageId"]
    [msg] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(msg["Body"])["Subject"].startswith("[HIGH]")


def test_classify_handler_publishes_nothing_for_other_stacks(deployed: WatchContext) -> None:
    out = watch_lambdas.classify_handler(ct.other_stack_samples()["DeleteTable other table"], LAMBDA_CONTEXT)
    assert out == {"classification": "unexpected", "messageId": None}


def test_freshness_handler_reports_every_table_and_the_stack(deployed: WatchContext) -> None:
    out = watch_lambdas.freshness_handler({}, LAMBDA_CONTEXT)
    assert [t["table"] for t in out["tables"]] == ["orders", "customers"]
    assert all(t["stale"] for t in out["tables"])
    assert (out["stack"]["stale_export_tables"], out["stack"]["unprotected_tables"]) == (2, [])


def test_drill_tasks_prepare_then_record(deployed: WatchContext) -> None:
    orders = deployed.tables[0]
    fill(orders, [item(i) for i in range(4)])
    add_export(orders, [item(i) for i in range(4)], age_hours=1)
    plan: dict[str, Any] = watch_lambdas.drill_prepare_handler({"table": "orders"}, LAMBDA_CONTEXT)
    assert plan["expectedItemCount"] == 4
    result = watch_lambdas.drill_verify_handler(
        {
            "table": "orders",
            "prepare": plan,
            "error": {"Error": "States.Timeout", "Cause": "import took too long"},
        },
        LAMBDA_CONTEXT,
    )
    assert result["ok"] is False and result["problems"] == ["States.Timeout: import took too long"]


def test_validate_file_handler_checks_the_file_its_map_item_names(deployed: WatchContext) -> None:
    # Given a planned drill and one line of the export's manifest-files.json
    orders = deployed.tables[0]
    fill(orders, [item(i) for i in range(6)])
    ref = add_export(orders, [item(i) for i in range(6)], age_hours=1)
    plan: dict[str, Any] = watch_lambdas.drill_prepare_handler({"table": "orders"}, LAMBDA_CONTEXT)
    s3 = boto3.client("s3", region_name=REGION)
    files = read_data_files(s3, ref, read_summary(s3, ref))
    # When the map's child runs on the second file / Then it read that file only
    out = watch_lambdas.drill_validate_file_handler(
        {"table": "orders", "plan": plan, "file": files[1].to_json()}, LAMBDA_CONTEXT
    )
    assert out == {"key": ref.resolve(files[1].data_file_s3_key), "items": 2}


def test_the_context_deployed_with_the_code_is_read_when_no_variable_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    ctx = WatchContext(stack="prod", tables=[], vault_bucket="vault-1")
    bundled = tmp_path / "watch_context.json"
    bundled.write_text(ctx.to_json())
    monkeypatch.delenv(WATCH_ENV, raising=False)
    assert load_context(bundled=bundled) == ctx

"""`safetynet stage` never leaves a test table worse than it found it: a replace that fails after
its delete recreates the table with its configuration and refills it from the last export staged
into it successfully, and says so. One test per failure point; each checks the exit code, the
message and the table's items, tags, PITR, TTL and stream."""

from __future__ import annotations

import gzip
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from safetynet.cli import app
from tests.support.staging_fixtures import (
    EXPORT_TIME,
    FaultyClient,
    aws_error,
    configure_like_the_stack,
    create_test_table,
    faulty_cli_clients,
    import_failed,
    light_customers,
    prod_spec,
    stage_cli,
    table_state,
    target_for,
    write_prod_export,
)

runner = CliRunner()
__all__ = ["stage_cli"]


def stage(url: str, *extra: str) -> Any:
    return runner.invoke(app, ["stage", url, "--table", "customers-test", "--yes", *extra])


@pytest.fixture
def staged(stage_cli: tuple[Any, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """customers-test configured as the stack declares it, plus TTL and a stream, and staged once
    (masked, by the stack's rules) from a first export: the last good export. Yields (s3,
    dynamodb, the table's state after that staging)."""
    s3, ddb = stage_cli
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    configure_like_the_stack(ddb, target)
    ddb.update_time_to_live(TableName=target.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    ddb.update_table(TableName=target.name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    first = write_prod_export(s3, light_customers(10))
    out = stage(first.url)
    assert out.exit_code == 0, out.output
    state = table_state(ddb, target.name)
    assert state["ttl"] == "exp" and state["stream"] == "NEW_IMAGE" and state["pitr"] == "ENABLED"
    return s3, ddb, {**state, "url": first.url}


def newer_export(s3: Any) -> Any:
    return write_prod_export(s3, light_customers(14), export_time=EXPORT_TIME + timedelta(days=1))


def _bad_object(s3: Any) -> Any:
    """Before ImportTable starts: one more data object under the prefix it reads, holding an
    item without the table's key (moto, like AWS, then fails the import after loading the rest)."""

    def effect(kwargs: dict[str, Any]) -> None:
        source = kwargs["S3BucketSource"]
        body = gzip.compress(b'{"Item":{"email":{"S":"no-key@example.org"}}}\n')
        s3.put_object(Bucket=source["S3Bucket"], Key=f"{source['S3KeyPrefix']}zz-injected.json.gz", Body=body)

    return effect


FAILURES = {
    # point: (the DynamoDB call that fails, how, on which calls, the reason the message gives)
    "import cannot start": ("import_table", lambda s3: aws_error("LimitExceededException"), 1, 1, "could not start"),
    "import fails mid-way": ("import_table", _bad_object, 1, 1, "import failed"),
    "import reported failed": ("describe_import", lambda s3: import_failed, 1, 1, "import failed"),
    "tags cannot be put back": ("tag_resource", lambda s3: aws_error("AccessDeniedException"), 1, 2, "tags"),
    "pitr cannot be put back": (
        "update_continuous_backups",
        lambda s3: aws_error("ContinuousBackupsUnavailableException"),
        1,
        2,
        "PITR",
    ),
    "verify finds an item missing": ("get_item", lambda s3: lambda kwargs, result: {}, 1, 1, "did not verify"),
}


@pytest.mark.parametrize("point", list(FAILURES))
def test_a_replace_that_fails_after_its_delete_recreates_and_refills_the_table_from_the_last_good_export(
    staged: tuple[Any, Any, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    # Given customers-test staged from a first export, and a newer one
    s3, ddb, before = staged
    method, effect, nth, times, reason = FAILURES[point]
    by_answer = method in ("describe_import", "get_item")  # these fail by what they answer
    faulty = FaultyClient(ddb).on(method, effect(s3), nth=nth, times=times, after=by_answer)
    faulty_cli_clients(monkeypatch, dynamodb=faulty)
    # When staging the newer one fails after the table was deleted
    out = stage(newer_export(s3).url)
    # Then the run fails saying why and what the table holds: the last good export, as it was
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert reason in out.output
    assert f"customers-test was recreated and refilled from {before['url']} (staged " in out.output
    after = table_state(ddb, "customers-test")
    assert after == {k: v for k, v in before.items() if k != "url"}


def test_putting_back_the_settings_is_retried_once_before_anything_is_recovered(
    staged: tuple[Any, Any, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, ddb, before = staged
    faulty = FaultyClient(ddb).on("update_continuous_backups", aws_error("ThrottlingException"))
    faulty_cli_clients(monkeypatch, dynamodb=faulty)
    items = light_customers(14)
    out = stage(newer_export(s3).url)
    assert out.exit_code == 0, out.output
    after = table_state(ddb, "customers-test")
    assert len(after["items"]) == len(items) and faulty.calls["import_table"] == 1
    settings = ("tags", "pitr", "ttl", "stream")
    assert {k: after[k] for k in settings} == {k: before[k] for k in settings}


def test_a_delete_that_fails_leaves_the_table_as_it_was(
    staged: tuple[Any, Any, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, ddb, before = staged
    faulty_cli_clients(monkeypatch, dynamodb=FaultyClient(ddb).on("delete_table", aws_error("ResourceInUseException")))
    out = stage(newer_export(s3).url)
    assert out.exit_code == 1 and "customers-test was not changed" in out.output and "Traceback" not in out.output
    assert table_state(ddb, "customers-test") == {k: v for k, v in before.items() if k != "url"}
    # and nothing is left to resume: the next run stages normally
    assert stage(newer_export(s3).url).exit_code == 0


def test_without_a_last_good_export_the_table_is_recreated_empty_and_stays_a_staging_target(
    stage_cli: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a test table never staged into (no last good export)
    s3, ddb = stage_cli
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target)
    configure_like_the_stack(ddb, target)
    ddb.put_item(TableName=target.name, Item={"customerId": {"S": "local-test-data"}})
    before = table_state(ddb, target.name)
    faulty = FaultyClient(ddb).on("import_table", aws_error("LimitExceededException"))
    faulty_cli_clients(monkeypatch, dynamodb=faulty)
    # When its first replace fails after the delete
    out = stage(write_prod_export(s3, light_customers(5)).url)
    # Then it is recreated empty, with its configuration and tags, and the message says so
    assert out.exit_code == 1
    assert "customers-test was recreated empty with its configuration and tags" in out.output
    assert "no export was staged into it successfully before" in out.output
    after = table_state(ddb, target.name)
    assert after["items"] == [] and {k: after[k] for k in ("tags", "pitr", "keys", "indexes")} == {
        k: before[k] for k in ("tags", "pitr", "keys", "indexes")
    }
    # And it is still a staging target: the next stage is accepted (the fault hit one call only)
    again = stage(write_prod_export(s3, light_customers(5)).url)
    assert again.exit_code == 0, again.output
    assert len(table_state(ddb, target.name)["items"]) == 5

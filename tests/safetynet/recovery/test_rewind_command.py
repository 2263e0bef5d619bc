"""`safetynet rewind` end to end in one process on moto: the prod stack's `orders` table, a bad
window between good writes, its export from the table's stream, the plan, the apply, the audit,
the notification, reruns, refusals, AWS errors and interruption."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from handlers.rewind import recent_rewinds
from handlers.rewind.audit import read_outcomes
from tests.handlers.rewind.emulator import Clock, at, clock, emulator, moto_streams  # noqa: F401 (fixtures)
from tests.safetynet.backup.test_stream_export import BASE
from tests.support.restore_fixtures import copy_project, prod_config

REGION = "eu-central-1"
VAULT = "vault-rewind"
T1, T2 = at(BASE, 10), at(BASE, 20)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def order(customer: str, status: str, total: int) -> dict[str, Any]:
    return {
        "customerId": {"S": customer},
        "orderId": {"S": "o-1"},
        "status": {"S": status},
        "createdAt": {"N": "1700000000"},
        "total": {"N": str(total)},
    }


def key(customer: str) -> dict[str, Any]:
    return {"customerId": {"S": customer}, "orderId": {"S": "o-1"}}


@pytest.fixture
def command() -> Iterator[Any]:
    """`safetynet rewind`, registered for the test (the lead registers it in cli.py)."""
    from safetynet import cli
    from safetynet.commands.rewind import rewind

    registered = [c for c in cli.app.registered_commands if c.name == "rewind"]
    if not registered:
        cli.app.command(name="rewind")(rewind)
    yield cli.run
    if not registered:
        cli.app.registered_commands[:] = [c for c in cli.app.registered_commands if c.name != "rewind"]


@pytest.fixture
def account(emulator: Clock, tmp_path: Path) -> dict[str, Any]:  # noqa: F811 (the imported fixture)
    """The prod stack's orders table with a stream and PITR since before BASE, a bad window
    [T1, T2) and good writes around it; returns the clients and the expected end states."""
    project = copy_project(tmp_path)
    cfg = prod_config(project)
    spec = next(t for t in cfg.tables if t.name == "orders")
    ddb = boto3.client("dynamodb", region_name=REGION)
    emulator.set(at(BASE, -60))
    ddb.create_table(**spec.create_table_request("orders"))  # the stack declares its NEW_AND_OLD_IMAGES stream
    ddb.update_continuous_backups(
        TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=VAULT, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    before = {c: order(c, "PAID", n) for n, c in enumerate(["c0", "c1", "c2", "c3", "c4", "c5", "c6"])}
    emulator.set(at(BASE, 1))
    for it in before.values():
        ddb.put_item(TableName="orders", Item=it)
    emulator.set(at(BASE, 12))  # the bad release
    for c in ("c0", "c1", "c2", "c3"):
        ddb.put_item(TableName="orders", Item=order(c, "LOST", 0))
    for c in ("c4", "c5"):
        ddb.delete_item(TableName="orders", Key=key(c))
    for c in ("n0", "n1"):
        ddb.put_item(TableName="orders", Item=order(c, "JUNK", 0))
    ddb.put_item(TableName="orders", Item=order("good-in-window", "PAID", 5))  # a good write in the window
    emulator.set(at(BASE, 25))  # good writes after it
    ddb.put_item(TableName="orders", Item=order("c3", "REFUNDED", 9))
    return {"project": project, "ddb": ddb, "s3": boto3.client("s3", region_name=REGION), "before": before}


def args(account: dict[str, Any], *extra: str, start: datetime = T1, end: datetime = T2) -> list[str]:
    return [
        "rewind", "-s", "prod", "--table", "orders", "--from", _iso(start), "--to", _iso(end), "--from-stream",
        "--vault-bucket", VAULT, "--project-dir", str(account["project"]), *extra,
    ]  # fmt: skip


def item(account: dict[str, Any], customer: str) -> Any:
    return account["ddb"].get_item(TableName="orders", Key=key(customer), ConsistentRead=True).get("Item")


def test_without_yes_it_shows_the_plan_in_80_columns_and_writes_nothing(
    command: Any, account: dict[str, Any], capsys: Any
) -> None:
    assert command(args(account)) == 0
    out = capsys.readouterr().out
    assert "restore overwritten" in out and "re-create deleted" in out and "delete created" in out
    assert "conflict" in out and "dry run: nothing written" in out
    tables = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert tables and max(len(line) for line in tables) <= 80
    assert "--from-stream" in out.splitlines()[-1]  # the command that applies it, on one line to copy
    assert item(account, "c0")["status"] == {"S": "LOST"} and item(account, "n0") is not None
    listed = account["s3"].list_objects_v2(Bucket=VAULT, Prefix="rewinds/orders/").get("Contents", [])
    assert listed and not [o for o in listed if "/runs/" in o["Key"]]  # the export only


def test_yes_reverts_the_window_keeps_later_writes_and_leaves_an_audit(
    command: Any, account: dict[str, Any], capsys: Any
) -> None:
    assert command([*args(account), "--yes", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "completed"
    # 9 changed keys: 4 overwritten (one written again after T2), 2 deleted, 3 created
    assert {k: v for k, v in doc["byOutcome"].items() if v} == {"reverted": 8, "conflict": 1}
    for c in ("c0", "c1", "c2", "c4", "c5"):
        assert item(account, c) == account["before"][c]
    assert item(account, "n0") is None and item(account, "n1") is None
    assert item(account, "c3")["status"] == {"S": "REFUNDED"}  # written after T2: kept
    assert item(account, "good-in-window") is None  # inside the window and no filter: undone too
    runs = recent_rewinds(account["s3"], VAULT, "rewinds/orders")
    assert len(runs) == 1 and runs[0]["status"] == "completed" and runs[0]["who"].startswith("arn:aws:")
    prefix = runs[0]["auditUrl"].removeprefix(f"s3://{VAULT}/")
    parts = [o["Key"] for o in account["s3"].list_objects_v2(Bucket=VAULT, Prefix=prefix + "outcomes/")["Contents"]]
    lines = [line for part in parts for line in read_outcomes(account["s3"], VAULT, part)]
    assert len(lines) == doc["changes"] == 9
    conflict = next(line for line in lines if line["outcome"] == "conflict")
    assert conflict["now"]["status"] == {"S": "REFUNDED"} and conflict["bad"]["status"] == {"S": "LOST"}


def test_a_filter_keeps_only_the_bad_release_and_the_good_write_in_the_window_stays(
    command: Any, account: dict[str, Any], capsys: Any
) -> None:
    assert command([*args(account), "--where", 'NewImage.status == "LOST"']) == 2
    assert "at position 18" in capsys.readouterr().err
    where = 'NewImage.status = "JUNK" or NewImage.status = "LOST" or not exists(NewImage.status)'
    assert command([*args(account), "--where", where, "--yes", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["byOutcome"]["filtered"] == 1 and doc["filter"] == where
    assert item(account, "good-in-window") == order("good-in-window", "PAID", 5)
    assert item(account, "c0") == account["before"]["c0"]


def test_a_rerun_reuses_the_export_and_finds_every_key_already_reverted(
    command: Any, account: dict[str, Any], capsys: Any
) -> None:
    assert command([*args(account), "--yes"]) == 0
    capsys.readouterr()
    assert command([*args(account), "--yes", "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert "reusing" in captured.err and doc["exportSource"] == "vault"
    assert (
        doc["byOutcome"]["reverted"] == 0 and doc["byOutcome"]["unchanged"] == 8 and doc["byOutcome"]["conflict"] == 1
    )


def test_the_outcome_is_published_on_the_stacks_alert_topic(command: Any, account: dict[str, Any], capsys: Any) -> None:
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="watch-alerts-1a2b3c4", Tags=[{"Key": "safetynet:stack", "Value": "safetynet/prod"}])
    sns.create_topic(Name="watch-alerts-other", Tags=[{"Key": "safetynet:stack", "Value": "safetynet/test"}])
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic["TopicArn"], Protocol="sqs", Endpoint=queue_arn)
    assert command([*args(account), "--yes"]) == 0
    assert "notified" in capsys.readouterr().err
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    message = json.loads(body["Message"])
    assert (
        message["kind"] == "rewind" and message["byOutcome"]["reverted"] == 8 and message["byOutcome"]["conflict"] == 1
    )
    assert "LOST" not in body["Message"]  # counts and locations, never item data


def test_without_an_alert_topic_it_says_so_and_succeeds(command: Any, account: dict[str, Any], capsys: Any) -> None:
    assert command([*args(account), "--yes"]) == 0
    assert "no alert topic found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "start", "end", "message"),
    [
        (("--table", "payments"), T1, T2, "not one of this stack's tables"),
        ((), T2, T1, "is not before --to"),
        ((), T1, datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1), "is in the future"),
        ((), at(BASE, -3600), T2, "before the table's PITR period"),
        (("--where", 'NewImage.status = "x'), T1, T2, "unterminated string"),
        ((), T1 + timedelta(milliseconds=500), T2, "not a whole second"),
    ],
)
def test_a_request_it_cannot_honour_is_refused_with_exit_2(
    command: Any,
    account: dict[str, Any],
    capsys: Any,
    extra: tuple[str, ...],
    start: datetime,
    end: datetime,
    message: str,
) -> None:
    assert command([*args(account, start=start, end=end), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert item(account, "c0")["status"] == {"S": "LOST"}


def test_a_time_without_a_zone_is_refused(command: Any, account: dict[str, Any], capsys: Any) -> None:
    argv = args(account)
    argv[argv.index("--from") + 1] = "2026-11-26T03:00:00"
    assert command(argv) == 2
    assert "no time zone" in capsys.readouterr().err


def test_an_aws_error_is_one_paragraph_and_exit_1(command: Any, account: dict[str, Any], capsys: Any) -> None:
    argv = args(account)
    argv[argv.index("--vault-bucket") + 1] = "no-such-vault"
    assert command(argv) == 1
    err = capsys.readouterr().err
    assert "NoSuchBucket" in err and "Traceback" not in err and len(err.strip().splitlines()) <= 3


def test_an_interrupted_rewind_says_what_it_did_and_the_same_command_finishes_it(
    command: Any, account: dict[str, Any], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers.rewind.apply import Applier

    original, calls = Applier._write, []

    def interrupted_third_write(self: Applier, *a: Any, **kw: Any) -> Any:
        if not self.dry_run:
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
        return original(self, *a, **kw)

    monkeypatch.setattr(Applier, "_write", interrupted_third_write)
    assert command([*args(account), "--yes", "--concurrency", "1"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "run the same command again" in err.lower()
    runs = recent_rewinds(account["s3"], VAULT, "rewinds/orders")
    assert runs[0]["status"] == "interrupted" and runs[0]["byOutcome"]["reverted"] == 2
    monkeypatch.setattr(Applier, "_write", original)
    assert command([*args(account), "--yes", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["byOutcome"]["unchanged"] == 2 and doc["byOutcome"]["reverted"] == 6
    assert item(account, "c0") == account["before"]["c0"] and item(account, "n1") is None

"""`safetynet replay` on moto, in-process: the plan it prints, the table it leaves, its refusals
(exit 1, nothing written), usage errors (exit 2), an AWS error as one paragraph, and Ctrl-C
(exit 130) with the exact command that resumes."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from conventions.chain import incremental_export_prefix
from handlers.exports import Change, ExportRef, iter_requests, new_export_id, write_incremental_export
from handlers.exports.batch_writer import DynamoDBSink, write_requests
from safetynet import cli
from safetynet.commands.replay import replay
from safetynet.recovery.replay_target import JOURNAL_TAG
from tests.support import restore_fixtures as rx
from tests.support.interrupt import Interrupter, interrupt_commands

runner = CliRunner()
# The root command (its --region/--profile/--endpoint-url) with `replay` under it, as safetynet/cli.py
# registers it (tests/safetynet/commands/test_registration.py checks that registration).
app = typer.Typer(pretty_exceptions_enable=False, rich_markup_mode=None)
app.callback()(cli.app.registered_callback.callback)  # type: ignore[union-attr]
app.command(name="replay")(replay)
TABLE = "customers"
TARGET = "customers-restored"
ANCHOR_TIME = rx.NOW - timedelta(hours=3)
END = [ANCHOR_TIME + timedelta(minutes=15 * w) for w in range(4)]


def customer(i: int, v: str) -> dict[str, Any]:
    return {"customerId": {"S": f"c-{i:03d}"}, "email": {"S": f"{i}@x.test"}, "v": {"S": v}}


def cid(i: int) -> dict[str, Any]:
    return {"customerId": {"S": f"c-{i:03d}"}}


def _window(s3: Any, number: int, changes: list[Change]) -> ExportRef:
    return write_incremental_export(
        s3,
        bucket=rx.VAULT,
        prefix=incremental_export_prefix(TABLE),
        table_arn=rx.table_arn(TABLE),
        changes=changes,
        export_from_time=END[number - 1],
        export_to_time=END[number],
        export_id=new_export_id(END[number]),
    )


@pytest.fixture
def vault(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The live `customers` table, its vault (anchor: 60 items; window 1 updates 10, window 2
    deletes 5 and adds one, window 3 re-creates one and updates one), and `customers-restored`,
    which `pulumi up` created from the anchor."""
    project_copy = rx.copy_project(tmp_path)
    cfg = rx.prod_config(project_copy)
    spec = next(t for t in cfg.tables if t.name == TABLE)
    rx.create_vault()
    ddb, s3 = rx.client("dynamodb"), rx.client("s3")
    # The live table, created long before its exports (moto stamps tables with its clock).
    from moto.dynamodb.models import table as moto_table

    with monkeypatch.context() as m:
        m.setattr(moto_table, "utcnow", lambda: (ANCHOR_TIME - timedelta(days=200)).replace(tzinfo=None))
        ddb.create_table(**spec.create_table_request(TABLE))
    anchor = rx.write_aged_export(TABLE, timedelta(hours=3), [customer(i, "anchor") for i in range(60)])
    windows = [
        _window(s3, 1, [Change(cid(i), customer(i, "w1"), customer(i, "anchor"), 1) for i in range(10)]),
        _window(
            s3,
            2,
            [Change(cid(i), None, customer(i, "w1"), 1) for i in range(5)]
            + [Change(cid(100), customer(100, "w2"), None, 1)],
        ),
        _window(
            s3,
            3,
            [
                Change(cid(0), customer(0, "w3"), None, 1),
                Change(cid(50), customer(50, "w3"), customer(50, "anchor"), 1),
            ],
        ),
    ]
    ddb.create_table(**spec.create_table_request(TARGET))
    write_requests(DynamoDBSink(ddb, TARGET), iter_requests(s3, anchor))
    return {"project": project_copy, "anchor": anchor, "windows": windows, "ddb": ddb, "s3": s3}


def expected(window: int) -> dict[str, str]:
    state = {f"c-{i:03d}": "anchor" for i in range(60)}
    if window >= 1:
        state.update({f"c-{i:03d}": "w1" for i in range(10)})
    if window >= 2:
        for i in range(5):
            del state[f"c-{i:03d}"]
        state["c-100"] = "w2"
    if window >= 3:
        state.update({"c-000": "w3", "c-050": "w3"})
    return state


def values(ddb: Any, table: str = TARGET) -> dict[str, str]:
    items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    return {it["customerId"]["S"]: it["v"]["S"] for it in items}


def run(vault: dict[str, Any], *args: str, input: str | None = None) -> Any:
    argv = [
        "replay",
        "-s",
        "prod",
        "--table",
        TABLE,
        "--project-dir",
        str(vault["project"]),
        "--vault-bucket",
        rx.VAULT,
    ]
    return runner.invoke(app, [*argv, *args], input=input, env={"COLUMNS": "250"})


def fmt(when: Any) -> str:
    from handlers.exports.layout import format_time

    return format_time(when)


def test_replay_to_a_window_end_brings_the_restored_table_there(vault: dict[str, Any]) -> None:
    result = run(vault, "--target-table", TARGET, "--to", fmt(END[3]), "--anchor", vault["anchor"].url, "-y", "--json")
    assert result.exit_code == 0, result.output
    assert values(vault["ddb"]) == expected(3)
    doc = orjson.loads(result.stdout)
    assert doc["targetTable"] == TARGET
    assert doc["plan"]["to"] == fmt(END[3])
    assert [w["export"] for w in doc["plan"]["windows"]] == [w.url for w in vault["windows"]]
    assert [(a["puts"], a["deletes"]) for a in doc["applied"]] == [(10, 0), (1, 5), (2, 0)]
    assert doc["vaultRecoveryPoint"] == fmt(END[3])
    # Run again: the journal says the table is there already.
    again = run(vault, "--target-table", TARGET, "--to", fmt(END[3]), "-y")
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.stdout


def test_the_plan_is_printed_and_latest_finds_the_anchor_from_the_vault(vault: dict[str, Any]) -> None:
    result = run(vault, "--target-table", TARGET, "--latest", "-y")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"anchor          {vault['anchor'].url}" in out
    assert f"windows         3 (0 done, 3 to apply): first {fmt(END[0])} .. {fmt(END[1])}, last {fmt(END[2])}" in out
    assert "changes         18 to apply" in out
    assert "replayed 3 window(s) into customers-restored: 13 puts, 5 deletes, every write confirmed" in out
    assert values(vault["ddb"]) == expected(3)


def test_a_dry_run_validates_and_writes_nothing(vault: dict[str, Any]) -> None:
    result = run(vault, "--target-table", TARGET, "--to", fmt(END[2]), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: every window to apply is valid; nothing was written" in result.stdout
    assert values(vault["ddb"]) == expected(0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--latest", "--to", "2026-11-27T03:00:00Z"], "pass exactly one of --to T (a window end) and --latest"),
        ([], "pass exactly one of --to T"),
        (["--to", "yesterday"], "is not an ISO-8601 time"),
        (["--to", "2026-11-27T03:00:00"], "needs a time zone"),
        (["--latest", "--anchor", "s3://vault/nowhere"], "--anchor: not an export URL"),
    ],
)
def test_usage_errors_exit_2_without_touching_anything(vault: dict[str, Any], args: list[str], message: str) -> None:
    result = run(vault, "--target-table", TARGET, *args, "-y")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert values(vault["ddb"]) == expected(0)


def test_an_unknown_table_is_a_usage_error(vault: dict[str, Any]) -> None:
    result = runner.invoke(
        app, ["replay", "-s", "prod", "--table", "nope", "--latest", "--project-dir", str(vault["project"])]
    )
    assert result.exit_code == 2
    assert "unknown table nope; configured: orders, customers" in result.stderr


def test_a_time_inside_a_window_is_refused_with_the_two_choices(vault: dict[str, Any]) -> None:
    inside = END[1] + timedelta(minutes=5)
    result = run(vault, "--target-table", TARGET, "--to", fmt(inside), "-y")
    assert result.exit_code == 1
    assert f"Choose --to {fmt(END[1])} (the last window end before) or --to {fmt(END[2])}" in result.stderr
    assert "nothing was written" in result.stderr
    assert values(vault["ddb"]) == expected(0)


def test_a_damaged_window_is_named_and_nothing_is_written(vault: dict[str, Any]) -> None:
    from tests.safetynet.recovery.replay_fixtures import corrupt

    corrupt(vault["s3"], vault["windows"][2])
    result = run(vault, "--target-table", TARGET, "--to", fmt(END[3]), "-y")
    assert result.exit_code == 1
    assert vault["windows"][2].url in result.stderr
    assert f"the chain reaches {fmt(END[2])}" in result.stderr
    assert values(vault["ddb"]) == expected(0)


def test_replaying_into_the_live_table_is_refused(vault: dict[str, Any]) -> None:
    vault["ddb"].put_item(TableName=TABLE, Item=customer(7, "live"))
    result = run(vault, "--latest", "-y")  # no --target-table: the table's own name, the live table
    assert result.exit_code == 1
    assert "refusing to write into customers (--force lifts the provenance checks)" in result.stderr
    assert "before the anchor's export time" in result.stderr
    assert values(vault["ddb"], TABLE) == {"c-007": "live"}


def test_a_table_replayed_past_the_requested_time_is_refused(vault: dict[str, Any]) -> None:
    assert run(vault, "--target-table", TARGET, "--to", fmt(END[3]), "-y").exit_code == 0
    result = run(vault, "--target-table", TARGET, "--to", fmt(END[1]), "-y")
    assert result.exit_code == 1
    assert "cannot be replayed backwards" in result.stderr


def test_declining_the_question_writes_nothing(vault: dict[str, Any]) -> None:
    result = run(vault, "--target-table", TARGET, "--to", fmt(END[3]), input="n\n")
    assert result.exit_code == 1
    assert "declined; nothing was written" in result.stderr
    assert values(vault["ddb"]) == expected(0)


class Denied:
    """A DynamoDB client whose BatchWriteItem is denied (everything else is the client's own)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name == "batch_write_item":

            def deny(**_: Any) -> Any:
                error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized to BatchWriteItem"}}
                raise ClientError(error, "BatchWriteItem")

            return deny
        return getattr(self._client, name)


@pytest.fixture
def denied(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import handlers.clients

    real = handlers.clients.client

    def client(service: str, region: str | None = None) -> Any:
        c = real(service, region)
        return Denied(c) if service == "dynamodb" else c

    monkeypatch.setattr(handlers.clients, "client", client)
    yield


def test_an_aws_error_is_one_paragraph_with_the_resume_command(vault: dict[str, Any], denied: None) -> None:
    result = run(vault, "--target-table", TARGET, "--to", fmt(END[3]), "-y")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("replay:")]
    assert len(lines) == 1
    assert "access denied" in lines[0] and "not authorized to BatchWriteItem" in lines[0]
    assert "no window is complete yet (customers-restored is at its anchor)" in lines[0]
    assert "Resume with: safetynet replay -s prod --table customers --target-table customers-restored" in lines[0]


def test_ctrl_c_exits_130_with_the_command_that_resumes_and_that_command_finishes(
    vault: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupter = interrupt_commands(monkeypatch, Interrupter("dynamodb", "batch_write_item", at=2, after=True))
    result = run(vault, "--target-table", TARGET, "--latest", "-y", "--concurrency", "1")
    assert result.exit_code == 130, result.output
    assert interrupter.fired
    assert f"windows up to {fmt(END[1])} are applied and journaled on customers-restored" in result.stderr
    resume = result.stderr.split("Resume with: ", 1)[1].strip()
    assert f"--to {fmt(END[3])}" in resume and f"--anchor {vault['anchor'].url}" in resume
    tags = vault["ddb"].list_tags_of_resource(
        ResourceArn=vault["ddb"].describe_table(TableName=TARGET)["Table"]["TableArn"]
    )["Tags"]
    assert [t["Value"] for t in tags if t["Key"] == JOURNAL_TAG][-1].endswith(f"{fmt(END[1])} {fmt(END[2])}")

    monkeypatch.undo()
    argv = shlex.split(resume)[1:]  # without the program name
    resumed = runner.invoke(app, argv, env={"COLUMNS": "250"})
    assert resumed.exit_code == 0, resumed.output
    assert "windows         3 (1 done, 2 to apply)" in resumed.stdout
    assert values(vault["ddb"]) == expected(3)


def test_help_lists_every_option() -> None:
    result = runner.invoke(app, ["replay", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in (
        "--table",
        "--target-table",
        "--to",
        "--latest",
        "--anchor",
        "--concurrency",
        "--dry-run",
        "--force",
    ):
        assert option in result.stdout


def test_without_anchor_the_journal_or_the_import_names_it(vault: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from safetynet.commands.replay import _resolve_anchor
    from safetynet.recovery.replay import list_vault
    from safetynet.recovery.replay_target import ImportFact, JournalEntry, TargetFacts

    s3, anchor = vault["s3"], vault["anchor"]
    older = rx.write_aged_export(TABLE, timedelta(hours=30), [customer(1, "older")])
    exports = list_vault(s3, rx.VAULT, f"exports/{TABLE}")
    created = datetime.now(UTC)
    notes: list[str] = []
    by_journal = TargetFacts(name=TARGET, exists=True, journal=JournalEntry(older.export_id, END[0]))
    assert _resolve_anchor(None, by_journal, exports, notes) == older
    imported = ImportFact("arn:import", "COMPLETED", rx.VAULT, anchor.prefix + "data/", created, 60)
    by_import = TargetFacts(name=TARGET, exists=True, created=created, imports=[imported])
    assert _resolve_anchor(None, by_import, exports, notes) == anchor
    assert notes == [
        f"anchor: {older.export_id}, named by the table's replay journal",
        f"anchor: {anchor.export_id}, the export the table was imported from",
    ]
    assert _resolve_anchor(None, TargetFacts(name=TARGET, exists=True), exports, notes) is None

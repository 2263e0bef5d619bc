"""The journal of a `safetynet stage` run (safetynet/staging/journal.py): kept in the stack's
ledger or in a file, with the table's last good export beside it, and the signals held while an
AWS call and the entry recording it run together."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from handlers.staging.ledger import claim, record_result
from handlers.staging.recovery import LastGood
from safetynet.staging.journal import FileStore, Journal, LedgerStore, shielded, state_dir
from tests.support.staging_fixtures import EXPORT_TIME, LEDGER, create_ledger


def journal(**changes: Any) -> Journal:
    base = Journal(
        table="customers-test",
        export="s3://v/exports/customers/AWSDynamoDB/01-a/",
        mode="replace",
        phase="importing",
        target={"name": "customers-test"},
        data="s3://m/masked/customers/AWSDynamoDB/01-a/",
        input_format="DYNAMODB_JSON",
        items=10,
        import_arn="arn:aws:dynamodb:r:1:table/customers-test/import/1",
    )
    for k, v in changes.items():
        setattr(base, k, v)
    return base


GOOD = LastGood(
    "01-a", "s3://v/exports/customers/AWSDynamoDB/01-a/", "s3://m/x/AWSDynamoDB/01-a/", "DYNAMODB_JSON", "t"
)


def test_a_file_store_keeps_the_journal_and_the_last_good_export_apart(tmp_path: Path) -> None:
    store = FileStore(tmp_path, "customers-test")
    assert store.load() is None and store.last_good() is None
    store.save(journal())
    store.record_last_good(GOOD)
    assert store.load() == journal(updated_at=store.load().updated_at)  # type: ignore[union-attr]
    store.clear()
    assert store.load() is None and store.last_good() == GOOD
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_ledger_store_keeps_the_journal_in_an_item_of_its_own_and_shares_the_last_good_export(
    aws: None,
) -> None:
    import boto3

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    create_ledger(ddb)
    store = LedgerStore(ddb, LEDGER, "customers-test", "customers")
    store.save(journal(phase="refilling", files_done=2, written=50))
    item = ddb.get_item(TableName=LEDGER, Key={"table": {"S": "stage-journal/customers-test"}})["Item"]
    assert "journal" in item and store.load().files_done == 2  # type: ignore[union-attr]
    # the state machine's success record is the CLI's last good export too, and the other way round
    assert claim(ddb, LEDGER, "customers", "01-a", EXPORT_TIME).claimed
    record_result(ddb, LEDGER, "customers", "01-a", status="SUCCEEDED", detail="", last_good=GOOD.dumps())
    assert store.last_good() == GOOD
    store.clear()
    assert store.load() is None and store.last_good() == GOOD


@pytest.mark.parametrize(
    ("phase", "says"),
    [
        ("validated", "customers-test was not changed"),
        ("importing", "ImportTable arn:aws:dynamodb:r:1:table/customers-test/import/1 is loading customers-test"),
        ("refilling", "holds a mix of its previous items and 0 of the export's 10"),
        ("recovering", "is being recreated after: None"),
    ],
)
def test_each_phase_says_what_state_the_table_is_in(phase: str, says: str) -> None:
    assert says in journal(phase=phase).state_text()
    assert journal(phase=phase).touched is (phase != "validated")


def test_the_state_folder_is_per_region_and_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAFETYNET_STATE_DIR", str(tmp_path))
    assert state_dir("eu-central-1", None) == tmp_path / "eu-central-1"
    local = state_dir("eu-central-1", "http://127.0.0.1:5000")
    assert local.parent == tmp_path and local != tmp_path / "eu-central-1"
    monkeypatch.delenv("SAFETYNET_STATE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert state_dir(None, None) == tmp_path / ".local" / "state" / "safetynet" / "staging" / "default"


def test_ctrl_c_is_held_until_the_call_and_its_journal_entry_are_both_done() -> None:
    done = []
    # What the process started with: Python's default_int_handler, or SIG_IGN when started in the
    # background of a non-interactive shell (`nohup make test &`).
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), shielded():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("the call")
        done.append("its journal entry")
    assert done == ["the call", "its journal entry"]
    assert signal.getsignal(signal.SIGINT) is before

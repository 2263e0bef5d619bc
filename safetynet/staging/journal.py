"""The journal of a `safetynet stage` run: where it is, so an interrupted run (Ctrl-C, SIGTERM, a
lost connection) can say what state the table is in, and the same command, run again, finishes the
job instead of refusing a table it left untagged or half loaded.

A replace deletes the table before ImportTable recreates it, so the journal cannot live on the
table (its tags go with it, and 50 tags of 256 characters cannot hold its configuration). It lives:

- in the test stack's staging ledger (`safetynet-staging-ledger-<environment>`), one item per
  table keyed `stage-journal/<table>` (a `/` key: never a run record nor a registered target), when
  the stack is known and its ledger exists. Another machine finds it the same way: from
  `-s/--stack`, the table's staging-target tag, or the project's stack file that declares the
  table (`safetynet.staging.declared`);
- otherwise in a file, `$SAFETYNET_STATE_DIR` (default `~/.local/state/safetynet/staging`), one per
  endpoint, region and table: a table no stack declares can be resumed from the same machine.

The same store keeps the table's last good export (what a failed replace refills it from): the
ledger's run record of the table (the state machine's too), or a file beside the journal.

Each phase is saved before the step it names starts, so a rerun repeats at most that step; every
step is idempotent (DeleteTable of a gone table, ImportTable with the same client token, putting
back settings only where missing, BatchWriteItem of the same items).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from handlers.staging.ledger import last_good, record_last_good
from handlers.staging.recovery import LastGood

STATE_DIR_ENV = "SAFETYNET_STATE_DIR"
JOURNAL_KEY_PREFIX = "stage-journal/"
"""Ledger key of a table's journal: `stage-journal/<table>`."""

PHASES = ("validated", "deleting", "importing", "restoring-config", "refilling", "verifying", "recovering")
"""In order; `recovering` follows a replace that failed after its delete."""
UNTOUCHED = ("validated",)
"""Phases in which the table was not changed yet."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Journal:
    """Where a run is. Everything a rerun needs is here: the table's configuration as it was
    before anything changed (`target`), what to load (`data`), and the phase's progress."""

    table: str
    export: str
    """The export being staged (its URL)."""
    mode: str
    phase: str
    target: dict[str, Any]
    """TargetTable JSON, read from the live table before anything changed."""
    data: str
    """What is loaded: the masked copy, or the export."""
    input_format: str
    items: int
    """The export's item count."""
    command: str = ""
    """The command that finishes the job."""
    import_arn: str | None = None
    files_done: int = 0
    written: int = 0
    reason: str | None = None
    """recovering: why the replace failed."""
    recovery: dict[str, Any] | None = None
    """recovering: how the table is being recreated (handlers.staging.recovery.start_recreate)."""
    started_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)

    @property
    def touched(self) -> bool:
        """Whether the table may differ from how the run found it."""
        return self.phase not in UNTOUCHED

    def describe(self) -> str:
        """The phase as a person reads it: `importing arn:...`, `refilling: 3 data files done`."""
        if self.phase == "importing":
            return f"importing {self.import_arn or '(ImportTable being started)'}"
        if self.phase == "refilling":
            return f"refilling: {self.files_done} data file(s) done, {self.written:,} of {self.items:,} items written"
        if self.phase == "recovering":
            return f"recovering after: {self.reason}"
        return self.phase

    def state_text(self) -> str:
        """The state the table is in at this phase, for a person deciding what to do."""
        t = self.table
        texts = {
            "validated": f"{t} was not changed",
            "deleting": (
                f"{t} is being deleted (or is gone); the export is validated and the table's configuration saved"
            ),
            "importing": (
                f"ImportTable {self.import_arn or '(being started)'} is loading {t} on AWS's side and goes on "
                "without this command; the table has none of its tags, PITR, TTL or stream yet"
            ),
            "restoring-config": (
                f"{t} holds the export's {self.items:,} items; its tags, PITR, TTL and stream are not all back"
            ),
            "refilling": (
                f"{t} holds a mix of its previous items and {self.written:,} of the export's {self.items:,} "
                f"({self.files_done} data file(s) done); do not rely on it"
            ),
            "verifying": f"{t} is loaded and configured, not yet verified",
            "recovering": f"{t} is being recreated after: {self.reason}",
        }
        return texts.get(self.phase, f"{t}: {self.describe()}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Journal:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})


class Store(Protocol):
    """Where a table's journal and last good export are kept."""

    where: str
    """For messages: `ledger safetynet-staging-ledger-test` or a file path."""

    def load(self) -> Journal | None: ...

    def save(self, journal: Journal) -> None: ...

    def clear(self) -> None: ...

    def last_good(self) -> LastGood | None: ...

    def record_last_good(self, good: LastGood) -> None: ...


@dataclass
class LedgerStore:
    """The journal as an item of the test stack's ledger; the last good export in the table's
    run record (keyed by its name in config), shared with the state machine."""

    ddb: Any
    ledger: str
    table: str
    logical_name: str

    @property
    def where(self) -> str:
        return f"ledger {self.ledger} (item {JOURNAL_KEY_PREFIX}{self.table})"

    def _key(self) -> dict[str, Any]:
        return {"table": {"S": f"{JOURNAL_KEY_PREFIX}{self.table}"}}

    def load(self) -> Journal | None:
        item = self.ddb.get_item(TableName=self.ledger, Key=self._key(), ConsistentRead=True).get("Item")
        raw = (item or {}).get("journal", {}).get("S")
        return Journal.from_json(json.loads(raw)) if raw else None

    def save(self, journal: Journal) -> None:
        journal.updated_at = _now()
        self.ddb.put_item(
            TableName=self.ledger,
            Item={**self._key(), "journal": {"S": json.dumps(journal.to_json(), sort_keys=True)}},
        )

    def clear(self) -> None:
        self.ddb.delete_item(TableName=self.ledger, Key=self._key())

    def last_good(self) -> LastGood | None:
        return LastGood.from_json(last_good(self.ddb, self.ledger, self.logical_name))

    def record_last_good(self, good: LastGood) -> None:
        record_last_good(self.ddb, self.ledger, self.logical_name, good.dumps())


@dataclass
class FileStore:
    """The journal and the last good export as JSON files of this machine."""

    folder: Path
    table: str

    @property
    def where(self) -> str:
        return str(self.folder / f"{self.table}.json")

    def _read(self, name: str) -> dict[str, Any] | None:
        path = self.folder / name
        if not path.is_file():
            return None
        doc: dict[str, Any] = json.loads(path.read_text())
        return doc

    def _write(self, name: str, doc: Mapping[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True))
        tmp.replace(self.folder / name)  # atomic: an interrupted write never leaves half a journal

    def load(self) -> Journal | None:
        doc = self._read(f"{self.table}.json")
        return Journal.from_json(doc) if doc else None

    def save(self, journal: Journal) -> None:
        journal.updated_at = _now()
        self._write(f"{self.table}.json", journal.to_json())

    def clear(self) -> None:
        (self.folder / f"{self.table}.json").unlink(missing_ok=True)

    def last_good(self) -> LastGood | None:
        return LastGood.from_json(self._read(f"{self.table}.last-good.json"))

    def record_last_good(self, good: LastGood) -> None:
        self._write(f"{self.table}.last-good.json", good.to_json())


def state_dir(region: str | None, endpoint: str | None) -> Path:
    """This machine's folder for the journals of one region (and endpoint, e.g. a local emulator)."""
    base = os.environ.get(STATE_DIR_ENV)
    if base:
        root = Path(base)
    else:
        root = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "safetynet" / "staging"
    where = region or "default"
    if endpoint:
        where += "-" + hashlib.sha256(endpoint.encode()).hexdigest()[:8]
    return root / where


def ledger_exists(ddb: Any, ledger: str) -> bool:
    try:
        ddb.describe_table(TableName=ledger)
    except ddb.exceptions.ResourceNotFoundException:
        return False
    return True


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while an AWS call and the journal entry that records it run
    together (ImportTable and its ARN): the interruption takes effect right after. Only the main
    thread can hold signals; elsewhere this does nothing."""
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        caught.append(signum)

    try:
        previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if caught:
            raise KeyboardInterrupt

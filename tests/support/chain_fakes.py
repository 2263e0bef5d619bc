"""A fake of the chain task's AWS access layer (handlers.backup.aws.ChainAws), for the run and
simulation tests: DynamoDB's exports as AWS documents them (a ClientToken returns the export it
started, for any later call with the same token; the account's concurrent exports are limited),
the ledger as DynamoDB stores it (each record encoded to its item and decoded back, every write
conditional on the version read), the vault's full exports and windows, and the metrics put.

Tests drive the exports: `complete()`, `fail()`, and `start_errors` / `crash_after_starts` to
make a start call refuse or the run die right after DynamoDB started an export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conventions.chain import ChainContext, ChainTable
from handlers.backup.aws import ExportLimitExceeded, ExportStartFailed, LedgerConflict, export_request
from handlers.backup.chain_ledger import ChainRecord, WindowRun
from handlers.backup.chain_step import Anchor, ExportStatus
from handlers.backup.chain_windows import Window

ACCOUNT = "123456789012"
REGION = "eu-central-1"


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def chain_table(
    name: str = "orders", *, every: int = 900, view: str = "NEW_AND_OLD_IMAGES", pitr: int = 35
) -> ChainTable:
    return ChainTable(
        name=name,
        physical_name=name,
        arn=table_arn(name),
        export_prefix=f"exports/{name}",
        incremental_prefix=f"exports/{name}/incremental",
        every_seconds=every,
        view=view,
        pitr_days=pitr,
    )


def chain_context(*tables: ChainTable, lag: int = 600, anchor_interval_hours: float = 24.0) -> ChainContext:
    return ChainContext(
        stack="prod",
        ledger_table="safetynet-chain-ledger-prod",
        vault_bucket="vault-1",
        bucket_owner=ACCOUNT,
        kms_key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/vault",
        tables=list(tables) or [chain_table()],
        safety_lag_seconds=lag,
        anchor_interval_hours=anchor_interval_hours,
    )


class Crash(Exception):
    """The run dies (a timeout, an out-of-memory kill) right after a start call succeeded."""


@dataclass
class FakeExport:
    arn: str
    token: str
    table_arn: str
    window: Window
    view: str
    prefix: str
    state: str = "IN_PROGRESS"
    failure: str | None = None


@dataclass
class FakeChainAws:
    """The chain's AWS, in memory."""

    ctx: ChainContext
    concurrent_limit: int = 300
    anchors: dict[str, Anchor] = field(default_factory=dict)
    """Newest full export in the vault, by table."""
    vault: dict[str, list[Window]] = field(default_factory=dict)
    """Windows already in the vault (written by an earlier chain or the CLI), by table."""
    start_errors: dict[tuple[str, datetime], str] = field(default_factory=dict)
    """(table, window start) -> the error code the next start call of that window gets (once)."""
    crash_after_starts: int | None = None
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    exports: dict[str, FakeExport] = field(default_factory=dict)
    by_token: dict[str, str] = field(default_factory=dict)
    metrics: list[dict[str, float]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    # -- the ledger
    def load_records(self) -> tuple[dict[str, ChainRecord], dict[str, str]]:
        self.calls.append("load")
        return {k: ChainRecord.from_item(v) for k, v in self.items.items()}, {}

    def save(self, record: ChainRecord, *, now: datetime) -> ChainRecord:
        self.calls.append(f"save {record.table}")
        stored = self.items.get(record.table)
        stored_version = int(stored["version"]["N"]) if stored else 0
        if stored_version != record.version:
            raise LedgerConflict(f"{record.table}: version {stored_version}, expected {record.version}")
        self.items[record.table] = record.to_item(version=record.version + 1, updated_at=now)
        return record.with_changes(version=record.version + 1, updated_at=now)

    def record(self, table: str) -> ChainRecord:
        return ChainRecord.from_item(self.items[table])

    # -- exports
    def describe_export(self, export_arn: str) -> ExportStatus:
        self.calls.append("describe")
        e = self.exports[export_arn]
        return ExportStatus(e.state, e.failure, "S3AccessDenied" if e.failure else None)

    def start_export(self, table: ChainTable, run: WindowRun) -> str:
        request = export_request(self.ctx, table, run)
        token = request["ClientToken"]
        self.calls.append(f"start {table.physical_name} {run.window} #{run.attempt}")
        if token in self.by_token:  # DynamoDB's idempotency: the export this token started
            existing = self.exports[self.by_token[token]]
            assert (existing.window, existing.view) == (run.window, table.view), "same token, other request"
            return existing.arn
        code = self.start_errors.pop((table.physical_name, run.window.start), None)
        if code is not None:
            raise ExportStartFailed(code, "refused by the fake")
        if sum(1 for e in self.exports.values() if e.state == "IN_PROGRESS") >= self.concurrent_limit:
            raise ExportLimitExceeded("too many exports")
        spec = request["IncrementalExportSpecification"]
        arn = f"{table.arn}/export/{len(self.exports):014d}-fake"
        self.exports[arn] = FakeExport(
            arn,
            token,
            table.arn,
            Window(spec["ExportFromTime"], spec["ExportToTime"]),
            spec["ExportViewType"],
            request["S3Prefix"],
        )
        self.by_token[token] = arn
        if self.crash_after_starts is not None:
            self.crash_after_starts -= 1
            if self.crash_after_starts < 0:
                self.crash_after_starts = None
                raise Crash("the run died after DynamoDB started the export")
        return arn

    def running(self) -> list[FakeExport]:
        return [e for e in self.exports.values() if e.state == "IN_PROGRESS"]

    def complete(self, *, only: str | None = None) -> None:
        """Every running export (of table `only`) completes."""
        for e in self.running():
            if only is None or e.table_arn.endswith(f"/{only}"):
                e.state = "COMPLETED"

    def fail(self, window: Window, table: str = "orders") -> None:
        """The running export of `window` fails."""
        [e] = [e for e in self.running() if e.window == window and e.table_arn.endswith(f"/{table}")]
        e.state, e.failure = "FAILED", "S3AccessDenied: the fake said no"

    def windows(self, table: str = "orders", state: str | None = None) -> list[Window]:
        """Distinct windows of the table's exports (in a state), in order."""
        return sorted(
            {e.window for e in self.exports.values() if e.table_arn.endswith(f"/{table}") and state in (None, e.state)}
        )

    # -- the vault
    def newest_full_export(self, table: ChainTable) -> Anchor | None:
        self.calls.append(f"anchor {table.physical_name}")
        return self.anchors.get(table.physical_name)

    def vault_windows(self, table: ChainTable, since: datetime) -> list[Window]:
        return [w for w in self.vault.get(table.physical_name, []) if w.end > since]

    def put_metrics(self, values: dict[str, float], *, now: datetime) -> None:
        self.metrics.append(dict(values))

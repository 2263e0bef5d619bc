"""The incremental-export chain's conventions: where its exports go in the vault, its ledger, its
metrics and alarms, and the context document its task reads.

The IncrementalExports component writes the context (one JSON document shipped inside the task's
code archive, `handlers/backup/chain_context.json`, so code and context always deploy together and
no environment size limit applies at 1,000 tables); the chain task reads it
(`handlers.backup.context`). Pure data, no AWS access.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from conventions.tags import NAMESPACE
from conventions.vault import EXPORTS_ROOT, export_prefix

CHAIN_ENV = "SAFETYNET_CHAIN"
CHAIN_CONTEXT_FILE = "chain_context.json"
# Where the context sits in the code archive, relative to handlers/: beside handlers/backup/context.py.
CHAIN_CONTEXT_ARCHIVE_PATH = f"backup/{CHAIN_CONTEXT_FILE}"

# A table's incremental exports: `exports/<table>/incremental/AWSDynamoDB/<ExportId>/...`. Under the
# table's export prefix, so the chain reader (which lists a table's prefix at any depth) finds the
# full exports and their windows together; in a folder of their own, so that what reads only full
# exports can tell them apart by key (staging's trigger resolves `exports/<table>/incremental` to no
# staged table, prod's per-table forwarding patterns `exports/<table>/AWSDynamoDB/...` never match).
INCREMENTAL_FOLDER = "incremental"

# The ledger: one item per table, keyed by the table's physical name.
LEDGER_KEY = "table"
LEDGER_NAME_PREFIX = f"{NAMESPACE}-chain-ledger-"

# Stack-wide metrics (namespace `safetynet`, dimension `Stack` = the stack name), one number each
# whatever the table count.
FAILED_WINDOWS_METRIC = "ChainFailedWindows"
"""Windows whose export failed (or could not start) in this run; each is retried, same window."""
LATE_TABLES_METRIC = "ChainLateTables"
"""Tables whose chain ends further back than two windows, the safety lag and an hour."""
LAG_METRIC = "ChainLagMinutes"
"""How far back the oldest chain ends (now - end of its last completed window), in minutes."""
STARTED_METRIC = "ChainWindowsStarted"
COMPLETED_METRIC = "ChainWindowsCompleted"
DEFERRED_METRIC = "ChainWindowsDeferred"
"""Windows due but not started in this run (the account's concurrent-export quota, or time)."""
GAPS_METRIC = "ChainGaps"
"""Chains given up in a run: windows that could no longer be exported (outside the PITR period),
so a restore to a time inside them is not possible from the vault (the ledger item names them)."""
WAITING_METRIC = "ChainWaitingTables"
"""Tables whose chain has not begun: no full export of them in the vault yet."""
CHAIN_METRICS = (
    FAILED_WINDOWS_METRIC,
    LATE_TABLES_METRIC,
    LAG_METRIC,
    STARTED_METRIC,
    COMPLETED_METRIC,
    DEFERRED_METRIC,
    GAPS_METRIC,
    WAITING_METRIC,
)
# The chain's alarms are named `safetynet-<stack>-<suffix>` (DisasterWatch's alarm prefix).
FAILED_ALARM_SUFFIX = "chain-failed"
LATE_ALARM_SUFFIX = "chain-late"


def is_incremental_folder(folder: str) -> bool:
    """True for a table's folder of incremental exports, `exports/<table>/incremental/` (with its
    trailing slash, as S3 lists "directories"): what a listing of full exports need not enter."""
    parts = folder.split("/")
    if len(parts) != 4:
        return False
    root, table, name, rest = parts
    return root == EXPORTS_ROOT and table != "" and name == INCREMENTAL_FOLDER and rest == ""


def incremental_export_prefix(physical_table_name: str) -> str:
    """Where a table's incremental exports go: `exports/<table>/incremental` (S3Prefix)."""
    return f"{export_prefix(physical_table_name)}/{INCREMENTAL_FOLDER}"


def ledger_table_name(environment: str) -> str:
    """The chain ledger's table name: `safetynet-chain-ledger-<environment>`."""
    return f"{LEDGER_NAME_PREFIX}{environment}"


def late_limit_seconds(every_seconds: int, safety_lag_seconds: int) -> int:
    """A chain is late when its last completed window ends longer ago than this: two windows
    (the one being exported and the one after), the safety lag and an hour for the export itself."""
    return 2 * every_seconds + safety_lag_seconds + 3600


class ChainConfigError(ValueError):
    """The task's context is missing or malformed (a deployment problem, not a chain problem)."""


@dataclass(frozen=True)
class ChainTable:
    """One table with a chain of incremental exports."""

    name: str
    """Logical name (`safetynet:tables[i].name`)."""
    physical_name: str
    """The table's name in AWS (the ledger key)."""
    arn: str
    """The table's ARN (ExportTableToPointInTime's TableArn)."""
    export_prefix: str
    """`exports/<table>`: where its full exports (the anchors) are."""
    incremental_prefix: str
    """`exports/<table>/incremental`: where its windows go (S3Prefix)."""
    every_seconds: int
    """Window length: 900 (15 minutes) .. 86,400 (24 hours), a divisor of a day."""
    view: str = "NEW_AND_OLD_IMAGES"
    """ExportViewType: NEW_AND_OLD_IMAGES or NEW_IMAGE."""
    pitr_days: int = 35
    """The table's PITR period: a window must start inside it."""


@dataclass(frozen=True)
class ChainContext:
    """The stack's chain: where the vault and the ledger are, and the tables with a chain."""

    stack: str
    ledger_table: str
    vault_bucket: str
    bucket_owner: str
    """The account that owns the vault (S3BucketOwner)."""
    kms_key_arn: str
    """The vault key (S3SseKmsKeyId)."""
    tables: list[ChainTable] = field(default_factory=list)
    safety_lag_seconds: int = 600
    """A window ends at least this long before now (PITR's latest restorable time is typically
    5 minutes back; twice that is kept)."""
    anchor_interval_hours: float = 24.0
    """How often a new full export (the nightly schedule's interval) is expected."""

    def to_json(self) -> str:
        """The context document (compact)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ChainContext:
        """Parse the context document; ChainConfigError says what is wrong."""
        try:
            raw = json.loads(text)
            tables = [ChainTable(**t) for t in raw.pop("tables")]
            ctx = cls(tables=tables, **raw)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ChainConfigError(f"{CHAIN_ENV} is not a valid chain document: {exc}") from None
        bad = [t.physical_name for t in ctx.tables if not 900 <= t.every_seconds <= 86400 or 86400 % t.every_seconds]
        if bad:
            raise ChainConfigError(f"{CHAIN_ENV}: window lengths must divide a day, 15 min .. 24 h: {', '.join(bad)}")
        return ctx

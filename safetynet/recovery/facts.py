"""What exists to restore one table from, as `safetynet.recovery.inspection` reads it from AWS:
its state, PITR window, backups, and the exports (full and incremental) in the vault. Plain data;
`safetynet.recovery.planner` decides over it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from handlers.exports.layout import FULL_EXPORT, ExportRef, ManifestSummary


@dataclass(frozen=True)
class BackupFact:
    """A DynamoDB backup of the table (ListBackups) or an AWS Backup recovery point."""

    arn: str
    name: str
    created: datetime
    backup_type: str
    """USER (on-demand), SYSTEM (kept 35 days after a PITR table is deleted), AWS_BACKUP."""
    status: str
    size_bytes: int | None = None
    item_count: int | None = None
    key_schema: list[dict[str, str]] | None = None
    """The backed-up table's KeySchema (DescribeBackup), when known."""
    table_name: str | None = None


@dataclass(frozen=True)
class PitrWindow:
    """DescribeContinuousBackups of a live table."""

    enabled: bool
    earliest: datetime | None = None
    latest: datetime | None = None


@dataclass
class TableFacts:
    """Everything found about one table."""

    logical: str
    physical: str
    table_arn: str
    has_lsis: bool
    exists: bool
    item_count: int | None = None
    size_bytes: int | None = None
    pitr: PitrWindow | None = None
    backups: list[BackupFact] = field(default_factory=list)
    exports: list[tuple[ExportRef, ManifestSummary]] = field(default_factory=list)
    """Every export under the table's vault prefix: full exports and incremental windows."""
    unreadable_exports: list[tuple[ExportRef, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Other things worth saying about what was inspected."""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Source kinds that could not be read, with one line why (`AWS Backup` -> `not available
    here (HTTP 404 from the endpoint)`)."""
    export_table_arn: str | None = None
    """The source table ARN the exports must name, when not `table_arn` (a DR stack restoring
    another region's replicated exports)."""
    key_schema: list[dict[str, str]] | None = None
    """The configured primary key: a backup of a table with other keys cannot restore this one."""

    @property
    def full_exports(self) -> list[tuple[ExportRef, ManifestSummary]]:
        return [(r, s) for r, s in self.exports if s.export_type == FULL_EXPORT]

    @property
    def expected_arn(self) -> str:
        return self.export_table_arn or self.table_arn

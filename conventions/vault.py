"""Where things live in the backup vault (and in the test stack's mask bucket)."""

from __future__ import annotations

# Native exports: `exports/<physical table name>/AWSDynamoDB/<ExportId>/...`.
EXPORTS_ROOT = "exports"
# Masked copies in the test stack's mask bucket: `masked/<logical table name>/...`.
MASK_PREFIX = "masked"
# Restore drill records: `drills/<physical table name>/latest.json` and `.../runs/<scratch>/files/`.
DRILL_RECORD_ROOT = "drills"
# Rewinds: `rewinds/<physical table name>/<window>/AWSDynamoDB/<ExportId>/...` (the window's
# incremental export) beside `.../<window>/runs/<run>/` (plan, outcome of every key, summary).
# Outside `exports/`: staging's trigger and the freshness checks see only full exports there.
REWIND_ROOT = "rewinds"


def export_prefix(physical_table_name: str) -> str:
    """Where a table's exports go in the vault: `exports/<table>` (then `/AWSDynamoDB/<id>/`)."""
    return f"{EXPORTS_ROOT}/{physical_table_name}"


def drill_record_prefix(physical_table_name: str) -> str:
    """Where a table's restore drill records go in the vault."""
    return f"{DRILL_RECORD_ROOT}/{physical_table_name}"


def rewind_prefix(physical_table_name: str) -> str:
    """Where a table's rewinds go in the vault: `rewinds/<table>` (then `/<window>/...`)."""
    return f"{REWIND_ROOT}/{physical_table_name}"

"""The backup flow's task code: the chain of incremental exports after each table's nightly full
export (one scheduled Lambda per stack). The nightly full export itself needs no code: EventBridge
Scheduler calls ExportTableToPointInTime directly (components/backup/exports.py)."""

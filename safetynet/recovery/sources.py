"""The kinds of source `safetynet restore-plan --source` offers. Standard library only: the
command's options (and so `safetynet --help`) read it at start-up, before anything heavy loads."""

from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    """`--source`: what kind of source to restore from (default: the freshest usable one)."""

    latest = "latest"
    """The newest valid full export (the same as `export` without `--at`)."""
    export = "export"
    """A full export (ImportTable), no replay."""
    vault = "vault"
    """A full export plus the incremental windows after it (replayed after `pulumi up`)."""
    pitr = "pitr"
    backup = "backup"


SOURCE_CHOICES = tuple(s.value for s in Source)
KIND_TEXT = {"export": "export", "vault": "vault chain", "pitr": "PITR", "backup": "backup"}

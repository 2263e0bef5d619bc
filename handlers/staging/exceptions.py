"""Staging failures: each message says what happened and what to do."""

from __future__ import annotations

from collections.abc import Sequence


class StagingError(Exception):
    """Base of staging failures; messages say what happened and what to do."""


class ConfigurationError(StagingError):
    """The function's environment is incomplete (a deployment problem, not a data problem)."""


class NotAStagingTarget(StagingError):
    """The guard refused a table (untagged, tagged for another stack, or prod)."""


class ExportRejected(StagingError):
    """The export failed validation; no table was touched."""

    def __init__(self, url: str, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(
            f"export {url} rejected, test table left untouched:\n" + "\n".join(f"  - {p}" for p in problems)
        )


class VerificationFailed(StagingError):
    """The staged table does not match the export (count or sampled items)."""

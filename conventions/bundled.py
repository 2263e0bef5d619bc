"""A task's context document: shipped with the code beside its handler module, or given in an
environment variable that takes precedence (tests, local runs). DisasterWatch's and the chain's
tasks read theirs this way (`handlers/watch/context.py`, `handlers/backup/context.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def bundled_text(env: Mapping[str, str], variable: str, bundled: Path) -> str | None:
    """The document's text: `variable` if set and not empty, else the file `bundled` if it exists,
    else None (the caller raises its own error naming what is missing)."""
    text = env.get(variable)
    if not text and bundled.is_file():
        text = bundled.read_text(encoding="utf-8")
    return text or None

"""The DisasterWatch tasks' context, read once per cold start.

The document (`conventions.watch.WatchContext`) ships with the code, beside this module; the
variable `SAFETYNET_WATCH`, when set, takes precedence (tests, local runs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from conventions.bundled import bundled_text
from conventions.watch import CONTEXT_FILE, WATCH_ENV, WatchConfigError, WatchContext

BUNDLED_CONTEXT = Path(__file__).resolve().parent / CONTEXT_FILE


def load_context(env: Mapping[str, str] | None = None, bundled: Path = BUNDLED_CONTEXT) -> WatchContext:
    """Read and validate the context: `SAFETYNET_WATCH` if set, else the document deployed with
    the code. Raises WatchConfigError naming what is missing."""
    text = bundled_text(os.environ if env is None else env, WATCH_ENV, bundled)
    if not text:
        raise WatchConfigError(
            f"{WATCH_ENV} is not set and no {CONTEXT_FILE} was deployed with the code; the DisasterWatch "
            "component ships it with every task"
        )
    return WatchContext.from_json(text)

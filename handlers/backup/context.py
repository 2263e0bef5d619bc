"""The chain task's context, read once per cold start.

The document (`conventions.chain.ChainContext`) ships with the code, beside this module; the
variable `SAFETYNET_CHAIN`, when set, takes precedence (tests, local runs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from conventions.bundled import bundled_text
from conventions.chain import CHAIN_CONTEXT_FILE, CHAIN_ENV, ChainConfigError, ChainContext

BUNDLED_CONTEXT = Path(__file__).resolve().parent / CHAIN_CONTEXT_FILE


def load_context(env: Mapping[str, str] | None = None, bundled: Path = BUNDLED_CONTEXT) -> ChainContext:
    """Read and validate the context: `SAFETYNET_CHAIN` if set, else the document deployed with
    the code. Raises ChainConfigError naming what is missing."""
    text = bundled_text(os.environ if env is None else env, CHAIN_ENV, bundled)
    if not text:
        raise ChainConfigError(
            f"{CHAIN_ENV} is not set and no {CHAIN_CONTEXT_FILE} was deployed with the code; the "
            "IncrementalExports component ships it with the chain task"
        )
    return ChainContext.from_json(text)

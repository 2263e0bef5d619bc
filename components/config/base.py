"""Base pieces of the typed stack config, shared by every config section module.

Each section (`safetynet:tables`, `backup`, `staging`, `restore`, `alerts`, ...) lives in its own
`components/config/<section>.py` module built on `ConfigModel`, and is one field of `StackConfig`
in `components/config/stack.py`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# A placeholder for secret values where a secret's real value must not appear (synth output).
SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 (a placeholder, not a credential)


class ConfigError(ValueError):
    """Invalid stack config. The message names each config path and says what to write instead."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid safetynet config:\n" + "\n".join(f"  - {p}" for p in problems))


class ConfigModel(BaseModel):
    """camelCase keys in YAML, unknown keys rejected (a typo must never be ignored)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
    )

"""`safetynet:backup.incremental` and `safetynet:tables[i].incremental`: the chain of incremental
exports after each nightly full export.

    safetynet:backup:
      incremental:             # absent: no chain (unless a table asks for one)
        every: 15m             # 15m 30m 1h 2h 3h 4h 6h 8h 12h 24h (default 1h)
        view: NEW_AND_OLD_IMAGES   # or NEW_IMAGE
    safetynet:tables:
      - name: audit-log
        incremental: false     # no chain for this table
      - name: orders
        incremental: {every: 30m}   # this table's own window (or view)

A window is 15 minutes to 24 hours (AWS's limits for an incremental export); the lengths offered
divide a day, so windows end on the same instants every day (:00, :15, ... for 15 minutes). A
chain needs point-in-time recovery (an incremental export reads it): a table whose PITR stays off
for now (`asFound.pointInTimeRecovery: false`) gets no chain until that block is removed, and
asking for one explicitly on such a table is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import Field, field_validator

from components.config.base import ConfigModel
from conventions.chain import ledger_table_name

if TYPE_CHECKING:  # StackConfig imports this module's models
    from components.config.stack import StackConfig
    from components.config.tables import TableSpec

Every = Literal["15m", "30m", "1h", "2h", "3h", "4h", "6h", "8h", "12h", "24h"]
ExportView = Literal["NEW_AND_OLD_IMAGES", "NEW_IMAGE"]
EVERY_CHOICES: tuple[str, ...] = get_args(Every)
EVERY_SECONDS: dict[str, int] = {
    choice: int(choice[:-1]) * (60 if choice.endswith("m") else 3600) for choice in EVERY_CHOICES
}
DEFAULT_EVERY: Every = "1h"
DEFAULT_VIEW: ExportView = "NEW_AND_OLD_IMAGES"


def _check_every(value: Any) -> Any:
    if value is None or value in EVERY_CHOICES:
        return value
    raise ValueError(
        f"every {value!r} is not one of {', '.join(EVERY_CHOICES)}: an incremental export's window is "
        "15 minutes to 24 hours (AWS), and these lengths divide a day; write e.g. every: 15m"
    )


def _check_view(value: Any) -> Any:
    if value is None or value in get_args(ExportView):
        return value
    raise ValueError(f"view {value!r} is not NEW_AND_OLD_IMAGES or NEW_IMAGE (ExportViewType); write one of them")


class IncrementalSpec(ConfigModel):
    """`safetynet:backup.incremental`: every table's chain (a table may override or opt out)."""

    every: Every = Field(default=DEFAULT_EVERY, description="Window length: 15m 30m 1h 2h 3h 4h 6h 8h 12h 24h.")
    view: ExportView = Field(default=DEFAULT_VIEW, description="ExportViewType: NEW_AND_OLD_IMAGES or NEW_IMAGE.")

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: Any) -> Any:
        return _check_every(value)

    @field_validator("view", mode="before")
    @classmethod
    def _view(cls, value: Any) -> Any:
        return _check_view(value)


class TableIncremental(ConfigModel):
    """`safetynet:tables[i].incremental`: `false` (no chain), `true` (the stack's settings, or the
    defaults), or `{every, view}` overriding the stack's."""

    enabled: bool = Field(default=True, description="false: no chain for this table.")
    every: Every | None = Field(default=None, description="This table's window length.")
    view: ExportView | None = Field(default=None, description="This table's ExportViewType.")

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: Any) -> Any:
        return _check_every(value)

    @field_validator("view", mode="before")
    @classmethod
    def _view(cls, value: Any) -> Any:
        return _check_view(value)


def table_incremental_input(value: Any) -> Any:
    """What YAML may write for a table's `incremental`: false, true or a mapping."""
    if value is None or isinstance(value, dict | TableIncremental):
        return value
    if isinstance(value, bool):
        return {"enabled": value}
    raise ValueError(
        f"incremental {value!r}: write incremental: false (no chain for this table), true, or "
        "{every: 30m, view: NEW_IMAGE}"
    )


@dataclass(frozen=True)
class ResolvedIncremental:
    """A table's effective chain settings."""

    every: str
    view: str

    @property
    def every_seconds(self) -> int:
        return EVERY_SECONDS[self.every]


def resolve_incremental(
    stack: IncrementalSpec | None, table: TableIncremental | None, *, pitr: bool = True
) -> ResolvedIncremental | None:
    """A table's chain settings: its own override over the stack's, or None when it has no chain
    (the stack has none and the table asks for none, the table opted out, or its PITR is off)."""
    if table is not None and not table.enabled:
        return None
    if not pitr or (stack is None and table is None):
        return None
    every = (table.every if table else None) or (stack.every if stack else DEFAULT_EVERY)
    view = (table.view if table else None) or (stack.view if stack else DEFAULT_VIEW)
    return ResolvedIncremental(every=every, view=view)


def schedule_expression(every_seconds: int) -> str:
    """The EventBridge Scheduler rate() expression of a run every `every_seconds`."""
    if every_seconds % 3600 == 0:
        hours = every_seconds // 3600
        return f"rate({hours} hour{'s' if hours > 1 else ''})"
    minutes = every_seconds // 60
    return f"rate({minutes} minute{'s' if minutes > 1 else ''})"


def chain_tables(cfg: StackConfig) -> list[tuple[TableSpec, ResolvedIncremental]]:
    """(table spec, resolved settings) of every table with a chain, in config order. Test stacks
    (`safetynet:staging`) have none: their tables are staged from prod, not exported."""
    if cfg.staging is not None:
        return []
    out: list[tuple[TableSpec, ResolvedIncremental]] = []
    for spec in cfg.tables:
        resolved = resolve_incremental(cfg.backup.incremental, spec.incremental, pitr=spec.point_in_time_recovery)
        if resolved is not None:
            out.append((spec, resolved))
    return out


def chain_enabled(cfg: StackConfig) -> bool:
    """Whether the stack declares a chain (at least one table has one)."""
    return bool(chain_tables(cfg))


def chain_ledger_names(cfg: StackConfig) -> list[str]:
    """The chain ledger's table name when the stack has a chain (a table of the stack's own, that
    DisasterWatch and coverage must not count as unprotected), else none."""
    return [ledger_table_name(cfg.environment)] if chain_enabled(cfg) else []

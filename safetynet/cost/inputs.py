"""What `safetynet cost` estimates from: the stack's backup settings (Pulumi.<stack>.yaml), each
table's chain of incremental exports (`safetynet:backup.incremental` and the table's own
`incremental`, resolved as the program resolves them), and the per-table values given as options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from safetynet.cost.model import Chain, Vault

EVERY_OFF = "off"


class InputError(ValueError):
    """An option the estimate cannot use; the message says what to write instead."""


def vault_of(cfg: Any) -> Vault:
    """The stack's `safetynet:backup` settings the cost depends on."""
    from conventions.watch import schedule_interval_hours

    backup = cfg.backup
    replica = getattr(backup, "replica", None)
    return Vault(
        exports_per_month=30 * 24 / schedule_interval_hours(backup.schedule),
        retention_days=backup.retention_days,
        noncurrent_days=backup.noncurrent_version_days,
        cold_after_days=backup.cold_storage_after_days,
        cold_class=backup.cold_storage_class,
        replica=replica is not None,
        replication_time_control=bool(getattr(replica, "replication_time_control", False)),
    )


def every_choices() -> list[str]:
    """What `--every` accepts: the config's window lengths, and `off`."""
    from components.config.incremental import EVERY_CHOICES

    return [*EVERY_CHOICES, EVERY_OFF]


def chain_for(cfg: Any, spec: Any, *, every_override: str | None = None) -> Chain | None:
    """The table's chain as the program declares it (its own `incremental` over the stack's;
    none for a table whose PITR is off). `every_override` (`--every`) gives every table with PITR
    a chain of that length, or none (`off`), keeping the view the config gives it."""
    from components.config.incremental import DEFAULT_VIEW, EVERY_SECONDS, resolve_incremental

    stack, own = cfg.backup.incremental, spec.incremental
    pitr = bool(spec.point_in_time_recovery)
    if every_override is None:
        resolved = resolve_incremental(stack, own, pitr=pitr)
        return Chain(resolved.every_seconds // 60, resolved.view) if resolved else None
    if every_override == EVERY_OFF or not pitr:
        return None
    view = (own.view if own else None) or (stack.view if stack else None) or DEFAULT_VIEW
    return Chain(EVERY_SECONDS[every_override] // 60, view)


@dataclass(frozen=True)
class PerTable:
    """An option given once for every table (`10`) and/or per table (`orders=10`)."""

    every_table: float | None
    by_table: dict[str, float]

    def value_for(self, logical: str, physical: str) -> float | None:
        """The table's own value (logical or physical name), else the value for every table."""
        for name in (logical, physical):
            if name in self.by_table:
                return self.by_table[name]
        return self.every_table


def parse_per_table(values: list[str] | None, option: str, *, logical: list[str], physical: list[str]) -> PerTable:
    """`--table-size 10 --table-size orders=50`: numbers >= 0; a named table must be in the stack."""
    every: float | None = None
    by_table: dict[str, float] = {}
    for raw in values or []:
        name, sep, number = raw.rpartition("=")
        value = _number(number if sep else raw, option, raw)
        if not sep:
            if every is not None:
                raise InputError(f"{option} given twice for every table ({every:g} and {value:g}); give it once")
            every = value
            continue
        name = name.strip()
        if name not in logical and name not in physical:
            raise InputError(f"{option} {raw}: the stack has no table '{name}'; its tables: {', '.join(logical)}")
        by_table[name] = value
    return PerTable(every, by_table)


def _number(text: str, option: str, raw: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise InputError(f"{option} {raw}: not a number; write N for every table or TABLE=N") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{option} {raw}: must be a number >= 0")
    return value

"""EventBridge Scheduler expressions in config (`safetynet:backup.schedule`, `safetynet:drill.schedule`),
checked before deploy so a typo is named with its fix instead of failing in the provider.
"""

from __future__ import annotations

import re

# EventBridge Scheduler expressions: at(), rate() and six-field cron().
_AT_RE = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")
_RATE_RE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON_RE = re.compile(r"^cron\(([^()]+)\)$")


def validate_schedule_expression(expr: str) -> str:
    """Accept EventBridge Scheduler's at(), rate() and six-field cron() expressions."""
    if _AT_RE.match(expr):
        return expr
    m = _RATE_RE.match(expr)
    if m:
        value, unit = int(m.group(1)), m.group(2)
        if value < 1:
            raise ValueError("rate() needs a positive value, e.g. rate(1 day)")
        if (value == 1) != (not unit.endswith("s")):
            raise ValueError(f"write rate({value} {unit.rstrip('s')}{'' if value == 1 else 's'})")
        return expr
    m = _CRON_RE.match(expr)
    if m:
        fields = m.group(1).split()
        if len(fields) != 6:
            raise ValueError(
                f"cron() takes 6 fields (minutes hours day-of-month month day-of-week year), got "
                f"{len(fields)}; e.g. cron(0 3 * * ? *)"
            )
        dom, dow = fields[2], fields[4]
        if "?" not in (dom, dow):
            raise ValueError("cron(): one of day-of-month or day-of-week must be '?', e.g. cron(0 3 * * ? *)")
        return expr
    raise ValueError(
        "a schedule is cron(0 3 * * ? *), rate(1 day) or at(2030-01-01T03:00:00) (EventBridge Scheduler syntax)"
    )

"""Lambda entrypoint of the chain of incremental exports: a thin wrapper that reads the context
once, takes the run's time from the schedule, and runs `chain_run.run` with the access layer.

    handlers.backup.entrypoints.chain_handler   EventBridge Scheduler, every `every` (the smallest)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from conventions.chain import ChainContext
from handlers.backup.aws import ChainAws
from handlers.backup.chain_run import run
from handlers.backup.chain_windows import parse_iso
from handlers.backup.context import load_context
from handlers.clients import client

logger = Logger(service="safetynet-chain")
_CONTEXT: ChainContext | None = None
CLOCK_SKEW = timedelta(minutes=5)


def _context() -> ChainContext:
    # Validated once per cold start; a broken deployment fails loudly on the first invocation.
    global _CONTEXT  # noqa: PLW0603 (module-level cache of the validated context)
    if _CONTEXT is None:
        _CONTEXT = load_context()
    return _CONTEXT


def run_time(event: Mapping[str, Any], now: datetime) -> datetime:
    """The run's instant: the schedule's `scheduledTime` (the same for every retry of one
    invocation, so a retried run plans the same windows), else now. A scheduled time later than
    now (a clock that is off) is not trusted."""
    text = event.get("scheduledTime") if isinstance(event, Mapping) else None
    if isinstance(text, str):
        try:
            scheduled = parse_iso(text)
        except ValueError:
            logger.warning({"message": "scheduledTime is not an ISO-8601 instant; using now", "value": text})
        else:
            if scheduled <= now + CLOCK_SKEW:
                return min(scheduled, now)
    return now


@logger.inject_lambda_context
def chain_handler(event: Any, lambda_context: Any) -> dict[str, Any]:
    """Scheduled: start the windows that are due, record the exports that completed or failed."""
    ctx = _context()
    now = run_time(event or {}, datetime.now(UTC))
    access = ChainAws(ctx, ddb=client("dynamodb"), s3=client("s3"), cloudwatch=client("cloudwatch"))
    report = run(ctx, access, now=now, time_left=lambda: lambda_context.get_remaining_time_in_millis() / 1000)
    for table in report.tables:
        if table.problems or table.state not in ("ok", "waiting"):
            logger.warning({"message": "chain needs attention", **table.to_json()})
    logger.info({"message": "chain run", "now": report.to_json()["now"], **report.metrics()})
    return report.to_json()

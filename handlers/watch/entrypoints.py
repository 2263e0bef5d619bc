"""Lambda entrypoints of DisasterWatch: thin wrappers that read the environment once, log the
context, and call the logic modules with clients from the access layer.

    handlers.watch.entrypoints.classify_handler    EventBridge rule target (destructive events)
    handlers.watch.entrypoints.freshness_handler   scheduled hourly (also counts unprotected tables)
    handlers.watch.entrypoints.drill_prepare_handler / drill_verify_handler   Step Functions tasks
    handlers.watch.entrypoints.drill_validate_file_handler   child of the drill's ValidateFiles map
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from conventions.watch import WatchContext
from handlers.watch import drill, drill_files, freshness
from handlers.watch.alert import classify_and_publish
from handlers.watch.aws import client
from handlers.watch.context import load_context

logger = Logger(service="safetynet-watch")
_CONTEXT: WatchContext | None = None


def _context() -> WatchContext:
    # Validated once per cold start; a broken deployment fails loudly on the first invocation.
    global _CONTEXT  # noqa: PLW0603 (module-level cache of the validated environment)
    if _CONTEXT is None:
        _CONTEXT = load_context()
    return _CONTEXT


# -- classifier -------------------------------------------------------------------------------


@logger.inject_lambda_context
def classify_handler(event: Any, _lambda_context: Any) -> dict[str, str | None]:
    """EventBridge -> classify -> SNS (messageId None: the event was not this stack's business)."""
    ctx = _context()
    verdict, message_id = classify_and_publish(
        event, ctx, ddb=client("dynamodb"), s3=client("s3"), sns=client("sns"), now=datetime.now(UTC)
    )
    return {"classification": verdict.label, "messageId": message_id}


# -- freshness --------------------------------------------------------------------------------


@logger.inject_lambda_context
def freshness_handler(_event: Any, _lambda_context: Any) -> dict[str, Any]:
    """Scheduled: export age, item count, drop ratio, failed exports, drill age -> CloudWatch."""
    ctx = _context()
    result = freshness.run_all(
        ctx, ddb=client("dynamodb"), s3=client("s3"), cw=client("cloudwatch"), now=datetime.now(UTC)
    )
    for r in result.reports:
        logger.info("freshness", extra=r.to_json())
    (logger.warning if result.stack.unprotected_tables or result.stack.problems else logger.info)(
        "stack health", extra=result.stack.to_json()
    )
    return {"tables": [r.to_json() for r in result.reports], "stack": result.stack.to_json()}


# -- restore drill (Step Functions tasks) -----------------------------------------------------


@logger.inject_lambda_context
def drill_prepare_handler(event: Mapping[str, Any], _lambda_context: Any) -> dict[str, Any]:
    """Check the latest export's manifests and return the plan (the ImportTable request of the
    scratch table, and where manifest-files.json is for the ValidateFiles map)."""
    ctx = _context()
    plan = drill.prepare(ctx, str(event["table"]), s3=client("s3"), now=datetime.now(UTC), check_data_files=False)
    logger.info("drill prepared", extra=plan)
    return plan


@logger.inject_lambda_context
def drill_validate_file_handler(event: Mapping[str, Any], _lambda_context: Any) -> dict[str, Any]:
    """Check one data file of the export; raises DataFileRejected (its problems recorded first)."""
    ctx = _context()
    task = drill_files.FileTask.from_event(event)
    result = drill_files.check_file(ctx, task, s3=client("s3"))
    logger.info("data file checked", extra=result)
    return result


@logger.inject_lambda_context
def drill_verify_handler(event: Mapping[str, Any], _lambda_context: Any) -> dict[str, Any]:
    """Compare the scratch table with the manifest and the live table; record and publish."""
    ctx = _context()
    result = drill.verify_from_state(
        ctx, event, ddb=client("dynamodb"), s3=client("s3"), cw=client("cloudwatch"), now=datetime.now(UTC)
    )
    (logger.info if result["ok"] else logger.error)("drill verified", extra=result)
    return result

"""The classifier flow: decide whether a CloudTrail event the rules delivered is this stack's
business (`handlers.watch.scope`), classify it, gather what the on-call engineer needs first about
each affected table (its last good export, PITR window and restore command, read through
`handlers.watch.aws`), and publish the alert. A fact that cannot be read is named in the alert; it
never stops it. Events about other stacks' resources (the rules match by event name, not by table)
are logged and not published.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from conventions.watch import WatchContext
from handlers.watch.aws import AWS_ERRORS, error_text, last_export_facts, pitr_window, publish
from handlers.watch.classifier import Classification, TableFacts, build_alert, classify, restore_plan_command
from handlers.watch.scope import affected_tables, ignore_reason

logger = Logger(service="safetynet-watch", child=True)


def gather_facts(event: Any, ctx: WatchContext, *, ddb: Any, s3: Any, now: datetime) -> list[TableFacts]:
    """Last good export, PITR window and restore command of every table the event affects. An
    unreadable fact is reported in `problems`; it never stops the alert."""
    tables = affected_tables(event, ctx) if isinstance(event, Mapping) else []
    facts = []
    for t in tables:
        problems: list[str] = []
        try:
            last = last_export_facts(s3, ctx.vault_bucket, t.export_prefix, now)
        except AWS_ERRORS as exc:
            last = None
            problems.append(f"vault listing failed: {error_text(exc)}")
        try:
            pitr: dict[str, str] | None = pitr_window(ddb, t.physical_name)
        except AWS_ERRORS as exc:
            pitr = None
            problems.append(f"PITR window unreadable: {error_text(exc)}")
        facts.append(
            TableFacts(
                table=t.name,
                physical_name=t.physical_name,
                last_export=last,
                pitr=pitr,
                restore_plan=restore_plan_command(ctx.stack, t.name, ctx.vault_bucket),
                problems=problems,
            )
        )
    return facts


def classify_and_publish(
    event: Any, ctx: WatchContext, *, ddb: Any, s3: Any, sns: Any, now: datetime
) -> tuple[Classification, str | None]:
    """Classify, enrich, publish. Returns the verdict and the SNS message id (None when the event
    concerns nothing of this stack: logged with the reason, not published)."""
    verdict = classify(event, ctx.deploy_principals)
    log = {"classification": verdict.label, "reason": verdict.reason, "eventName": verdict.event_name}
    ignored = ignore_reason(event, ctx)
    if ignored is not None:
        logger.info("event ignored", extra={**log, "ignored": ignored})
        return verdict, None
    if verdict.label == "unknown":
        logger.warning("unreadable event published as unknown", extra={**log, "event": event})
    else:
        logger.info("event classified", extra=log)
    alert = build_alert(event, verdict, ctx, gather_facts(event, ctx, ddb=ddb, s3=s3, now=now))
    return verdict, publish(sns, ctx.topic_arn, alert)

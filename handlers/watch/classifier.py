"""Disaster recognition: classify a destructive CloudTrail event and turn it into an alert.

Pure logic. The EventBridge rules match event names and dangerous request parameters, not
tables (components/watch/patterns.py): `ignore_reason` decides from the context shipped with the
code whether an event concerns this stack at all (its tables, backups, schedules, vault and key;
a CreateTable of a table that is neither the stack's nor excluded) and is at least as precise about
the request as the patterns. `classify` decides *intended* (the caller is one of
`safetynet:alerts.deployPrincipals`, e.g. the CI role that runs `pulumi up`), *unexpected* (anyone
else) or *unknown* (the event cannot be read); `build_alert` renders the SNS message with
everything an on-call engineer needs first: what happened to which resource, who did it from
where, the last good export, the PITR window and the ready-to-run restore-plan (or adopt) command.
Facts are gathered by `handlers.watch.alert`, which publishes the alert too.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from conventions.watch import CLOUDTRAIL_DETAIL_TYPE, WatchContext, adopt_command
from handlers.watch.scope import request_of, resource_of, schedule_tables, table_name_of

Label = Literal["intended", "unexpected", "unknown"]
Severity = Literal["HIGH", "MEDIUM", "INFO"]
SEVERITY: dict[str, Severity] = {"unexpected": "HIGH", "unknown": "MEDIUM", "intended": "INFO"}

# What each watched call endangers, in words for the alert.
WATCHED_CALLS: dict[str, str] = {
    "DeleteTable": "table deleted",
    "UpdateTable": "deletion protection turned off",
    "UpdateContinuousBackups": "point-in-time recovery turned off",
    "DeleteBackup": "on-demand backup deleted",
    "PutResourcePolicy": "table resource policy replaced",
    "DeleteResourcePolicy": "table resource policy deleted",
    "DeleteBucket": "backup vault bucket deleted",
    "PutBucketPolicy": "backup vault policy replaced",
    "DeleteBucketPolicy": "backup vault policy deleted",
    "PutBucketLifecycle": "backup vault lifecycle (expiry) changed",
    "PutBucketLifecycleConfiguration": "backup vault lifecycle (expiry) changed",
    "DeleteBucketLifecycle": "backup vault lifecycle deleted",
    "PutBucketVersioning": "backup vault versioning suspended",
    "PutObjectLockConfiguration": "backup vault Object Lock changed",
    "ScheduleKeyDeletion": "vault KMS key scheduled for deletion",
    "DisableKey": "vault KMS key disabled",
    "DeleteSchedule": "nightly export schedule deleted",
    "UpdateSchedule": "nightly export schedule disabled",
    "CreateTable": "unprotected table created",
}
# The same calls on a restore drill's schedule.
DRILL_SCHEDULE_CALLS: dict[str, str] = {
    "DeleteSchedule": "restore drill schedule deleted",
    "UpdateSchedule": "restore drill schedule disabled",
}
# Calls that open a gap in coverage rather than destroy anything: at most MEDIUM.
COVERAGE_CALLS = frozenset({"CreateTable"})


@dataclass(frozen=True)
class Caller:
    """Who made the call, as CloudTrail's userIdentity says."""

    identity_type: str
    arn: str | None
    """The caller's ARN (an STS session ARN for assumed roles)."""
    issuer_arn: str | None = None
    """For assumed roles and federated users: the role/user that issued the session."""
    invoked_by: str | None = None
    """An AWS service acting for the caller (e.g. cloudformation.amazonaws.com)."""

    @property
    def display(self) -> str:
        """One line naming the caller."""
        who = self.arn or self.invoked_by or self.identity_type
        if self.issuer_arn and self.issuer_arn != self.arn:
            who += f" (role {self.issuer_arn})"
        return who

    @property
    def candidates(self) -> list[str]:
        """Every ARN a deploy-principal pattern may match."""
        return [a for a in (self.arn, self.issuer_arn) if a]


@dataclass(frozen=True)
class Classification:
    """The verdict on one event."""

    label: Label
    reason: str
    event_name: str | None = None
    caller: Caller | None = None
    matched_pattern: str | None = None

    @property
    def severity(self) -> Severity:
        """unexpected HIGH, unknown MEDIUM, intended INFO; an unprotected table is a gap to close,
        not a loss: MEDIUM at most."""
        if self.event_name in COVERAGE_CALLS and self.label == "unexpected":
            return "MEDIUM"
        return SEVERITY[self.label]


def caller_of(detail: Mapping[str, Any]) -> Caller | None:
    """The caller of a CloudTrail record, or None when userIdentity is missing or unreadable."""
    ident = detail.get("userIdentity")
    if not isinstance(ident, Mapping) or not isinstance(ident.get("type"), str):
        return None
    issuer = None
    ctx = ident.get("sessionContext")
    if isinstance(ctx, Mapping) and isinstance(ctx.get("sessionIssuer"), Mapping):
        issuer = ctx["sessionIssuer"].get("arn")
    arn = ident.get("arn")
    if ident["type"] == "Root" and not arn and ident.get("accountId"):
        arn = f"arn:aws:iam::{ident['accountId']}:root"
    caller = Caller(
        identity_type=ident["type"],
        arn=arn if isinstance(arn, str) else None,
        issuer_arn=issuer if isinstance(issuer, str) else None,
        invoked_by=ident.get("invokedBy") if isinstance(ident.get("invokedBy"), str) else None,
    )
    return caller if (caller.arn or caller.issuer_arn or caller.invoked_by) else None


def _matches(arn: str, pattern: str) -> bool:
    # IAM ARNs are case-sensitive: fnmatchcase, never the OS-dependent fnmatch.
    return fnmatch.fnmatchcase(arn, pattern)


def _unreadable(event: Any) -> Classification | None:
    """Why an event cannot be classified, or None when it is a watched CloudTrail call."""
    if not isinstance(event, Mapping):
        return Classification("unknown", f"event is a {type(event).__name__}, not an EventBridge event object")
    detail = event.get("detail")
    if event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE or not isinstance(detail, Mapping):
        return Classification("unknown", f"not a CloudTrail API call event (detail-type {event.get('detail-type')!r})")
    name = detail.get("eventName")
    if not isinstance(name, str):
        return Classification("unknown", "CloudTrail record without eventName")
    if name not in WATCHED_CALLS:
        return Classification("unknown", f"{name} is not a watched call", event_name=name)
    return None


def classify(event: Any, deploy_principals: Sequence[str]) -> Classification:
    """Label one EventBridge event. Never raises: whatever cannot be read is `unknown`."""
    bad = _unreadable(event)
    if bad is not None:
        return bad
    detail = event["detail"]
    name = detail["eventName"]
    caller = caller_of(detail)
    if caller is None:
        return Classification("unknown", "CloudTrail record without a readable userIdentity", event_name=name)
    for pattern in deploy_principals:
        for arn in caller.candidates:
            if _matches(arn, pattern):
                return Classification(
                    "intended",
                    f"caller {arn} matches deploy principal {pattern}",
                    event_name=name,
                    caller=caller,
                    matched_pattern=pattern,
                )
    reason = f"caller {caller.display} is not a deploy principal"
    if caller.identity_type == "Root":
        reason = "the account root user made the call"
    return Classification("unexpected", reason, event_name=name, caller=caller)


# -- the alert -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFacts:
    """The newest complete export of a table in the vault."""

    export_id: str
    export_time: str
    item_count: int
    age_hours: float
    s3_prefix: str


@dataclass(frozen=True)
class TableFacts:
    """What the alert says about one affected table."""

    table: str
    physical_name: str
    last_export: ExportFacts | None
    pitr: dict[str, str] | None
    """{status, earliest, latest} from DescribeContinuousBackups, or None when unreadable."""
    restore_plan: str
    """The command that plans this table's restore."""
    problems: list[str] = field(default_factory=list)
    """Facts that could not be gathered, and why."""


@dataclass(frozen=True)
class Alert:
    """One SNS publication."""

    subject: str
    message: dict[str, Any]
    attributes: dict[str, str]

    def message_text(self) -> str:
        """The SNS message body (JSON, readable in e-mail and parseable by HTTPS consumers)."""
        return json.dumps(self.message, indent=2, sort_keys=False, default=str)


def restore_plan_command(stack: str, table: str, vault_bucket: str | None = None) -> str:
    """The ready-to-run command that plans restoring `table` (logical name), with the vault so
    the plan also weighs the exports."""
    command = f"safetynet restore-plan {stack} --table {table}"
    return f"{command} --vault-bucket {vault_bucket}" if vault_bucket else command


def _what(event: Any, verdict: Classification, ctx: WatchContext) -> str:
    """What the call endangers, in words (a drill schedule's calls in their own)."""
    name = verdict.event_name or ""
    if name in DRILL_SCHEDULE_CALLS and isinstance(event, Mapping):
        tables, drill = schedule_tables(resource_of(event), request_of(event), ctx)
        if tables and drill:
            return DRILL_SCHEDULE_CALLS[name]
    return WATCHED_CALLS.get(name, verdict.event_name or "unreadable event")


def build_alert(event: Any, verdict: Classification, ctx: WatchContext, facts: Sequence[TableFacts]) -> Alert:
    """The SNS subject, message and attributes for one classified event."""
    detail = event.get("detail") if isinstance(event, Mapping) else None
    detail = detail if isinstance(detail, Mapping) else {}
    what = _what(event, verdict, ctx)
    resource = resource_of(event) if isinstance(event, Mapping) else "?"
    failed = detail.get("errorCode")
    subject = f"[{verdict.severity}] safetynet {ctx.stack}: {verdict.label}: {what}"
    if resource != "?":
        subject += f" ({resource.rsplit('/', 1)[-1]})"
    if failed:
        subject += " - attempt refused"
    created = verdict.event_name == "CreateTable" and resource != "?"
    # An unprotected table: who created it and the command that brings it under protection.
    next_steps = [adopt_command(ctx.stack, table_name_of(resource))] if created else [f.restore_plan for f in facts]
    message: dict[str, Any] = {
        "summary": (
            f"{verdict.label.upper()}: {what}: {table_name_of(resource)}"
            if created
            else f"{verdict.label.upper()}: {what} on {resource}"
        )
        + (f" by {verdict.caller.display}" if verdict.caller else "")
        + (f" (the call failed: {failed})" if failed else "")
        + (
            f"; it has no export, no alarm and no drill: adopt it ({next_steps[0]}) or exclude it "
            "in safetynet:coverage.exclude"
            if created
            else ""
        ),
        "classification": verdict.label,
        "severity": verdict.severity,
        "reason": verdict.reason,
        "stack": ctx.stack,
        "event": {
            "name": verdict.event_name,
            "source": detail.get("eventSource"),
            "resource": resource,
            "time": detail.get("eventTime") or (event.get("time") if isinstance(event, Mapping) else None),
            "region": detail.get("awsRegion"),
            "eventId": detail.get("eventID"),
            "errorCode": failed,
            "errorMessage": detail.get("errorMessage"),
        },
        "who": {
            "principal": verdict.caller.arn if verdict.caller else None,
            "sessionIssuer": verdict.caller.issuer_arn if verdict.caller else None,
            "identityType": verdict.caller.identity_type if verdict.caller else None,
            "invokedBy": verdict.caller.invoked_by if verdict.caller else None,
            "sourceIp": detail.get("sourceIPAddress"),
            "userAgent": detail.get("userAgent"),
        },
        "tables": [asdict(f) for f in facts],
        "next": next_steps,
    }
    if verdict.label == "unknown":
        # Never dropped: the raw event travels with the alert so nothing is lost.
        message["raw"] = event
    attributes = {
        "severity": verdict.severity,
        "classification": verdict.label,
        "stack": ctx.stack,
        "eventName": verdict.event_name or "unknown",
    }
    # SNS subjects: at most 100 printable ASCII characters, no line breaks.
    clean = "".join(c if 32 <= ord(c) < 127 else "?" for c in subject)
    return Alert(subject=clean[:100], message=message, attributes=attributes)

"""Which of a stack's resources a CloudTrail event touches, and whether it is the stack's
business at all.

DisasterWatch's EventBridge rules match event names and the request parameters that make a call
dangerous, never a table (components/watch/patterns.py), so their size does not grow with the
stack. This module decides, from the context shipped with the code, what they cannot:
`ignore_reason` says why an event needs no alert from this stack (the call did not do the
dangerous thing, or named another stack's table, backup or schedule, or, for CreateTable, created
a table that is the stack's own, excluded or a drill's scratch table); `affected_tables` says whose
safety net an alerting event weakens. Pure logic, no AWS access.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from conventions.watch import CLOUDTRAIL_DETAIL_TYPE, VAULT_BUCKET_EVENTS, WatchContext, WatchedTable


def request_of(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The call's requestParameters (empty when missing or unreadable)."""
    detail = event.get("detail")
    req = detail.get("requestParameters") if isinstance(detail, Mapping) else None
    return req if isinstance(req, Mapping) else {}


def resource_of(event: Mapping[str, Any]) -> str:
    """The resource the call named (table, backup, bucket, key or schedule), as sent."""
    req = request_of(event)
    for k in ("tableName", "backupArn", "resourceArn", "bucketName", "keyId", "name", "Name"):
        if isinstance(req.get(k), str):
            return str(req[k])
    return "?"


def _event_name(event: Mapping[str, Any]) -> str | None:
    detail = event.get("detail")
    name = detail.get("eventName") if isinstance(detail, Mapping) else None
    return name if isinstance(name, str) else None


def table_name_of(ref: str) -> str:
    # DynamoDB accepts a table's ARN wherever it takes its name.
    return ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref


def schedule_tables(ref: str, req: Mapping[str, Any], ctx: WatchContext) -> tuple[list[WatchedTable], bool]:
    """The tables whose export (False) or drill (True) schedule `ref` is."""
    group = req.get("groupName", req.get("GroupName"))
    # The stack's schedules are in the default group; a namesake in another group is not ours.
    if group not in (None, "default"):
        return [], False
    for t in ctx.tables:
        if t.schedule_name and ref == t.schedule_name:
            return [t], False
        if t.drill_schedule_name and ref == t.drill_schedule_name:
            return [t], True
    return [], False


def affected_tables(event: Mapping[str, Any], ctx: WatchContext) -> list[WatchedTable]:
    """The tables whose safety net the event weakens: the named table, the schedule's table, or
    every table for vault-wide events (bucket, key)."""
    ref = resource_of(event)
    name = _event_name(event)
    if name in ("DeleteSchedule", "UpdateSchedule"):
        return schedule_tables(ref, request_of(event), ctx)[0]
    if name == "CreateTable":
        return []
    for t in ctx.tables:
        if ref in (t.physical_name, t.arn) or ref.startswith(f"{t.arn}/"):
            return [t]
    detail = event.get("detail")
    source = detail.get("eventSource") if isinstance(detail, Mapping) else None
    if source in ("s3.amazonaws.com", "kms.amazonaws.com"):
        return list(ctx.tables)
    return []


# -- is it this stack's business at all? ------------------------------------------------------


def _harmless(name: str, req: Mapping[str, Any]) -> str | None:
    """Why a call of a watched name does not do the dangerous thing (the patterns' request
    filters, checked again: the classifier must never alert on less than the rules match)."""
    if name == "UpdateTable" and req.get("deletionProtectionEnabled") is not False:
        return "UpdateTable does not turn deletion protection off"
    if name == "UpdateContinuousBackups":
        spec = req.get("pointInTimeRecoverySpecification")
        if not isinstance(spec, Mapping) or spec.get("pointInTimeRecoveryEnabled") is not False:
            return "UpdateContinuousBackups does not turn point-in-time recovery off"
    if name == "PutBucketVersioning":
        conf = req.get("VersioningConfiguration")
        if not isinstance(conf, Mapping) or conf.get("Status") != "Suspended":
            return "PutBucketVersioning does not suspend versioning"
    if name == "UpdateSchedule" and "DISABLED" not in (req.get("state"), req.get("State")):
        return "UpdateSchedule does not disable the schedule"
    return None


def _request_tags(req: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A CreateTable request's tags (CloudTrail writes `tags: [{key, value}]`; SDK casing too)."""
    tags = req.get("tags", req.get("Tags"))
    out = []
    for t in tags if isinstance(tags, list) else []:
        if isinstance(t, Mapping):
            key, value = t.get("key", t.get("Key")), t.get("value", t.get("Value"))
            if isinstance(key, str) and isinstance(value, str):
                out.append((key, value))
    return out


def _our_table(ref: str, _req: Mapping[str, Any], ctx: WatchContext) -> bool:
    return any(ref in (t.physical_name, t.arn) for t in ctx.tables)


def _our_backup(ref: str, _req: Mapping[str, Any], ctx: WatchContext) -> bool:
    return any(ref.startswith(f"{t.arn}/backup/") for t in ctx.tables)


def _our_table_or_stream(ref: str, _req: Mapping[str, Any], ctx: WatchContext) -> bool:
    return any(ref == t.arn or ref.startswith(f"{t.arn}/stream/") for t in ctx.tables)


def _our_schedule(ref: str, req: Mapping[str, Any], ctx: WatchContext) -> bool:
    return bool(schedule_tables(ref, req, ctx)[0])


# The vault's rules name the bucket and the key already; checked again against the same context
# (when it names them), so the classifier alone is as strict as rule and classifier together.
def _our_bucket(ref: str, _req: Mapping[str, Any], ctx: WatchContext) -> bool:
    return not ctx.vault_bucket or ref == ctx.vault_bucket


def _our_key(ref: str, _req: Mapping[str, Any], ctx: WatchContext) -> bool:
    return not ctx.kms_key_arn or ref in (ctx.kms_key_arn, ctx.kms_key_arn.rsplit("/", 1)[-1])


Owned = Callable[[str, Mapping[str, Any], WatchContext], bool]
# eventName -> (whether the resource it names is the stack's, what to say when it is not)
_OWNERSHIP: dict[str, tuple[Owned, str]] = {
    **dict.fromkeys(("DeleteTable", "UpdateTable", "UpdateContinuousBackups"), (_our_table, "table")),
    "DeleteBackup": (_our_backup, "backup"),
    **dict.fromkeys(("PutResourcePolicy", "DeleteResourcePolicy"), (_our_table_or_stream, "table or stream")),
    **dict.fromkeys(("DeleteSchedule", "UpdateSchedule"), (_our_schedule, "schedule")),
    **dict.fromkeys((*VAULT_BUCKET_EVENTS, "PutBucketVersioning"), (_our_bucket, "vault bucket")),
    **dict.fromkeys(("ScheduleKeyDeletion", "DisableKey"), (_our_key, "vault key")),
}


def _created_table_covered(
    detail: Mapping[str, Any], ref: str, req: Mapping[str, Any], ctx: WatchContext
) -> str | None:
    """Why a CreateTable opened no gap: it failed, or the table is covered (WatchContext.coverage_of)."""
    if detail.get("errorCode"):
        return f"CreateTable failed ({detail['errorCode']}): no table was created"
    return ctx.coverage_of(table_name_of(ref), _request_tags(req))


def ignore_reason(event: Any, ctx: WatchContext) -> str | None:
    """Why an event the rules delivered needs no alert from this stack: the call did not do the
    dangerous thing, or named another stack's resource, or (CreateTable) failed or created a table
    that is the stack's own, excluded or a drill's scratch table. None: alert. Events that cannot
    be read, or name no resource, are never ignored: they are published (as unknown when
    unreadable), never dropped."""
    detail = event.get("detail") if isinstance(event, Mapping) else None
    if not isinstance(detail, Mapping) or event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE:
        return None
    name, req, ref = detail.get("eventName"), request_of(event), resource_of(event)
    if not isinstance(name, str):
        return None
    harmless = _harmless(name, req)
    if harmless is not None or ref == "?":
        return harmless
    if name == "CreateTable":
        return _created_table_covered(detail, ref, req, ctx)
    owned, kind = _OWNERSHIP.get(name, (None, ""))
    if owned is None or owned(ref, req, ctx):
        return None
    return f"{kind} {ref} is not stack {ctx.stack}'s"

"""`safetynet rewind`, without the terminal: the table, the window's export, the plan, the apply,
the audit trail and the notification. The command (`safetynet.commands.rewind`) shows each step.

1. `prepare`: the table must be one of the stack's (logical or physical name); the window must be
   inside the table's PITR period, end in the past, and not be empty or over 24 hours. Its export
   is found in the vault (a previous run's), requested (AWS), or written from the table's stream
   (an emulator: `AWS_ENDPOINT_URL`, or `from_stream`), then validated.
2. `plan`: every data file settled as a dry run (live items read, nothing written): counts per
   kind and outcome, samples, conflicts.
3. `apply`: the same with writes, each key's outcome in the audit beside the export, data file by
   data file; an interruption still uploads the current file's outcome lines.
4. `finish`: the summary in the vault and a notification on the stack's alert topic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from conventions.tags import STACK_TAG
from conventions.vault import rewind_prefix
from handlers.exports.layout import DataFile, ExportRef, format_time
from handlers.rewind import KeyResult, RewindSpec, RunLocation, Tally, Window, rewind_data_file, window_id
from handlers.rewind.audit import notify, put_json
from safetynet.local import emulated
from safetynet.recovery.rewind_export import (
    ExportFailed,
    ExportWindow,
    WindowRefused,
    check_window,
    export_window,
    find_export,
    millis,
    request_export,
    validate_window_export,
    vault_kms_key,
    wait_export,
)

ALERT_TOPIC_ENV = "SAFETYNET_ALERT_TOPIC"
ALERT_TOPIC_NAME_PREFIX = "watch-alerts-"
"""The alert topic's name as Pulumi names it (`watch-alerts-<random>`), tagged with the stack."""


class RewindRefused(ValueError):
    """A request the rewind refuses (exit 2): the message says why and what to write instead."""


@dataclass(frozen=True)
class Target:
    """The table a rewind writes to."""

    logical: str
    physical: str
    arn: str


@dataclass
class Prepared:
    """Everything a rewind works from, once the window's export is valid."""

    target: Target
    window: Window
    export: ExportWindow
    ref: ExportRef
    files: list[DataFile]
    changes: int
    source: str
    """`incremental export` (AWS), `stream` (emulator), `vault` (a previous run's export)."""
    window_prefix: str
    notes: list[str] = field(default_factory=list)


def resolve_table(cfg: Any, name: str) -> tuple[str, str]:
    """(logical, physical) of one of the stack's tables, by either name; RewindRefused lists them."""
    for spec in cfg.tables:
        physical = cfg.physical_name(spec)
        if name in (spec.name, physical):
            return spec.name, physical
    known = ", ".join(f"{s.name} ({cfg.physical_name(s)})" for s in cfg.tables) or "none"
    raise RewindRefused(f"table {name!r} is not one of this stack's tables; the stack protects: {known}")


def pitr_period(ddb: Any, table: str) -> tuple[datetime | None, datetime | None]:
    """(earliest, latest) restorable times; (None, None) when PITR is off."""
    desc = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = desc.get("PointInTimeRecoveryDescription", {})
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        return None, None
    return pitr.get("EarliestRestorableDateTime"), pitr.get("LatestRestorableDateTime")


def prepare(
    clients: Any,
    cfg: Any,
    *,
    table: str,
    start: datetime,
    end: datetime,
    bucket: str,
    from_stream: bool = False,
    kms_key: str | None = None,
    now: datetime | None = None,
    on_export: Callable[[str, dict[str, Any]], None] | None = None,
) -> Prepared:
    """Check the request and get the window's export (see the module docstring). Raises
    RewindRefused or WindowRefused (exit 2), ExportFailed, or an AWS error (exit 1)."""
    logical, physical = resolve_table(cfg, table)
    ddb, s3 = clients.get("dynamodb"), clients.get("s3")
    arn = ddb.describe_table(TableName=physical)["Table"]["TableArn"]
    target = Target(logical, physical, arn)
    now = now or datetime.now(UTC)
    start, end = millis(start), millis(end)
    earliest, latest = pitr_period(ddb, physical)
    check_window(start, end, now=now, earliest=earliest)
    stream = from_stream or emulated("dynamodb")
    # The stream exporter sees every change: it exports exactly [T1, T2), however short.
    plan = (
        ExportWindow(start, end, exact_old_images=True) if stream else export_window(start, end, latest=latest or now)
    )
    window = Window.of(start, end)
    prefix = f"{rewind_prefix(physical)}/{window_id(window)}"
    report = on_export or (lambda _step, _info: None)
    ref = find_export(s3, bucket, prefix, plan)
    source = "vault"
    if ref is not None:
        report("found", {"export": ref.url})
    elif stream:
        from safetynet.backup.stream_export import StreamExportError, StreamNotUsable, export_stream_window

        report("stream", {})
        try:
            ref = export_stream_window(
                ddb,
                clients.get("dynamodbstreams"),
                s3,
                table=physical,
                bucket=bucket,
                prefix=prefix,
                start=plan.start,
                end=plan.end,
                kms_key_id=kms_key,
                on_progress=lambda n: report("stream-progress", {"changes": n}),
            )
        except StreamNotUsable as exc:
            raise RewindRefused(f"the window cannot be taken from the table's stream: {exc}") from None
        except StreamExportError as exc:
            raise ExportFailed(f"exporting the window from the table's stream failed: {exc}") from None
        source = "stream"
    else:
        key = kms_key or vault_kms_key(s3, bucket)
        export_arn = request_export(ddb, table_arn=arn, bucket=bucket, prefix=prefix, window=plan, kms_key=key)
        report("requested", {"exportArn": export_arn})
        ref = wait_export(ddb, export_arn, on_poll=lambda desc: report("poll", desc))
        source = "incremental export"
    report("validating", {"export": ref.url})
    validation = validate_window_export(s3, ref, table_arn=arn, window=plan)
    notes = [plan.note] if plan.note else []
    if plan.exact_after is not None:
        notes.append(f"an export starting at T1 is possible from {plan.exact_after.isoformat(timespec='seconds')}")
    return Prepared(
        target=target,
        window=window,
        export=plan,
        ref=ref,
        files=validation.files,
        changes=validation.item_count,
        source=source,
        window_prefix=prefix,
        notes=notes,
    )


class RewindInterrupted(Exception):
    """Ctrl-C (or SIGTERM) while settling: `tally` counts every key settled before it."""

    def __init__(self, tally: Tally) -> None:
        super().__init__("interrupted")
        self.tally = tally


def settle_files(
    clients: Any,
    prepared: Prepared,
    spec: RewindSpec,
    *,
    dry_run: bool,
    run: RunLocation | None = None,
    concurrency: int = 8,
    on_result: Callable[[KeyResult], None] | None = None,
) -> Tally:
    """Every data file, in manifest order, settled (a dry run: the plan); `on_result` sees every
    key. A KeyboardInterrupt becomes RewindInterrupted with the counts so far, once the current
    file's outcome lines are uploaded."""
    tally = Tally()

    def record(result: KeyResult) -> None:
        tally.add(result)
        if on_result is not None:
            on_result(result)

    try:
        for data_file in prepared.files:
            rewind_data_file(
                clients.get("dynamodb"),
                clients.get("s3"),
                prepared.ref,
                data_file,
                spec,
                table=prepared.target.physical,
                dry_run=dry_run,
                run=run,
                concurrency=concurrency,
                on_result=record,
            )
    except KeyboardInterrupt:
        raise RewindInterrupted(tally) from None
    return tally


def who(sts: Any) -> str:
    """The caller's ARN (sts:GetCallerIdentity needs no permission)."""
    return str(sts.get_caller_identity()["Arn"])


def run_doc(
    *,
    stack: str,
    prepared: Prepared,
    spec: RewindSpec,
    run: RunLocation | None,
    caller: str | None,
    status: str,
    started: datetime,
    tally: Tally,
    ended: datetime | None = None,
) -> dict[str, Any]:
    """The plan.json / summary.json document (and the `--json` output)."""
    doc: dict[str, Any] = {
        "runId": run.run_id if run else None,
        "status": status,
        "stack": stack,
        "table": prepared.target.logical,
        "physicalName": prepared.target.physical,
        "window": {"from": format_time(prepared.window.start), "to": format_time(prepared.window.end)},
        "exportWindow": {
            "from": format_time(prepared.export.start),
            "to": format_time(prepared.export.end),
            "exactOldImages": prepared.export.exact_old_images,
        },
        "export": prepared.ref.url,
        "exportSource": prepared.source,
        "changes": prepared.changes,
        "filter": spec.where.text if spec.where else None,
        "overrideConflicts": spec.override_conflicts,
        "who": caller,
        "startedAt": started.isoformat(),
        "endedAt": ended.isoformat() if ended else None,
        "notes": prepared.notes,
        "auditUrl": run.url if run else None,
        **tally.to_json(),
    }
    return doc


def write_doc(s3: Any, run: RunLocation, key: str, doc: dict[str, Any]) -> None:
    put_json(s3, run.bucket, key, doc)


def find_alert_topic(sns: Any, stack_tag: str) -> str | None:
    """The stack's DisasterWatch alert topic: `watch-alerts-*` tagged with the stack's tag, or None
    (no DisasterWatch, as on an emulator or a test stack)."""
    found = []
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            arn = topic["TopicArn"]
            if not arn.rsplit(":", 1)[-1].startswith(ALERT_TOPIC_NAME_PREFIX):
                continue
            tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn).get("Tags", [])}
            if tags.get(STACK_TAG) == stack_tag:
                found.append(arn)
    return found[0] if len(found) == 1 else None


__all__ = ["ExportFailed", "RewindInterrupted", "RewindRefused", "WindowRefused", "notify"]

"""`safetynet rewind -s STACK --table T --from T1 --to T2`: undo a bad window's writes item by item.

Gets the window's incremental export (requested on AWS, written from the table's stream on an
emulator), validates it, reads every changed key's live item and shows the plan: counts per kind
(restore an overwritten item, re-create a deleted one, delete one created in the window) and per
outcome (revert, conflict: written again after the window, unchanged, left alone), with a sample
attribute-level diff per kind. Nothing is written without `-y/--yes`; with it, the plan is shown
first, then applied with a progress bar, every key's outcome going to the audit trail in the vault
and a notification to the stack's alert topic. Exit 0 when every key was settled (conflicts are
reported, not failures), 1 when a key failed or AWS failed, 2 for usage and refusals, 130 when
interrupted (rerunning the same command resumes: reverted keys show as unchanged).

A window of more than REMOTE_THRESHOLD changed keys is applied on the stack's rewind state machine
(`safetynet.recovery.rewind_remote`, one Lambda per data file) when the machine is found; `--remote`
and `--local` decide instead. The plan is always made here; the summary is the same either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from safetynet.commands.common import (
    Clients,
    ExitCode,
    JsonOption,
    ProjectDirOption,
    StackArgument,
    StackOption,
    VaultBucketOption,
    YesOption,
    command_line,
    emit_json,
    fail,
    load_config,
    resolve_stack,
    vault_bucket_or_fail,
)

COMMAND = "rewind"
NEEDS = (
    "dynamodb:DescribeTable, DescribeContinuousBackups, ExportTableToPointInTime, DescribeExport, BatchGetItem, "
    "GetItem, PutItem and DeleteItem on the table (on an emulator: DescribeStream, GetShardIterator, GetRecords); "
    "s3:ListBucket, GetObject, PutObject and GetEncryptionConfiguration on the vault, kms:Decrypt and "
    "kms:GenerateDataKey on its key; sns:ListTopics, ListTagsForResource and Publish on the alert topic "
    "(kms:GenerateDataKey on the topic's key)"
)
KIND_LABELS = {
    "restore": "restore overwritten",
    "recreate": "re-create deleted",
    "delete": "delete created",
    "noop": "no change",
}
WIDTH = 80


def _time(option: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise fail(COMMAND, f"{option} {text!r} is not an ISO-8601 time (e.g. 2026-11-26T03:00:00Z)") from None
    if value.tzinfo is None:
        raise fail(COMMAND, f"{option} {text!r} has no time zone: write it in UTC (…Z) or with an offset (+01:00)")
    return value.astimezone(UTC)


def _counts_table(tally: Any, *, applied: bool) -> Table:
    verb = "reverted" if applied else "revert"
    t = Table(title="changed keys" if not applied else "result", title_justify="left", width=WIDTH)
    t.add_column("kind")
    for header in ("keys", verb, "conflict", "unchanged", "left alone", "failed"):
        t.add_column(header, justify="right")
    totals: dict[str, int] = {}
    for kind, outcomes in tally.counts.items():
        keys = sum(outcomes.values())
        if not keys:
            continue
        left = outcomes.get("filtered", 0) + outcomes.get("outside-window", 0)
        row = [keys, outcomes.get("reverted", 0), outcomes.get("conflict", 0), outcomes.get("unchanged", 0), left]
        row.append(outcomes.get("failed", 0) + outcomes.get("not-reached", 0))
        for header, n in zip(("keys", "r", "c", "u", "l", "f"), row, strict=True):
            totals[header] = totals.get(header, 0) + n
        t.add_row(KIND_LABELS.get(kind, kind), *(f"{n:,}" for n in row))
    t.add_row("[bold]total[/]", *(f"[bold]{totals.get(h, 0):,}[/]" for h in ("keys", "r", "c", "u", "l", "f")))
    return t


def _diff_table(title: str, doc: dict[str, Any]) -> Table:
    t = Table(title=title, title_justify="left", width=WIDTH, show_lines=False)
    for header in ("attribute", "before", "bad", "now"):
        t.add_column(header, overflow="fold", ratio=1)
    for name, before, bad, now in doc["diff"][:8]:
        t.add_row(escape(name), escape(before), escape(bad), escape(now))
    if len(doc["diff"]) > 8:
        t.add_row(f"… {len(doc['diff']) - 8} more", "", "", "")
    return t


def render(out: Console, tally: Any, *, applied: bool, conflicts_shown: int = 5) -> None:
    """Counts per kind and outcome, one sample diff per kind, the first conflicts and failures."""
    out.print(_counts_table(tally, applied=applied))
    by = tally.by_outcome()
    filtered, outside = by["filtered"], by["outside-window"]
    if filtered or outside:
        out.print(f"left alone: {filtered:,} not kept by --where, {outside:,} last written outside [T1, T2)")
    for kind, docs in tally.samples.items():
        if docs:
            out.print(_diff_table(f"sample: {KIND_LABELS.get(kind, kind)} {escape(docs[0]['key'])}", docs[0]))
    for doc in tally.conflicts[:conflicts_shown]:
        out.print(_diff_table(f"[yellow]conflict[/] {escape(doc['key'])} (written after T2: left as it is)", doc))
    if len(tally.conflicts) > conflicts_shown or by["conflict"] > len(tally.conflicts):
        out.print(f"… {by['conflict'] - min(conflicts_shown, by['conflict']):,} more conflicts (all in the audit)")
    for doc in tally.failures[:conflicts_shown]:
        out.print(f"[red]failed[/] {escape(doc['key'])}: {escape(doc.get('error', ''))}")
    if tally.partial_guards:
        out.print(
            f"[yellow]note:[/] {tally.partial_guards:,} items have more than 150 attributes: their write's condition "
            'checks the changed attributes and as many others as DynamoDB allows (README "Rewind", guarantees)'
        )


def _progress(err: Console, what: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{what}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def rewind(
    stack_arg: StackArgument = None,
    stack_opt: StackOption = None,
    table: Annotated[str, typer.Option("--table", "-t", help="The table (logical or physical name).")] = "",
    start: Annotated[
        str, typer.Option("--from", help="T1: start of the bad window, ISO-8601 with zone (inclusive).")
    ] = "",
    end: Annotated[str, typer.Option("--to", help="T2: end of the bad window, ISO-8601 with zone (exclusive).")] = "",
    where: Annotated[
        str | None, typer.Option("--where", help='Only changes matching this filter, e.g. NewImage.by = "svc@2.3.1".')
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; write nothing (the default without --yes).")
    ] = False,
    yes: YesOption = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the plan or result as JSON to FILE.")
    ] = None,
    override_conflicts: Annotated[
        bool, typer.Option("--override-conflicts", help="Also revert keys written again after T2 (loses those writes).")
    ] = False,
    from_stream: Annotated[
        bool, typer.Option("--from-stream", help="Take the window from the table's stream (automatic on an emulator).")
    ] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Chunks of keys settled at once (threads).")
    ] = 8,
    alert_topic: Annotated[
        str | None, typer.Option("--alert-topic", help="Notify this SNS topic (default: the stack's alert topic).")
    ] = None,
    kms_key: Annotated[
        str | None, typer.Option("--kms-key", help="KMS key of the export (default: the vault's).")
    ] = None,
    remote: Annotated[
        bool | None,
        typer.Option(
            "--remote/--local",
            help="Apply on the stack's rewind state machine, or in this process (default: the machine above "
            "100,000 changed keys, when it is found).",
        ),
    ] = None,
    state_machine: Annotated[
        str | None,
        typer.Option(
            "--state-machine",
            metavar="ARN",
            help="The rewind state machine (stack output rewindStateMachineArn; env "
            "SAFETYNET_REWIND_STATE_MACHINE; default: the stack's, by its name).",
        ),
    ] = None,
    vault_bucket: VaultBucketOption = None,
    as_json: JsonOption = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Undo the writes of a bad window [T1, T2), item by item, keeping every write made after it."""
    from handlers.rewind import FilterError, RewindSpec, Window, parse_filter
    from safetynet.paths import default_project_dir

    stack = resolve_stack(COMMAND, stack_arg, stack_opt)
    if not table or not start or not end:
        raise fail(COMMAND, "--table, --from and --to are required (e.g. --from 2026-11-26T03:00:00Z)")
    t1, t2 = _time("--from", start), _time("--to", end)
    if t1 >= t2:
        raise fail(COMMAND, f"--from {start} is not before --to {end}: the window is empty")
    try:
        where_filter = parse_filter(where) if where is not None else None
    except FilterError as exc:
        raise fail(COMMAND, str(exc)) from None
    project = project_dir or default_project_dir()
    cfg, region = load_config(COMMAND, project, stack)
    session = _Session(
        stack=stack,
        cfg=cfg,
        project=project,
        bucket=vault_bucket_or_fail(COMMAND, cfg, vault_bucket),
        clients=Clients(region),
        spec=RewindSpec(window=Window.of(t1, t2), where=where_filter, override_conflicts=override_conflicts),
        out=Console(stderr=as_json, width=WIDTH),
        err=Console(stderr=True, soft_wrap=True),
        as_json=as_json,
        report=report,
        concurrency=concurrency,
        remote=remote,
        state_machine=state_machine,
        rerun=command_line(
            COMMAND,
            "-s",
            stack,
            "--table",
            table,
            "--from",
            start,
            "--to",
            end,
            *(("--where", where) if where is not None else ()),
            *(("--override-conflicts",) if override_conflicts else ()),
            *(("--from-stream",) if from_stream else ()),
            *(("--alert-topic", alert_topic) if alert_topic else ()),
            *(("--kms-key", kms_key) if kms_key else ()),
            *(() if remote is None else ("--remote" if remote else "--local",)),
            *(("--state-machine", state_machine) if state_machine else ()),
            *(("--vault-bucket", vault_bucket) if vault_bucket else ()),
            *(("--project-dir", str(project_dir)) if project_dir else ()),
            "--yes",
        ),
    )
    session.prepare(table, t1, t2, from_stream=from_stream, kms_key=kms_key)
    plan_doc = session.plan()
    if not (yes and not dry_run):
        raise session.dry_run(plan_doc)
    raise session.apply(plan_doc, alert_topic)


@dataclass
class _Session:
    """One rewind command: its context, and the steps that print as they go."""

    stack: str
    cfg: Any
    project: Path
    bucket: str
    clients: Clients
    spec: Any
    out: Console
    err: Console
    as_json: bool
    report: Path | None
    concurrency: int
    rerun: str
    remote: bool | None = None
    state_machine: str | None = None
    prepared: Any = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def prepare(self, table: str, t1: datetime, t2: datetime, *, from_stream: bool, kms_key: str | None) -> None:
        """The table, the window's export (found, requested or written) and its validation."""
        from handlers.exports.layout import ExportError
        from safetynet.recovery import rewind as flow

        err = self.err

        def on_export(step: str, info: dict[str, Any]) -> None:
            if step == "poll":
                status.update(f"export {info.get('ExportStatus', '?')} ({escape(str(info.get('ExportArn', '')))})")
            elif step in ("found", "validating"):
                err.print(f"{'reusing' if step == 'found' else 'validating'} {escape(info['export'])}")
            elif step == "requested":
                err.print(f"requested the window's incremental export {escape(info['exportArn'])}")
            elif step == "stream":
                err.print("writing the window's export from the table's stream (emulator)")

        try:
            with err.status("getting the window's export…") as status:
                self.prepared = flow.prepare(
                    self.clients, self.cfg, table=table, start=t1, end=t2, bucket=self.bucket,
                    from_stream=from_stream, kms_key=kms_key, on_export=on_export,
                )  # fmt: skip
        except (flow.RewindRefused, flow.WindowRefused) as exc:
            raise fail(COMMAND, str(exc)) from None
        except (flow.ExportFailed, ExportError) as exc:
            raise fail(COMMAND, str(exc), ExitCode.FAILED) from None
        for note in self.prepared.notes:
            err.print(f"[yellow]note:[/] {escape(note)}")

    def settle(self, *, dry: bool, run: Any, label: str) -> Any:
        """Every key settled (dry: planned) with a progress bar on stderr."""
        from safetynet.recovery import rewind as flow

        with _progress(self.err, label) as bar:
            task = bar.add_task(label, total=self.prepared.changes)
            return flow.settle_files(
                self.clients, self.prepared, self.spec, dry_run=dry, run=run, concurrency=self.concurrency,
                on_result=lambda _r: bar.advance(task),
            )  # fmt: skip

    def plan(self) -> dict[str, Any]:
        """The dry-run pass: read every live item, show what would happen."""
        from handlers.rewind import Outcome
        from safetynet.recovery import rewind as flow

        try:
            plan = self.settle(dry=True, run=None, label="planning")
        except flow.RewindInterrupted:
            self.err.print("[yellow]interrupted[/] while planning: nothing was written")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        doc = flow.run_doc(
            stack=self.stack, prepared=self.prepared, spec=self.spec, run=None, caller=None, status="planned",
            started=self.started, tally=plan,
        )  # fmt: skip
        if not self.as_json:
            self.out.print(
                f"[bold]rewind {escape(self.prepared.target.physical)}[/] {doc['window']['from']} .. "
                f"{doc['window']['to']}: {self.prepared.changes:,} changed keys in {escape(self.prepared.ref.url)}"
            )
            if self.spec.where is not None:
                kept = plan.total - plan.count(Outcome.FILTERED)
                self.out.print(f"--where {escape(self.spec.where.text)}: kept {kept:,} of {plan.total:,}")
            render(self.out, plan, applied=False)
        return doc

    def dry_run(self, plan_doc: dict[str, Any]) -> typer.Exit:
        doc = {**plan_doc, "dryRun": True}
        self._emit(doc)
        if not self.as_json:
            self.out.print(f"dry run: nothing written. To apply: {escape(self.rerun)}", soft_wrap=True)
        return typer.Exit(ExitCode.FAILED if doc["byOutcome"]["failed"] else ExitCode.OK)

    def apply(self, plan_doc: dict[str, Any], alert_topic: str | None) -> typer.Exit:
        """Write plan.json, settle every key for real, write summary.json, notify."""
        from handlers.rewind import RunLocation, new_run_id
        from safetynet.recovery import rewind as flow

        s3, prepared = self.clients.get("s3"), self.prepared
        run = RunLocation(self.bucket, prepared.window_prefix, new_run_id(self.started))
        caller = flow.who(self.clients.get("sts"))
        machine = self.machine()
        on_machine = {"mode": "remote", "stateMachineArn": machine} if machine else {}
        flow.write_doc(
            s3, run, run.plan_key, {**plan_doc, "runId": run.run_id, "who": caller, "auditUrl": run.url, **on_machine}
        )
        if machine is not None:
            return self.apply_remote(machine, run, caller)
        self.err.print(
            f"applying to {escape(prepared.target.physical)} ({escape(self.cfg.environment)}); audit {escape(run.url)}"
        )
        status = "completed"
        try:
            tally = self.settle(dry=False, run=run, label="rewinding")
        except flow.RewindInterrupted as stopped:
            status, tally = "interrupted", stopped.tally
        doc = flow.run_doc(
            stack=self.stack, prepared=prepared, spec=self.spec, run=run, caller=caller, status=status,
            started=self.started, tally=tally, ended=datetime.now(UTC),
        )  # fmt: skip
        flow.write_doc(s3, run, run.summary_key, doc)
        _notify(self.clients, self.stack, self.project, alert_topic, doc, self.err)
        if status == "interrupted":
            if self.report:
                self.report.write_text(_json_text(doc))
            done = ", ".join(f"{n:,} {o}" for o, n in doc["byOutcome"].items() if n)
            self.err.print(
                f"[yellow]interrupted[/]: settled so far: {done or 'nothing'} (every one in the audit). Run the same "
                f"command again to finish; reverted keys then show as unchanged: {escape(self.rerun)}"
            )
            return typer.Exit(ExitCode.INTERRUPTED)
        self._emit(doc)
        if not self.as_json:
            render(self.out, tally, applied=True)
            self.out.print(f"audit: {escape(run.url)}", soft_wrap=True)
        return typer.Exit(ExitCode.FAILED if doc["byOutcome"]["failed"] else ExitCode.OK)

    def machine(self) -> str | None:
        """The rewind state machine to apply on, or None to apply in this process."""
        from safetynet.recovery import rewind_remote as remote

        changes = self.prepared.changes
        if self.remote is False or (self.remote is None and changes <= remote.REMOTE_THRESHOLD):
            return None
        found = remote.find_machine(self.clients, self.stack, self.state_machine)
        try:
            use = remote.use_remote(changes, remote=self.remote, machine=found)
        except remote.RemoteRefused as exc:
            raise fail(COMMAND, str(exc)) from None
        if not use:
            self.err.print(
                f"[yellow]note:[/] {changes:,} changed keys and no rewind state machine found (--state-machine, "
                f"{remote.MACHINE_ENV}): applying in this process"
            )
        return found if use else None

    def apply_remote(self, machine: str, run: Any, caller: str) -> typer.Exit:
        """Apply on the stack's rewind state machine, following it; the machine writes the summary
        and notifies the alert topic."""
        from handlers.rewind import Tally
        from safetynet.recovery import rewind_remote as remote

        doc_in = remote.execution_input(prepared=self.prepared, spec=self.spec, run=run, caller=caller)
        arn = remote.execution_arn(machine, remote.execution_name(run.run_id))
        with _progress(self.err, "rewinding on Step Functions (data files)") as bar:
            task = bar.add_task("files", total=len(self.prepared.files))
            try:
                doc = remote.run_remote(
                    self.clients, machine_arn=machine, doc=doc_in, run=run,
                    on_start=lambda a, new: self.err.print(f"{'started' if new else 'following'} {escape(a)}"),
                    on_progress=lambda p: bar.update(task, completed=p.files_done),
                )  # fmt: skip
            except KeyboardInterrupt:
                self.err.print(
                    f"[yellow]stopped following[/]: the rewind goes on on Step Functions ({escape(arn)}); its summary "
                    f"will be {escape(run.url)}summary.json (`safetynet status`). To stop it: aws stepfunctions "
                    f"stop-execution --execution-arn {escape(arn)}"
                )
                return typer.Exit(ExitCode.INTERRUPTED)
            except remote.RemoteRefused as exc:
                raise fail(COMMAND, str(exc)) from None
            except remote.RemoteFailed as exc:
                raise fail(COMMAND, str(exc), ExitCode.FAILED) from None
        self._emit(doc)
        if not self.as_json:
            render(self.out, Tally.from_json(doc), applied=True)
            for problem in doc.get("failedFiles", []):
                self.out.print(f"[red]failed data file[/] {escape(problem['file'])}: {escape(problem['cause'])}")
            self.out.print(f"audit: {escape(run.url)} (execution {escape(arn)})", soft_wrap=True)
        failed = doc.get("status") != "completed" or doc["byOutcome"]["failed"]
        return typer.Exit(ExitCode.FAILED if failed else ExitCode.OK)

    def _emit(self, doc: dict[str, Any]) -> None:
        if self.report:
            self.report.write_text(_json_text(doc))
        if self.as_json:
            emit_json(doc, keep=("counts", "samples"))


def _json_text(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, indent=2, default=str) + "\n"


def _notify(clients: Any, stack: str, project: Path, topic: str | None, doc: dict[str, Any], err: Console) -> None:
    """Publish on the alert topic (--alert-topic, $SAFETYNET_ALERT_TOPIC, or the stack's own);
    none found (an emulator, a stack without DisasterWatch) is said, never a failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    from conventions.tags import stack_tag_value
    from safetynet.recovery import rewind as flow
    from safetynet.synth import read_project

    sns = clients.get("sns")
    try:
        arn = topic or os.environ.get(flow.ALERT_TOPIC_ENV)
        if not arn:
            arn = flow.find_alert_topic(sns, stack_tag_value(str(read_project(project).get("name", "")), stack))
        if not arn:
            err.print("[yellow]note:[/] no alert topic found for this stack (pass --alert-topic): not notified")
            return
        flow.notify(sns, arn, doc)
        err.print(f"notified {escape(arn)}")
    except (ClientError, BotoCoreError) as exc:
        err.print(f"[yellow]note:[/] the notification failed ({escape(str(exc))}); the audit in the vault is complete")

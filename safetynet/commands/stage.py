"""`safetynet stage s3://.../AWSDynamoDB/<ExportId>/ --table NAME`: stage one export into a table.

The same code as the staging pipeline's tasks (guard -> validate -> [mask] -> replace | refill ->
verify), in one process, against real AWS or the endpoint in AWS_ENDPOINT_URL. Before anything is
deleted or written: the export's items must fit the table's key schema, the export must be of the
table the test table stages (its tags and the project's stack file; `--source-table-arn` or
`--allow-other-source` name another), and the stack's masking rules apply (`--unmasked` to copy
real data, with a confirmation). A replace that fails after its delete recreates the table and
refills it from its last good export. Ctrl-C or SIGTERM print the table's state and the command
that finishes the job; that command resumes from the run's journal.

Exit codes: 0 staged and verified; 1 refused, rejected or failed (the message says what the table
holds); 2 usage or configuration error (nothing was touched); 130 interrupted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from safetynet.commands.common import (
    ExitCode,
    JsonOption,
    ProjectDirOption,
    YesOption,
    aws_error_text,
    command_line,
    emit_json,
    fail,
)

COMMAND = "stage"
MASKING_KEY_ENV = "SAFETYNET_MASKING_KEY"
MASK_BUCKET_ENV = "SAFETYNET_MASK_BUCKET"
NEEDS = (
    "s3:GetObject and s3:ListBucket on the export (and s3:PutObject on the mask bucket), and on the table "
    "dynamodb:DescribeTable, ListTagsOfResource, DeleteTable, ImportTable, DescribeImport, TagResource, "
    "UpdateTable, UpdateTimeToLive, UpdateContinuousBackups, BatchWriteItem, Scan, GetItem"
)
PHASES = {"validate": "validated", "mask": "masked", "write": "written", "import": "imported"}


class StageMode(StrEnum):
    """How the table gets the export's items."""

    REPLACE = "replace"
    REFILL = "refill"


class ItemsPerSecond(ProgressColumn):
    """items/s of a task."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- items/s" if speed is None else f"{speed:,.0f} items/s", style="cyan")


def _result_table(doc: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key in ("table", "export", "stagedFrom", "mode", "modeReason", "items", "deleted", "tableCount", "sampled"):
        table.add_row(key, escape(str(doc.get(key))))
    if doc.get("resumedFrom"):
        table.add_row("resumed", escape(f"from phase {doc['resumedFrom']}"))
    for note in doc.get("notes", []):
        table.add_row("note", escape(note))
    return table


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        ItemsPerSecond(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


@dataclass(frozen=True)
class StageRequest:
    """The command's options, as the run and the rerun command line take them."""

    ref: Any
    table: str
    mode: str
    stack: str | None
    mask_config: Path | None
    mask_bucket: str | None
    unmasked: bool
    source_table_arn: str | None
    allow_other_source: str | None
    concurrency: int
    yes: bool
    force_untagged: bool
    project_dir: Path | None


def _problems(headline: str, problems: list[str], code: int = ExitCode.USAGE) -> typer.Exit:
    """Several problems, listed like config errors, on stderr."""
    err = Console(stderr=True, soft_wrap=True)
    err.print(f"[red]{COMMAND}:[/] {escape(headline)}", highlight=False)
    for p in problems:
        err.print(f"  - {escape(p)}", highlight=False)
    return typer.Exit(code)


def stage(
    url: Annotated[str, typer.Argument(help="s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/", show_default=False)],
    table: Annotated[str, typer.Option("--table", help="The test table to stage into.", show_default=False)],
    mode: Annotated[
        StageMode,
        typer.Option("--mode", help="replace (delete, then ImportTable) or refill (BatchWriteItem in place)."),
    ] = StageMode.REPLACE,
    stack: Annotated[
        str | None,
        typer.Option(
            "-s",
            "--stack",
            help="The stack the table must be a staging target of: <project>/<stack> or <stack> (default: its "
            "safetynet:staging-target tag); its stack file gives the masking rules and the source table.",
            show_default=False,
        ),
    ] = None,
    mask_config: Annotated[
        Path | None,
        typer.Option("--mask-config", help="Masking rules (path: action) instead of the stack's.", show_default=False),
    ] = None,
    mask_bucket: Annotated[
        str | None,
        typer.Option("--mask-bucket", help=f"Bucket for the masked copy (env {MASK_BUCKET_ENV}).", show_default=False),
    ] = None,
    unmasked: Annotated[
        bool, typer.Option("--unmasked", help="Copy real data although the stack declares masking (asks first).")
    ] = False,
    source_table_arn: Annotated[
        str | None,
        typer.Option("--source-table-arn", help="Accept only exports of this table ARN.", show_default=False),
    ] = None,
    allow_other_source: Annotated[
        str | None,
        typer.Option(
            "--allow-other-source",
            help="Accept exports of this table (name or ARN) instead of the one the table stages.",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Batches in flight.")] = 8,
    yes: YesOption = False,
    force_untagged: Annotated[
        bool,
        typer.Option("--force-untagged", help="Stage into a table NOT tagged as a staging target (dangerous)."),
    ] = False,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stage one export into a test table: check it fits, mask, replace or refill, verify."""
    from handlers import exports

    try:
        ref = exports.ExportRef.parse(url)
    except ValueError as exc:
        raise fail(COMMAND, str(exc)) from None
    request = StageRequest(
        ref=ref,
        table=table,
        mode=mode.value,
        stack=stack,
        mask_config=mask_config,
        mask_bucket=mask_bucket or os.environ.get(MASK_BUCKET_ENV),
        unmasked=unmasked,
        source_table_arn=source_table_arn,
        allow_other_source=allow_other_source,
        concurrency=concurrency,
        yes=yes,
        force_untagged=force_untagged,
        project_dir=project_dir,
    )
    doc = _Stage(request).run()
    if as_json:
        emit_json(doc)
    else:
        Console(soft_wrap=True).print(_result_table(doc))
        Console(stderr=True).print("[green]staged and verified[/]")


def _rerun(r: StageRequest) -> str:
    """The command that runs this staging again (and finishes it after an interruption)."""
    args: list[str | None] = ["stage", r.ref.url, "--table", r.table, "--mode", r.mode]
    for flag, value in (
        ("-s", r.stack),
        ("--mask-config", str(r.mask_config) if r.mask_config else None),
        ("--mask-bucket", r.mask_bucket),
        ("--source-table-arn", r.source_table_arn),
        ("--allow-other-source", r.allow_other_source),
        ("--project-dir", str(r.project_dir) if r.project_dir else None),
    ):
        if value:
            args += [flag, value]
    args += ["--unmasked"] if r.unmasked else []
    args += ["--force-untagged"] if r.force_untagged else []
    return command_line(*args, "-y")


class _Stage:
    """One `stage` command: what it reads before anything changes (the table, its stack file, the
    journal, the masking rules and the source), the run with its progress bars, and what it says
    when it fails or is interrupted."""

    def __init__(self, request: StageRequest) -> None:
        from safetynet.commands.common import Clients

        self.r = request
        self.err = Console(stderr=True, soft_wrap=True)
        self.clients = Clients(None)
        self.command = _rerun(request)
        self.resume: Any = None
        self.staging: Any = None
        self.store: Any = None

    def run(self) -> dict[str, Any]:
        from handlers.staging.exceptions import NotAStagingTarget
        from handlers.watch.aws import AWS_ERRORS

        try:
            self._prepare()
            return self._stage()
        except NotAStagingTarget as exc:
            self.err.print(f"[red]refused[/]: {escape(str(exc))}", highlight=False)
            raise typer.Exit(ExitCode.FAILED) from None
        except KeyboardInterrupt:
            raise self._interrupted() from None
        except typer.Abort as exc:  # Ctrl-C at the question
            if isinstance(exc.__cause__, KeyboardInterrupt):
                raise self._interrupted() from None
            raise
        except AWS_ERRORS as exc:
            from safetynet.commands.common import GLOBAL_OPTIONS

            region = GLOBAL_OPTIONS.region_used or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            text = aws_error_text(exc, region, command=COMMAND, needs=NEEDS, unchanged=self._state(), writes=True)
            raise fail(COMMAND, text, ExitCode.FAILED) from None

    # -- before anything changes ---------------------------------------------------------------

    def _prepare(self) -> None:
        from conventions.tags import STAGING_TARGET_TAG
        from handlers.staging.recovery import describe
        from handlers.staging.target import TargetTable, check_tags, table_tags
        from safetynet.paths import default_project_dir
        from safetynet.staging.declared import DeclarationError, declared_for, project_name, source_for, split_stack

        r, ddb = self.r, self.clients.get("dynamodb")
        desc = describe(ddb, r.table)
        tags = table_tags(ddb, desc["TableArn"]) if desc else {}
        project_dir = r.project_dir or default_project_dir()
        try:
            project = project_name(project_dir)
            declared = declared_for(r.table, r.stack or tags.get(STAGING_TARGET_TAG), project_dir)
            if r.stack:
                owner = "/".join(split_stack(r.stack, project))
            else:
                owner = tags.get(STAGING_TARGET_TAG) or (declared.stack if declared else "(untagged)")
            self.store = self._store(declared)
            journal = self.store.load()
            if journal is not None and journal.touched:
                self._prepare_resume(journal)
                return
            if desc is None:
                raise fail(COMMAND, f"table {r.table} not found (staging writes into an existing test table)")
        except DeclarationError as exc:
            raise _problems(
                "the stack's declaration of the table cannot be read; nothing was touched:", exc.problems
            ) from None
        # The guard first: a table staging must never write to is refused before anything else.
        check_tags(r.table, tags, owner, force_untagged=r.force_untagged)
        try:
            source = source_for(
                r.table, declared, source_table_arn=r.source_table_arn, allow_other_source=r.allow_other_source
            )
        except DeclarationError as exc:
            raise fail(COMMAND, "; ".join(exc.problems)) from None
        from safetynet.staging.live import target_from_table

        target = target_from_table(
            ddb,
            r.table,
            stack=owner,
            mode=r.mode,  # type: ignore[arg-type]
            source_table_arn=source.table_arn,
            logical_name=declared.logical_name if declared else None,
        )
        rules, key, bucket, described = self._masking(declared, target.key_types)
        self.target: TargetTable = replace(target, mask=rules)
        self.source, self.key, self.bucket = source, key, bucket
        question = (
            f"Stage {r.ref.url} into {r.table} ({self.target.mode}, {described}), checked against "
            f"{source.expected()}? Every item of the table is replaced."
        )
        from safetynet.commands.common import confirm

        confirm(COMMAND, question, yes=r.yes, unchanged=f"{r.table} was not touched")

    def _prepare_resume(self, journal: Any) -> None:
        from handlers.staging.fit import SourceCheck
        from handlers.staging.target import TargetTable
        from safetynet.commands.common import confirm

        if journal.export != self.r.ref.url:
            raise fail(
                COMMAND,
                f"{self.r.table} is in the middle of staging another export ({journal.export}: "
                f"{journal.describe()}); {journal.state_text()}. Finish that first: {journal.command}",
                ExitCode.FAILED,
            )
        self.resume = journal
        self.target = TargetTable.from_json(journal.target)
        self.source, self.key, self.bucket = SourceCheck(table_arn=self.target.source_table_arn), b"", None
        self.err.print(f"resuming an interrupted staging: {escape(journal.state_text())}", highlight=False)
        confirm(COMMAND, f"Finish staging {journal.export} into {self.r.table}?", yes=self.r.yes)

    def _store(self, declared: Any) -> Any:
        """The journal's store: the stack's ledger when it exists, else a file of this machine."""
        from botocore.exceptions import ClientError

        from safetynet.commands.common import GLOBAL_OPTIONS
        from safetynet.staging.journal import FileStore, LedgerStore, ledger_exists, state_dir

        ddb = self.clients.get("dynamodb")
        if declared is not None:
            try:
                if ledger_exists(ddb, declared.ledger):
                    return LedgerStore(ddb, declared.ledger, self.r.table, declared.logical_name)
            except ClientError:
                pass  # not allowed to read it: keep the journal on this machine
        endpoint = GLOBAL_OPTIONS.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        return FileStore(state_dir(ddb.meta.region_name, endpoint), self.r.table)

    def _masking(self, declared: Any, key_types: dict[str, str]) -> tuple[list[dict[str, Any]], bytes, str | None, str]:
        """(rules, HMAC key, mask bucket, description); exit 2 listing every problem."""
        from safetynet.commands.common import confirm
        from safetynet.staging.masks import MaskConfigError, mask_inputs, select_rules

        r = self.r
        declared_rules = list(declared.mask_rules) if declared else []
        where = f"{declared.stack_file.name} safetynet:staging.mask.{declared.logical_name}" if declared else ""
        if r.mask_config and r.unmasked:
            raise fail(COMMAND, "pass either --mask-config or --unmasked, not both")
        if r.unmasked:
            if declared_rules:
                confirm(
                    COMMAND,
                    f"Copy UNMASKED data into {r.table}, whose stack masks it with "
                    f"{len(declared_rules)} rules ({where})?",
                    yes=r.yes,
                    unchanged=f"{r.table} was not touched",
                )
            return [], b"", None, "UNMASKED (--unmasked)" if declared_rules else "unmasked: no rules declared"
        try:
            rules, source = select_rules(declared_rules, where, r.mask_config, key_types)
            if not rules:
                return [], b"", None, "unmasked: no rules declared"
            described = f"masked by {len(rules)} rules from {source}"
            key, bucket = mask_inputs(
                rules,
                r.mask_bucket,
                os.environ.get(MASKING_KEY_ENV),
                bucket_env=MASK_BUCKET_ENV,
                key_env=MASKING_KEY_ENV,
            )
        except MaskConfigError as exc:
            raise _problems(f"{r.table} cannot be staged masked; nothing was touched:", exc.problems) from None
        self._check_bucket(bucket)
        return rules, key, bucket, described

    def _check_bucket(self, bucket: str | None) -> None:
        """A mask bucket that does not exist is a usage error, found before any work."""
        from botocore.exceptions import ClientError

        from safetynet.commands.common import aws_error_code

        if not bucket:
            return
        try:
            self.clients.get("s3").head_bucket(Bucket=bucket)
        except ClientError as exc:
            if aws_error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
                raise fail(
                    COMMAND, f"the mask bucket {bucket} does not exist (--mask-bucket / {MASK_BUCKET_ENV})"
                ) from None
            raise

    # -- the run -----------------------------------------------------------------------------------

    def _stage(self) -> dict[str, Any]:
        from handlers import exports
        from handlers.exports.batch_writer import WriteIncomplete
        from handlers.staging.exceptions import ExportRejected, NotAStagingTarget, StagingError
        from safetynet.staging.flow import RecoveredFailure, StagingRun

        r, err = self.r, self.err
        tasks: dict[str, TaskID] = {}
        try:
            with _progress(err) as progress:

                def on_progress(phase: str, n: int, total: int | None) -> None:
                    if phase in PHASES:
                        if phase not in tasks:
                            tasks[phase] = progress.add_task(PHASES[phase], total=total)
                        progress.advance(tasks[phase], n)

                self.staging = StagingRun(
                    self.clients.get("s3"),
                    self.clients.get("dynamodb"),
                    r.ref,
                    self.target,
                    source=self.source,
                    store=self.store,
                    resume=self.resume,
                    command=self.command,
                    masking_key=self.key,
                    mask_bucket=self.bucket,
                    force_untagged=r.force_untagged,
                    concurrency=r.concurrency,
                    on_progress=on_progress,
                )
                doc: dict[str, Any] = self.staging.run().to_json()
                return doc
        except ExportRejected as exc:
            err.print(f"[red]export rejected[/]; {escape(r.table)} was not touched:")
            for p in exc.problems[:12]:
                err.print(f"  [red]-[/] {escape(p)}", highlight=False)
            if len(exc.problems) > 12:
                err.print(f"  ... and {len(exc.problems) - 12} more", highlight=False)
        except NotAStagingTarget:
            raise  # refused: said by run()
        except RecoveredFailure as exc:
            err.print(f"[red]staging failed[/]: {escape(str(exc))}", highlight=False)
        except (StagingError, WriteIncomplete, exports.ExportError, ValueError) as exc:
            err.print(f"[red]staging failed[/]: {escape(str(exc))}; {escape(self._state())}", highlight=False)
        raise typer.Exit(ExitCode.FAILED)

    # -- what the table is left as --------------------------------------------------------------

    def _journal(self) -> Any:
        return self.staging.journal if self.staging is not None else self.resume

    def _state(self) -> str:
        journal = self._journal()
        if journal is None or not journal.touched:
            return f"{self.r.table} was not changed"
        where = f" (journal: {self.store.where})" if self.store is not None else ""
        return f"{journal.state_text()}; finish with: {self.command}{where}"

    def _interrupted(self) -> typer.Exit:
        journal = self._journal()
        if journal is None or not journal.touched:
            state = f"{self.r.table} was not changed. Stage it with: {self.command}"
        else:
            state = self._state()
        self.err.print(f"[yellow]interrupted[/]: {escape(state)}", highlight=False)
        return typer.Exit(ExitCode.INTERRUPTED)

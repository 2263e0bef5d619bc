"""`safetynet refill -s <stack> --table T`: load an export into an empty table with BatchWriteItem.

For tables that ImportTable cannot create (local secondary indexes) when no PITR or backup is
reachable: in a DR stack (`safetynet:disasterRecovery`) the newest valid export in the replica
bucket, checked against the source region's table, goes into the table `pulumi up` just created.
It asks before writing (`-y/--yes` does not ask). Interrupted (Ctrl-C, SIGTERM), it prints the
state of the table and the command that finishes the job: the same command, which resumes from the
table's journal (safetynet/recovery/refill.py) and skips the data files already written.
Exit codes: 0 refilled, 1 nothing usable / table refused / incomplete / AWS error / declined,
2 usage or config error, 130 interrupted.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from safetynet.commands.common import (
    Clients,
    ExitCode,
    JsonOption,
    ProjectDirOption,
    StackArgument,
    StackOption,
    YesOption,
    aws_error_text,
    command_line,
    confirm,
    emit_json,
    fail,
    interrupted,
    load_config,
    resolve_stack,
    vault_bucket_or_fail,
)

COMMAND = "refill"
NEEDS = (
    "dynamodb:DescribeTable, Scan, BatchWriteItem, ListTagsOfResource, TagResource and UntagResource on the "
    "table; s3:ListBucket and s3:GetObject on the bucket with the exports, kms:Decrypt on its key"
)


def refill(
    stack_arg: StackArgument = None,
    stack_opt: StackOption = None,
    table: Annotated[str | None, typer.Option("--table", metavar="NAME", help="Logical table name to refill.")] = None,
    export: Annotated[
        str | None,
        typer.Option(
            "--export", metavar="S3_URL", help="s3://.../AWSDynamoDB/<ExportId>/ (default: the newest valid one)."
        ),
    ] = None,
    vault_bucket: Annotated[
        str | None,
        typer.Option(
            "--vault-bucket",
            metavar="BUCKET",
            envvar="SAFETYNET_VAULT_BUCKET",
            help="Bucket with the exports (default: a DR stack's replicaBucket).",
        ),
    ] = None,
    allow_non_empty: Annotated[
        bool, typer.Option("--allow-non-empty", help="Write into a table that already has items.")
    ] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Load an export into an empty table (for tables ImportTable cannot create, e.g. with LSIs)."""
    from handlers.exports.layout import ExportRef
    from safetynet.paths import default_project_dir

    stack = resolve_stack(COMMAND, stack_arg, stack_opt)
    if not table:
        raise fail(COMMAND, "which table? pass --table NAME (a logical name of safetynet:tables)")
    if export is not None:
        try:
            export = ExportRef.parse(export).url
        except ValueError as exc:
            raise fail(COMMAND, f"--export: {exc}") from None
    if as_json and not yes:
        raise fail(COMMAND, "--json needs --yes: a script cannot answer the confirmation")
    cfg, region = load_config(COMMAND, project_dir or default_project_dir(), stack)
    specs = {t.name: t for t in cfg.tables}
    if table not in specs:
        raise fail(COMMAND, f"unknown table {table}; configured: {', '.join(specs) or 'none'}")
    run = _Run(
        stack=stack,
        table=table,
        spec=specs[table],
        physical=cfg.physical_name(specs[table]),
        bucket=vault_bucket_or_fail(COMMAND, cfg, vault_bucket),
        cfg=cfg,
        clients=Clients(region),
        rerun=[
            *("refill", "-s", stack, "--table", table),
            *(("--vault-bucket", vault_bucket) if vault_bucket else ()),
            *(("--allow-non-empty",) if allow_non_empty else ()),
            *(("--project-dir", str(project_dir)) if project_dir else ()),
        ],
    )
    run.execute(export=export, allow_non_empty=allow_non_empty, yes=yes, as_json=as_json)


class _Run:
    """One refill: checks, the question, the writes, and what an interruption leaves."""

    def __init__(
        self,
        *,
        stack: str,
        table: str,
        spec: Any,
        physical: str,
        bucket: str,
        cfg: Any,
        clients: Clients,
        rerun: list[str],
    ) -> None:
        from safetynet.recovery.refill import RefillState

        self.stack, self.table, self.spec, self.physical = stack, table, spec, physical
        self.bucket, self.cfg, self.clients, self.rerun = bucket, cfg, clients, rerun
        self.state = RefillState()
        self.report: Any = None
        self.err = Console(stderr=True, soft_wrap=True)

    def execute(self, *, export: str | None, allow_non_empty: bool, yes: bool, as_json: bool) -> None:
        from handlers.exports.batch_writer import WriteIncomplete
        from handlers.exports.layout import ExportError
        from handlers.watch.aws import AWS_ERRORS
        from safetynet.recovery.refill import RefillError

        try:
            written = self._refill(export=export, allow_non_empty=allow_non_empty, yes=yes)
        except KeyboardInterrupt:
            raise self._interrupted() from None
        except typer.Abort as exc:  # Ctrl-C at the question
            if isinstance(exc.__context__, KeyboardInterrupt):
                raise self._interrupted() from None
            raise
        except (RefillError, WriteIncomplete, ExportError) as exc:
            raise fail(COMMAND, f"{exc}{self._left()}", ExitCode.FAILED) from None
        except AWS_ERRORS as exc:
            region = self.clients.region or self.clients.get("dynamodb").meta.region_name
            left = self._left().removeprefix("; ") or f"{self.physical} was not written"
            text = aws_error_text(exc, region, command=COMMAND, needs=NEEDS, unchanged=left, writes=True)
            raise fail(COMMAND, text, ExitCode.FAILED) from None
        report = self.report
        if as_json:
            emit_json(
                {
                    "stack": self.stack,
                    "table": self.table,
                    "physical_name": self.physical,
                    "export": report.ref.url,
                    "export_time": report.summary.export_time.isoformat() if report.summary else None,
                    "items": written,
                    "items_written": self.state.items_written,
                    "data_files": self.state.files_total,
                    "resumed_after_files": self.state.resumed_from,
                }
            )
            return
        resumed = (
            f" (resumed: {self.state.resumed_from} of {self.state.files_total} data files were already written)"
            if self.state.resumed_from
            else ""
        )
        Console().print(
            f"[green]{written} items written to {escape(self.physical)}; count matches the export[/]{escape(resumed)}"
        )

    def _refill(self, *, export: str | None, allow_non_empty: bool, yes: bool) -> int:
        from conventions.vault import export_prefix
        from safetynet.recovery.refill import check_target, choose_export
        from safetynet.recovery.refill import refill as run_refill

        ddb, s3 = self.clients.get("dynamodb"), self.clients.get("s3")
        account = self.clients.get("sts").get_caller_identity()["Account"]
        dr = self.cfg.disaster_recovery
        expected = (
            dr.source_table_arn(self.physical, account)
            if dr is not None
            else f"arn:aws:dynamodb:{ddb.meta.region_name}:{account}:table/{self.physical}"
        )
        target = check_target(ddb, self.physical, self.spec.key_schema(), allow_non_empty=allow_non_empty)
        journal = target.journal
        if journal is not None:
            self.err.print(
                f"resuming: {escape(self.physical)} is in the middle of a refill from export "
                f"{escape(journal.export_id)} ({journal.done} of {journal.total} data files written)"
            )
        choice = choose_export(
            s3,
            bucket=self.bucket,
            prefix=export_prefix(self.physical),
            expected_table_arn=expected,
            export_url=export,
            journal=journal,
        )
        for url, reason in choice.skipped:
            self.err.print(f"[yellow]skipped[/] {escape(url)}: {escape(reason)}")
        self.report = report = choice.report
        when = report.summary.export_time.isoformat() if report.summary else "?"
        source = f"{report.ref.url} ({report.item_count} items, {when})"
        self.err.print(f"refilling {escape(self.physical)} from {escape(source)}")
        confirm(
            COMMAND,
            f"Write the {report.item_count} items of export {report.ref.export_id} into table {self.physical} "
            f"(region {ddb.meta.region_name})?",
            yes=yes,
            unchanged=f"{self.physical} unchanged",
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
        ) as progress:
            already = sum(f.item_count for f in report.files[: journal.done]) if journal else 0
            task = progress.add_task(self.physical, total=report.item_count, completed=already)
            return run_refill(
                ddb,
                s3,
                self.physical,
                report,
                table_arn=target.arn,
                journal=journal,
                state=self.state,
                on_progress=lambda n: progress.advance(task, n),
            )

    def _left(self) -> str:
        """What the table holds after a failure, once the journal exists ('' before)."""
        s = self.state
        if not s.journal_exists:
            return ""
        return (
            f"; {self.physical} is incomplete: {s.files_done} of {s.files_total} data files of export "
            f"{s.export_id} are written; finish with: {command_line(*self._rerun())}"
        )

    def _rerun(self) -> list[str]:
        """The command that finishes the job: this one, pinned to the export being loaded."""
        pinned = ["--export", self.report.ref.url] if self.report is not None else []
        return [*self.rerun, *pinned]

    def _interrupted(self) -> typer.Exit:
        s = self.state
        if not s.journal_exists:
            state = f"nothing was written: {self.physical} is as it was"
        else:
            state = (
                f"{self.physical} is incomplete, do not point applications at it: {s.files_done} of "
                f"{s.files_total} data files of export {s.export_id} are completely written "
                f"({s.items_written} items by this run); its journal (tag safetynet:refill) records "
                f"{s.files_journaled}, and a rerun writes the rest"
            )
        return interrupted(f"{state}. Finish with: {command_line(*self._rerun())}")

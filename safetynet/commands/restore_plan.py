"""`safetynet restore-plan -s <stack>`: choose each table's restore source and write it into the
stack file, for `pulumi refresh` + `pulumi up` to recreate the table from it (and, for the vault's
chain, `safetynet replay` to bring it to the chain's last minute).

Every option is checked before anything is inspected (exit 2). Then it reads what exists in the
stack's region (tables, PITR windows, DynamoDB/AWS Backup/system backups, the exports and
incremental windows in the vault), prints the candidates per table, validates what it chooses,
and writes `safetynet:restore` for every table it could plan (comments and key order kept),
reporting the others; `--all-or-nothing` writes nothing unless every table has a source. The
file is replaced atomically at the very end: an interruption (Ctrl-C, SIGTERM) leaves it as it
was. It never deletes or changes anything in AWS.

The vault bucket name is a stack output, not config: pass `--vault-bucket` (e.g.
`--vault-bucket "$(pulumi stack output vaultBucketName -s prod)"`) or set SAFETYNET_VAULT_BUCKET.
A DR stack reads its `disasterRecovery.replicaBucket` and, to measure the replication lag, the
source vault (`--source-vault-bucket`, default SAFETYNET_VAULT_BUCKET) in the source region.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from safetynet.commands.common import (
    VAULT_ENV,
    ExitCode,
    JsonOption,
    StackArgument,
    StackOption,
    aws_error_text,
    emit_json,
    fail,
    load_config,
    resolve_stack,
)
from safetynet.recovery.sources import Source

COMMAND = "restore-plan"
RESTORE_KEY = "safetynet:restore"
READS = (
    "dynamodb:DescribeTable, DescribeContinuousBackups, ListBackups, DescribeBackup, "
    "backup:ListRecoveryPointsByResource, s3:ListBucket and s3:GetObject on the vault"
)


@dataclass(frozen=True)
class Options:
    """The checked options (everything that can be refused before AWS is read)."""

    stack: str
    project: Path
    path: Path
    cfg: Any
    region: str | None
    wanted: list[str]
    request: Any
    vault_bucket: str | None
    source_vault_bucket: str | None


def _parse_at(text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise fail(COMMAND, f"--at {text!r} is not an ISO-8601 time; write e.g. 2026-11-27T08:00:00Z") from None
    if at.tzinfo is None:
        raise fail(COMMAND, f"--at {text!r} needs a time zone; write e.g. {text}Z")
    at = at.astimezone(UTC)
    if at > now:
        raise fail(
            COMMAND,
            f"--at {at:%Y-%m-%dT%H:%M:%SZ} is in the future (now {now:%Y-%m-%dT%H:%M:%SZ}): "
            "leave --at out to restore the newest state",
        )
    return at


def _check_suffix(suffix: str | None, cfg: Any, wanted: list[str]) -> None:
    from components.config.restore import SUFFIX_RE

    if suffix is None:
        return
    if not SUFFIX_RE.match(suffix):
        raise fail(COMMAND, f"--target-suffix {suffix!r}: use 1-64 of a-z A-Z 0-9 _ . - (e.g. -restored)")
    specs = {t.name: t for t in cfg.tables}
    too_long = [n for n in wanted if len(cfg.physical_name(specs[n]) + suffix) > 255]
    if too_long:
        raise fail(COMMAND, f"--target-suffix {suffix!r}: table names longer than 255 for {', '.join(too_long)}")


def _check_backup_arn(arn: str | None, source: str | None) -> str | None:
    from components.config.restore import AWS_BACKUP_RECOVERY_POINT_RE, DYNAMODB_BACKUP_ARN_RE

    if arn is None:
        return source
    if source not in (None, "backup"):
        raise fail(COMMAND, "--backup-arn goes with --source backup (or no --source)")
    if AWS_BACKUP_RECOVERY_POINT_RE.match(arn):
        raise fail(
            COMMAND,
            f"{arn} is an AWS Backup recovery point (advanced features): restore it with aws backup "
            "start-restore-job, then adopt the table",
        )
    if not DYNAMODB_BACKUP_ARN_RE.match(arn):
        raise fail(
            COMMAND, f"--backup-arn {arn!r} is not a DynamoDB backup ARN (arn:aws:dynamodb:...:table/T/backup/ID)"
        )
    return "backup"


def _options(
    *,
    stack: str,
    project: Path,
    path: Path,
    tables: list[str] | None,
    source: Source | None,
    at: str | None,
    target_suffix: str | None,
    backup_arn: str | None,
    vault_bucket: str | None,
    source_vault_bucket: str | None,
) -> Options:
    """Every check that needs no AWS call, in the order a person fixes them; exit 2 at the first."""
    from safetynet.recovery.planner import PlanRequest

    now = datetime.now(UTC)
    when = _parse_at(at, now)
    kind = _check_backup_arn(backup_arn, source.value if source else None)
    # The restore block is left out: it may be what is being fixed.
    cfg, region = load_config(COMMAND, project, stack, without=("restore",))
    specs = {t.name: t for t in cfg.tables}
    wanted = list(dict.fromkeys(tables)) if tables else list(specs)
    unknown = [t for t in wanted if t not in specs]
    if unknown:
        raise fail(COMMAND, f"unknown table(s) {', '.join(unknown)}; configured: {', '.join(specs) or 'none'}")
    _check_suffix(target_suffix, cfg, wanted)
    env_bucket = os.environ.get(VAULT_ENV) or None
    dr = cfg.disaster_recovery
    if dr is not None:
        # A DR stack restores from the replica; the env var names the source vault (prod's).
        bucket, source_vault = vault_bucket or dr.replica_bucket, source_vault_bucket or env_bucket
    else:
        bucket, source_vault = vault_bucket or env_bucket, None
    if kind in ("latest", "export", "vault") and not bucket:
        raise fail(
            COMMAND,
            'exports need the vault bucket: pass --vault-bucket "$(pulumi stack output vaultBucketName)" '
            f"or set {VAULT_ENV}",
        )
    request = PlanRequest(source=kind, at=when, target_suffix=target_suffix, backup_arn=backup_arn, stack=stack)
    return Options(stack, project, path, cfg, region, wanted, request, bucket, source_vault)


YesWrite = Annotated[bool, typer.Option("-y", "--yes", "--write", help="Write without asking.")]


def restore_plan(
    stack_arg: StackArgument = None,
    *,
    stack: StackOption = None,
    table: Annotated[
        list[str] | None, typer.Option("--table", help="Logical table name (repeatable; default: all).")
    ] = None,
    source: Annotated[
        Source | None,
        typer.Option(
            "--source",
            help="latest/export: a full export; vault: a full export + the incremental windows after it "
            "(replayed after pulumi up); pitr; backup. Default: the freshest usable source.",
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="ISO-8601 time: PITR target, or the newest state at or before it.", show_default=False
        ),
    ] = None,
    target_suffix: Annotated[
        str | None,
        typer.Option("--target-suffix", help="Restore into <table><suffix> beside the live table.", show_default=False),
    ] = None,
    backup_arn: Annotated[
        str | None,
        typer.Option(
            "--backup-arn", help="Restore from this DynamoDB backup (with --source backup).", show_default=False
        ),
    ] = None,
    vault_bucket: Annotated[
        str | None,
        typer.Option(
            "--vault-bucket",
            help=f"The vault bucket (stack output vaultBucketName); env {VAULT_ENV}. DR stacks: the replica bucket.",
            show_default=False,
        ),
    ] = None,
    source_vault_bucket: Annotated[
        str | None,
        typer.Option(
            "--source-vault-bucket",
            help=f"DR stacks: the source stack's vault, to measure the replication lag; env {VAULT_ENV}.",
            show_default=False,
        ),
    ] = None,
    all_or_nothing: Annotated[
        bool, typer.Option("--all-or-nothing", help="Write nothing unless every table has a usable source.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; write nothing.")] = False,
    yes: YesWrite = False,
    json_out: JsonOption = False,
    clear: Annotated[
        bool,
        typer.Option("--clear", help="Remove the restore block (or the --table entries) after recovery."),
    ] = False,
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", help="Folder with Pulumi.yaml (default: this project).", show_default=False),
    ] = None,
) -> None:
    """Choose each table's restore source and write it under safetynet:restore.

    Exit codes: 0 every table planned (and written unless --dry-run), 1 a table without a usable
    source (the others are written unless --all-or-nothing), declined, or an AWS error; 2 usage
    or config error; 130 interrupted (the stack file is unchanged)."""
    from safetynet.paths import default_project_dir

    name = resolve_stack(COMMAND, stack_arg, stack)
    project = (project_dir or default_project_dir()).resolve()
    path = project / f"Pulumi.{name}.yaml"
    if not path.is_file():
        raise fail(COMMAND, f"{path} not found; pass --project-dir or choose another stack")
    out = Console(stderr=json_out, soft_wrap=False)
    if clear:
        _guarded(path, lambda: _clear(path, table, yes, out))
        return
    opts = _options(
        stack=name,
        project=project,
        path=path,
        tables=table,
        source=source,
        at=at,
        target_suffix=target_suffix,
        backup_arn=backup_arn,
        vault_bucket=vault_bucket,
        source_vault_bucket=source_vault_bucket,
    )
    code = _guarded(path, lambda: _plan_and_write(opts, out, all_or_nothing, dry_run, yes, json_out))
    raise typer.Exit(code)


def _guarded(path: Path, run: Any) -> Any:
    """Run `run`; an interruption or an AWS error ends with the stack file untouched and says so."""
    import click
    from botocore.exceptions import BotoCoreError, ClientError

    from safetynet.stack_yaml import StackFileError

    err = Console(stderr=True, soft_wrap=True)
    # A prompt ended by Ctrl-C or end of input raises click's Abort, or typer's own (typer >= 0.20).
    aborts = (click.exceptions.Abort, getattr(typer, "Abort", click.exceptions.Abort))
    before = path.read_bytes()
    try:
        return run()
    except StackFileError as exc:
        raise fail(COMMAND, str(exc)) from None
    except (KeyboardInterrupt, *aborts) as exc:
        if isinstance(exc, aborts) and not isinstance(exc.__context__, KeyboardInterrupt):
            err.print(f"nothing written: {path.name} is unchanged")
            raise typer.Exit(ExitCode.FAILED) from None
        if path.read_bytes() != before:  # stopped after the one-step replace: the file is whole
            err.print(f"[yellow]{COMMAND} interrupted[/] after {escape(path.name)} was written in full")
        else:
            err.print(
                f"[yellow]{COMMAND} interrupted[/]: nothing written, {escape(path.name)} is unchanged; "
                "run the same command again to plan and write it"
            )
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except (ClientError, BotoCoreError) as exc:
        text = aws_error_text(
            exc, None, command=COMMAND, needs=READS, unchanged=f"nothing written, {path.name} is unchanged"
        )
        err.print(f"[red]{COMMAND}:[/] {escape(text)}")
        raise typer.Exit(ExitCode.FAILED) from None


def _plan_and_write(opts: Options, out: Console, all_or_nothing: bool, dry_run: bool, yes: bool, json_out: bool) -> int:
    from safetynet.recovery import plan_report
    from safetynet.recovery.plan_run import plan_all, region_down_risks

    plans = plan_all(opts)
    now = datetime.now(UTC)
    risks = region_down_risks(opts, plans, now) if opts.cfg.disaster_recovery is not None else {}
    for part in plan_report.render(plans, risks, vault_bucket=opts.vault_bucket, width=out.width):
        out.print(part)
    planned = [p for p in plans if p.chosen is not None]
    missing = [p for p in plans if p.chosen is None]
    entries, replays = _entries(opts, planned)
    written = False
    if missing:
        names = ", ".join(p.facts.logical for p in missing)
        Console(stderr=True).print(f"[red]{COMMAND}:[/] no usable source for {escape(names)} (see above)")
    if all_or_nothing and missing:
        Console(stderr=True).print(f"nothing written (--all-or-nothing): {opts.path.name} is unchanged")
    elif not planned:
        Console(stderr=True).print(f"nothing written: {opts.path.name} is unchanged")
    elif dry_run:
        _show_block(out, opts.path, entries)
        out.print(f"dry run: nothing written, {opts.path.name} is unchanged")
    else:
        written = _write(opts, planned, entries, yes, out, now)
        if written:
            _next_steps(out, opts, replays, missing)
    if json_out:
        emit_json(
            {
                "stack": opts.stack,
                "stackFile": str(opts.path),
                "region": opts.region,
                "vaultBucket": opts.vault_bucket,
                "dryRun": dry_run,
                "written": written,
                "tables": [
                    plan_report.plan_json(
                        p,
                        entry=entries.get(p.facts.logical),
                        replay=replays.get(p.facts.logical),
                        risk=risks.get(p.facts.logical),
                    )
                    for p in plans
                ],
                "notPlanned": [p.facts.logical for p in missing],
                "unavailable": plan_report.unavailable_lines(plans),
            }
        )
    if missing or (not written and not dry_run):
        return ExitCode.FAILED
    return ExitCode.OK


def _entries(opts: Options, planned: list[Any]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    from safetynet.recovery.planner import restore_entry
    from safetynet.recovery.vault_chain import replay_command

    suffix = opts.request.target_suffix
    specs = {t.name: t for t in opts.cfg.tables}
    entries, replays = {}, {}
    for p in planned:
        logical = p.facts.logical
        entries[logical] = restore_entry(p, suffix)
        if p.chosen.kind == "vault" and p.chosen.chain is not None:
            target = opts.cfg.physical_name(specs[logical]) + suffix if suffix else None
            replays[logical] = replay_command(opts.stack, logical, p.chosen.chain, target)
    return entries, replays


def _show_block(out: Console, path: Path, entries: dict[str, dict[str, Any]]) -> None:
    lines = [f"  {name}:" + "".join(f"\n    {k}: {v}" for k, v in entry.items()) for name, entry in entries.items()]
    out.print(f"[bold]{RESTORE_KEY}[/] for {escape(path.name)}:")
    out.print(escape("\n".join(lines)), soft_wrap=True)


def _check_written(project_dir: Path, stack: str, text: str) -> None:
    """Validate the new file's config as the program will read it, before it replaces the file."""
    import tempfile

    from components.config.base import ConfigError
    from components.config.loading import decode_pulumi_config, parse_stack_config
    from safetynet.synth import read_stack_config

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        (tmp_dir / "Pulumi.yaml").write_text((project_dir / "Pulumi.yaml").read_text())
        (tmp_dir / f"Pulumi.{stack}.yaml").write_text(text)
        try:
            parse_stack_config(decode_pulumi_config(read_stack_config(tmp_dir, stack)[0]))
        except ConfigError as exc:
            raise fail(COMMAND, f"the planned restore block would be invalid, nothing written:\n{exc}", 1) from None


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step (a temporary file beside it, then a rename): an
    interruption leaves either the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(path.stat().st_mode & 0o777)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _confirm(question: str, yes: bool) -> bool:
    return yes or typer.confirm(question, default=False, err=True)


def _write(
    opts: Options, planned: list[Any], entries: dict[str, dict[str, Any]], yes: bool, out: Console, now: datetime
) -> bool:
    from safetynet import stack_yaml
    from safetynet.recovery.plan_report import comment

    comments = {p.facts.logical: comment(p, now) for p in planned}
    doc = stack_yaml.load(opts.path)
    stack_yaml.set_map_entries(doc, RESTORE_KEY, entries, comments)
    text = stack_yaml.dump(doc)
    _check_written(opts.project, opts.stack, text)
    _show_block(out, opts.path, entries)
    if not _confirm(f"Write this into {opts.path.name}?", yes):
        Console(stderr=True).print(f"nothing written: {opts.path.name} is unchanged")
        return False
    atomic_write(opts.path, text)
    out.print(f"written: {escape(opts.path.name)} ({', '.join(entries)})")
    return True


def _next_steps(out: Console, opts: Options, replays: dict[str, str], missing: list[Any]) -> None:
    steps = [f"pulumi refresh -s {opts.stack}", f"pulumi up -s {opts.stack}", *replays.values()]
    out.print("[bold]Next:[/]")
    for i, step in enumerate(steps, start=1):
        out.print(f"  {i}. {escape(step)}", soft_wrap=True)
    if missing:
        out.print(f"  not planned: {', '.join(p.facts.logical for p in missing)} (see above)")
    out.print(f"  after recovery: safetynet restore-plan -s {opts.stack} --clear", soft_wrap=True)


def _clear(path: Path, tables: list[str] | None, yes: bool, out: Console) -> None:
    from safetynet import stack_yaml

    doc = stack_yaml.load(path)
    block = doc["config"].get(RESTORE_KEY)
    if not block:
        out.print(f"no {RESTORE_KEY} block in {path.name}: nothing to clear")
        return
    names = list(tables) if tables else None
    preview = stack_yaml.remove_map_entries(doc, RESTORE_KEY, names)
    if not preview:
        out.print(f"none of {', '.join(tables or [])} is in {RESTORE_KEY}: nothing to clear")
        return
    if not _confirm(f"Remove the restore source of {', '.join(preview)} from {path.name}?", yes):
        Console(stderr=True).print(f"nothing written: {path.name} is unchanged")
        raise typer.Exit(ExitCode.FAILED)
    atomic_write(path, stack_yaml.dump(doc))
    out.print(f"removed the restore source of {', '.join(preview)} from {path.name}")

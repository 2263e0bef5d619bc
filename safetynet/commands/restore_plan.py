"""`safetynet restore-plan <stack>`: choose each table's restore source and write it into the
stack file, for `pulumi refresh` + `pulumi up` to recreate the table from it.

It reads the stack's tables from `Pulumi.<stack>.yaml`, inspects what exists in the stack's
region (tables, PITR windows, DynamoDB/AWS Backup/system backups, exports in the vault), prints
the candidates per table, validates the chosen export in full, and writes `safetynet:restore`
(comments and key order kept). It never deletes or changes anything in AWS.

The vault bucket name is a stack output, not config: pass `--vault-bucket` (e.g.
`--vault-bucket "$(pulumi stack output vaultBucketName -s prod)"`) or set SAFETYNET_VAULT_BUCKET.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from safetynet.commands.common import Clients, load_config
from safetynet.paths import default_project_dir

RESTORE_KEY = "safetynet:restore"


def _fail(message: str, code: int = 2) -> typer.Exit:
    Console(stderr=True).print(f"[red]restore-plan:[/] {escape(message)}")
    return typer.Exit(code)


def _parse_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"--at {text!r} is not an ISO-8601 time; write e.g. 2026-11-27T08:00:00Z") from None
    if at.tzinfo is None:
        raise _fail(f"--at {text!r} needs a time zone; write e.g. {text}Z")
    return at.astimezone(UTC)


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
            raise _fail(f"the planned restore block would be invalid, nothing written:\n{exc}", 1) from None


def _candidate_table(plan: Any, now: datetime) -> Table:
    from handlers.exports.layout import human_age
    from safetynet.recovery.planner import data_at_risk, human_size

    f = plan.facts
    state = f"live, {f.item_count} items" if f.exists else "deleted"
    t = Table(title=f"[bold]{escape(f.logical)}[/] ({escape(f.physical)}, {state})", title_justify="left")
    for col in ("", "kind", "time", "age", "items", "size", "data at risk", "status"):
        t.add_column(col)
    for c in plan.candidates:
        mark = "[green]>>[/]" if c is plan.chosen else ""
        when = c.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if c.time else "-"
        age = human_age((now - c.time).total_seconds()) if c.time else "-"
        if c is plan.chosen:
            status = "[green]chosen[/]" + (" (validated)" if c.validated else "")
        elif c.unusable:
            status = f"[red]skipped:[/] {escape(c.unusable)}"
        else:
            status = "usable" + (" (validated)" if c.validated else "")
        items = "-" if c.item_count is None else str(c.item_count)
        t.add_row(
            mark,
            escape(c.label),
            when,
            age,
            items,
            human_size(c.size_bytes),
            data_at_risk(plan, c),
            status,
        )
    return t


def _comment(plan: Any, now: datetime) -> str:
    c = plan.chosen
    when = c.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if c.time else "given"
    extra = ", validated" if c.validated else ""
    items = f", {c.item_count} items" if c.item_count is not None else ""
    return f"restore-plan {now.strftime('%Y-%m-%d %H:%M:%SZ')}: {c.label} of {when}{items}{extra}"


def restore_plan(
    stack: Annotated[str, typer.Argument(help="Stack name: reads and writes Pulumi.<stack>.yaml.")],
    *,
    table: Annotated[
        list[str] | None, typer.Option("--table", help="Logical table name (repeatable; default: all).")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="latest|export|pitr|backup (default: the freshest usable source)."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="ISO-8601 time: PITR target, or newest export/backup at or before it."),
    ] = None,
    target_suffix: Annotated[
        str | None,
        typer.Option("--target-suffix", help="Restore into <table><suffix> beside the live table."),
    ] = None,
    backup_arn: Annotated[
        str | None,
        typer.Option("--backup-arn", help="Restore from this DynamoDB backup (with --source backup)."),
    ] = None,
    vault_bucket: Annotated[
        str | None,
        typer.Option(
            "--vault-bucket",
            envvar="SAFETYNET_VAULT_BUCKET",
            help="The vault bucket (stack output vaultBucketName); env SAFETYNET_VAULT_BUCKET.",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", "--write", help="Write without asking.")] = False,
    clear: Annotated[
        bool,
        typer.Option("--clear", help="Remove the restore block (or the --table entries) after recovery."),
    ] = False,
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", help="Folder with Pulumi.yaml (default: this project)."),
    ] = None,
) -> None:
    """Choose each table's restore source and write it under safetynet:restore."""
    from safetynet.recovery.planner import PlanRequest

    project = (project_dir or default_project_dir()).resolve()
    path = project / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise _fail(f"{path} not found; pass --project-dir or choose another stack")
    out = Console()
    if clear:
        _clear(path, table, yes, out)
        return
    # The restore block is left out: it may be what is being fixed.
    cfg, region = load_config("restore-plan", project, stack, without=("restore",))
    if cfg.disaster_recovery is not None and not vault_bucket:
        # A DR stack restores from the source stack's replicated exports.
        vault_bucket = cfg.disaster_recovery.replica_bucket
    source = _check_source(source, backup_arn, vault_bucket)
    specs = {t.name: t for t in cfg.tables}
    wanted = table or list(specs)
    unknown = [t for t in wanted if t not in specs]
    if unknown:
        raise _fail(f"unknown table(s) {', '.join(unknown)}; configured: {', '.join(specs) or 'none'}")
    request = PlanRequest(source=source, at=_parse_at(at), target_suffix=target_suffix, backup_arn=backup_arn)
    plans = _plan_all(cfg=cfg, specs=specs, wanted=wanted, region=region, vault_bucket=vault_bucket, request=request)
    now = datetime.now(UTC)
    if not vault_bucket:
        out.print("[yellow]note:[/] no --vault-bucket: exports in the vault were not considered")
    for plan in plans:
        out.print(_candidate_table(plan, now))
        for note in plan.facts.notes:
            out.print(f"  [yellow]note:[/] {escape(note)}")
    failed = [p for p in plans if p.chosen is None]
    if failed:
        for p in failed:
            Console(stderr=True).print(f"[red]restore-plan:[/] {escape(p.problem or '')}")
        Console(stderr=True).print("nothing written")
        raise typer.Exit(1)
    _write(
        project=project,
        stack=stack,
        path=path,
        plans=plans,
        target_suffix=target_suffix,
        yes=yes,
        out=out,
        now=now,
    )


def _check_source(source: str | None, backup_arn: str | None, vault_bucket: str | None) -> str | None:
    from safetynet.recovery.planner import SOURCE_CHOICES

    if source is not None and source not in SOURCE_CHOICES:
        raise _fail(f"--source {source}: choose one of {', '.join(SOURCE_CHOICES)}")
    if backup_arn and source not in (None, "backup"):
        raise _fail("--backup-arn goes with --source backup")
    if backup_arn:
        source = "backup"
    if source in ("latest", "export") and not vault_bucket:
        raise _fail(
            'exports need the vault bucket: pass --vault-bucket "$(pulumi stack output vaultBucketName)" '
            "or set SAFETYNET_VAULT_BUCKET"
        )
    return source


def _plan_all(
    *,
    cfg: Any,
    specs: dict[str, Any],
    wanted: list[str],
    region: str | None,
    vault_bucket: str | None,
    request: Any,
) -> list[Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    from conventions import vault
    from handlers.exports import ExportRef, validate_export
    from safetynet.recovery.inspection import inspect_table
    from safetynet.recovery.planner import PlanError, plan_table

    clients = Clients(region)

    def validate(ref: ExportRef, table_arn: str) -> Any:
        return validate_export(clients.get("s3"), ref, expected_table_arn=table_arn)

    plans = []
    try:
        account = clients.get("sts").get_caller_identity()["Account"]
        actual_region = clients.get("dynamodb").meta.region_name
        for name in wanted:
            spec = specs[name]
            physical = cfg.physical_name(spec)
            dr = cfg.disaster_recovery
            facts = inspect_table(
                logical=name,
                physical=physical,
                table_arn=f"arn:aws:dynamodb:{actual_region}:{account}:table/{physical}",
                has_lsis=bool(spec.local_secondary_indexes),
                dynamodb=clients.get("dynamodb"),
                s3=clients.get("s3") if vault_bucket else None,
                backup=clients.get("backup"),
                vault_bucket=vault_bucket,
                export_prefix=vault.export_prefix(physical),
                export_table_arn=dr.source_table_arn(physical, account) if dr is not None else None,
                key_schema=spec.key_schema(),
                backup_arn=request.backup_arn,
            )
            plans.append(plan_table(facts, request, validate))
    except PlanError as exc:
        raise _fail(str(exc)) from None
    except (ClientError, BotoCoreError) as exc:
        raise _fail(f"AWS error while inspecting: {exc}", 1) from None
    return plans


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not typer.confirm(question, default=False):
        Console(stderr=True).print("nothing written")
        raise typer.Exit(1)


def _write(
    *,
    project: Path,
    stack: str,
    path: Path,
    plans: list[Any],
    target_suffix: str | None,
    yes: bool,
    out: Console,
    now: datetime,
) -> None:
    from safetynet import stack_yaml
    from safetynet.recovery.planner import restore_entry

    entries = {p.facts.logical: restore_entry(p, target_suffix) for p in plans}
    comments = {p.facts.logical: _comment(p, now) for p in plans}
    doc = stack_yaml.load(path)
    stack_yaml.set_map_entries(doc, RESTORE_KEY, entries, comments)
    text = stack_yaml.dump(doc)
    _check_written(project, stack, text)
    block = "\n".join(
        f"  {name}: " + ", ".join(f"{k}: {v}" for k, v in entry.items()) for name, entry in entries.items()
    )
    out.print(f"[bold]{RESTORE_KEY}[/] in {escape(str(path))}:\n{escape(block)}")
    _confirm(f"Write this into {path.name}?", yes)
    path.write_text(text)
    out.print(
        f"written. Next: [bold]pulumi refresh -s {stack}[/] then [bold]pulumi up -s {stack}[/]; "
        f"after recovery: [bold]safetynet restore-plan {stack} --clear[/]"
    )


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
    _confirm(f"Remove the restore source of {', '.join(preview)} from {path.name}?", yes)
    path.write_text(stack_yaml.dump(doc))
    out.print(f"removed the restore source of {', '.join(preview)} from {path.name}")

"""`safetynet stage s3://.../AWSDynamoDB/<ExportId>/ --table NAME`: stage one export into a table.

The same code as the staging pipeline's tasks (guard -> validate -> [mask] -> replace | refill ->
verify), in one process, against real AWS or the endpoint in AWS_ENDPOINT_URL. Exit 0 when the
table matches the export, 1 when a check refused or failed the run (the table is untouched when
the export or the table was refused), 2 for usage errors.
"""

from __future__ import annotations

import json
import os
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

MASKING_KEY_ENV = "SAFETYNET_MASKING_KEY"
PHASES = {
    "validate": "validated",
    "mask": "masked",
    "write": "written",
    "import": "imported",
}


class ItemsPerSecond(ProgressColumn):
    """items/s of a task."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- items/s" if speed is None else f"{speed:,.0f} items/s", style="cyan")


def load_mask_config(path: Path) -> list[dict[str, Any]]:
    """A mask file: `path: action` or `path: {action, value}` per line, YAML or JSON, the same
    shape as `safetynet:staging.mask.<table>`."""
    from ruamel.yaml import YAML

    from components.config.staging import MaskActionSpec
    from conventions.masking import MaskingError, parse_path

    doc = YAML(typ="safe", pure=True).load(path.read_text())
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping of attribute path -> action (e.g. email: hash)")
    rules = []
    for attr, spec in doc.items():
        try:
            parse_path(str(attr))
            parsed = MaskActionSpec.model_validate(spec if isinstance(spec, dict) else {"action": spec})
        except (MaskingError, ValueError) as exc:
            raise ValueError(f"{path}: {attr}: {exc}") from None
        rules.append({"path": str(attr), "action": parsed.action, **({"value": parsed.value} if parsed.value else {})})
    return rules


def _result_table(doc: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key in (
        "table",
        "export",
        "stagedFrom",
        "mode",
        "modeReason",
        "items",
        "deleted",
        "tableCount",
        "sampled",
    ):
        table.add_row(key, escape(str(doc.get(key))))
    for note in doc.get("notes", []):
        table.add_row("note", escape(note))
    return table


def _masking_key(rules: list[dict[str, Any]], mask_bucket: str | None, err: Console) -> bytes:
    """The HMAC key when rules need one (from SAFETYNET_MASKING_KEY); exits 2 on a usage error."""
    from handlers.staging.masking import masking_key

    if not rules:
        return b""
    if not mask_bucket:
        err.print("--mask-config needs --mask-bucket (where the masked copy is written)")
        raise typer.Exit(2)
    if not any(r["action"] in ("hash", "fake") for r in rules):
        return b""
    secret = os.environ.get(MASKING_KEY_ENV)
    if not secret:
        err.print(f"hash and fake need the masking key in {MASKING_KEY_ENV} (the stack's safetynet:maskingKey)")
        raise typer.Exit(2)
    return masking_key(secret)


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


def _run(console: Console, run: Any, table: str) -> dict[str, Any]:
    """Run the staging with a progress bar per phase; failures exit 1 with what happened."""
    from handlers import exports
    from handlers.exports.batch_writer import WriteIncomplete
    from handlers.staging.exceptions import ExportRejected, NotAStagingTarget, StagingError

    tasks: dict[str, TaskID] = {}
    try:
        with _progress(console) as progress:

            def on_progress(phase: str, n: int, total: int | None) -> None:
                if phase in PHASES:
                    if phase not in tasks:
                        tasks[phase] = progress.add_task(PHASES[phase], total=total)
                    progress.advance(tasks[phase], n)

            doc: dict[str, Any] = run(on_progress).to_json()
            return doc
    except ExportRejected as exc:
        console.print(f"[red]export rejected[/]; {escape(table)} was not touched:")
        for p in exc.problems:
            console.print(f"  [red]-[/] {escape(p)}", highlight=False)
    except NotAStagingTarget as exc:
        console.print(f"[red]refused[/]: {escape(str(exc))}", highlight=False)
    except (StagingError, WriteIncomplete, exports.ExportError, ValueError) as exc:
        console.print(f"[red]staging failed[/]: {escape(str(exc))}", highlight=False)
    raise typer.Exit(1)


def stage(
    url: Annotated[str, typer.Argument(help="s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/")],
    table: Annotated[str, typer.Option("--table", help="The table to stage into.")],
    mode: Annotated[str, typer.Option("--mode", help="replace (ImportTable) or refill (BatchWriteItem).")] = "replace",
    mask_config: Annotated[
        Path | None, typer.Option("--mask-config", help="Masking rules (path: action), YAML or JSON.")
    ] = None,
    mask_bucket: Annotated[
        str | None, typer.Option("--mask-bucket", help="Bucket for the masked copy (with --mask-config).")
    ] = None,
    source_table_arn: Annotated[
        str | None, typer.Option("--source-table-arn", help="Refuse an export of any other table.")
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option("--stack", help="project/stack the table must be a staging target of (default: its tag)."),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Batches in flight.")] = 8,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    force_untagged: Annotated[
        bool,
        typer.Option("--force-untagged", help="Stage into a table NOT tagged as a staging target (dangerous)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Stage one export into a table: validate, optionally mask, replace or refill, verify."""
    from conventions.tags import STAGING_TARGET_TAG
    from handlers import exports
    from handlers.clients import client
    from handlers.staging.target import table_tags
    from safetynet.staging.flow import stage_export, target_from_table

    err = Console(stderr=True)
    if mode not in ("replace", "refill"):
        err.print("--mode must be replace or refill")
        raise typer.Exit(2)
    try:
        ref = exports.ExportRef.parse(url)
        rules = load_mask_config(mask_config) if mask_config else []
    except (ValueError, OSError) as exc:
        err.print(escape(str(exc)), highlight=False)
        raise typer.Exit(2) from None
    key = _masking_key(rules, mask_bucket, err)

    s3, ddb = client("s3"), client("dynamodb")
    try:
        arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    except ddb.exceptions.ResourceNotFoundException:
        err.print(f"table {escape(table)} not found (staging writes into an existing test table)")
        raise typer.Exit(2) from None
    owner = stack or table_tags(ddb, arn).get(STAGING_TARGET_TAG) or "(untagged)"
    target = target_from_table(ddb, table, stack=owner, mode=mode, source_table_arn=source_table_arn)  # type: ignore[arg-type]
    target = type(target)(**{**target.__dict__, "mask": rules})

    console = Console(stderr=as_json)
    if not yes:
        console.print(
            f"Stage [bold]{escape(ref.url)}[/] into [bold]{escape(table)}[/] ({mode}"
            f"{', masked' if rules else ''}). Every item of the table is replaced."
        )
        if not typer.confirm("Continue?", default=False):
            console.print("aborted; nothing changed")
            raise typer.Exit(1)

    doc = _run(
        console,
        lambda on_progress: stage_export(
            s3,
            ddb,
            ref,
            target,
            masking_key=key,
            mask_bucket=mask_bucket,
            force_untagged=force_untagged,
            concurrency=concurrency,
            on_progress=on_progress,
        ),
        table,
    )
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        console.print(_result_table(doc))
        console.print("[green]staged and verified[/]")

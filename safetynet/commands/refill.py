"""`safetynet refill <stack> --table T`: load an export into an empty table with BatchWriteItem.

For tables that ImportTable cannot create (local secondary indexes) when no PITR or backup is
reachable: in a DR stack (`safetynet:disasterRecovery`) the newest valid export in the replica
bucket, checked against the source region's table, goes into the table `pulumi up` just created.
Exit codes: 0 refilled, 1 nothing usable / table refused / incomplete, 2 usage or config error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from safetynet.commands.common import Clients, fail, load_config, vault_bucket_or_fail
from safetynet.paths import default_project_dir


def refill(
    stack: Annotated[str, typer.Argument(help="Stack name (reads Pulumi.<stack>.yaml).")],
    table: Annotated[str, typer.Option("--table", help="Logical table name to refill.")],
    export: Annotated[
        str | None,
        typer.Option("--export", help="s3://.../AWSDynamoDB/<ExportId>/ (default: the newest valid one)."),
    ] = None,
    vault_bucket: Annotated[
        str | None,
        typer.Option(
            "--vault-bucket",
            envvar="SAFETYNET_VAULT_BUCKET",
            help="Bucket with the exports (default: a DR stack's replicaBucket).",
        ),
    ] = None,
    allow_non_empty: Annotated[
        bool, typer.Option("--allow-non-empty", help="Write into a table that already has items.")
    ] = False,
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", help="Folder with Pulumi.yaml (default: found upward)."),
    ] = None,
) -> None:
    """Load an export into an empty table (for tables ImportTable cannot create, e.g. with LSIs)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from conventions.vault import export_prefix
    from handlers.exports.batch_writer import WriteIncomplete
    from handlers.exports.layout import ExportError
    from safetynet.recovery.refill import RefillError, check_target, choose_export
    from safetynet.recovery.refill import refill as run_refill

    cfg, region = load_config("refill", project_dir or default_project_dir(), stack)
    specs = {t.name: t for t in cfg.tables}
    if table not in specs:
        raise fail("refill", f"unknown table {table}; configured: {', '.join(specs) or 'none'}")
    spec = specs[table]
    physical = cfg.physical_name(spec)
    bucket = vault_bucket_or_fail("refill", cfg, vault_bucket)
    clients = Clients(region)
    ddb, s3 = clients.get("dynamodb"), clients.get("s3")
    out = Console()
    try:
        account = clients.get("sts").get_caller_identity()["Account"]
        dr = cfg.disaster_recovery
        expected = (
            dr.source_table_arn(physical, account)
            if dr is not None
            else f"arn:aws:dynamodb:{ddb.meta.region_name}:{account}:table/{physical}"
        )
        check_target(ddb, physical, spec.key_schema(), allow_non_empty=allow_non_empty)
        choice = choose_export(
            s3,
            bucket=bucket,
            prefix=export_prefix(physical),
            expected_table_arn=expected,
            export_url=export,
        )
        for url, reason in choice.skipped:
            out.print(f"[yellow]skipped[/] {escape(url)}: {escape(reason)}")
        report = choice.report
        when = report.summary.export_time.isoformat() if report.summary else "?"
        source = f"{escape(report.ref.url)} ({report.item_count} items, {when})"
        out.print(f"refilling {escape(physical)} from {source}")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
        ) as progress:
            task = progress.add_task(physical, total=report.item_count)
            written = run_refill(ddb, s3, physical, report, on_progress=lambda n: progress.advance(task, n))
    except (RefillError, WriteIncomplete, ExportError) as exc:
        Console(stderr=True).print(f"[red]refill:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except (ClientError, BotoCoreError) as exc:
        Console(stderr=True).print(f"[red]refill:[/] AWS error: {escape(str(exc))}")
        raise typer.Exit(1) from None
    out.print(f"[green]{written} items written to {escape(physical)}; count matches the export[/]")

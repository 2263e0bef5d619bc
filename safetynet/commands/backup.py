"""`safetynet backup --scan TABLE --bucket B [--prefix P]`: a scan-based export in AWS's layout.

For DynamoDB Local, emulators and accounts without native exports: the table is read with a
parallel, strongly consistent Scan and written as `s3://B/P/AWSDynamoDB/<ExportId>/`, which
every safetynet reader (verify, stage, restore-plan) treats like a native export. Prints the
export's URL on stdout (progress goes to stderr), so scripts can capture it.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

# Same convention as components.vault.export_prefix (a test keeps them equal); not imported
# from there because components/ pulls in the Pulumi SDK, too slow for a CLI start-up.
EXPORTS_ROOT = "exports"


class _ItemRate(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} items/s" if speed else "", style="progress.data.speed")


def default_prefix(table_name: str) -> str:
    """The vault prefix native exports of `table_name` use: `exports/<table>`."""
    return f"{EXPORTS_ROOT}/{table_name}"


def register(app: typer.Typer) -> None:
    """Add the backup command."""

    @app.command()
    def backup(
        *,
        scan: Annotated[
            str | None,
            typer.Option("--scan", metavar="TABLE", help="Scan this table and write a native-layout export."),
        ] = None,
        bucket: Annotated[str | None, typer.Option("--bucket", help="Destination S3 bucket.")] = None,
        prefix: Annotated[
            str | None, typer.Option("--prefix", help="Key prefix (default: exports/<TABLE>, as the vault).")
        ] = None,
        segments: Annotated[int, typer.Option("--segments", min=1, max=1000, help="Parallel scan segments.")] = 4,
        items_per_file: Annotated[int, typer.Option("--items-per-file", min=1, help="Items per data file.")] = 50_000,
        kms_key_id: Annotated[
            str | None, typer.Option("--kms-key-id", help="Encrypt the objects with this KMS key.")
        ] = None,
    ) -> None:
        """Back a table up as an export in DynamoDB's native layout, using a parallel Scan."""
        from botocore.exceptions import BotoCoreError, ClientError

        from handlers.scan_export import ScanExportError, client, scan_export

        if scan is None:
            typer.echo(
                "only --scan TABLE is supported: native exports run nightly from the prod stack's "
                "scheduler (or: aws dynamodb export-table-to-point-in-time)",
                err=True,
            )
            raise typer.Exit(2)
        if not bucket:
            typer.echo("--bucket is required: the S3 bucket to write the export into", err=True)
            raise typer.Exit(2)
        err = Console(stderr=True)
        dynamodb = client("dynamodb")
        try:
            # DynamoDB refreshes ItemCount about every six hours: good enough for an ETA.
            approx_total = int(dynamodb.describe_table(TableName=scan)["Table"].get("ItemCount") or 0)
        except (ClientError, BotoCoreError):
            approx_total = 0  # scan_export reports a missing table or denied access precisely
        with Progress(
            SpinnerColumn(),
            TextColumn(f"scanning [bold]{escape(scan)}[/]"),
            BarColumn(bar_width=None),
            TextColumn("{task.completed:,.0f} items"),
            _ItemRate(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("scan", total=approx_total or None)
            written = [0]

            def on_item(n: int) -> None:
                written[0] = n
                if n % 500 == 0:  # a redraw per item would cost more than the item
                    progress.update(task, completed=n)

            try:
                ref = scan_export(
                    dynamodb,
                    client("s3"),
                    table_name=scan,
                    bucket=bucket,
                    prefix=default_prefix(scan) if prefix is None else prefix,
                    segments=segments,
                    items_per_file=items_per_file,
                    kms_key_id=kms_key_id,
                    on_item=on_item,
                )
            except (ScanExportError, ClientError, BotoCoreError, ValueError) as exc:
                err.print(f"[red]backup failed[/]: {escape(str(exc))}", highlight=False)
                raise typer.Exit(1) from None
        err.print(f"[green]exported[/] {written[0]:,} items of {scan}")
        typer.echo(ref.url)

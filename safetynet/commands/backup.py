"""`safetynet backup`: write an export in DynamoDB's native layout from another source.

- `--scan TABLE`: for DynamoDB Local, emulators and accounts without native exports, the table
  is read with a parallel, strongly consistent Scan.
- `--from-datapipeline s3://BUCKET/PREFIX/`: a legacy AWS Data Pipeline (EMR) backup is
  converted, so old backups can be verified, staged and restored like native exports.

The result, `s3://B/P/AWSDynamoDB/<ExportId>/`, is what every safetynet reader (verify, stage,
restore-plan) reads. The URL is printed on stdout (progress goes to stderr), so scripts can
capture it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

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

from conventions.vault import export_prefix


class _ItemRate(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} items/s" if speed else "", style="progress.data.speed")


def _usage(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _with_progress(label: str, total: int, run: Callable[[Callable[[int], None]], Any]) -> tuple[Any, int]:
    """Run `run(on_item)` under a progress bar (items, items/s, elapsed, ETA when `total` is
    known); returns its result and the number of items written."""
    err = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn(label),
        BarColumn(bar_width=None),
        TextColumn("{task.completed:,.0f} items"),
        _ItemRate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("items", total=total or None)
        written = [0]

        def on_item(n: int) -> None:
            written[0] = n
            if n % 500 == 0:  # a redraw per item would cost more than the item
                progress.update(task, completed=n)

        result = run(on_item)
    return result, written[0]


def backup(
    *,
    scan: Annotated[
        str | None,
        typer.Option("--scan", metavar="TABLE", help="Scan this table and write a native-layout export."),
    ] = None,
    from_datapipeline: Annotated[
        str | None,
        typer.Option(
            "--from-datapipeline",
            metavar="S3_URL",
            help="Convert this legacy AWS Data Pipeline backup folder (needs --table-arn).",
        ),
    ] = None,
    table_arn: Annotated[
        str | None, typer.Option("--table-arn", help="Source table ARN recorded in a converted backup.")
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
    """Write an export in DynamoDB's native layout: a table by parallel Scan, or a legacy
    Data Pipeline backup converted."""
    from botocore.exceptions import BotoCoreError, ClientError

    from handlers.clients import client
    from handlers.exports import ExportError, convert_datapipeline_to_export
    from safetynet.backup.scan_export import ScanExportError, scan_export

    if (scan is None) == (from_datapipeline is None):
        raise _usage(
            "give exactly one source: --scan TABLE, or --from-datapipeline s3://BUCKET/PREFIX/ "
            "(native exports run nightly from the prod stack's scheduler)"
        )
    if not bucket:
        raise _usage("--bucket is required: the S3 bucket to write the export into")
    try:
        if scan is not None:
            dynamodb = client("dynamodb")
            try:
                # DynamoDB refreshes ItemCount about every six hours: good enough for an ETA.
                total = int(dynamodb.describe_table(TableName=scan)["Table"].get("ItemCount") or 0)
            except (ClientError, BotoCoreError):
                total = 0  # scan_export reports a missing table or denied access precisely
            ref, count = _with_progress(
                f"scanning [bold]{escape(scan)}[/]",
                total,
                lambda on_item: scan_export(
                    dynamodb,
                    client("s3"),
                    table_name=scan,
                    bucket=bucket,
                    prefix=export_prefix(scan) if prefix is None else prefix,
                    segments=segments,
                    items_per_file=items_per_file,
                    kms_key_id=kms_key_id,
                    on_item=on_item,
                ),
            )
            source = scan
        else:
            assert from_datapipeline is not None
            if not from_datapipeline.startswith("s3://") or "/" not in from_datapipeline[5:]:
                raise _usage(f"--from-datapipeline must be s3://BUCKET/PREFIX/, got {from_datapipeline!r}")
            if not table_arn:
                raise _usage("--table-arn is required with --from-datapipeline: the backed-up table's ARN")
            src_bucket, _, src_prefix = from_datapipeline[5:].partition("/")
            table_name = table_arn.rsplit("/", 1)[-1]
            ref, count = _with_progress(
                f"converting [bold]{escape(from_datapipeline)}[/]",
                0,
                lambda on_item: convert_datapipeline_to_export(
                    client("s3"),
                    bucket=src_bucket,
                    prefix=src_prefix,
                    dest_bucket=bucket,
                    dest_prefix=export_prefix(table_name) if prefix is None else prefix,
                    table_arn=table_arn,
                    items_per_file=items_per_file,
                    kms_key_id=kms_key_id,
                    on_item=on_item,
                ),
            )
            source = from_datapipeline
    except (ScanExportError, ExportError, ClientError, BotoCoreError, ValueError) as exc:
        Console(stderr=True).print(f"[red]backup failed[/]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    Console(stderr=True).print(f"[green]exported[/] {count:,} items of {escape(source)}")
    typer.echo(ref.url)

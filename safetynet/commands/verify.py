"""`safetynet verify s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/`: validate an export completely.

Exit 0 with a summary when the export is usable; exit 1 listing every problem; exit 2 for a
malformed URL. Runs the same validator as the staging pipeline, against real AWS or the
endpoint in AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _summary_table(report_json: dict[str, object]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, key in (
        ("export", "export"),
        ("table", "tableArn"),
        ("export time", "exportTime"),
        ("format", "outputFormat"),
        ("data files", "dataFiles"),
        ("items (summary)", "summaryItemCount"),
        ("items (read)", "itemCount"),
        ("bytes read", "bytesRead"),
    ):
        value = report_json.get(key)
        table.add_row(label, "-" if value is None else escape(str(value)))
    return table


def verify(
    url: Annotated[str, typer.Argument(help="s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/")],
    table_arn: Annotated[
        str | None, typer.Option("--table-arn", help="Fail unless the export is of this table.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Data files read at once.")] = 4,
) -> None:
    """Validate an export completely: manifests, source table, format, every data file."""
    from handlers.clients import client
    from handlers.exports import ExportRef, validate_export

    try:
        ref = ExportRef.parse(url)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console = Console()
    if as_json:
        report = validate_export(client("s3"), ref, expected_table_arn=table_arn, workers=workers)
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        with console.status(f"Verifying {ref.url} ..."):
            report = validate_export(client("s3"), ref, expected_table_arn=table_arn, workers=workers)
        console.print(_summary_table(report.to_json()))
        for warning in report.warnings:
            console.print(f"  [yellow]warning[/]: {escape(warning)}", highlight=False)
        if report.ok:
            console.print("[green]valid[/]: every check passed")
        else:
            console.print(f"[red]invalid[/]: {len(report.problems)} problem(s)")
            for problem in report.problems:
                console.print(f"  [red]-[/] {escape(problem)}", highlight=False)
    raise typer.Exit(0 if report.ok else 1)

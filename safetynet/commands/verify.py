"""`safetynet verify`: validate an export completely, or a table's whole chain of exports.

- `verify s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/`: one export, full or incremental.
- `verify s3://BUCKET/exports/<table>/ --chain`: the table's chain in the vault: the newest valid
  full export (the anchor) and the contiguous incremental windows after it, each validated
  completely; prints the anchor, the windows, the recovery point, and names the first gap.

Exit 0 when everything is usable; exit 1 listing every problem (a damaged export, a gap in
the chain); exit 2 for a malformed URL or option. Runs the same validator as the staging
pipeline, against real AWS or the endpoint in AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from safetynet.commands.common import ExitCode, emit_json, fail

NEEDS = "s3:GetObject and s3:ListBucket on the export's bucket, kms:Decrypt on its key"


def _rows(table: Table, rows: list[tuple[str, Any]]) -> Table:
    for label, value in rows:
        table.add_row(label, "-" if value is None else escape(str(value)))
    return table


def _grid() -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def _summary_table(report_json: dict[str, Any]) -> Table:
    rows: list[tuple[str, Any]] = [
        ("export", report_json.get("export")),
        ("type", report_json.get("exportType")),
        ("table", report_json.get("tableArn")),
    ]
    if report_json.get("exportType") == "INCREMENTAL_EXPORT":
        window = f"{report_json.get('exportFromTime')} .. {report_json.get('exportToTime')}"
        rows += [("window", window), ("view", report_json.get("outputView"))]
    else:
        rows.append(("export time", report_json.get("exportTime")))
    rows += [
        ("format", report_json.get("outputFormat")),
        ("data files", report_json.get("dataFiles")),
        ("items (summary)", report_json.get("summaryItemCount")),
        ("items (read)", report_json.get("itemCount")),
        ("bytes read", report_json.get("bytesRead")),
    ]
    return _rows(_grid(), rows)


def _parse_prefix(url: str) -> tuple[str, str]:
    """`s3://BUCKET/PREFIX/` -> (bucket, prefix); ValueError for anything else."""
    from handlers.exports import ExportRef

    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise ValueError(f"not an S3 URL: {url!r}. Write s3://BUCKET/exports/<table>/")
    try:
        ExportRef.parse(url)
    except ValueError:
        bucket, _, prefix = url[5:].partition("/")
        return bucket, prefix
    raise ValueError(
        f"{url} is one export; --chain reads a table's prefix, e.g. s3://BUCKET/exports/<table>/ "
        "(the folder holding AWSDynamoDB/)"
    )


def _parse_until(value: str | None) -> datetime | None:
    from handlers.exports.layout import parse_time

    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise ValueError(f"--until {value!r} is not an ISO-8601 time (e.g. 2026-11-26T03:15:00Z)") from None


def _print_chain(console: Console, url: str, doc: dict[str, Any]) -> None:
    anchor = doc["anchor"]
    windows = doc["windows"]
    span = f"{len(windows)} ({windows[0]['from']} .. {windows[-1]['to']})" if windows else "0"
    rows: list[tuple[str, Any]] = [
        ("prefix", url),
        ("anchor", f"{anchor['export']} (ExportTime {anchor['exportTime']})" if anchor else None),
        ("windows", span),
        ("recovery point", doc["recoveryPoint"]),
        ("exports validated", doc["validated"]),
    ]
    console.print(_rows(_grid(), rows))

    def say(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)  # long URLs and times stay copy-pastable

    for damaged in doc["damaged"]:
        say(f"  [red]damaged[/]: {escape(damaged['export'])} (left out of the chain)")
        for problem in damaged["problems"]:
            say(f"    [red]-[/] {escape(problem)}")
    if doc["firstWindowLeadSeconds"]:
        say(
            f"  [yellow]warning[/]: the first window starts {doc['firstWindowLeadSeconds']:g} s before the anchor's "
            "ExportTime: an item created in that fraction of a second and deleted within the window would "
            "survive a replay (take full exports at whole seconds)"
        )
    if anchor is None:
        say("[red]no chain[/]: no valid full export to anchor it (run a full export first)")
    elif doc["gap"] is not None:
        say(f"[red]broken[/]: {escape(doc['gap']['text'])}")
    elif doc["damaged"]:
        say("[red]invalid[/]: the chain holds, but damaged exports were found")
    else:
        say(f"[green]valid[/]: contiguous from the anchor to {escape(str(doc['recoveryPoint']))}")


def _verify_chain(url: str, *, until: str | None, table_arn: str | None, as_json: bool, workers: int) -> NoReturn:
    from handlers.clients import client
    from handlers.exports.chain import verify_chain

    try:
        bucket, prefix = _parse_prefix(url)
        until_time = _parse_until(until)
    except ValueError as exc:
        raise fail("verify", str(exc)) from None
    console = Console()
    with Console(stderr=True).status(f"Verifying the chain under {url} ..."):
        report = verify_chain(
            client("s3"), bucket, prefix, until=until_time, expected_table_arn=table_arn, workers=workers
        )
    doc = {"prefix": url, **report.to_json()}
    if as_json:
        emit_json(doc)
    else:
        _print_chain(console, url, doc)
    raise typer.Exit(ExitCode.OK if report.ok else ExitCode.FAILED)


def _reachable(s3: Any, ref: Any) -> None:
    """One call before validating: AWS errors that are not about the export (endpoint, credentials,
    access, throttling) are then one paragraph and exit 1 (`safetynet.cli.run`), not "invalid".
    A missing summary or bucket is left to the report, which says what is missing."""
    from botocore.exceptions import ClientError

    from safetynet.commands.common import aws_error_code

    try:
        s3.head_object(Bucket=ref.bucket, Key=ref.summary_key)
    except ClientError as exc:
        if aws_error_code(exc) not in ("404", "NoSuchKey", "NoSuchBucket"):
            raise


def verify(
    url: Annotated[
        str,
        typer.Argument(help="s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/, or with --chain s3://BUCKET/exports/<table>/"),
    ],
    table_arn: Annotated[
        str | None, typer.Option("--table-arn", help="Fail unless the export is of this table.")
    ] = None,
    chain: Annotated[
        bool,
        typer.Option(
            "--chain",
            help="Verify a table's chain: the newest valid full export under the prefix and the contiguous "
            "incremental windows after it; name the first gap.",
        ),
    ] = False,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="TIME", help="With --chain: the chain up to this ISO-8601 time only."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Data files read at once.")] = 4,
) -> None:
    """Validate an export completely (manifests, source table, format, every data file), or with
    --chain a table's full export and incremental windows."""
    from handlers.clients import client
    from handlers.exports import ExportRef, validate_export

    if chain:
        _verify_chain(url, until=until, table_arn=table_arn, as_json=as_json, workers=workers)
    if until is not None:
        raise fail("verify", "--until applies to --chain only")
    try:
        ref = ExportRef.parse(url)
    except ValueError as exc:
        raise fail("verify", str(exc)) from None
    _reachable(client("s3"), ref)
    console = Console()
    if as_json:
        report = validate_export(client("s3"), ref, expected_table_arn=table_arn, workers=workers, expected_type=None)
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        with console.status(f"Verifying {ref.url} ..."):
            report = validate_export(
                client("s3"), ref, expected_table_arn=table_arn, workers=workers, expected_type=None
            )
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

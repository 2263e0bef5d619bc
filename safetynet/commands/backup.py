"""`safetynet backup`: write an export in DynamoDB's native layout from another source.

- `--scan TABLE`: for DynamoDB Local, emulators and accounts without native exports, the table
  is read with a parallel, strongly consistent Scan.
- `--from-datapipeline s3://BUCKET/PREFIX/`: a legacy AWS Data Pipeline (EMR) backup is
  converted, so old backups can be verified, staged and restored like native exports.
- `--incremental TABLE --since T [--until T2]`: for emulators, which write no incremental
  exports, the table's changes in [T, T2) are read from its DynamoDB stream and written as an
  incremental export (`safetynet.backup.stream_export`); `--since chain` continues the table's
  chain in the vault. `backup --scan` then `backup --incremental` windows build a chain offline.

The result, `s3://B/P/AWSDynamoDB/<ExportId>/`, is what every safetynet reader (verify, stage,
restore-plan) reads. The URL is printed on stdout (progress goes to stderr), so scripts can
capture it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
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
from safetynet.commands.common import JsonOption, YesOption, aws_error_text, command_line, emit_json, fail, interrupted

NEEDS = (
    "dynamodb:DescribeTable and Scan on the table; s3:PutObject, s3:GetObject, s3:ListBucket, "
    "s3:ListBucketMultipartUploads and s3:AbortMultipartUpload on the bucket (s3:DeleteObject to clear "
    "an unfinished export away), kms:GenerateDataKey with --kms-key-id"
)


class ExportView(StrEnum):
    """The view types of an incremental export."""

    NEW_AND_OLD_IMAGES = "NEW_AND_OLD_IMAGES"
    NEW_IMAGE = "NEW_IMAGE"


class _ItemRate(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} items/s" if speed else "", style="progress.data.speed")


def _usage(message: str) -> typer.Exit:
    return fail("backup", message)


def _with_progress(
    label: str, total: int, run: Callable[[Callable[[int], None]], Any], unit: str = "items"
) -> tuple[Any, int]:
    """Run `run(on_item)` under a progress bar (items, items/s, elapsed, ETA when `total` is
    known); returns its result and the number of items written."""
    err = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn(label),
        BarColumn(bar_width=None),
        TextColumn("{task.completed:,.0f} " + unit),
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


def backup(  # noqa: PLR0912 - one branch per source and per way it can fail
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
        str | None,
        typer.Option(
            "--prefix",
            help="Key prefix (default: exports/<TABLE>, as the vault; exports/<TABLE>/incremental with --incremental).",
        ),
    ] = None,
    segments: Annotated[int, typer.Option("--segments", min=1, max=1000, help="Parallel scan segments.")] = 4,
    items_per_file: Annotated[int, typer.Option("--items-per-file", min=1, help="Items per data file.")] = 50_000,
    kms_key_id: Annotated[
        str | None, typer.Option("--kms-key-id", help="Encrypt the objects with this KMS key.")
    ] = None,
    incremental: Annotated[
        str | None,
        typer.Option(
            "--incremental",
            metavar="TABLE",
            help="Emulators: write TABLE's changes in [--since, --until) from its DynamoDB stream "
            "(NEW_AND_OLD_IMAGES) as an incremental export.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME|chain",
            help="With --incremental: the window's start, ISO-8601 in whole seconds (UTC unless a zone is "
            "given), or 'chain': where the table's chain in the bucket ends.",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="TIME|now", help="With --incremental: the window's end (default: now, whole seconds)."
        ),
    ] = None,
    view: Annotated[
        ExportView, typer.Option("--view", help="With --incremental: the export's view type.")
    ] = ExportView.NEW_AND_OLD_IMAGES,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Write an export in DynamoDB's native layout: a table by parallel Scan, or a legacy
    Data Pipeline backup converted."""
    from botocore.exceptions import BotoCoreError, ClientError

    from handlers.clients import client
    from handlers.exports import ExportError, convert_datapipeline_to_export
    from safetynet.backup.scan_export import ExportAttempt, ScanExportError, scan_export

    attempt = ExportAttempt()  # asks nothing: it only adds a new export folder (-y is accepted)

    if _incremental_source(incremental, since, until, scan, from_datapipeline):
        assert incremental is not None
        _incremental(incremental, since, until, view.value, bucket, prefix, items_per_file, kms_key_id, as_json)
        return

    if (scan is None) == (from_datapipeline is None):
        raise _usage(
            "give exactly one source: --scan TABLE, --from-datapipeline s3://BUCKET/PREFIX/, or "
            "--incremental TABLE --since TIME "
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
                    attempt=attempt,
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
    except KeyboardInterrupt:
        rerun = _rerun(scan, from_datapipeline, table_arn, bucket, prefix, segments, items_per_file, kms_key_id)
        left = _left(attempt, bucket) if scan else _left_converting(bucket, prefix, table_arn)
        raise interrupted(f"{left}. Run again (it writes a new, complete export): {rerun}") from None
    except (ScanExportError, ExportError, ClientError, BotoCoreError, ValueError) as exc:
        cause = exc.__cause__ if isinstance(exc, ScanExportError) else exc
        left = f"; {attempt.left.describe()}" if attempt.left is not None else ""
        if isinstance(cause, ClientError | BotoCoreError):
            text = aws_error_text(
                cause,
                client("s3").meta.region_name,
                command="backup",
                needs=NEEDS,
                unchanged=f"no export was written{left}",
                writes=True,
            )
            raise fail("backup", text, 1) from None
        Console(stderr=True).print(f"[red]backup failed[/]: {escape(str(exc))}{escape(left)}", highlight=False)
        raise typer.Exit(1) from None
    Console(stderr=True).print(f"[green]exported[/] {count:,} items of {escape(source)}")
    if as_json:
        emit_json({"export": ref.url, "items": count, "source": source, "bucket": bucket})
    else:
        typer.echo(ref.url)


def _left(attempt: Any, bucket: str) -> str:
    """What an interrupted backup left in the bucket."""
    if attempt.left is not None:
        return str(attempt.left.describe())
    if attempt.ref is not None:
        return (
            f"the export was not finished and clearing it away was interrupted: {attempt.ref.url} may remain "
            "without manifest-summary.json, so no reader lists it as an export; delete it with aws s3 rm "
            f"--recursive {attempt.ref.url}"
        )
    return f"nothing was written to s3://{bucket}/"


def _left_converting(bucket: str, prefix: str | None, table_arn: str | None) -> str:
    folder = f"s3://{bucket}/{(prefix if prefix is not None else export_prefix((table_arn or '').rsplit('/', 1)[-1]))}"
    return (
        f"the conversion stopped: an unfinished export folder under {folder.rstrip('/')}/AWSDynamoDB/ may remain "
        "without manifest-summary.json, so no reader lists it as an export"
    )


def _rerun(
    scan: str | None,
    source: str | None,
    table_arn: str | None,
    bucket: str,
    prefix: str | None,
    segments: int,
    items_per_file: int,
    kms_key_id: str | None,
) -> str:
    """The command that writes the export again, with the options this run was given."""
    return command_line(
        "backup",
        *(("--scan", scan) if scan else ("--from-datapipeline", source or "", "--table-arn", table_arn or "")),
        "--bucket",
        bucket,
        *(("--prefix", prefix) if prefix is not None else ()),
        *(("--segments", str(segments)) if segments != 4 else ()),
        *(("--items-per-file", str(items_per_file)) if items_per_file != 50_000 else ()),
        *(("--kms-key-id", kms_key_id) if kms_key_id else ()),
    )


# --- --incremental: the emulator exporter ---------------------------------------------------------

STREAM_NEEDS = (
    "dynamodb:DescribeTable on the table; dynamodb:DescribeStream, GetShardIterator and GetRecords on its "
    "stream; s3:PutObject, s3:GetObject and s3:ListBucket on the bucket"
)


def _incremental_source(
    incremental: str | None, since: str | None, until: str | None, scan: str | None, source: str | None
) -> bool:
    """Whether --incremental is the source (exit 2 when it is mixed with another source, or
    --since/--until come without it)."""
    if incremental is None and since is None and until is None:
        return False
    if incremental is None or scan is not None or source is not None:
        raise _usage("--since and --until go with --incremental TABLE, which is a source of its own")
    return True


def _window_start(since: str | None, table: str, bucket: str, prefix: str) -> datetime:
    """--since as a time: ISO-8601, or 'chain' (where the table's chain under `prefix` ends)."""
    from handlers.clients import client
    from handlers.exports import read_chain
    from handlers.exports.layout import parse_time

    if since is None:
        raise _usage("--incremental needs --since: an ISO-8601 time in whole seconds, or 'chain'")
    if since != "chain":
        try:
            start = parse_time(since)
        except ValueError:
            start = None
        if start is None:
            raise _usage(f"--since {since!r} is not an ISO-8601 time (e.g. 2026-11-26T03:15:00Z) nor 'chain'")
        return start
    chain = read_chain(client("s3"), bucket, prefix)
    if chain.recovery_point is None:
        raise _usage(
            f"no full export of {table} under s3://{bucket}/{prefix}/ to continue: write one first "
            f"(backup --scan {table} --bucket {bucket})"
        )
    # A chain on a native export may end inside a second; the window may start before (straddle) it.
    return chain.recovery_point.replace(microsecond=0)


def _incremental(
    table: str,
    since: str | None,
    until: str | None,
    view: str,
    bucket: str | None,
    prefix: str | None,
    items_per_file: int,
    kms_key_id: str | None,
    as_json: bool,
) -> None:
    """`backup --incremental TABLE --since T [--until T2]`: the window [T, T2) of the table's
    stream as an incremental export (safetynet.backup.stream_export)."""
    from datetime import UTC

    from botocore.exceptions import BotoCoreError, ClientError

    from conventions.chain import INCREMENTAL_FOLDER, incremental_export_prefix
    from handlers.clients import client
    from handlers.exports import ExportError, read_summary
    from handlers.exports.layout import format_time, parse_time
    from safetynet.backup.stream_export import StreamExportError, StreamNotUsable, export_stream_window

    if not bucket:
        raise _usage("--bucket is required: the S3 bucket to write the export into")
    # Written under exports/<table>/incremental (conventions.chain), read as a chain with the full
    # exports under exports/<table>.
    root = incremental_export_prefix(table) if prefix is None else prefix.strip("/")
    chain_root = root.removesuffix(f"/{INCREMENTAL_FOLDER}")
    try:
        end = datetime.now(UTC).replace(microsecond=0) if until in (None, "now") else parse_time(until)
    except ValueError:
        end = None
    if end is None:
        raise _usage(f"--until {until!r} is not an ISO-8601 time (e.g. 2026-11-26T03:30:00Z) nor 'now'")
    try:
        start: datetime = _window_start(since, table, bucket, chain_root)
    except (ClientError, BotoCoreError, ExportError) as exc:
        raise fail("backup", f"reading the chain under s3://{bucket}/{chain_root}/ failed: {exc}", 1) from None
    label = f"reading [bold]{escape(table)}[/]'s stream"
    try:
        ref, records = _with_progress(
            label,
            0,
            lambda on_record: export_stream_window(
                client("dynamodb"),
                client("dynamodbstreams"),
                client("s3"),
                table=table,
                bucket=bucket,
                prefix=root,
                start=start,
                end=end,
                view=view,
                kms_key_id=kms_key_id,
                on_progress=on_record,
                items_per_file=items_per_file,
            ),
            unit="records",
        )
        changes = read_summary(client("s3"), ref).item_count
    except StreamNotUsable as exc:
        raise fail("backup", str(exc)) from None
    except KeyboardInterrupt:
        rerun = command_line(
            "backup",
            "--incremental",
            table,
            "--since",
            format_time(start),
            "--until",
            format_time(end),
            "--bucket",
            bucket,
        )
        raise interrupted(
            "the window's export was not published (no manifest-summary.json), so no reader lists it; "
            f"run again: {rerun}"
        ) from None
    except (ClientError, BotoCoreError) as exc:
        text = aws_error_text(
            exc,
            client("s3").meta.region_name,
            command="backup",
            needs=STREAM_NEEDS,
            unchanged="no export was published",
            writes=True,
        )
        raise fail("backup", text, 1) from None
    except (StreamExportError, ExportError, ValueError) as exc:
        raise fail("backup", f"backup failed: {exc}", 1) from None
    window = f"[{format_time(start)}, {format_time(end)})"
    Console(stderr=True).print(
        f"[green]exported[/] {changes:,} changed items ({records:,} stream records) of {escape(table)} in {window}"
    )
    if as_json:
        emit_json(
            {
                "export": ref.url,
                "changes": changes,
                "records": records,
                "table": table,
                "from": format_time(start),
                "to": format_time(end),
                "bucket": bucket,
            }
        )
    else:
        typer.echo(ref.url)

"""`safetynet cost -s STACK`: what the stack's safety net costs a month, per table and in total,
beside what AWS Backup would cost for the same retention at its hourly (and daily) schedule.

Per table: PITR, the nightly full exports, the chain of incremental exports, the vault's storage
by class over the retention, and the replica (transfer and storage); the model and its
assumptions are in safetynet/cost/model.py and printed under the tables. Inputs per table: its
size (DescribeTable) and write rate (CloudWatch, 7 days), or `--table-size` / `--writes-per-second`
(for every table, or `TABLE=N` for one), which replace the measurement. Nothing in AWS is read
when every input is given (the write rate is read only for tables with a chain). Read-only:
dynamodb:DescribeTable, cloudwatch:GetMetricStatistics. Exit 0 with an estimate, 1 when AWS
cannot be read or has no write metrics for a table with a chain, 2 for usage, config and prices
file errors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from safetynet.commands.common import (
    ExitCode,
    JsonOption,
    ProjectDirOption,
    StackArgument,
    StackOption,
    fail,
    resolve_stack,
)

COMMAND = "cost"

TableSizeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--table-size",
        metavar="GB|TABLE=GB",
        help="Table size in GB (2^30 bytes) instead of DescribeTable's: N for every table, TABLE=N for one "
        "(repeatable).",
        show_default=False,
    ),
]
WritesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--writes-per-second",
        metavar="N|TABLE=N",
        help="Average write units per second (1 KB each) instead of CloudWatch's 7-day average: N for every "
        "table, TABLE=N for one (repeatable).",
        show_default=False,
    ),
]
EveryOption = Annotated[
    str | None,
    typer.Option(
        "--every",
        metavar="LENGTH|off",
        help="What if every table had a chain of incremental exports of this window length (a value "
        "safetynet:backup.incremental.every accepts: 15m, 30m, 1h ... 24h), or none (off), instead of "
        "the stack's chain.",
        show_default=False,
    ),
]
PricesOption = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        metavar="FILE",
        help="YAML or JSON file overriding default prices and assumptions by key (pitrGbMonth, exportGb, "
        "incrementalExportGb, incrementalExportMinimumMb, backupGbMonth, replicationTransferGb, "
        "replicationTimeControlGb, s3GbMonth.<CLASS>, s3MinimumDays.<CLASS>, assumptions.bytesPerWrite, "
        "assumptions.exportSizeRatio, asOf).",
        show_default=False,
    ),
]


def cost(
    stack_arg: StackArgument = None,
    stack_opt: StackOption = None,
    table_size: TableSizeOption = None,
    writes_per_second: WritesOption = None,
    every: EveryOption = None,
    prices: PricesOption = None,
    as_json: JsonOption = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Monthly cost of the stack's safety net per table and in total, beside AWS Backup."""
    from rich.console import Console

    from safetynet.cost.report import render
    from safetynet.paths import default_project_dir

    stack = resolve_stack(COMMAND, stack_arg, stack_opt)
    book = _prices(prices)
    cfg, region = _config(project_dir or default_project_dir(), stack)
    estimate = _estimate(stack, cfg, region, book, table_size, writes_per_second, every)
    if as_json:
        from safetynet.commands.common import emit_json

        emit_json(estimate.to_json())
    else:
        render(estimate, Console())
    raise typer.Exit(ExitCode.OK)


def _prices(path: Path | None) -> Any:
    from safetynet.cost.prices import DEFAULT_PRICES, PriceFileError, load_prices

    if path is None:
        return DEFAULT_PRICES
    try:
        return load_prices(path)
    except PriceFileError as exc:
        raise fail(COMMAND, f"--prices {exc}") from None


def _config(project: Path, stack: str) -> tuple[Any, str | None]:
    """The stack's config (exit 2 on problems); a test stack has no backups to estimate."""
    from ruamel.yaml import YAMLError

    from safetynet.commands.common import load_config

    try:
        cfg, region = load_config(COMMAND, project, stack)
    except YAMLError as exc:
        raise fail(COMMAND, f"Pulumi.{stack}.yaml is not valid YAML: {exc}") from None
    if cfg.staging is not None:
        raise fail(
            COMMAND,
            f"stack {stack} is a test stack (safetynet:staging): its tables are refilled from prod's exports "
            "and back nothing up; estimate the stack that backs them up (e.g. -s prod)",
        )
    if not cfg.tables:
        raise fail(COMMAND, f"stack {stack} declares no tables (safetynet:tables): nothing to estimate")
    return cfg, region


def _estimate(
    stack: str,
    cfg: Any,
    region: str | None,
    book: Any,
    table_size: list[str] | None,
    writes_per_second: list[str] | None,
    every: str | None,
) -> Any:
    """Every table's inputs (options first, then the account) and its cost."""
    from safetynet.cost.inputs import InputError, chain_for, every_choices, parse_per_table, vault_of
    from safetynet.cost.model import MissingPrice, check_prices
    from safetynet.cost.report import Estimate

    logical = [t.name for t in cfg.tables]
    physical = [cfg.physical_name(t) for t in cfg.tables]
    try:
        sizes = parse_per_table(table_size, "--table-size", logical=logical, physical=physical)
        writes = parse_per_table(writes_per_second, "--writes-per-second", logical=logical, physical=physical)
        if every is not None and every not in every_choices():
            raise InputError(f"--every {every}: write one of {', '.join(every_choices())}")
        chains = {t.name: chain_for(cfg, t, every_override=every) for t in cfg.tables}
        vault = vault_of(cfg)
        check_prices(vault, book)
    except (InputError, MissingPrice) as exc:
        raise fail(COMMAND, str(exc)) from None
    rows = _rows(cfg, region, book, vault, chains, sizes, writes)
    return Estimate(
        stack=stack,
        region=region,
        vault=vault,
        prices=book,
        rows=rows,
        chain_configured=any(chain_for(cfg, t) for t in cfg.tables),
    )


def _rows(cfg: Any, region: str | None, book: Any, vault: Any, chains: Any, sizes: Any, writes: Any) -> list[Any]:
    """One TableRow per table; the account is read only for what the options leave open."""
    from handlers.watch.aws import AWS_ERRORS
    from safetynet.commands.common import Clients, aws_error_text
    from safetynet.cost import measure
    from safetynet.cost.model import GB, TableLoad, estimate
    from safetynet.cost.report import CLOUDWATCH, DESCRIBE_TABLE, NOT_NEEDED, OPTION, TableRow

    clients = Clients(region)
    now = datetime.now(UTC)
    rows, unmeasured = [], []
    try:
        for spec in cfg.tables:
            name, physical = spec.name, cfg.physical_name(spec)
            chain = chains[name]
            size_gb, size_source, items = sizes.value_for(name, physical), OPTION, None
            if size_gb is None:
                measured = measure.table_size(clients.get("dynamodb"), physical)
                size_gb, size_source, items = measured.size_bytes / GB, DESCRIBE_TABLE, measured.item_count
            rate, rate_source = writes.value_for(name, physical), OPTION
            if rate is None and chain is None:
                rate, rate_source = 0.0, NOT_NEEDED  # without a chain, writes change no figure
            elif rate is None:
                rate, rate_source = measure.writes_per_second(clients.get("cloudwatch"), physical, now=now), CLOUDWATCH
                if rate is None:
                    unmeasured.append(physical)
                    continue
            load = TableLoad(size_gb=size_gb, writes_per_second=rate)
            protected = bool(getattr(spec, "point_in_time_recovery", True))
            cost = estimate(load, chain, vault, book, protected=protected)
            rows.append(TableRow(name, physical, load, size_source, rate_source, items, chain, protected, cost))
    except measure.TableNotFound as exc:
        raise fail(COMMAND, str(exc), code=ExitCode.FAILED) from None
    except AWS_ERRORS as exc:
        text = aws_error_text(
            exc,
            clients.region or region,
            command=COMMAND,
            needs=measure.READ_ACTIONS,
            unchanged="nothing was estimated",
        )
        raise fail(COMMAND, text, code=ExitCode.FAILED) from None
    if unmeasured:
        example = unmeasured[0]
        raise fail(
            COMMAND,
            f"no write metrics for {', '.join(unmeasured)} (CloudWatch AWS/DynamoDB ConsumedWriteCapacityUnits, "
            f"last 7 days, {clients.region or region}); pass --writes-per-second TABLE=N "
            f"(e.g. --writes-per-second {example}=0 for a table nobody writes to)",
            code=ExitCode.FAILED,
        )
    return rows

"""What the commands share: their conventions (exit codes, `-s/--stack`, `-y/--yes`, `--json`,
the root command's `--region/--profile/--endpoint-url`), the stack's config, boto3 clients for
the stack's region, and the WatchContext `status` and `drill` build from the live account.

Conventions, as the tools around safetynet spell them:
- exit codes (`ExitCode`): 0 ok, 1 failed, 2 usage or config error, 130 interrupted;
- the stack: `-s/--stack NAME` (Pulumi's spelling), the positional `NAME` still accepted;
- `-y/--yes` on every command that writes; `--json` prints one JSON document on stdout with
  camelCase keys (AWS's style), every diagnostic goes to stderr.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

VAULT_ENV = "SAFETYNET_VAULT_BUCKET"


class ExitCode(IntEnum):
    """Every command's exit codes (README "Exit codes")."""

    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


@dataclass
class GlobalOptions:
    """The root command's AWS options (`safetynet --region R --profile P --endpoint-url U <cmd>`).

    `apply` exports them the way boto3 reads them (AWS_PROFILE, AWS_ENDPOINT_URL,
    AWS_DEFAULT_REGION), so every client any command creates uses them; `region` also overrides
    the stack's `aws:region` in `load_config`."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    def apply(self) -> None:
        if self.profile:
            os.environ["AWS_PROFILE"] = self.profile
        if self.endpoint_url:
            os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url
        if self.region:
            os.environ["AWS_DEFAULT_REGION"] = self.region
            os.environ["AWS_REGION"] = self.region


GLOBAL_OPTIONS = GlobalOptions()
"""Set by the root command's callback (safetynet/cli.py) before any command runs."""


def stack_region(stack_region: str | None) -> str | None:
    """The region a command works in: the root `--region`, else the stack's `aws:region`."""
    return GLOBAL_OPTIONS.region or stack_region


# The options commands share, declared once.
StackArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="STACK", help="Stack name (reads Pulumi.<stack>.yaml); same as -s/--stack.", show_default=False
    ),
]
StackOption = Annotated[
    str | None,
    typer.Option("-s", "--stack", help="Stack name (reads Pulumi.<stack>.yaml).", show_default=False),
]
YesOption = Annotated[bool, typer.Option("-y", "--yes", help="Do not ask for confirmation.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the result as one JSON document on stdout (camelCase keys).")
]


def resolve_stack(command: str, positional: str | None, option: str | None) -> str:
    """The stack from `-s/--stack` or the positional form; exit 2 when neither or two different."""
    if positional and option and positional != option:
        raise fail(command, f"two stacks given ({positional} and -s {option}): pass one, e.g. -s {option}")
    stack = option or positional
    if not stack:
        raise fail(command, "which stack? pass -s/--stack NAME (reads Pulumi.<NAME>.yaml)")
    return stack


_CAMEL_SPLIT = re.compile(r"_([a-z0-9])")


def camel(key: str) -> str:
    """`physical_name` -> `physicalName`; keys already in camelCase are kept."""
    return _CAMEL_SPLIT.sub(lambda m: m.group(1).upper(), key)


def camel_keys(value: Any) -> Any:
    """`value` with every dict key (at any depth) in camelCase."""
    if isinstance(value, dict):
        return {camel(str(k)): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [camel_keys(v) for v in value]
    return value


def emit_json(doc: Any) -> None:
    """Print `doc` on stdout as the command's one JSON document (camelCase keys, ISO dates)."""
    import json

    typer.echo(json.dumps(camel_keys(doc), indent=2, default=str))


VaultBucketOption = Annotated[
    str | None,
    typer.Option("--vault-bucket", help=f"The vault bucket (stack output vaultBucketName); env {VAULT_ENV}."),
]
ProjectDirOption = Annotated[
    Path | None, typer.Option("--project-dir", help="Folder with Pulumi.yaml (default: found upward).")
]


def fail(command: str, message: str, code: int = 2) -> typer.Exit:
    """Print `message` on stderr and return the Exit to raise (2: usage/config error)."""
    # soft_wrap: paths and commands in messages stay copy-pastable (no hard line breaks).
    Console(stderr=True, soft_wrap=True).print(f"[red]{command}:[/] {escape(message)}")
    return typer.Exit(code)


class Clients:
    """Clients for one region, created on first use (`handlers.clients`)."""

    def __init__(self, region: str | None) -> None:
        self.region = region
        self._clients: dict[str, Any] = {}

    def get(self, service: str) -> Any:
        if service not in self._clients:
            from handlers.clients import client

            self._clients[service] = client(service, self.region)
        return self._clients[service]


def load_config(
    command: str, project_dir: Path, stack: str, *, without: tuple[str, ...] = ()
) -> tuple[Any, str | None]:
    """The stack's parsed config (minus the `without` keys) and its aws:region; config problems
    exit 2."""
    from components.config.base import ConfigError
    from components.config.loading import decode_pulumi_config, parse_stack_config
    from safetynet.synth import SynthError, read_stack_config

    try:
        flat, _ = read_stack_config(project_dir, stack)
        decoded = decode_pulumi_config(flat)
        for key in without:
            decoded.pop(key, None)
        return parse_stack_config(decoded), stack_region(flat.get("aws:region"))
    except (SynthError, ConfigError) as exc:
        raise fail(command, str(exc)) from None


def vault_bucket_or_fail(command: str, cfg: Any, given: str | None) -> str:
    """--vault-bucket, $SAFETYNET_VAULT_BUCKET, or (DR stacks) the configured replica bucket."""
    bucket = given or os.environ.get(VAULT_ENV)
    dr = getattr(cfg, "disaster_recovery", None)
    if not bucket and dr is not None:
        bucket = dr.replica_bucket
    if not bucket:
        raise fail(
            command,
            "the vault bucket is a stack output: pass "
            f'--vault-bucket "$(pulumi stack output vaultBucketName)" or set {VAULT_ENV}',
        )
    return str(bucket)


def watch_context(stack: str, cfg: Any, *, vault_bucket: str, ddb: Any, sts: Any, region: str | None) -> Any:
    """A WatchContext for the CLI: table ARNs from DescribeTable (or, for a table that does not
    exist, the ARN it would have, so its status can say so)."""
    from botocore.exceptions import ClientError

    from conventions.vault import export_prefix
    from conventions.watch import WatchContext, WatchedTable, schedule_interval_hours

    account: str | None = None
    tables = []
    for spec in cfg.tables:
        physical = cfg.physical_name(spec)
        try:
            arn = ddb.describe_table(TableName=physical)["Table"]["TableArn"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            account = account or sts.get_caller_identity()["Account"]
            arn = f"arn:aws:dynamodb:{region or ddb.meta.region_name}:{account}:table/{physical}"
        tables.append(
            WatchedTable(
                name=spec.name,
                physical_name=physical,
                arn=arn,
                export_prefix=export_prefix(physical),
                key_schema=spec.key_schema(),
                attribute_definitions=spec.attribute_definitions(),
            )
        )
    return WatchContext(
        stack=stack,
        tables=tables,
        vault_bucket=vault_bucket,
        deploy_principals=list(cfg.alerts.deploy_principals),
        schedule_hours=schedule_interval_hours(cfg.backup.schedule),
        freshness_grace_hours=cfg.alerts.freshness_grace_hours,
        max_item_drop_ratio=cfg.alerts.max_item_drop_ratio,
        drill_max_age_days=cfg.drill.max_age_days,
        drill_sample_size=cfg.drill.sample_size,
    )


@dataclass(frozen=True)
class WatchSession:
    """What a watch command works with: the stack's config, vault bucket, clients and context."""

    cfg: Any
    bucket: str
    clients: Clients
    ctx: Any


def watch_session(command: str, stack: str, project_dir: Path | None, vault_bucket: str | None) -> WatchSession:
    """Config (exit 2 on problems), the vault bucket (exit 2 when unknown), clients for the
    stack's region and its WatchContext."""
    from safetynet.paths import default_project_dir

    cfg, region = load_config(command, project_dir or default_project_dir(), stack)
    bucket = vault_bucket_or_fail(command, cfg, vault_bucket)
    clients = Clients(region)
    ctx = watch_context(
        stack, cfg, vault_bucket=bucket, ddb=clients.get("dynamodb"), sts=clients.get("sts"), region=region
    )
    return WatchSession(cfg, bucket, clients, ctx)


def aws_error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    return str((response or {}).get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def aws_error_text(
    exc: BaseException, region: str | None, *, command: str, needs: str, unchanged: str, detail: str | None = None
) -> str:
    """One paragraph for an AWS error of a read-only command: what failed, what was left as it
    was (`unchanged`), and what to check (`needs`: the read actions the command uses)."""
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, PartialCredentialsError

    from handlers.watch.aws import error_text

    what = detail or (error_text(exc) if isinstance(exc, Exception) else str(exc))
    code = aws_error_code(exc)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        headline, advice = (
            "no AWS credentials found",
            "sign in (aws sso login, or a profile or role in the environment)",
        )
    elif isinstance(exc, EndpointConnectionError):
        headline = "the AWS endpoint cannot be reached"
        advice = "check the network, the stack's aws:region and AWS_ENDPOINT_URL (set only for a local emulator)"
    elif "AccessDenied" in code or "UnauthorizedOperation" in code:
        headline, advice = "access denied", f"{command} only reads, and needs {needs}"
    else:
        headline, advice = "reading the account failed", "run again"
    return f"{headline} (region {region}): {what}; {unchanged}, {advice}"

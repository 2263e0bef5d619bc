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
from collections.abc import Collection
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
    command: str | None = None
    """The command being run (`status`, `restore-plan`), for the root's error paragraph."""
    region_used: str | None = None
    """The region the command's clients were created for (`Clients`), for the error paragraph."""

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


def command_line(*args: str | None) -> str:
    """The shell command that runs `safetynet <args>` again with this run's root options (the
    line an interrupted command prints to finish its job); None arguments are left out."""
    import shlex

    root = []
    for flag, value in (
        ("--profile", GLOBAL_OPTIONS.profile),
        ("--region", GLOBAL_OPTIONS.region),
        ("--endpoint-url", GLOBAL_OPTIONS.endpoint_url),
    ):
        if value:
            root += [flag, value]
    return shlex.join(["safetynet", *root, *(a for a in args if a is not None)])


def interrupted(message: str) -> typer.Exit:
    """Print what an interrupted command (Ctrl-C, SIGTERM) leaves and how to finish the job, and
    return the Exit (130) to raise."""
    Console(stderr=True, soft_wrap=True).print(f"[yellow]interrupted[/]: {escape(message)}")
    return typer.Exit(ExitCode.INTERRUPTED)


def confirm(command: str, question: str, *, yes: bool, unchanged: str = "nothing changed") -> None:
    """Ask `question` on stderr unless -y/--yes was given; a "no" exits 1 saying `unchanged`.
    Without a terminal to answer (end of input) click aborts, and `run` says to pass --yes."""
    if yes:
        return
    if not typer.confirm(question, default=False, err=True):
        raise fail(command, f"declined; {unchanged}", ExitCode.FAILED)


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
    typer.Option("-s", "--stack", metavar="NAME", help="Stack name (reads Pulumi.<NAME>.yaml).", show_default=False),
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


def camel_keys(value: Any, keep: Collection[str] = ()) -> Any:
    """`value` with every dict key (at any depth) in camelCase, except inside the values of the
    keys named in `keep` (their keys are data: table names, tag keys, config entries)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = camel(str(k))
            out[key] = v if key in keep else camel_keys(v, keep)
        return out
    if isinstance(value, list | tuple):
        return [camel_keys(v, keep) for v in value]
    return value


def emit_json(doc: Any, *, keep: Collection[str] = ()) -> None:
    """Print `doc` on stdout as the command's one JSON document (camelCase keys, ISO dates);
    `keep`: keys whose values hold data keys, printed as they are (see camel_keys)."""
    import json

    typer.echo(json.dumps(camel_keys(doc, keep), indent=2, default=str))


VaultBucketOption = Annotated[
    str | None,
    typer.Option(
        "--vault-bucket", metavar="BUCKET", help=f"The vault bucket (stack output vaultBucketName); env {VAULT_ENV}."
    ),
]
ProjectDirOption = Annotated[
    Path | None, typer.Option("--project-dir", metavar="DIR", help="Folder with Pulumi.yaml (default: found upward).")
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
            GLOBAL_OPTIONS.region_used = GLOBAL_OPTIONS.region_used or self._clients[service].meta.region_name
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


def check_vault(command: str, clients: Clients, bucket: str, *, needs: str) -> None:
    """One listing of the vault before anything is judged: a vault that cannot be read (missing,
    denied, unreachable) is one paragraph naming it, exit 1, not a problem per table."""
    from handlers.watch.aws import AWS_ERRORS, error_text

    try:
        clients.get("s3").list_objects_v2(Bucket=bucket, MaxKeys=1)
    except AWS_ERRORS as exc:
        text = aws_error_text(
            exc,
            clients.region or GLOBAL_OPTIONS.region_used,
            command=command,
            needs=needs,
            unchanged="nothing was judged",
            detail=f"the vault s3://{bucket}: {error_text(exc) if isinstance(exc, Exception) else exc}",
        )
        raise fail(command, text, ExitCode.FAILED) from None


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


# AWS error codes by what the operator does about them (service-specific spellings included).
_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
_INVALID = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidToken",
        "IncompleteSignature",
    }
)
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TooManyRequestsException",
        "SlowDown",
    }
)
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403"})
_MISSING = {
    "NoSuchBucket": ("the bucket does not exist", "check the bucket name (--vault-bucket, --bucket) and the region"),
    "ResourceNotFoundException": (
        "the table or resource does not exist",
        "check its name and the region (the stack's aws:region, or --region)",
    ),
    "TableNotFoundException": ("the table does not exist", "check its name and the region"),
    "NoSuchKey": ("the object does not exist", "check the URL (list the folder with aws s3 ls)"),
    "404": ("the object or bucket does not exist", "check the URL and the region"),
}


def aws_error_kind(exc: BaseException) -> str:
    """What an AWS error is, as the CLI treats it: `config` (a profile or region that is not
    set up: exit 2) or `aws` (anything else AWS said or could not say: exit 1)."""
    from botocore.exceptions import NoRegionError, ProfileNotFound

    return "config" if isinstance(exc, ProfileNotFound | NoRegionError) else "aws"


def _by_exception() -> list[tuple[tuple[type[BaseException], ...], str, str]]:
    """(botocore exception types, what went wrong, what to do), first match wins."""
    from botocore import exceptions as bx

    return [
        (
            (bx.NoCredentialsError, bx.PartialCredentialsError),
            "no AWS credentials found",
            "sign in (aws sso login, or a profile or role in the environment; --profile)",
        ),
        (
            (bx.TokenRetrievalError, bx.SSOTokenLoadError, bx.UnauthorizedSSOTokenError),
            "the AWS sign-in has expired",
            "sign in again (aws sso login)",
        ),
        (
            (bx.ProfileNotFound,),
            "the AWS profile does not exist",
            "check --profile or AWS_PROFILE (aws configure list-profiles)",
        ),
        ((bx.NoRegionError,), "no AWS region is set", "pass --region, or set aws:region in the stack file"),
        (
            (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ConnectionClosedError),
            "the AWS endpoint cannot be reached",
            "check the network, the stack's aws:region and AWS_ENDPOINT_URL or --endpoint-url (set only for a "
            "local emulator)",
        ),
        ((bx.ReadTimeoutError,), "AWS did not answer in time", "run again; check the network if it persists"),
    ]


def _by_code(command: str, needs: str, writes: bool) -> list[tuple[Collection[str], str, str]]:
    """(AWS error codes, what went wrong, what to do), first match wins."""
    return [
        (_EXPIRED, "the AWS credentials have expired", "sign in again (aws sso login, or renew the role's session)"),
        (
            _INVALID,
            "the AWS credentials are not valid",
            "check the profile or keys in use (aws sts get-caller-identity)",
        ),
        (
            _DENIED,
            "access denied",
            f"{command} {'needs' if writes else 'only reads, and needs'} {needs}",
        ),
        (
            _THROTTLED,
            "AWS throttled the requests, also after every retry",
            "run again later, or raise the table's capacity or the account's quota",
        ),
        *((frozenset({code}), headline, advice) for code, (headline, advice) in _MISSING.items()),
    ]


def _diagnose(exc: BaseException, *, command: str, needs: str, writes: bool) -> tuple[str, str]:
    """(what went wrong, what to do) for an AWS error."""
    for types, headline, advice in _by_exception():
        if isinstance(exc, types):
            return headline, advice
    code = aws_error_code(exc)
    denied = "AccessDenied" in code or "UnauthorizedOperation" in code
    for codes, headline, advice in _by_code(command, needs, writes):
        if code in codes or (denied and codes is _DENIED):
            return headline, advice
    return "the AWS request failed", "run again; if it fails again, the message above says why"


def aws_error_text(
    exc: BaseException,
    region: str | None,
    *,
    command: str,
    needs: str,
    unchanged: str,
    detail: str | None = None,
    writes: bool = False,
) -> str:
    """One paragraph for an AWS error: what failed and why (`detail`, else AWS's own message),
    what was left as it was (`unchanged`), and what to do (`needs`: the actions the command uses,
    named when access is denied; `writes`: the command also writes)."""
    from handlers.watch.aws import error_text

    what = detail or (error_text(exc) if isinstance(exc, Exception) else str(exc))
    headline, advice = _diagnose(exc, command=command, needs=needs, writes=writes)
    where = f" (region {region})" if region else ""
    return f"{headline}{where}: {what}; {unchanged}, {advice}"

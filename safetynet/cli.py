"""The `safetynet` operator CLI.

Each command is a plain function in its own module: `safetynet <name>` runs
`safetynet.commands.<name>.<name>` (`restore-plan`: `restore_plan`). This file only registers them,
in the order `--help` lists them. Commands run the same code as the Lambda tasks, against real
AWS or the endpoint in AWS_ENDPOINT_URL (e.g. a local moto server).

Start-up stays fast because the command modules import nothing heavy at the top: Pulumi, the
components, boto3 and moto are imported inside the functions that need them.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from safetynet.commands import (
    adopt,
    backup,
    cost,
    coverage,
    demo,
    drill,
    refill,
    replay,
    restore_plan,
    rewind,
    stage,
    status,
    synth,
    verify,
)
from safetynet.commands.common import GLOBAL_OPTIONS, ExitCode

app = typer.Typer(
    name="safetynet",
    help="A safety net for Amazon DynamoDB data: backups, staging, disaster recognition and recreation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"safetynet {version('safetynet')}")
        except PackageNotFoundError:  # pragma: no cover - run from a source tree without install
            typer.echo("safetynet (not installed)")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    region: Annotated[
        str | None,
        typer.Option(
            "--region", metavar="REGION", help="AWS region (default: the stack's aws:region).", show_default=False
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", metavar="PROFILE", help="AWS profile from ~/.aws/config.", show_default=False),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            metavar="URL",
            help="AWS endpoint, e.g. a local emulator (env AWS_ENDPOINT_URL).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """A safety net for Amazon DynamoDB data: backups, staging, disaster recognition and recreation.

    Exit codes: 0 ok, 1 failed, 2 usage or config error, 130 interrupted."""
    GLOBAL_OPTIONS.region, GLOBAL_OPTIONS.profile, GLOBAL_OPTIONS.endpoint_url = region, profile, endpoint_url
    GLOBAL_OPTIONS.command, GLOBAL_OPTIONS.region_used = ctx.invoked_subcommand, None
    GLOBAL_OPTIONS.apply()


class _Command(TyperCommand):
    """Every command: a Ctrl-C or SIGTERM it does not handle itself ends with a sentence and exit
    130 (a command that handles it prints the state it left and raises its own Exit(130))."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _interrupted()
            raise typer.Exit(ExitCode.INTERRUPTED) from None


for _name, _function in (
    ("demo", demo.demo),
    ("synth", synth.synth),
    ("verify", verify.verify),
    ("backup", backup.backup),
    ("restore-plan", restore_plan.restore_plan),
    ("replay", replay.replay),
    ("rewind", rewind.rewind),
    ("status", status.status),
    ("drill", drill.drill),
    ("refill", refill.refill),
    ("stage", stage.stage),
    ("coverage", coverage.coverage),
    ("adopt", adopt.adopt),
    ("cost", cost.cost),
):
    app.command(name=_name, cls=_Command)(_function)


# Set by a command whose process holds a large in-memory state (the demo's emulator): the
# console script then ends without the interpreter's teardown of millions of objects, which
# otherwise takes longer than some of the demo's steps. Output is flushed first.
FAST_EXIT = False


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM (a CI runner's cancel, `kill`) takes the same path as Ctrl-C: every command's
    interruption handling runs, prints the table's state and the command that resumes."""
    raise KeyboardInterrupt


def _needs(command: str | None) -> str:
    """The AWS actions a command uses: its module's `NEEDS` (README "Permissions per command")."""
    for info in app.registered_commands:
        if info.name == command and info.callback is not None:
            needs = getattr(sys.modules.get(info.callback.__module__), "NEEDS", None)
            if needs:
                return str(needs)
    return 'the permissions README "Permissions per command" lists for it'


def _region() -> str | None:
    """The region the failed call went to, as far as it is known."""
    if GLOBAL_OPTIONS.region_used or GLOBAL_OPTIONS.region:
        return GLOBAL_OPTIONS.region_used or GLOBAL_OPTIONS.region
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def _aws_error(exc: BaseException) -> int:
    """An AWS error no command handled (credentials, endpoint, access, throttling after the
    retries, a missing bucket or table): one paragraph on stderr, exit 1 (2 for a profile or
    region that is not set up)."""
    from safetynet.commands.common import aws_error_kind, aws_error_text

    command = GLOBAL_OPTIONS.command or "safetynet"
    text = aws_error_text(
        exc,
        _region(),
        command=f"safetynet {command}" if GLOBAL_OPTIONS.command else command,
        needs=_needs(GLOBAL_OPTIONS.command),
        unchanged="the command stopped there",
        writes=True,
    )
    _error(command, text)
    return ExitCode.USAGE if aws_error_kind(exc) == "config" else ExitCode.FAILED


def _error(command: str, text: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True).print(f"[red]{escape(command)}:[/] {escape(text)}")


def _interrupted() -> int:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(
        "[yellow]interrupted[/]: the command stopped before it finished; run the same command again to finish it"
    )
    return ExitCode.INTERRUPTED


# What the root options export (GlobalOptions.apply): restored after an in-process run.
_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION")


def run(args: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 failed, 2 usage or config error, 130
    interrupted (Ctrl-C or SIGTERM). Expected failures never end in a traceback: usage errors
    are click's, AWS errors no command handled get one paragraph, a project or stack file that
    is not YAML names file:line:column; a traceback means a bug. The environment the root
    options set is restored afterwards (tests and embedders run several commands in a process)."""
    saved = {name: os.environ.get(name) for name in _ENV}
    try:
        return _run(args)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run(args: list[str] | None) -> int:  # noqa: PLR0911 (one return per outcome)
    # typer (0.29) carries its own copy of click: its usage errors derive from TyperException and
    # its Abort is typer's. A KeyboardInterrupt inside a command is `_Command`'s; one outside
    # (while the options are parsed) is typer's, which returns 130.
    from botocore.exceptions import BotoCoreError, ClientError
    from typer.exceptions import Abort, TyperException

    from safetynet.stack_yaml import StackFileError
    from safetynet.synth import SynthError

    try:
        rv = app(args=args, standalone_mode=False)
    except Abort as exc:  # a question got Ctrl-C or the end of input
        if isinstance(exc.__context__, KeyboardInterrupt):
            return _interrupted()
        _error(
            GLOBAL_OPTIONS.command or "safetynet", "aborted; nothing changed (pass -y/--yes to run without a question)"
        )
        return ExitCode.FAILED
    except TyperException as exc:  # click's usage errors: bad option, missing argument, bad choice
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(exc, "exit_code", ExitCode.USAGE))
    except KeyboardInterrupt:
        return _interrupted()
    except (BotoCoreError, ClientError) as exc:
        return _aws_error(exc)
    except (SynthError, StackFileError) as exc:
        _error(GLOBAL_OPTIONS.command or "safetynet", str(exc))
        return ExitCode.USAGE
    return rv if isinstance(rv, int) else ExitCode.OK


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    code = run()
    if FAST_EXIT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()

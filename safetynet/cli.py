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

from safetynet.commands import adopt, backup, coverage, demo, drill, refill, restore_plan, stage, status, synth, verify
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
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region (default: the stack's aws:region).", show_default=False)
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile from ~/.aws/config.", show_default=False)
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url", help="AWS endpoint, e.g. a local emulator (env AWS_ENDPOINT_URL).", show_default=False
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """A safety net for Amazon DynamoDB data: backups, staging, disaster recognition and recreation.

    Exit codes: 0 ok, 1 failed, 2 usage or config error, 130 interrupted."""
    GLOBAL_OPTIONS.region, GLOBAL_OPTIONS.profile, GLOBAL_OPTIONS.endpoint_url = region, profile, endpoint_url
    GLOBAL_OPTIONS.apply()


app.command(name="demo")(demo.demo)
app.command(name="synth")(synth.synth)
app.command(name="verify")(verify.verify)
app.command(name="backup")(backup.backup)
app.command(name="restore-plan")(restore_plan.restore_plan)
app.command(name="status")(status.status)
app.command(name="drill")(drill.drill)
app.command(name="refill")(refill.refill)
app.command(name="stage")(stage.stage)
app.command(name="coverage")(coverage.coverage)
app.command(name="adopt")(adopt.adopt)


# Set by a command whose process holds a large in-memory state (the demo's emulator): the
# console script then ends without the interpreter's teardown of millions of objects, which
# otherwise takes longer than some of the demo's steps. Output is flushed first.
FAST_EXIT = False


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM (a CI runner's cancel, `kill`) takes the same path as Ctrl-C: every command's
    interruption handling runs, prints the table's state and the command that resumes."""
    raise KeyboardInterrupt


def _aws_error(exc: BaseException) -> int:
    """An AWS error no command handled (credentials, endpoint, access, throttling after the
    retries): one paragraph on stderr, exit 1."""
    from rich.console import Console
    from rich.markup import escape

    from safetynet.commands.common import aws_error_text

    text = aws_error_text(
        exc,
        GLOBAL_OPTIONS.region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"),
        command="safetynet",
        needs="the permissions its README section lists",
        unchanged="the command stopped there",
    )
    Console(stderr=True, soft_wrap=True).print(f"[red]safetynet:[/] {escape(text)}")
    return ExitCode.FAILED


def _interrupted() -> int:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(
        "[yellow]interrupted[/]: the command stopped before it finished; run the same command again to finish it"
    )
    return ExitCode.INTERRUPTED


def run(args: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 failed, 2 usage or config error, 130
    interrupted (Ctrl-C or SIGTERM). Expected failures never end in a traceback: usage errors
    are click's, AWS errors no command handled get one paragraph; a traceback means a bug."""
    import click
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        rv = app(args=args, standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return _interrupted()
        click.echo("aborted; nothing changed (pass -y/--yes to run without a question)", err=True)
        return ExitCode.FAILED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        return _interrupted()
    except (BotoCoreError, ClientError) as exc:
        return _aws_error(exc)
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

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
import sys

import typer

from safetynet.commands import adopt, backup, coverage, demo, drill, refill, restore_plan, stage, status, synth, verify

app = typer.Typer(
    name="safetynet",
    help="A safety net for Amazon DynamoDB data: backups, staging, disaster recognition and recreation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """A safety net for Amazon DynamoDB data: backups, staging, disaster recognition and recreation."""


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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:
        if FAST_EXIT:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.code if isinstance(exc.code, int) else 1)
        raise


if __name__ == "__main__":
    main()

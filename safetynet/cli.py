"""The `safetynet` operator CLI.

Each command lives in its own module under `safetynet/commands/` and registers itself on the
app; this file only assembles them. Commands run the same code as the Lambda tasks, against
real AWS or the endpoint in AWS_ENDPOINT_URL (e.g. a local moto server).
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

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


# One module per command family; each defines `register(app)`.
COMMAND_MODULES = [
    "safetynet.commands.demo",
    "safetynet.commands.synth",
    "safetynet.commands.verify",
    "safetynet.commands.backup",
    "safetynet.commands.restore_plan",
    "safetynet.commands.status",
    "safetynet.commands.drill",
    "safetynet.commands.refill",
    "safetynet.commands.stage",
]

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


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

"""The CLI's commands: each a plain function in `safetynet.commands.<name>`, registered under its
name, listed by `safetynet --help` (exactly these, in this order), and a start-up that imports
nothing heavy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from safetynet.cli import app
from safetynet.commands.adopt import adopt
from safetynet.commands.backup import backup
from safetynet.commands.cost import cost
from safetynet.commands.coverage import coverage
from safetynet.commands.demo import demo
from safetynet.commands.drill import drill
from safetynet.commands.refill import refill
from safetynet.commands.replay import replay
from safetynet.commands.restore_plan import restore_plan
from safetynet.commands.rewind import rewind
from safetynet.commands.stage import stage
from safetynet.commands.status import status
from safetynet.commands.synth import synth
from safetynet.commands.verify import verify
from tests.support.stacks import PROJECT_DIR

COMMANDS: dict[str, Callable[..., Any]] = {
    "demo": demo,
    "synth": synth,
    "verify": verify,
    "backup": backup,
    "restore-plan": restore_plan,
    "replay": replay,
    "rewind": rewind,
    "status": status,
    "drill": drill,
    "refill": refill,
    "stage": stage,
    "coverage": coverage,
    "adopt": adopt,
    "cost": cost,
}
"""Every command, in the order `--help` lists them, and the function that runs it."""

HEAVY = ("pulumi", "pulumi_aws", "boto3", "botocore", "moto", "components", "handlers", "policy_rules")
"""What the commands import inside their functions, never on start-up (`safetynet --help` stays fast)."""


def python(*args: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter, as a user's shell starts it (a wide terminal, so no help line wraps)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def listed_commands(help_text: str) -> list[str]:
    """The command names in the Commands section of `--help` (click's plain layout: a command
    line is indented by two spaces, a wrapped help line by more)."""
    lines = help_text.splitlines()
    start = lines.index("Commands:")
    names = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        if line.startswith("  ") and line[2:3].strip():
            names.append(line.split()[0])
    return names


def test_every_command_is_its_modules_function_registered_under_its_name() -> None:
    registered = {info.name: info.callback for info in app.registered_commands}
    assert registered == COMMANDS
    for name, function in COMMANDS.items():
        assert function.__module__ == f"safetynet.commands.{name.replace('-', '_')}"
        assert function.__name__ == name.replace("-", "_")


def test_help_lists_exactly_the_registered_commands_in_order() -> None:
    proc = python("-m", "safetynet.cli", "--help")
    assert proc.returncode == 0, proc.stderr
    assert listed_commands(proc.stdout) == [info.name for info in app.registered_commands] == list(COMMANDS)


def test_start_up_imports_nothing_heavy() -> None:
    # Given a fresh interpreter, When it imports the CLI (what `safetynet --help` does)
    proc = python(
        "-c", "import json, sys, safetynet.cli; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    # Then Pulumi, the components, the AWS SDK and moto are not loaded yet
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))

"""The program under test: where it lives, and offline synth of its stacks (Pulumi's mocks)."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Every stack the repository ships a Pulumi.<stack>.yaml for.
SHIPPED_STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


@cache
def shipped_synth(stack: str) -> Any:
    """The shipped stack `stack` synthesized once per test process (the test stack with prod's
    outputs behind its StackReference). Shared: read it, never change it."""
    references = {"prod": shipped_synth("prod").outputs} if stack == "test" else None
    return synth_stack(stack, stack_references=references)


def synth_stack(stack: str = "prod", project_dir: Path = PROJECT_DIR, **kwargs: Any) -> Any:
    """Run the program for `stack` under Pulumi's mocks (see safetynet.synth.synth)."""
    from safetynet.synth import synth

    return synth(project_dir, stack, **kwargs)


def failed_synth(stack: str, tmp_path: Path, **kwargs: Any) -> str:
    """Synthesize `stack` in a separate process, expecting the program to fail; returns its
    error output. A failed program leaves Pulumi's shared event loop with pending work, which
    must not leak into other tests. `kwargs` are safetynet.synth.synth's (JSON values)."""
    args = tmp_path / "synth-args.json"
    args.write_text(json.dumps(kwargs))
    code = (
        "import json; from safetynet.synth import synth; "
        f"synth({str(PROJECT_DIR)!r}, {stack!r}, **json.load(open({str(args)!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=PROJECT_DIR)
    assert out.returncode != 0, "the synth was expected to fail"
    return out.stderr

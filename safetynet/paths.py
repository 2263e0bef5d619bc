"""Where the project lives, for commands that read Pulumi.yaml and stack files."""

from __future__ import annotations

import os
from pathlib import Path


def default_project_dir() -> Path:
    """$SAFETYNET_PROJECT_DIR, else the nearest folder upward from the cwd with a Pulumi.yaml,
    else the source checkout this package runs from."""
    env = os.environ.get("SAFETYNET_PROJECT_DIR")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "Pulumi.yaml").is_file():
            return d
    return Path(__file__).resolve().parent.parent

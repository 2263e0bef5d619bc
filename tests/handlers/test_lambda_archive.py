"""handlers/ is exactly what ships to Lambda: every handler module imports from the archive the
program declares, with nothing of the project beside it (no components, no CLI, no Pulumi)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from tests.support.stacks import PROJECT_DIR, synth_stack

FUNCTION = "aws:lambda/function:Function"


def _archives(stack: str) -> dict[str, dict[str, Any]]:
    """Each function's code archive as declared: archive path -> {"path": ...} or {"text": ...}."""
    return {f["name"]: f["inputs"]["code"]["archive"] for f in synth_stack(stack).of_type(FUNCTION)}


def _materialize(archive: dict[str, dict[str, Any]], into: Path) -> None:
    for name, asset in archive.items():
        dest = into / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if "path" in asset:
            dest.write_bytes(Path(asset["path"]).read_bytes())
        else:
            dest.write_text(asset["text"])


# Imports every module of the archive with only the archive and the installed third-party
# packages on the path (-S: no .pth file puts the project there), then reports what it loaded of
# the project and of Pulumi. The dependency layer's wheels are built for Lambda's CPython 3.12, so
# its packages (orjson, amazon-ion) come from this environment's copies of the same locked versions.
_PROBE = """
import importlib, json, pathlib, sys
root = pathlib.Path(sys.argv[1])
sys.path[:0] = [str(root), *sys.argv[2:]]
modules = sorted(
    ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
    for p in root.rglob("*.py")
)
for m in modules:
    importlib.import_module(m)
loaded = sorted({n.split(".")[0] for n in sys.modules})
print(json.dumps({"modules": modules, "loaded": loaded,
                  "files": sorted({str(getattr(sys.modules[m], "__file__", "") or "") for m in modules})}))
"""


@pytest.mark.parametrize("stack", ["prod", "test"])
def test_every_handler_module_imports_from_the_declared_archive_alone(stack: str, tmp_path: Path) -> None:
    archives = _archives(stack)
    assert archives, f"{stack} declares no function"
    # Every function of the stack ships the same code (its data files may differ).
    code = {name: {k: v for k, v in a.items() if "path" in v} for name, a in archives.items()}
    assert len({json.dumps(c, sort_keys=True) for c in code.values()}) == 1
    archive = next(iter(archives.values()))
    _materialize(archive, tmp_path / "archive")

    out = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            _PROBE,
            str(tmp_path / "archive"),
            sysconfig.get_paths()["purelib"],
            sysconfig.get_paths()["platlib"],
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert "handlers.watch.entrypoints" in result["modules"]
    assert "handlers.staging.entrypoints" in result["modules"]
    assert {"components", "safetynet", "policy_rules", "pulumi", "pulumi_aws"}.isdisjoint(result["loaded"])
    archive_root = str(tmp_path / "archive")
    assert all(f.startswith(archive_root) for f in result["files"]), result["files"]


def test_the_archive_holds_exactly_the_handlers_and_conventions_packages() -> None:
    archive = next(iter(_archives("prod").values()))
    files = {name for name, asset in archive.items() if "path" in asset}
    on_disk = {
        p.relative_to(PROJECT_DIR).as_posix()
        for package in ("handlers", "conventions")
        for p in (PROJECT_DIR / package).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert files == on_disk
    # Each function's data file is the context its task reads: DisasterWatch's, or the chain's; the
    # rewind task reads none (its execution input names the table, the window and the export).
    data = {f: {name for name, asset in a.items() if "text" in asset} for f, a in _archives("prod").items()}
    assert {frozenset(d) for d in data.values()} == {
        frozenset({"handlers/watch/watch_context.json"}),
        frozenset({"handlers/backup/chain_context.json"}),
        frozenset(),
    }

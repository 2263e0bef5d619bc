"""The repository's architecture, read from the tree: module sizes, the direction of imports
between layers, and the README's code map.

Imports are read with `ast`, so an import inside a function, under `if TYPE_CHECKING:` or in a
`try:` counts like one at the top (a lazy or type-only import is still a dependency), and so does
`importlib.import_module("...")` with a literal name; relative imports are resolved against the
importing module's package. Each failure names the file (and line) to change.

`bench/` is not checked for imports of `safetynet`: benchmarks measure the operator's code paths
(`bench/synth_scale.py` times `safetynet.synth`, `bench/refill.py` the CLI's staging flow), sit
above every layer like the tests do, ship nowhere and are imported by nothing, so they cannot
turn the CLI into a dependency of anything else.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from tests.support.stacks import PROJECT_DIR

LAYERS = ("conventions", "components", "handlers", "safetynet", "policy_rules")
"""The packages whose modules are size-checked and whose package folders the code map names."""
MAX_MODULE_LINES = 500
"""A module longer than this is more than one reads in a sitting: split it by concept."""

PULUMI = ("pulumi", "pulumi_*")
AWS_SDK = ("boto3", "botocore")
NEVER_IMPORTED = ("tests", "bench")
"""Nothing that ships or runs in production depends on the tests or the benchmarks."""
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # What every layer agrees on: imported by all, importing none of them, and shipped to Lambda
    # without Pulumi or an AWS SDK of its own.
    "conventions": (*PULUMI, *AWS_SDK, "components", "handlers", "safetynet", "policy_rules"),
    # Pulumi components: declare, never call AWS at run time, never reach into Lambda or CLI code.
    "components": ("handlers", "safetynet", "policy_rules"),
    # Exactly what ships to Lambda (with conventions): no Pulumi, no program, no CLI.
    "handlers": (*PULUMI, "components", "safetynet", "policy_rules"),
    # Pure functions over resource dicts, run by the policy pack and by `safetynet synth --check`.
    "policy_rules": (*PULUMI, *AWS_SDK, "components", "handlers", "safetynet"),
    # The CrossGuard pack wraps the rules; it never needs the CLI (which also runs them).
    "policy": ("safetynet",),
    # The Pulumi program builds components from config; handlers reach Lambda as files, not imports.
    "__main__.py": ("safetynet", "handlers"),
    # The CLI is the top: it may use every layer below it (but never the tests or bench).
    "safetynet": (),
}
"""Per layer (a package folder or a top-level file), the top-level modules it must not import
(shell-style patterns). `safetynet` is the only importer of `safetynet` besides tests and bench."""

CODE_MAP_SECTION = "## Working on safetynet"
CODE_MAP_HEADING = "### Code map"


def python_files(layer: str, root: Path = PROJECT_DIR) -> list[Path]:
    """The `.py` files of a layer (a package folder, or one top-level file), sorted."""
    path = root / layer
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)


def package_of(path: Path, root: Path = PROJECT_DIR) -> list[str]:
    """The package a module's relative imports resolve against: the folder it is in (for an
    `__init__.py`, that is its own package)."""
    return list(path.relative_to(root).parent.parts)


def imports(path: Path, root: Path = PROJECT_DIR) -> Iterator[tuple[int, str]]:
    """(line, absolute dotted name) of every module `path` imports, wherever the import is."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.lineno, node.module or ""
        elif isinstance(node, ast.ImportFrom):
            package = package_of(path, root)
            base = package[: len(package) - node.level + 1]
            yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
        elif (
            isinstance(node, ast.Call)
            and _called_name(node.func) in {"importlib.import_module", "import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return ""


def forbidden_imports(layer: str, root: Path = PROJECT_DIR) -> list[str]:
    """'file:line imports name' for every import of `layer` that its rules forbid."""
    patterns = (*FORBIDDEN[layer], *NEVER_IMPORTED)
    found = []
    for path in python_files(layer, root):
        for line, name in sorted(imports(path, root)):
            if any(fnmatchcase(name.split(".")[0], pattern) for pattern in patterns):
                found.append(f"{path.relative_to(root).as_posix()}:{line} imports {name}")
    return found


def shown(path: Path) -> str:
    return path.relative_to(PROJECT_DIR).as_posix()


# -- the checks of the tree ------------------------------------------------------------------------


@pytest.mark.parametrize("layer", LAYERS)
def test_no_module_is_longer_than_one_reads_in_a_sitting(layer: str) -> None:
    too_long = [
        f"{shown(p)}: {n} lines"
        for p in python_files(layer)
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not too_long, (
        f"modules over {MAX_MODULE_LINES} lines (split each by concept, not by size):\n  " + "\n  ".join(too_long)
    )


@pytest.mark.parametrize("layer", list(FORBIDDEN))
def test_imports_point_one_way(layer: str) -> None:
    found = forbidden_imports(layer)
    forbidden = ", ".join(FORBIDDEN[layer] + NEVER_IMPORTED)
    assert not found, f"{layer} must not import {forbidden}:\n  " + "\n  ".join(found)


def test_every_layer_is_checked() -> None:
    """A new top-level package gets a rule here before it gets code."""
    packages = {p.parent.name for p in PROJECT_DIR.glob("*/__init__.py")}
    assert packages - {"tests"} <= set(FORBIDDEN), sorted(packages - set(FORBIDDEN))


# -- the checker itself ------------------------------------------------------------------------------


def test_the_checker_sees_lazy_relative_type_only_and_dynamic_imports(tmp_path: Path) -> None:
    # Given a handler module that imports in every way Python allows
    module = tmp_path / "handlers" / "watch" / "lazy.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import pulumi_aws\n"
        "def f():\n"
        "    from components.stack import build\n"
        "    import importlib\n"
        "    return importlib.import_module('safetynet.cli')\n"
        "from . import drill\n"
        "from ..exports import reader\n"
    )
    # When its imports are read
    found = forbidden_imports("handlers", root=tmp_path)
    # Then every import is seen, relative ones made absolute, and exactly the forbidden ones reported
    assert sorted(name for _line, name in imports(module, tmp_path)) == [
        "components.stack",
        "handlers.exports",
        "handlers.watch",
        "importlib",
        "pulumi_aws",
        "safetynet.cli",
        "typing",
    ]
    assert found == [
        "handlers/watch/lazy.py:3 imports pulumi_aws",
        "handlers/watch/lazy.py:5 imports components.stack",
        "handlers/watch/lazy.py:7 imports safetynet.cli",
    ]


def test_a_relative_import_in_a_package_init_resolves_against_that_package(tmp_path: Path) -> None:
    init = tmp_path / "handlers" / "exports" / "__init__.py"
    init.parent.mkdir(parents=True)
    init.write_text("from .reader import iter_items\nfrom .. import clients\n")
    assert sorted(name for _line, name in imports(init, tmp_path)) == ["handlers", "handlers.exports.reader"]


# -- the README's code map ---------------------------------------------------------------------------


def readme_section(heading: str, text: str) -> str:
    """The body of the section `heading`: up to the next heading of the same or a higher level
    (a `#` comment inside a fenced code block is not a heading)."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    assert heading in lines, f"README.md has no {heading!r} section"
    start = lines.index(heading) + 1
    fenced = False
    for end in range(start, len(lines)):
        fenced ^= lines[end].startswith("```")
        if not fenced and re.match(rf"#{{1,{level}}} ", lines[end]):
            return "\n".join(lines[start:end])
    return "\n".join(lines[start:])


def working_section() -> str:
    return readme_section(CODE_MAP_SECTION, (PROJECT_DIR / "README.md").read_text())


PATH_TOKEN = re.compile(r"^[\w.*<>-]+(/[\w.*<>-]*)+$")
"""A repository path as the README writes it: `handlers/watch/`, `tests/components/<flow>/`."""
FILE_TOKEN = re.compile(r"^[\w.-]+\.(py|json|yaml|yml|toml|md|lock)$")
"""A bare file name: `entrypoints.py`, looked for in the folders named in the same item."""


def as_glob(token: str) -> str:
    return re.sub(r"<[^>]*>", "*", token).rstrip("/")


ITEM_START = re.compile(r"^(\s*$|#|\s*[-*] |\s*\d+\. |\||```)")
"""A line that starts a new paragraph, list item, table row or code fence."""


def items(section: str) -> Iterator[str]:
    """The section as paragraphs, list items and table rows, each joined into one line."""
    item: list[str] = []
    for line in section.splitlines():
        if item and ITEM_START.match(line):
            yield " ".join(item)
            item = []
        item.append(line.strip())
    yield " ".join(item)


def named_paths(section: str) -> Iterator[tuple[str, list[str]]]:
    """(token, globs of which one must match) for every path the section names: backticked paths
    (a `<placeholder>` matches anything, a pytest node id's `::test` part is dropped), relative link
    targets, and bare file names (in a folder named in the same paragraph or list item, or at
    the top)."""
    for item in items(section):
        tokens = [t.split("::")[0] for t in re.findall(r"`([^`\s]+)`", item)]
        tokens += [t for t in re.findall(r"\]\(([^)#\s]+)\)", item) if "://" not in t]
        paths = [t for t in tokens if PATH_TOKEN.match(t)]
        folders = [as_glob(t) for t in paths if "." not in Path(t).name]
        for token in paths:
            yield token, [as_glob(token)]
        for token in tokens:
            if FILE_TOKEN.match(token):
                yield token, [f"{folder}/{token}" for folder in folders] + [token]


def exists(pattern: str) -> bool:
    return any(PROJECT_DIR.glob(pattern)) if "*" in pattern else (PROJECT_DIR / pattern).exists()


def test_the_contributor_section_names_only_paths_that_exist() -> None:
    section = working_section()
    missing = sorted({token for token, globs in named_paths(section) if not any(exists(g) for g in globs)})
    assert not missing, f"README.md '{CODE_MAP_SECTION}' names paths that do not exist: {missing}"


def test_the_code_map_names_every_package_folder() -> None:
    code_map = readme_section(CODE_MAP_HEADING, working_section())
    named = {token.rstrip("/") for token in re.findall(r"`([^`\s]+)`", code_map)}
    packages = sorted(shown(init.parent) for layer in LAYERS for init in (PROJECT_DIR / layer).rglob("__init__.py"))
    unnamed = [f"{p}/" for p in packages if p not in named]
    assert not unnamed, f"README.md's code map does not name these packages: {unnamed}"


def test_the_code_map_reader_resolves_placeholders_links_and_bare_file_names() -> None:
    # Given a section that names paths in each way the README does
    section = (
        "See [the design](docs/ARCHITECTURE.md) and `tests/handlers/<flow>/`.\n"
        "- `handlers/watch/`: `entrypoints.py` over\n"
        "  `aws.py`; run `pytest tests/x.py` or `handlers/watch/test_x.py::test_y`.\n"
        "- `.pre-commit-config.yaml` at the top, `safetynet:staging-target=<stack>`, `s3://b/k/`.\n"
    )
    # When its paths are read
    named = dict(named_paths(section))
    # Then placeholders become globs, bare names are looked for in the item's folders, node ids
    # lose their test, and tokens that are not paths (commands, tags, URLs) are left alone
    assert named == {
        "docs/ARCHITECTURE.md": ["docs/ARCHITECTURE.md"],
        "tests/handlers/<flow>/": ["tests/handlers/*"],
        "handlers/watch/": ["handlers/watch"],
        "entrypoints.py": ["handlers/watch/entrypoints.py", "entrypoints.py"],
        "aws.py": ["handlers/watch/aws.py", "aws.py"],
        "handlers/watch/test_x.py": ["handlers/watch/test_x.py"],
        ".pre-commit-config.yaml": [".pre-commit-config.yaml"],
    }
    assert exists("tests/handlers/*")
    assert not exists("handlers/watch/test_x.py")

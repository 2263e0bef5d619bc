"""The Lambda dependency layer: what `make layer` builds (the `lambda` group of uv.lock, for the
Lambda runtime rather than this machine) and how every safetynet function attaches it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag

from components.common import lambda_package
from components.common.lambda_package import (
    ARCHITECTURE,
    LAYER_DIR,
    RUNTIME,
    DependencyLayerMissingError,
    dependency_layer_archive,
)
from safetynet.synth import SynthError, SynthResult
from tests.support.stacks import PROJECT_DIR, synth_stack

FUNCTION = "aws:lambda/function:Function"
LAYER = "aws:lambda/layerVersion:LayerVersion"
# The Makefile leaves these locked packages out of the layer (see its `layer` target).
NOT_SHIPPED = {"numpy"}
# python3.12 and later run on Amazon Linux 2023, whose glibc is 2.34.
RUNTIME_GLIBC = (2, 34)
RUNTIME_VERSION = tuple(int(p) for p in RUNTIME.removeprefix("python").split("."))
EM_X86_64 = 62  # ELF e_machine of x86-64


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def site() -> Path:
    """build/lambda-layer/python; a missing build fails (not skips) with the command that makes it."""
    if not any((LAYER_DIR / "python").glob("*.dist-info")):
        pytest.fail("build/lambda-layer is missing: run `make layer` (or `make setup`)", pytrace=False)
    return LAYER_DIR / "python"


def _shipped(site: Path) -> dict[str, str]:
    """Distribution name -> version, from the layer's own dist-info metadata."""
    found: dict[str, str] = {}
    for meta in site.glob("*.dist-info/METADATA"):
        fields = dict(re.findall(r"^(Name|Version): (.+)$", meta.read_text(), flags=re.MULTILINE))
        found[_norm(fields["Name"])] = fields["Version"]
    return found


def _wheel_tags(site: Path, dist: str) -> set[Tag]:
    [wheel] = [p / "WHEEL" for p in site.glob("*.dist-info") if _norm(p.name.split("-")[0]) == dist]
    tags: set[Tag] = set()
    for line in wheel.read_text().splitlines():
        if line.startswith("Tag: "):
            tags |= parse_tag(line.removeprefix("Tag: "))
    return tags


def _runtime_tags() -> set[Tag]:
    """Every wheel tag the Lambda runtime's interpreter accepts (as pip computes them there)."""
    major, minor = RUNTIME_GLIBC
    platforms = [f"manylinux_{major}_{m}_{ARCHITECTURE}" for m in range(minor, 4, -1)]
    platforms += [f"manylinux{legacy}_{ARCHITECTURE}" for legacy in ("2014", "2010", "1")]
    version = RUNTIME_VERSION[:2]
    return set(cpython_tags(version, platforms=platforms)) | set(
        compatible_tags(version, interpreter=f"cp{version[0]}{version[1]}", platforms=platforms)
    )


def _locked_lambda_closure() -> dict[str, str]:
    """The `lambda` dependency group of uv.lock with every dependency it pulls in, as resolved
    for the Lambda runtime: name -> locked version."""
    lock = tomllib.loads((PROJECT_DIR / "uv.lock").read_text())
    packages: dict[str, list[dict[str, Any]]] = {}
    for pkg in lock["package"]:
        packages.setdefault(pkg["name"], []).append(pkg)
    [project] = packages["safetynet"]
    env = {
        **default_environment(),
        "python_version": f"{RUNTIME_VERSION[0]}.{RUNTIME_VERSION[1]}",
        "python_full_version": f"{RUNTIME_VERSION[0]}.{RUNTIME_VERSION[1]}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": ARCHITECTURE,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    closure: dict[str, str] = {}
    todo = list(project["dev-dependencies"]["lambda"])
    while todo:
        dep = todo.pop()
        if "marker" in dep and not Marker(dep["marker"]).evaluate(env):
            continue
        [pkg] = [p for p in packages[dep["name"]] if "version" not in dep or p["version"] == dep["version"]]
        if pkg["name"] not in closure:
            closure[pkg["name"]] = pkg["version"]
            todo.extend(pkg.get("dependencies", []))
    return closure


# -- the dependency group --------------------------------------------------------------------


def test_the_lambda_group_uses_the_specifiers_of_the_project_dependencies() -> None:
    # Given pyproject.toml
    doc = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    main = {_norm(Requirement(r).name): Requirement(r) for r in doc["project"]["dependencies"]}
    # When the lambda group is read
    group = [Requirement(r) for r in doc["dependency-groups"]["lambda"]]
    # Then it holds what the handlers import beyond the runtime, each as the project pins it
    assert {_norm(r.name) for r in group} == {"orjson", "amazon-ion"}
    for req in group:
        assert req.specifier == main[_norm(req.name)].specifier, req.name


# -- what `make layer` built -----------------------------------------------------------------


def test_the_layer_holds_the_locked_versions_of_the_lambda_group(site: Path) -> None:
    # Given the lock's lambda group, resolved for the runtime, minus what the Makefile leaves out
    locked = {n: v for n, v in _locked_lambda_closure().items() if n not in NOT_SHIPPED}
    assert {"orjson", "amazon-ion"} <= set(locked)
    # Then the layer holds exactly those distributions, at exactly those versions
    assert _shipped(site) == locked


def test_numpy_is_left_out_of_the_layer(site: Path) -> None:
    # jsonconversion (amazon-ion's JSON-encoder helper) pulls it in, and imports it only if present.
    assert "numpy" in _locked_lambda_closure()
    assert "numpy" not in _shipped(site)
    assert not (site / "numpy").exists()


def test_orjson_is_the_cpython_312_x86_64_linux_build_not_this_machine_s(site: Path) -> None:
    # Given the layer's orjson
    tag = f"cp{RUNTIME_VERSION[0]}{RUNTIME_VERSION[1]}"
    [ext] = list((site / "orjson").glob("orjson.*.so"))
    # Then its extension module is built for the runtime's interpreter and architecture
    assert ext.name == f"orjson.cpython-{RUNTIME_VERSION[0]}{RUNTIME_VERSION[1]}-{ARCHITECTURE}-linux-gnu.so"
    header = ext.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[4] == 2  # a 64-bit ELF shared object
    assert int.from_bytes(header[18:20], "little") == EM_X86_64
    # And its wheel is a CPython 3.12 manylinux x86_64 wheel
    tags = _wheel_tags(site, "orjson")
    assert any(t.interpreter == tag and t.abi == tag and t.platform.endswith(f"_{ARCHITECTURE}") for t in tags)
    assert tags & _runtime_tags()


def test_every_wheel_in_the_layer_runs_on_the_lambda_runtime(site: Path) -> None:
    runtime = _runtime_tags()
    for dist in _shipped(site):
        assert _wheel_tags(site, dist) & runtime, f"{dist} is not built for {RUNTIME} {ARCHITECTURE}"


def test_amazon_ion_ships_its_c_extension_for_the_runtime(site: Path) -> None:
    tag = f"cp{RUNTIME_VERSION[0]}{RUNTIME_VERSION[1]}"
    assert (site / "amazon" / "ion" / "simpleion.py").is_file()
    assert (site / "amazon" / "_ioncmodule.so").is_file()
    assert any(t.interpreter == tag for t in _wheel_tags(site, "amazon-ion"))


def test_the_layer_s_amazon_ion_reads_an_ion_export_line_without_numpy(site: Path) -> None:
    # Given the layer as the only site-packages of an interpreter (stdlib only otherwise), and
    # amazon-ion's pure-Python reader (its C extension is built for 3.12, this machine runs
    # another CPython); -B: no bytecode may land in the layer, it would change its archive
    probe = """
import json, sys
sys.path.insert(0, sys.argv[1])
sys.modules["amazon._ioncmodule"] = None
from amazon.ion import simpleion
item = simpleion.loads(sys.argv[2])["Item"]
print(json.dumps({"id": item["id"], "total": str(item["total"]),
                  "set": [a.text for a in item["tags"].ion_annotations], "tags": list(item["tags"]),
                  "numpy": "numpy" in sys.modules}))
"""
    line = '$ion_1_0 {Item:{id:"o-1",total:12.50,tags:$dynamodb_SS::["a","b"]}}'
    # When it reads a DynamoDB Ion export line
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", probe, str(site), line],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    # Then it decodes the item, and numpy was never needed
    assert json.loads(out) == {
        "id": "o-1",
        "total": "12.50",
        "set": ["$dynamodb_SS"],
        "tags": ["a", "b"],
        "numpy": False,
    }


def test_the_layer_directory_holds_only_python_and_no_bytecode(site: Path) -> None:
    # Everything in build/lambda-layer is deployed, and its archive hash is its contents: stray
    # files or __pycache__ would ship and make every deploy (and the nightly drift check) differ.
    assert [p.name for p in LAYER_DIR.iterdir()] == ["python"]
    assert not [p for p in site.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]


# -- who builds it --------------------------------------------------------------------------------


def test_setup_builds_the_layer_for_the_runtime_from_hashed_wheels() -> None:
    # When make lists every command `make setup` would run (running none)
    out = subprocess.run(
        ["make", "--dry-run", "--always-make", "setup"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    # Then one installs the lock's lambda group into the layer, for the runtime, wheels only
    [install] = [c for c in out.replace("\\\n", " ").splitlines() if "--target build/lambda-layer" in c]
    major, minor = RUNTIME_VERSION[:2]
    for flag in (
        f"--python-version {major}.{minor}",
        f"--python-platform {ARCHITECTURE}-manylinux_{RUNTIME_GLIBC[0]}_{RUNTIME_GLIBC[1]}",
        "--only-binary :all:",
        "--require-hashes",
        "--no-deps",
    ):
        assert flag in install
    assert "export --quiet --frozen --only-group lambda" in out


def test_every_workflow_job_that_runs_pulumi_runs_make_setup_first() -> None:
    from ruamel.yaml import YAML

    checked = 0
    for path in sorted((PROJECT_DIR / ".github" / "workflows").glob("*.yml")):
        for name, job in YAML(typ="safe").load(path.read_text())["jobs"].items():
            steps = job.get("steps", [])
            engine = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("pulumi/actions@")]
            for i in engine:
                checked += 1
                assert any("make setup" in str(s.get("run", "")) for s in steps[:i]), f"{path.name}: {name}"
    assert checked >= 4  # preview on PRs, up test, up prod, nightly drift


# -- a missing layer ---------------------------------------------------------------------------


def test_a_layer_without_packages_is_refused_with_the_command_that_builds_it(tmp_path: Path) -> None:
    # Given a layer directory whose python/ holds no installed distribution (e.g. a broken build)
    (tmp_path / "python").mkdir()
    # When it is packaged, Then the program stops with a message saying what to run
    with pytest.raises(DependencyLayerMissingError, match=re.escape("is missing: run `make layer`")) as err:
        dependency_layer_archive(tmp_path)
    assert isinstance(err.value, pulumi.RunError)  # Pulumi prints it without a traceback


@pytest.fixture
def declared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """No built layer (LAYER_DIR points at an empty folder); yields the type of every resource
    the program constructs, recorded as it is constructed."""
    monkeypatch.setattr(lambda_package, "LAYER_DIR", tmp_path / "build" / "lambda-layer")
    constructed: list[str] = []
    original = pulumi.Resource.__init__

    def record(self: pulumi.Resource, t: str, *args: Any, **kwargs: Any) -> None:
        if t != "pulumi:pulumi:Stack":
            constructed.append(t)
        original(self, t, *args, **kwargs)

    monkeypatch.setattr(pulumi.Resource, "__init__", record)
    yield constructed


def test_without_the_layer_the_prod_program_stops_before_declaring_anything(declared: list[str]) -> None:
    # When the prod program runs without a built layer
    with pytest.raises(SynthError, match=re.escape("build/lambda-layer is missing: run `make layer`")):
        synth_stack("prod")
    # Then nothing was declared (nothing half-deployed by `pulumi up`)
    assert declared == []


def test_without_the_layer_the_test_program_stops_before_declaring_anything(
    prod_synth: SynthResult, declared: list[str]
) -> None:
    with pytest.raises(SynthError, match=re.escape("build/lambda-layer is missing: run `make layer`")):
        synth_stack("test", stack_references={"prod": prod_synth.outputs})
    assert declared == []


def test_a_stack_without_functions_needs_no_layer_and_declares_none(declared: list[str]) -> None:
    # Given a prod stack with no tables (so no DisasterWatch functions), and no built layer
    result = synth_stack("prod", config_overrides={"tables": []})
    # Then it synthesizes, without a layer
    assert result.of_type(FUNCTION) == [] and result.of_type(LAYER) == []
    assert declared  # the program did run


# -- every function attaches it ----------------------------------------------------------------


@pytest.fixture(params=["prod", "test"])
def stack(request: pytest.FixtureRequest, site: Path) -> SynthResult:
    """The shipped stack (session fixtures prod_synth, test_synth), once the layer is built."""
    return request.getfixturevalue(f"{request.param}_synth")


def test_the_stack_declares_one_layer_from_the_built_directory(stack: SynthResult) -> None:
    layer = stack.one(LAYER)
    assert layer["inputs"]["code"] == {"path": str(LAYER_DIR)}
    assert layer["inputs"]["layerName"] == f"safetynet-{stack.outputs['environment']}-lambda-deps"


def test_every_function_lists_powertools_then_the_dependency_layer(stack: SynthResult) -> None:
    layer = stack.one(LAYER)
    functions = stack.of_type(FUNCTION)
    assert functions
    for fn in functions:
        powertools, deps = fn["inputs"]["layers"]
        assert ":layer:AWSLambdaPowertoolsPythonV3-" in powertools, fn["name"]
        # The mocks' ARN of the layer resource; the function waits for that resource.
        assert deps.endswith(f":{layer['name']}") and layer["name"] in fn["options"]["dependsOn"], fn["name"]


def test_the_layer_is_compatible_with_every_function_s_runtime_and_architecture(stack: SynthResult) -> None:
    layer = stack.one(LAYER)["inputs"]
    for fn in stack.of_type(FUNCTION):
        assert layer["compatibleRuntimes"] == [fn["inputs"]["runtime"]] == [RUNTIME], fn["name"]
        # Lambda's default architecture is x86_64.
        assert fn["inputs"].get("architectures", ["x86_64"]) == layer["compatibleArchitectures"], fn["name"]

"""Offline synthesis: run the Pulumi program under Pulumi's mocks with a stack's config file.

This is the credential-free view of `pulumi preview`: every resource the program declares,
with its inputs as Pulumi sends them (camelCase), its parent and its resource options, and
the stack outputs. Secret config values never enter: they are replaced by a placeholder.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from components.config.base import SECRET_PLACEHOLDER

_YAML = YAML(typ="safe", pure=True)
SYNTH_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"


class SynthError(Exception):
    """The program could not be synthesized (bad config, missing files, program error)."""


@dataclass
class SynthResult:
    """What a synth run declared."""

    stack: str
    project: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `safetynet synth` JSON document."""
        return {
            "stack": self.stack,
            "project": self.project,
            "resources": self.resources,
            "outputs": self.outputs,
        }

    def of_type(self, typ: str) -> list[dict[str, Any]]:
        """Resources of one type token, in declaration order."""
        return [r for r in self.resources if r["type"] == typ]

    def one(self, typ: str, name: str | None = None) -> dict[str, Any]:
        """The single resource of a type (and name); raises when there is not exactly one."""
        found = [r for r in self.of_type(typ) if name is None or r["name"] == name]
        if len(found) != 1:
            raise LookupError(f"expected one {typ} {name or ''}, found {len(found)}")
        return found[0]


# -- config files ----------------------------------------------------------------------------


def read_project(project_dir: Path) -> dict[str, Any]:
    """Pulumi.yaml as a dict."""
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        raise SynthError(f"{path} not found; pass --project-dir pointing at the safetynet project")
    return _load_mapping(path)


def _load_mapping(path: Path) -> dict[str, Any]:
    """A project or stack file as a dict; YAML that does not parse, or is not a mapping, raises
    SynthError naming the file, line and column (the CLI exits 2 with it)."""
    from ruamel.yaml import YAMLError

    from safetynet.stack_yaml import yaml_error_text

    try:
        doc = _YAML.load(path.read_text())
    except YAMLError as exc:
        raise SynthError(yaml_error_text(path, exc)) from None
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise SynthError(f"{path}: not a YAML mapping (expected keys such as `config:` at the top level)")
    config = doc.get("config")
    if config is not None and not isinstance(config, Mapping):
        raise SynthError(f"{path}: `config` must be a mapping of keys to values, not {type(config).__name__}")
    return dict(doc)


def read_stack_config(project_dir: Path, stack: str) -> tuple[dict[str, str], list[str]]:
    """A stack's config flattened as Pulumi hands it to programs: `ns:key -> text`, objects as
    JSON text, project-level defaults from Pulumi.yaml filled in, secrets as a placeholder.
    Returns (config, secret keys)."""
    project = read_project(project_dir)
    name = project.get("name", "")
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise SynthError(f"{path} not found; create it (pulumi stack init {stack}) or choose another stack")
    stack_doc = _load_mapping(path)
    values: dict[str, Any] = {}
    for key, decl in (project.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(decl, Mapping) and "default" in decl:
            values[full] = decl["default"]
        elif isinstance(decl, Mapping) and "value" in decl:
            values[full] = decl["value"]
    for key, value in (stack_doc.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        values[full] = value
    flat: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in values.items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            flat[key] = SECRET_PLACEHOLDER
            secrets.append(key)
        elif isinstance(value, str):
            flat[key] = value
        elif isinstance(value, bool):
            flat[key] = "true" if value else "false"
        else:
            flat[key] = json.dumps(value)
    return flat, secrets


# -- mocks -----------------------------------------------------------------------------------


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:7]


def fake_state(  # noqa: PLR0911 (one return per resource type it knows)
    typ: str, name: str, inputs: dict[str, Any], region: str
) -> tuple[str, dict[str, Any]]:
    """Plausible provider-computed attributes (ids, ARNs) so dependent inputs resolve."""
    acct = SYNTH_ACCOUNT_ID
    state = dict(inputs)
    rid = f"{name}-{_suffix(name)}"
    if typ == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name + '-')}{_suffix(name)}"
        state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", id=bucket)
        return bucket, state
    if typ == "aws:dynamodb/table:Table":
        tname = inputs.get("name", rid)
        arn = f"arn:aws:dynamodb:{region}:{acct}:table/{tname}"
        state.update(arn=arn, name=tname)
        if inputs.get("streamEnabled"):
            state["streamArn"] = f"{arn}/stream/2026-01-01T00:00:00.000"
        return tname, state
    if typ == "aws:kms/key:Key":
        key_id = f"0000{_suffix(name)}-0000-0000-0000-000000000000"[:36]
        state.update(arn=f"arn:aws:kms:{region}:{acct}:key/{key_id}", keyId=key_id)
        return key_id, state
    if typ == "aws:sqs/queue:Queue":
        qname = inputs.get("name", rid)
        state.update(
            arn=f"arn:aws:sqs:{region}:{acct}:{qname}",
            url=f"https://sqs.{region}.amazonaws.com/{acct}/{qname}",
        )
        return state["url"], state
    if typ == "aws:iam/role:Role":
        rname = inputs.get("name", rid)
        state.update(arn=f"arn:aws:iam::{acct}:role/{rname}", name=rname)
        return rname, state
    if typ == "aws:sns/topic:Topic":
        tname = inputs.get("name", rid)
        state.update(arn=f"arn:aws:sns:{region}:{acct}:{tname}", name=tname)
        return state["arn"], state
    if typ == "aws:sfn/stateMachine:StateMachine":
        sname = inputs.get("name", rid)
        state.update(arn=f"arn:aws:states:{region}:{acct}:stateMachine:{sname}", name=sname)
        return state["arn"], state
    if typ == "aws:scheduler/schedule:Schedule":
        sname = inputs.get("name", rid)
        group = inputs.get("groupName", "default")
        state.update(arn=f"arn:aws:scheduler:{region}:{acct}:schedule/{group}/{sname}", name=sname)
        return sname, state
    service = typ.split(":")[1].split("/", maxsplit=1)[0] if ":" in typ else "synth"
    state.setdefault("arn", f"arn:aws:{service}:{region}:{acct}:{name}")
    state.setdefault("name", inputs.get("name", rid))
    return rid, state


def fake_invoke(token: str, region: str) -> dict[str, Any]:
    """What the AWS provider's data sources the program calls return under mocks: the synth
    account, the stack's region, the aws partition (empty for any other)."""
    invokes: dict[str, dict[str, Any]] = {
        "aws:index/getCallerIdentity:getCallerIdentity": {
            "accountId": SYNTH_ACCOUNT_ID,
            "arn": f"arn:aws:iam::{SYNTH_ACCOUNT_ID}:user/synth",
            "userId": "SYNTH",
            "id": SYNTH_ACCOUNT_ID,
        },
        "aws:index/getRegion:getRegion": {"region": region, "name": region, "id": region},
        "aws:index/getPartition:getPartition": {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"},
    }
    return invokes.get(token, {})


def _make_monitor(region: str, records: list[dict[str, Any]]) -> Any:
    from pulumi.runtime import Mocks, rpc
    from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

    # Explicit providers (e.g. a replica region's): their id -> region, so the ARNs of resources
    # they manage name that region.
    provider_regions: dict[str, str] = {}

    class SynthMocks(Mocks):
        def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            if args.typ == "pulumi:pulumi:StackReference":
                return _stack_reference(args)
            if not args.custom:
                return None, {}
            if args.typ.startswith("pulumi:providers:"):
                pid = f"{args.name}-{_suffix(args.name)}"
                provider_regions[pid] = str(args.inputs.get("region") or region)
                return pid, dict(args.inputs)
            own_region = provider_regions.get((args.provider or "").rsplit("::", 1)[-1], region)
            return fake_state(args.typ, args.name, args.inputs, own_region)

        def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return fake_invoke(args.token, region), []

    class RecordingMonitor(MockMonitor):
        """Keeps every registration with its parent and resource options."""

        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                records.append(
                    {
                        "type": request.type,
                        "name": request.name,
                        "urn": response.urn,
                        "parentUrn": request.parent or None,
                        "custom": bool(request.custom),
                        "inputs": _plain(rpc.deserialize_properties(request.object)),
                        "options": {
                            "protect": bool(request.protect),
                            "retainOnDelete": bool(request.retainOnDelete),
                            "ignoreChanges": list(request.ignoreChanges),
                            "importId": request.importId or None,
                            # Each alias as the URN it stands for, resolved as the engine does.
                            "aliases": [_alias_urn(request, response.urn, a) for a in request.aliases],
                            # The explicit provider's resource name (None: the default provider).
                            "provider": request.provider.split("::")[-2] if request.provider else None,
                            # Names of every resource this one waits for (explicit and through inputs).
                            "dependsOn": sorted({u.rsplit("::", 1)[-1] for u in request.dependencies}),
                        },
                    }
                )
            return response

    return SynthMocks, RecordingMonitor


def _alias_urn(request: Any, urn: str, alias: Any) -> str:
    """The URN an alias names: an explicit URN, or its spec with every field it leaves out taken
    from the resource itself (name, type, stack, project, parent), as the Pulumi engine fills it."""
    if alias.urn:
        return str(alias.urn)
    spec = alias.spec
    stack, project = urn.split("::", maxsplit=1)[0].removeprefix("urn:pulumi:"), urn.split("::")[1]
    stack, project = spec.stack or stack, spec.project or project
    typ, name = spec.type or request.type, spec.name or request.name
    parent = None if spec.noParent else (spec.parentUrn or request.parent or None)
    qualified = typ
    if parent:
        # As the mock monitor names children (MockMonitor.make_urn): after its parent's own type
        # only, so an alias resolves to the URN this recorder recorded for the old resource.
        parent_type = parent.split("::")[2].split("$")[-1]
        if parent_type != "pulumi:pulumi:Stack":
            qualified = f"{parent_type}${typ}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


# StackReference outputs for synth: a test stack reads prod's outputs. Filled by callers
# (e.g. from a prior synth of the referenced stack) through `stack_references`.
_STACK_REFERENCES: dict[str, dict[str, Any]] = {}


def _stack_reference(args: Any) -> tuple[str, dict[str, Any]]:
    ref_name = args.inputs.get("name", args.name)
    short = str(ref_name).rsplit("/", 1)[-1]
    outputs = _STACK_REFERENCES.get(ref_name) or _STACK_REFERENCES.get(short) or {}
    return str(ref_name), {"name": ref_name, "outputs": outputs, "secretOutputNames": []}


@contextmanager
def _program_path(project_dir: Path) -> Iterator[None]:
    sys.path.insert(0, str(project_dir))
    try:
        yield
    finally:
        sys.path.remove(str(project_dir))


def _order_and_label(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace parent URNs by a readable `type::name` label and sort the records depth-first
    (each parent before its children, siblings by type and name). Registration order depends on
    the event loop; a stable order keeps reviews and diffs readable."""
    by_urn = {r["urn"]: r for r in records}

    def path(r: dict[str, Any]) -> list[tuple[str, str]]:
        chain = [(r["type"], r["name"])]
        parent = by_urn.get(r.get("parentUrn") or "")
        while parent is not None:
            chain.append((parent["type"], parent["name"]))
            parent = by_urn.get(parent.get("parentUrn") or "")
        return chain[::-1]

    keyed = [(path(r), r) for r in records]
    for _, r in keyed:
        p = by_urn.get(r["parentUrn"] or "")
        r["parent"] = f"{p['type']}::{p['name']}" if p else None
    keyed.sort(key=lambda kr: kr[0])
    for _, r in keyed:
        r.pop("parentUrn")
    return [r for _, r in keyed]


_SYNTHESIZING: set[str] = set()


def _referenced_stacks(project_dir: Path, stack: str, flat: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """A test stack reads prod's outputs through a StackReference (`safetynet:staging.from`).
    When the caller gives no `stack_references`, the referenced stack is synthesized from this
    project's `Pulumi.<stack>.yaml`, if there is one, so `safetynet synth test` works alone."""
    try:
        doc = json.loads(flat.get("safetynet:staging") or "{}")
    except json.JSONDecodeError:
        return {}
    ref = doc.get("from") if isinstance(doc, dict) else None
    if not isinstance(ref, str):
        return {}
    short = ref.rsplit("/", 1)[-1]
    if short == stack or short in _SYNTHESIZING or not (project_dir / f"Pulumi.{short}.yaml").is_file():
        return {}
    _SYNTHESIZING.add(stack)
    try:
        return {ref: synth(project_dir, short).outputs}
    finally:
        _SYNTHESIZING.discard(stack)


def synth(
    project_dir: Path | str,
    stack: str,
    *,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    config_overrides: Mapping[str, Any] | None = None,
) -> SynthResult:
    """Run the project's `__main__.py` for `stack` under mocks and return what it declared.

    `stack_references` gives the outputs a StackReference of that name returns (by full or
    short stack name). `config_overrides` replaces `safetynet:*` values (decoded) for tests.
    """
    project_dir = Path(project_dir).resolve()
    project = read_project(project_dir)
    project_name = str(project.get("name", "project"))
    flat, secret_keys = read_stack_config(project_dir, stack)
    for key, value in (config_overrides or {}).items():
        full = key if ":" in key else f"safetynet:{key}"
        flat[full] = value if isinstance(value, str) else json.dumps(value)
    region = flat.get("aws:region", DEFAULT_REGION)

    # Before this run's mocks are set: synthesizing a referenced stack resets them.
    if stack_references is None:
        references = _referenced_stacks(project_dir, stack, flat)
    else:
        references = {k: dict(v) for k, v in stack_references.items()}
    records: list[dict[str, Any]] = []
    mocks_cls, monitor_cls = _make_monitor(region, records)
    _STACK_REFERENCES.clear()
    _STACK_REFERENCES.update({k: dict(v) for k, v in references.items()})

    main = project_dir / "__main__.py"
    if not main.is_file():
        raise SynthError(f"{main} not found")
    outputs = _run_program(
        main, project_dir, lambda: _configure(mocks_cls, monitor_cls, project_name, stack, flat, secret_keys)
    )

    return SynthResult(stack=stack, project=project_name, resources=_order_and_label(records), outputs=_plain(outputs))


def _configure(
    mocks_cls: Any, monitor_cls: Any, project: str, stack: str, flat: dict[str, str], secret_keys: list[str]
) -> None:
    from pulumi.runtime import config as pconfig
    from pulumi.runtime import mocks, settings

    # Pulumi's own test decorator does the same: outputs a previous program left pending are
    # tracked process-wide and would be awaited (on a closed loop) by this run.
    settings.SETTINGS.outputs.clear()
    settings.ROOT.set(None)
    mock_impl = mocks_cls()
    mocks.set_mocks(mock_impl, project=project, stack=stack, preview=False, monitor=monitor_cls(mock_impl))
    pconfig.set_all_config(flat, secret_keys)


def _run_program(main: Path, project_dir: Path, configure: Any) -> Any:
    """Run `main` under the mocks `configure` installs, on a fresh event loop (a program that
    failed leaves Pulumi's pending registrations behind; they must not run, and fail, inside
    the next synth of the same process). Returns the stack's resolved outputs."""
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    configure()

    def program() -> None:
        runpy.run_path(str(main), run_name="__main__")

    try:
        with _program_path(project_dir):
            try:
                _sync_await(run_pulumi_func(program))
            except pulumi.RunError as exc:
                raise SynthError(str(exc)) from None
            except ValueError as exc:
                # A component refused its inputs (raised inside an apply): Pulumi wraps the
                # message once per level ("... has risen: <message>"); the last one is the cause.
                raise SynthError(str(exc).rsplit("has risen: ", 1)[-1]) from None
            root = settings.get_root_resource()
            raw_outputs = getattr(root, "outputs", {}) or {}
            return _sync_await(pulumi.Output.from_input(raw_outputs).future()) or {}
    except SynthError:
        # Reported once, as this error: the failed program's abandoned futures must not also
        # print "exception was never retrieved" when they are collected later.
        loop.set_exception_handler(lambda _loop, _context: None)
        raise
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        # Leave a usable (empty) loop behind for callers that expect one.
        asyncio.set_event_loop(asyncio.new_event_loop())


def _plain(value: Any) -> Any:  # noqa: PLR0911 (one return per kind of value)
    """Inputs and outputs as JSON-compatible data (assets and archives as what they hold)."""
    import pulumi

    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        return {"path": str(value.path)}
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {str(k): _plain(v) for k, v in value.assets.items()}}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    # Pulumi's wire format (protobuf Struct) carries every number as a float.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value

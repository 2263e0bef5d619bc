"""The Pulumi policy pack in policy/: it imports, wraps exactly the rules of
policy_rules (the same function objects, no second copy, and nothing of the safetynet CLI), and
reports their findings through the policy SDK's analyzer service the way the engine calls it."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.deserialize import serialize_properties
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

import policy_rules as pr
from conventions.tags import ENVIRONMENT_TAG
from policy_rules.model import SCHEDULE, TABLE
from policy_rules.tables import table_pitr
from tests.support.stacks import PROJECT_DIR

PACK_DIR = PROJECT_DIR / "policy"


@pytest.fixture(scope="module")
def pack() -> ModuleType:
    """policy/__main__.py imported under another name, so it builds its policies but does not serve."""
    spec = importlib.util.spec_from_file_location("safetynet_policy_pack", PACK_DIR / "__main__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def servicer(pack: ModuleType) -> Any:
    return _PolicyAnalyzerServicer(pack.PACK_NAME, "0.1.0", pack.POLICIES, EnforcementLevel.MANDATORY)


def struct(props: dict[str, Any]) -> struct_pb2.Struct:
    """Properties in the engine's wire form (assets and archives as signature maps)."""
    s = struct_pb2.Struct()
    s.update(dict(serialize_properties(props)))
    return s


def analyze(pack: ModuleType, record: dict[str, Any]) -> list[Any]:
    request = proto.AnalyzeRequest(
        type=record["type"], name=record["name"], urn=record["urn"], properties=struct(record["inputs"])
    )
    return list(servicer(pack).Analyze(request, None).diagnostics)


def analyze_stack(pack: ModuleType, records: list[dict[str, Any]]) -> list[Any]:
    urn_of = {f"{r['type']}::{r['name']}": r["urn"] for r in records}
    request = proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=r["type"],
                name=r["name"],
                urn=r["urn"],
                properties=struct(r["inputs"]),
                parent=urn_of.get(r["parent"] or "", ""),
            )
            for r in records
        ]
    )
    return list(servicer(pack).AnalyzeStack(request, None).diagnostics)


# -- the pack wraps the rules module, nothing else ----------------------------------------------------


def test_pack_has_one_policy_per_rule_named_by_rule_id(pack: ModuleType) -> None:
    assert [p.name for p in pack.POLICIES] == [r.id for r in pr.RULES]


def test_policies_call_the_rules_module_functions(pack: ModuleType) -> None:
    for policy, rule in zip(pack.POLICIES, pr.RULES, strict=True):
        validator = pack.VALIDATORS[rule.id]
        # The validator holds the very Rule object, whose check is the module-level function of
        # the policy_rules module that defines it.
        assert validator.rule is pr.RULES_BY_ID[rule.id]
        module = importlib.import_module(rule.check.__module__)
        assert module.__name__.startswith(f"{pr.__name__}.")
        assert validator.rule.check is getattr(module, rule.check.__name__)
        kind = ResourceValidationPolicy if rule.kind == "resource" else StackValidationPolicy
        assert isinstance(policy, kind)
        assert getattr(policy, f"_{kind.__name__}__validate") is validator


def test_all_policies_are_mandatory(pack: ModuleType) -> None:
    assert {p.enforcement_level for p in pack.POLICIES} == {EnforcementLevel.MANDATORY}


@pytest.mark.slow
def test_pack_imports_the_rules_not_the_cli() -> None:
    # Given a fresh interpreter in the pack folder, as Pulumi starts it; When it loads the pack
    # (without serving it); Then the rules came with it, and no safetynet CLI or program layer.
    code = (
        "import runpy, sys; runpy.run_path('__main__.py', run_name='pack'); "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACK_DIR)
    loaded = set(out.stdout.split())
    assert {"policy_rules", "pulumi_policy"} <= loaded
    assert {"safetynet", "components", "handlers", "pulumi_aws"}.isdisjoint(loaded)


def test_pack_project_file_reuses_the_project_venv() -> None:
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"]["name"] == "python"
    venv = (PACK_DIR / doc["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == (PROJECT_DIR / ".venv").resolve()


# -- through the analyzer service, as the engine calls it ---------------------------------------------


def test_shipped_prod_stack_has_no_stack_diagnostics(pack: ModuleType, prod_synth: Any) -> None:
    assert analyze_stack(pack, prod_synth.resources) == []


def test_shipped_prod_resources_have_no_resource_diagnostics(pack: ModuleType, prod_synth: Any) -> None:
    found = [d for r in prod_synth.resources if r["custom"] for d in analyze(pack, r)]
    assert found == []


def test_resource_violation_is_reported_as_mandatory_with_the_rule_message(pack: ModuleType, prod_synth: Any) -> None:
    table = copy.deepcopy(next(r for r in prod_synth.resources if r["type"] == TABLE))
    table["inputs"]["pointInTimeRecovery"]["enabled"] = False
    diagnostics = analyze(pack, table)
    assert [d.policyName for d in diagnostics] == ["table-pitr"]
    assert diagnostics[0].enforcementLevel == proto.MANDATORY
    (finding,) = table_pitr(table["type"], table["inputs"])
    assert finding.message in diagnostics[0].message and finding.fix in diagnostics[0].message


def test_stack_violation_is_reported_on_the_offending_resource(pack: ModuleType, prod_synth: Any) -> None:
    records = [r for r in prod_synth.resources if not (r["type"] == SCHEDULE and "orders" in r["name"])]
    diagnostics = analyze_stack(pack, records)
    assert [d.policyName for d in diagnostics] == ["table-nightly-export"]
    table = next(r for r in records if r["type"] == TABLE and "orders" in r["name"])
    assert diagnostics[0].urn == table["urn"]
    assert diagnostics[0].enforcementLevel == proto.MANDATORY


def test_stack_rule_sees_parents_through_the_engine_view(pack: ModuleType, prod_synth: Any) -> None:
    # A staging component's role policy writing a prod table: found only via the parent chain.
    records = copy.deepcopy(prod_synth.resources)
    records.append(
        {
            "type": "safetynet:staging:StagingPipeline",
            "name": "s",
            "urn": "urn:s",
            "parent": None,
            "inputs": {},
        }
    )
    doc = {
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "arn:aws:dynamodb:x:1:table/orders"}
        ]
    }
    records.append(
        {
            "type": "aws:iam/rolePolicy:RolePolicy",
            "name": "task-policy",
            "urn": "urn:task-policy",
            "parent": "safetynet:staging:StagingPipeline::s",
            "inputs": {"policy": json.dumps(doc)},
        }
    )
    diagnostics = analyze_stack(pack, records)
    assert [(d.policyName, d.urn) for d in diagnostics] == [("staging-writes-only-staging-targets", "urn:task-policy")]


def test_unknown_value_during_preview_is_advisory_not_a_crash(pack: ModuleType, prod_synth: Any) -> None:
    policy = copy.deepcopy(next(r for r in prod_synth.resources if r["type"] == "aws:iam/rolePolicy:RolePolicy"))
    policy["inputs"]["policy"] = UNKNOWN_STRING_VALUE
    diagnostics = analyze(pack, policy)
    assert [d.policyName for d in diagnostics] == ["iam-no-wildcard-actions"]
    assert diagnostics[0].enforcementLevel == proto.ADVISORY
    assert "can't run policy" in diagnostics[0].message


@pytest.mark.slow
def test_pack_serves_the_policies_when_started_like_pulumi_starts_it() -> None:
    # Pulumi's python analyzer shim runs `<virtualenv>/bin/python -u -m pulumi.policy <engine> .`
    # in the pack folder, with the virtualenv from PulumiPolicy.yaml; the pack prints its port.
    import subprocess

    import grpc
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2_grpc
    from ruamel.yaml import YAML

    venv = (
        PACK_DIR
        / YAML(typ="safe").load((PACK_DIR / "PulumiPolicy.yaml").read_text())["runtime"]["options"]["virtualenv"]
    )
    proc = subprocess.Popen(
        [str(venv / "bin" / "python"), "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=PACK_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == "safetynet"
            assert [p.name for p in info.policies] == [r.id for r in pr.RULES]
            assert {p.enforcementLevel for p in info.policies} == {proto.MANDATORY}
            request = proto.AnalyzeRequest(
                type=TABLE,
                name="orders-table",
                urn="urn:orders",
                properties=struct({"name": "orders", "tags": {ENVIRONMENT_TAG: "prod"}}),
            )
            names = sorted(d.policyName for d in stub.Analyze(request, timeout=30).diagnostics)
            assert names == ["table-deletion-protection", "table-encryption", "table-pitr"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_limit_rules_read_what_the_engine_hands_over(pack: ModuleType, prod_synth: Any, tmp_path: Path) -> None:
    # Given a function as the engine sends it: its code an AssetArchive of file assets plus a
    # nested zip (FileArchive) of 51 MiB, its inputs behind the SDK's proxies, and environment
    # variables one byte over Lambda's 4 KB
    import zipfile

    import pulumi

    from policy_rules.measure import json_bytes
    from policy_rules.quotas import LAMBDA_ENVIRONMENT

    vendor = tmp_path / "vendor.zip"
    with zipfile.ZipFile(vendor, "w", zipfile.ZIP_STORED) as z, z.open("blob.bin", "w", force_zip64=True) as f:
        for _ in range(51):
            f.write(b"\0" * (1 << 20))
    function = copy.deepcopy(next(r for r in prod_synth.resources if r["type"] == "aws:lambda/function:Function"))
    assets: dict[str, Any] = {
        name: pulumi.FileAsset(f["path"]) if "path" in f else pulumi.StringAsset(f["text"])
        for name, f in function["inputs"]["code"]["archive"].items()
    }
    function["inputs"]["code"] = pulumi.AssetArchive({**assets, "vendor": pulumi.FileArchive(str(vendor))})
    variables = function["inputs"]["environment"]["variables"]
    variables["CONTEXT"] = ""
    variables["CONTEXT"] = "a" * (LAMBDA_ENVIRONMENT.value + 1 - json_bytes(variables))
    # When the pack analyzes it; Then both sizes are reported, as mandatory
    diagnostics = analyze(pack, function)
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("limit-lambda-environment", proto.MANDATORY),
        ("limit-lambda-code-zipped", proto.MANDATORY),
    ]
    assert "is 4,097 bytes, over the limit of 4,096 bytes" in diagnostics[0].message
    assert "over the limit of 52,428,800 bytes" in diagnostics[1].message

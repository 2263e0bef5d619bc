"""The rewind state machine: its definition (valid ASL, the promised shape) and RewindMachine built
alone under Pulumi's mocks. Runs of the machine: test_rewind_machine_run.py; its IAM documents:
test_rewind_machine_policies.py."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.backup.exports import VaultRef
from components.recovery.rewind import (
    HANDLER,
    RewindMachine,
    RewindMachineArgs,
    build_rewind_machine,
    rewind_definition,
    state_machine_name,
)
from tests.support.pulumi_mocks import REGION, RecordingMocks

ROOT = Path(__file__).resolve().parents[3]
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
FN = f"arn:aws:lambda:{REGION}:123456789012:function:rewind-task"
ACCOUNT = "123456789012"
VAULT = VaultRef("vault-unit", "arn:aws:s3:::vault-unit", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/vault-key")
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:watch-alerts-0a1b2c3"
LAYER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:deps:1"


@pytest.fixture
def definition() -> dict[str, Any]:
    return rewind_definition(function_arn=FN, max_concurrency=7)


def _validate(definition: dict[str, Any], path: Path) -> subprocess.CompletedProcess[str]:
    assert VALIDATOR.exists() and shutil.which("node"), "run `make setup` (npm ci installs asl-validator)"
    path.write_text(json.dumps(definition))
    return subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False)


def test_the_definition_passes_asl_validator(definition: dict[str, Any], tmp_path: Path) -> None:
    out = _validate(definition, tmp_path / "rewind.asl.json")
    assert out.returncode == 0, out.stdout + out.stderr


def test_asl_validator_rejects_a_broken_definition(definition: dict[str, Any], tmp_path: Path) -> None:
    # The check above can fail: a dangling Next inside the map's processor is reported.
    definition["States"]["RewindFiles"]["ItemProcessor"]["States"]["RecordFileProblem"]["Next"] = "Nowhere"
    assert _validate(definition, tmp_path / "broken.asl.json").returncode == 1


def test_prepare_then_one_distributed_child_per_data_file_then_the_summary(definition: dict[str, Any]) -> None:
    s = definition["States"]
    assert definition["StartAt"] == "Run" and s["Run"]["Parameters"] == {"run.$": "$"}
    assert s["Run"]["Next"] == "Prepare" and s["Prepare"]["Next"] == "RewindFiles"
    assert s["RewindFiles"]["Next"] == "Summarize" and s["Summarize"]["End"] is True
    assert s["Summarize"]["Parameters"] == {"task": "summarize", "state.$": "$"}
    m = s["RewindFiles"]
    assert m["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert m["ItemReader"]["ReaderConfig"] == {"InputType": "JSONL"}
    assert m["ItemReader"]["Parameters"] == {"Bucket.$": "$.prepared.bucket", "Key.$": "$.prepared.filesKey"}
    assert m["ItemSelector"] == {"task": "rewind_file", "run.$": "$.run", "file.$": "$$.Map.Item.Value"}
    assert m["MaxConcurrency"] == 7
    # No per-file result in the state (256 KB): the tallies are in the vault.
    assert m["ResultPath"] is None


def test_every_file_is_tried_and_a_failed_one_records_its_problem(definition: dict[str, Any]) -> None:
    m = definition["States"]["RewindFiles"]
    assert m["ToleratedFailurePercentage"] == 100
    child = m["ItemProcessor"]["States"]
    assert child["RewindFile"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFileProblem"}
    ]
    assert child["RecordFileProblem"]["Parameters"]["task"] == "record_problem"
    assert child["RecordFileProblem"]["Next"] == "FileFailed" and child["FileFailed"]["Type"] == "Fail"


def test_a_failure_before_or_around_the_files_is_still_summarized(definition: dict[str, Any]) -> None:
    s = definition["States"]
    for state in ("Prepare", "RewindFiles"):
        assert s[state]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Summarize"}]
    assert "Catch" not in s["Summarize"]  # its RewindFailed is the execution's error


def test_lambda_service_errors_are_retried_on_every_task(definition: dict[str, Any]) -> None:
    s = definition["States"]
    tasks = [s["Prepare"], s["Summarize"], *s["RewindFiles"]["ItemProcessor"]["States"].values()]
    retried = [t for t in tasks if t["Type"] == "Task"]
    assert len(retried) == 4
    assert all("Lambda.TooManyRequestsException" in t["Retry"][0]["ErrorEquals"] for t in retried)


def test_max_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        rewind_definition(function_arn=FN, max_concurrency=0)


# -- the component ----------------------------------------------------------------------------------


def _build(mocks: RecordingMocks, **fields: Any) -> dict[str, Any]:
    exposed: dict[str, Any] = {}
    args = {
        "stack": "unit",
        "stack_tag": "safetynet/unit",
        "vault": VAULT,
        "topic_arn": TOPIC_ARN,
        "dependency_layer_arn": LAYER,
        "account_id": ACCOUNT,
        "region": REGION,
        "tags": {"team": "unit"},
        **fields,
    }

    @pulumi.runtime.test
    def check() -> Any:
        machine = RewindMachine("rewind", RewindMachineArgs(**args))
        return pulumi.Output.all(arn=machine.state_machine_arn, function=machine.function_name).apply(exposed.update)

    check()
    return exposed


def test_one_function_one_machine_two_roles_two_log_groups(pulumi_mocks: RecordingMocks) -> None:
    exposed = _build(pulumi_mocks)
    assert Counter(r.typ for r in pulumi_mocks.registrations if r.custom) == {
        "aws:cloudwatch/logGroup:LogGroup": 2,
        "aws:iam/role:Role": 2,
        "aws:iam/rolePolicy:RolePolicy": 2,
        "aws:lambda/function:Function": 1,
        "aws:sfn/stateMachine:StateMachine": 1,
    }
    assert exposed["arn"] == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{state_machine_name('unit')}"


def test_the_function_runs_the_rewind_entrypoint_with_the_stacks_context(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks)
    fn = pulumi_mocks.one("aws:lambda/function:Function", "rewind-task").inputs
    module, _, name = fn["handler"].rpartition(".")
    assert fn["handler"] == HANDLER and callable(getattr(importlib.import_module(module), name))
    assert (fn["timeout"], fn["memorySize"], fn["runtime"]) == (900, 1024, "python3.12")
    assert fn["layers"][1] == LAYER
    assert fn["environment"]["variables"] == {
        "POWERTOOLS_SERVICE_NAME": "safetynet-rewind",
        "SAFETYNET_STACK": "unit",
        "SAFETYNET_STACK_TAG": "safetynet/unit",
        "VAULT_BUCKET": "vault-unit",
        "ALERT_TOPIC_ARN": TOPIC_ARN,
        "FILE_CONCURRENCY": "8",
    }
    assert fn["loggingConfig"]["logGroup"] == "/safetynet/unit/rewind"


def test_the_machine_invokes_that_function_and_logs_its_errors(pulumi_mocks: RecordingMocks) -> None:
    exposed = _build(pulumi_mocks, max_concurrency=11)
    machine = pulumi_mocks.one("aws:sfn/stateMachine:StateMachine", "rewind-machine").inputs
    assert machine["name"] == "safetynet-unit-rewind"
    definition = json.loads(machine["definition"])
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{exposed['function']}"
    assert definition["States"]["Prepare"]["Resource"] == function_arn
    policy = json.loads(pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy", "rewind-machine-policy").inputs["policy"])
    assert [s["Resource"] for s in policy["Statement"] if s["Sid"] == "InvokeTask"] == [[function_arn]]
    assert definition["States"]["RewindFiles"]["MaxConcurrency"] == 11
    logs = machine["loggingConfiguration"]
    assert (logs["level"], logs["includeExecutionData"]) == ("ERROR", False)
    group = pulumi_mocks.one("aws:cloudwatch/logGroup:LogGroup", "rewind-machine-logs").inputs
    assert group["name"] == "/aws/vendedlogs/states/safetynet-unit-rewind"
    trust = json.loads(pulumi_mocks.one("aws:iam/role:Role", "rewind-machine-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Statement"][0]["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}


def test_the_machine_exists_only_where_there_is_an_alert_topic_and_needs_the_layer(
    pulumi_mocks: RecordingMocks,
) -> None:
    common: dict[str, Any] = {
        "stack": "unit",
        "stack_tag": "safetynet/unit",
        "vault": VAULT,
        "tags": {},
        "account_id": ACCOUNT,
        "region": REGION,
    }
    assert build_rewind_machine(**common, topic_arn=None, dependency_layer_arn=LAYER) is None
    with pytest.raises(ValueError, match="dependency layer"):
        build_rewind_machine(**common, topic_arn=TOPIC_ARN, dependency_layer_arn=None)

"""RestoreDrill, built alone under Pulumi's mocks."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pulumi

from components.watch.drill import RestoreDrill, RestoreDrillArgs
from tests.components.watch.minimal import BUCKET_ARN, TABLES, task_fields
from tests.support.pulumi_mocks import REGION, RecordingMocks

SCHEDULE = "aws:scheduler/schedule:Schedule"
MACHINE_ARN = f"arn:aws:states:{REGION}:123456789012:stateMachine:safetynet-unit-drill"
WEEKLY = "cron(0 5 ? * SUN *)"


def _build(mocks: RecordingMocks, **fields: Any) -> dict[str, Any]:
    exposed: dict[str, Any] = {}

    @pulumi.runtime.test
    def check() -> Any:
        drill = RestoreDrill("watch", RestoreDrillArgs(**task_fields(**fields), schedule=WEEKLY))
        return pulumi.Output.all(
            state_machine_arn=drill.state_machine_arn, schedule_names=pulumi.Output.all(*drill.schedule_names)
        ).apply(exposed.update)

    check()
    return exposed


def _policy(mocks: RecordingMocks, role: str) -> dict[str, Any]:
    return dict(json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", f"watch-{role}-policy").inputs["policy"]))


def test_it_declares_three_tasks_a_state_machine_and_a_schedule_per_table(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks)

    assert Counter(r.typ for r in pulumi_mocks.registrations if r.custom) == {
        "aws:cloudwatch/logGroup:LogGroup": 1,
        "aws:iam/role:Role": 3,
        "aws:iam/rolePolicy:RolePolicy": 3,
        "aws:lambda/function:Function": 3,
        "aws:sfn/stateMachine:StateMachine": 1,
        SCHEDULE: len(TABLES),
    }
    timeouts = {r.name: r.inputs["timeout"] for r in pulumi_mocks.of_type("aws:lambda/function:Function")}
    assert timeouts == {"watch-drill-prepare": 300, "watch-drill-validate-file": 900, "watch-drill-verify": 300}


def test_the_state_machine_runs_the_three_tasks_it_may_invoke(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks)

    machine = pulumi_mocks.one("aws:sfn/stateMachine:StateMachine", "watch-drill").inputs
    assert machine["name"] == "safetynet-unit-drill"
    definition = json.loads(machine["definition"])
    assert definition["States"]["Prepare"]["Parameters"]["FunctionName"].endswith(":watch-drill-prepare")
    [invoke] = [s for s in _policy(pulumi_mocks, "drill-sfn")["Statement"] if s["Sid"] == "InvokeTasks"]
    assert [arn.rsplit(":", 1)[-1].rsplit("-", 1)[0] for arn in invoke["Resource"]] == [
        "watch-drill-prepare",
        "watch-drill-validate-file",
        "watch-drill-verify",
    ]
    trust = json.loads(pulumi_mocks.one("aws:iam/role:Role", "watch-drill-sfn-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}


def test_each_table_is_drilled_weekly_by_a_schedule_that_may_only_start_the_drill(
    pulumi_mocks: RecordingMocks,
) -> None:
    _build(pulumi_mocks)

    schedules = {r.name: r.inputs for r in pulumi_mocks.of_type(SCHEDULE)}
    assert sorted(schedules) == ["watch-drill-customers", "watch-drill-orders"]
    orders = schedules["watch-drill-orders"]
    assert orders["scheduleExpression"] == WEEKLY
    assert (orders["target"]["arn"], json.loads(orders["target"]["input"])) == (MACHINE_ARN, {"table": "orders"})
    assert _policy(pulumi_mocks, "drill-schedule")["Statement"][0]["Resource"] == [MACHINE_ARN]


def test_the_tasks_may_write_drill_records_only(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks)

    statements = _policy(pulumi_mocks, "drill-task")["Statement"]
    writes = [r for s in statements if "s3:PutObject" in s["Action"] for r in s["Resource"]]
    assert writes == [f"{BUCKET_ARN}/drills/*"]


def test_no_policy_grows_with_the_tables(pulumi_mocks: RecordingMocks) -> None:
    _build(pulumi_mocks)
    docs = {r.name: r.inputs["policy"] for r in pulumi_mocks.of_type("aws:iam/rolePolicy:RolePolicy")}
    pulumi_mocks.registrations.clear()
    _build(pulumi_mocks, tables=TABLES[:1])
    assert {r.name: r.inputs["policy"] for r in pulumi_mocks.of_type("aws:iam/rolePolicy:RolePolicy")} == docs
    assert not any(t.physical_name in doc for t in TABLES for doc in docs.values())


def test_it_exposes_the_machine_and_the_schedules_in_table_order(pulumi_mocks: RecordingMocks) -> None:
    exposed = _build(pulumi_mocks)

    assert exposed["state_machine_arn"] == MACHINE_ARN
    assert [n.rsplit("-", 1)[0] for n in exposed["schedule_names"]] == ["watch-drill-orders", "watch-drill-customers"]

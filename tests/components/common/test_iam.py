"""components.common.iam.service_role, built alone under Pulumi's mocks."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from components.common.iam import service_role
from components.common.policies import assume_role_policy
from tests.support.pulumi_mocks import RecordingMocks

POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def test_a_service_role_is_its_role_and_one_inline_policy_on_it(pulumi_mocks: RecordingMocks) -> None:
    @pulumi.runtime.test
    def check() -> Any:
        role, attached = service_role(
            "unit-task",
            description="a unit test's role",
            trust_policy=json.dumps(assume_role_policy("lambda.amazonaws.com", "123456789012")),
            policy=json.dumps(POLICY),
            tags={"team": "unit"},
            opts=pulumi.ResourceOptions(),
        )

        def verify(args: dict[str, Any]) -> None:
            assert ":role/unit-task-role-" in args["arn"]  # auto-named: prefix and a random suffix
            assert args["attached_to"] == args["role_id"]
            role_reg = pulumi_mocks.one("aws:iam/role:Role", "unit-task-role")
            trust = json.loads(role_reg.inputs["assumeRolePolicy"])["Statement"][0]
            assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
            assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
            assert role_reg.inputs["tags"] == {"team": "unit"}
            inline = pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy", "unit-task-policy")
            assert json.loads(inline.inputs["policy"]) == POLICY

        return pulumi.Output.all(arn=role.arn, role_id=role.id, attached_to=attached.role).apply(verify)

    check()

"""Policy documents every flow uses, as small pure functions returning dicts.

Each flow keeps its own documents in its package's `policies.py` (components/backup/policies.py,
components/staging/policies.py, components/watch/policies.py); what they share lives here. Every
document is unit-tested on its own and linted with parliament. ARNs come in as plain strings so
the functions can be called with resolved Output values (inside `.apply`, which only computes
JSON and never creates resources).
"""

from __future__ import annotations

from typing import Any

Policy = dict[str, Any]


def assume_role_policy(service: str, account_id: str, source_arn: str | None = None) -> Policy:
    """Trust policy for an AWS service, pinned to this account (confused-deputy protection)."""
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }
        ],
    }


def state_machine_log_delivery_statement() -> dict[str, Any]:
    """What a state machine's role needs for the machine's logging configuration to reach
    CloudWatch Logs (Step Functions Developer Guide, "IAM policies for logging to CloudWatch
    Logs"); without it CreateStateMachine fails with "The state machine IAM Role is not authorized
    to access the Log Destination". These actions take no resource but "*"."""
    return {
        "Sid": "DeliverMachineLogs",
        "Effect": "Allow",
        "Action": [
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        ],
        "Resource": "*",
    }


def distributed_map_statements(*, region: str, account_id: str, state_machine_name: str) -> list[dict[str, Any]]:
    """AWS's documented Distributed Map policy for a machine whose map runs its children as
    executions of itself: StartExecution on the machine, DescribeExecution/StopExecution on its
    child executions (named `<machine>/<map run label>:<id>`). The children are STANDARD
    executions; the express form (same machine) is listed because IAM lint (parliament) expects
    DescribeExecution to name both of its resource types."""
    return [
        {
            "Sid": "RunMapChildExecutions",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": [f"arn:aws:states:{region}:{account_id}:stateMachine:{state_machine_name}"],
        },
        {
            "Sid": "ManageMapChildExecutions",
            "Effect": "Allow",
            "Action": ["states:DescribeExecution", "states:StopExecution"],
            "Resource": [
                f"arn:aws:states:{region}:{account_id}:execution:{state_machine_name}/*",
                f"arn:aws:states:{region}:{account_id}:express:{state_machine_name}:*:*",
            ],
        },
    ]

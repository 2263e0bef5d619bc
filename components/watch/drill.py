"""RestoreDrill: every week, per table, a state machine proves the newest export restores: its
data files checked by a Distributed Map, ImportTable into a scratch table, verify, delete
(the definition is components/watch/state_machine.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.watch.parts import TaskChildren, WatchTaskArgs
from components.watch.policies import drill_state_machine_policy, drill_task_policy, start_drill_policy
from components.watch.state_machine import drill_definition


@dataclass(frozen=True, kw_only=True)
class RestoreDrillArgs(WatchTaskArgs):
    """Inputs of a RestoreDrill (besides every task part's, see WatchTaskArgs)."""

    schedule: str
    """EventBridge Scheduler expression of each table's drill (`safetynet:drill.schedule`)."""


def state_machine_name(stack: str) -> str:
    """The drill state machine's name (fixed: schedules and grants address it by name)."""
    return f"safetynet-{stack}-drill"


class RestoreDrill(pulumi.ComponentResource):
    """The drill's three tasks, its state machine and one weekly schedule per table."""

    state_machine_arn: pulumi.Output[str]
    """The drill state machine."""
    schedule_names: list[pulumi.Output[str]]
    """The per-table drill schedules (the classifier watches them), in the tables' order."""

    def __init__(self, name: str, args: RestoreDrillArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:watch:RestoreDrill", name, None, opts)
        tasks = TaskChildren(self, name, args, opts)
        logs = tasks.log_group("drill")
        task_policy = pulumi.Output.all(
            bucket_arn=args.bucket_arn,
            kms_key_arn=args.kms_key_arn,
            region=args.region,
            account_id=args.account_id,
            log_group_arn=tasks.log_group_arn(logs),
        ).apply(lambda a: json.dumps(drill_task_policy(**a, stack_tag=args.stack_tag)))
        task_role = tasks.role("drill-task", "lambda.amazonaws.com", task_policy)
        # Prepare reads the export listing and the manifests only; each data file is read by a
        # ValidateFiles map child: one file within Lambda's longest timeout.
        prepare = tasks.function(
            "drill-prepare",
            handler="handlers.watch.entrypoints.drill_prepare_handler",
            role=task_role,
            logs=logs,
            timeout=300,
        )
        validate_file = tasks.function(
            "drill-validate-file",
            handler="handlers.watch.entrypoints.drill_validate_file_handler",
            role=task_role,
            logs=logs,
            timeout=900,
        )
        verify = tasks.function(
            "drill-verify",
            handler="handlers.watch.entrypoints.drill_verify_handler",
            role=task_role,
            logs=logs,
            timeout=300,
        )
        # A fixed name, so the schedules below can address the machine by its documented ARN
        # without depending on the resource: hundreds of per-table schedules depending on the
        # machine (and through it on every table) made each registration walk that whole graph.
        # The role's Distributed Map grants name it too (its child executions).
        machine_name = state_machine_name(args.stack)
        sm_role, sm_policy = tasks.role(
            "drill-sfn",
            "states.amazonaws.com",
            pulumi.Output.all(
                bucket_arn=args.bucket_arn,
                kms_key_arn=args.kms_key_arn,
                region=args.region,
                account_id=args.account_id,
                functions=pulumi.Output.all(prepare.name, validate_file.name, verify.name),
            ).apply(
                lambda a: json.dumps(
                    drill_state_machine_policy(
                        function_arns=[
                            f"arn:aws:lambda:{a['region']}:{a['account_id']}:function:{fn}" for fn in a["functions"]
                        ],
                        state_machine_name=machine_name,
                        bucket_arn=a["bucket_arn"],
                        kms_key_arn=a["kms_key_arn"],
                        region=a["region"],
                        account_id=a["account_id"],
                    )
                )
            ),
        )
        machine_arn = pulumi.Output.all(region=args.region, account_id=args.account_id).apply(
            lambda a: f"arn:aws:states:{a['region']}:{a['account_id']}:stateMachine:{machine_name}"
        )
        machine = aws.sfn.StateMachine(
            f"{name}-drill",
            name=machine_name,
            role_arn=sm_role.arn,
            definition=pulumi.Output.all(
                prepare_arn=prepare.arn, validate_file_arn=validate_file.arn, verify_arn=verify.arn
            ).apply(lambda a: json.dumps(drill_definition(**a))),
            tags=args.tags,
            opts=tasks.opts(depends_on=[sm_policy]),
        )
        sched_role, sched_policy = tasks.role(
            "drill-schedule",
            "scheduler.amazonaws.com",
            # From the name (the ARN's documented form), so the document is the same in previews.
            machine_arn.apply(lambda arn: json.dumps(start_drill_policy(arn))),
        )
        schedules = [
            aws.scheduler.Schedule(
                f"{name}-drill-{t.name}",
                description=f"Weekly restore drill of {t.physical_name}",
                schedule_expression=args.schedule,
                flexible_time_window={"mode": "FLEXIBLE", "maximum_window_in_minutes": 60},
                state="ENABLED",
                target={
                    "arn": machine_arn,
                    "role_arn": sched_role.arn,
                    "input": json.dumps({"table": t.name}),
                    "retry_policy": {"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600},
                },
                opts=tasks.opts(depends_on=[sched_policy]),
            )
            for t in args.tables
        ]
        self.state_machine_arn = machine.arn
        self.schedule_names = [s.name for s in schedules]
        self.register_outputs({"stateMachineArn": machine.arn, "scheduleNames": self.schedule_names})

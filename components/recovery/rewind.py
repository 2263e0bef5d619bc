"""RewindMachine: `safetynet rewind` at scale, on the stack's Step Functions (issue 16, part 4).
One machine and one task function per stack, whatever its number of tables.

    Run (Pass: the execution input under $.run)
    -> Prepare        task `prepare`: the table carries the stack's tag; the export is that
                      table's incremental export (NEW_AND_OLD_IMAGES) of a window covering the
                      rewind's, under `rewinds/<table>/<window>/`; the filter parses. Returns
                      where manifest-files.json is, and the number of data files and changes.
    -> RewindFiles    Distributed Map, its items read from manifest-files.json (ItemReader, JSONL),
                      one child per data file, at most `max_concurrency` at once:
                          RewindFile  task `rewind_file`: `handlers.rewind.rewind_data_file`, the
                                      CLI's own code, every key's outcome in the run's audit, the
                                      file's tally beside it; stops before Lambda's time limit
                          any error -> RecordFileProblem (task `record_problem`: the file and its
                                      error in the run's audit) -> FileFailed
                      Every file is tried (ToleratedFailurePercentage 100): each key is settled on
                      its own, so a failed file is no reason to leave the others undone.
    -> Summarize      task `summarize`: the tallies merged into summary.json (the document the CLI
                      writes in process), a notification on the alert topic; the run then fails
                      with RewindFailed naming each failed file, or a key that failed.
    A failure of Prepare, or of the map itself, goes to Summarize too (it records the error).

Execution input (what `safetynet.recovery.rewind_remote` starts it with; the name is derived from
the run id, so starting the same run twice starts it once):

    {"table": <physical name>, "window": {"from": T1, "to": T2}, "export": {"bucket", "prefix"},
     "filter": <--where text or null>, "overrideConflicts": bool, "runId": ..., "who": <caller ARN>}

The definition and both IAM documents are pure functions below. Nothing grows with the tables:
the task reaches them by the `safetynet:stack` tag (aws:ResourceTag/${TagKey} is a condition key
of the `table` resource of every DynamoDB action it calls, Service Authorization Reference), the
vault by its `rewinds/` prefix. No dead-letter queue: nothing schedules the machine or routes
events to it, and Step Functions invokes the task synchronously, keeping every failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup.exports import VaultRef
from components.common.iam import log_group_arn, service_role
from components.common.lambda_package import ARCHITECTURE, RUNTIME, handlers_archive, powertools_layer
from components.common.policies import (
    assume_role_policy,
    distributed_map_statements,
    state_machine_log_delivery_statement,
)
from components.staging.machine_parts import LAMBDA_RETRY
from components.watch.parts import LOG_RETENTION_DAYS
from components.watch.policies import lambda_trust_policy, stack_tables
from conventions.vault import REWIND_ROOT

HANDLER = "handlers.rewind.entrypoints.handler"
DEFAULT_MAX_CONCURRENCY = 20
"""Data files rewound at once (each child writes with FILE_CONCURRENCY threads of its own)."""
FILE_CONCURRENCY = 8
"""Chunks of keys (`handlers.rewind.apply.CHUNK` each) one child settles at once (the CLI's default `--concurrency`)."""
TASK_TIMEOUT_SECONDS = 900
"""Lambda's longest: one data file. The task stops settling keys 90 s before it (see
handlers.rewind.entrypoints), so the file's outcome lines and tally still reach the vault."""
TASK_MEMORY_MB = 1024
RUNS_FOLDER = "runs"
"""`rewinds/<table>/<window>/runs/<run>/`: where a run's audit goes (handlers.rewind.audit)."""

Policy = dict[str, Any]


def state_machine_name(stack: str) -> str:
    """The machine's name, fixed so the CLI can address it without the stack's outputs."""
    return f"safetynet-{stack}-rewind"


# -- the definition ---------------------------------------------------------------------------------


def _task(function_arn: str, task: str, params: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": function_arn,
        "Parameters": {"task": task, **params},
        "Retry": LAMBDA_RETRY,
        **rest,
    }


TO_SUMMARY = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Summarize"}]


def rewind_definition(*, function_arn: str, max_concurrency: int = DEFAULT_MAX_CONCURRENCY) -> dict[str, Any]:
    """The state machine (see the module docstring). Pure: an ARN in, a dict out."""
    if max_concurrency < 1:
        raise ValueError("a rewind's max_concurrency must be at least 1")
    file_map = {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket.$": "$.prepared.bucket", "Key.$": "$.prepared.filesKey"},
        },
        "ItemSelector": {"task": "rewind_file", "run.$": "$.run", "file.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "RewindFile",
            "States": {
                "RewindFile": {
                    "Type": "Task",
                    "Resource": function_arn,
                    "Retry": LAMBDA_RETRY,
                    # A Map Run reports only counts: the child records which file failed and why.
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFileProblem"}],
                    "End": True,
                },
                "RecordFileProblem": _task(
                    function_arn,
                    "record_problem",
                    {"run.$": "$.run", "file.$": "$.file", "error.$": "$.error"},
                    ResultPath=None,
                    Next="FileFailed",
                ),
                "FileFailed": {
                    "Type": "Fail",
                    "Error": "RewindFileFailed",
                    "Cause": "recorded in the run's audit (problems/); the run's summary names the file",
                },
            },
        },
        "MaxConcurrency": max_concurrency,
        "ToleratedFailurePercentage": 100,
        "Label": "RewindFiles",
        # Each child's tally is in the vault: a result per file would outgrow the 256 KB state.
        "ResultPath": None,
        "Catch": TO_SUMMARY,
        "Next": "Summarize",
    }
    return {
        "Comment": "safetynet rewind: undo a window's writes, one Distributed Map child per data file",
        "StartAt": "Run",
        "States": {
            "Run": {"Type": "Pass", "Parameters": {"run.$": "$"}, "Next": "Prepare"},
            "Prepare": _task(
                function_arn,
                "prepare",
                {"run.$": "$.run"},
                ResultPath="$.prepared",
                Catch=TO_SUMMARY,
                Next="RewindFiles",
            ),
            "RewindFiles": file_map,
            # Its result is small (status and counts): the full summary is summary.json.
            "Summarize": _task(function_arn, "summarize", {"state.$": "$"}, ResultPath="$.summary", End=True),
        },
    }


# -- IAM ----------------------------------------------------------------------------------------------


def rewind_task_policy(
    *,
    region: str,
    account_id: str,
    stack_tag: str,
    bucket_arn: str,
    kms_key_arn: str,
    topic_arn: str,
    log_group_arn: str,
) -> Policy:
    """What the task may do: read the vault's `rewinds/` (window exports, plan.json, the run's
    tallies) and write only runs' audits there, with the vault key through S3; read and revert
    items of the stack's tables (by tag); publish the outcome on the alert topic; its own logs."""
    topic_key_context = {
        "kms:ViaService": f"sns.{region}.amazonaws.com",
        # SNS encrypts each message under the topic's ARN as encryption context.
        "kms:EncryptionContext:aws:sns:topicArn": topic_arn,
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadRewinds",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/{REWIND_ROOT}/*"],
            },
            {
                # A run's tallies and problems are listed by the summary; without ListBucket a
                # missing object reads as 403, not 404.
                "Sid": "ListRewinds",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [bucket_arn],
                "Condition": {"StringLike": {"s3:prefix": [f"{REWIND_ROOT}/*"]}},
            },
            {
                # Outcome lines (multipart when large), tallies, problems, summary.json: never the
                # exports beside them.
                "Sid": "WriteRunAudits",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": [f"{bucket_arn}/{REWIND_ROOT}/*/{RUNS_FOLDER}/*"],
            },
            {
                "Sid": "UseVaultKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": [kms_key_arn],
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            },
            stack_tables(
                "RevertItemsOfStackTables",
                ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
                region=region,
                account_id=account_id,
                stack_tag=stack_tag,
            ),
            stack_tables(
                "CheckStackTables",
                ["dynamodb:DescribeTable", "dynamodb:ListTagsOfResource"],
                region=region,
                account_id=account_id,
                stack_tag=stack_tag,
            ),
            {"Sid": "PublishOutcome", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic_arn]},
            {
                # The topic's key is not an input of this component: any key of the account, but
                # only through SNS and only for messages to the alert topic.
                "Sid": "EncryptOutcomeForAlertTopic",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": [f"arn:aws:kms:{region}:{account_id}:key/*"],
                "Condition": {"StringEquals": topic_key_context},
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{log_group_arn}:log-stream:*"],
            },
        ],
    }


def rewind_machine_policy(
    *,
    region: str,
    account_id: str,
    state_machine_name: str,
    function_arn: str,
    bucket_arn: str,
    kms_key_arn: str,
) -> Policy:
    """What the machine may do: invoke its task, read manifest-files.json for the map's
    ItemReader, run that map's child executions (of itself only), deliver its logs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeTask",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [function_arn],
            },
            {
                "Sid": "ReadFileLists",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/{REWIND_ROOT}/*/manifest-files.json"],
            },
            {
                "Sid": "DecryptFileLists",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [kms_key_arn],
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            },
            *distributed_map_statements(region=region, account_id=account_id, state_machine_name=state_machine_name),
            state_machine_log_delivery_statement(),
        ],
    }


# -- the component ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewindMachineArgs:
    """Inputs of a RewindMachine."""

    stack: str
    """The stack name (the machine's and log groups' names)."""
    stack_tag: str
    """The `safetynet:stack` tag value of the stack's tables: the task may revert items of those."""
    vault: VaultRef
    """The vault: window exports and run audits under `rewinds/`, with its key."""
    topic_arn: pulumi.Input[str]
    """DisasterWatch's alert topic: every run's outcome is published there."""
    dependency_layer_arn: pulumi.Input[str]
    """The stack's dependency layer (orjson reads the export lines)."""
    account_id: pulumi.Input[str]
    """This account."""
    region: pulumi.Input[str]
    """This region."""
    tags: dict[str, str]
    """Stack-wide tags."""
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    """Data files rewound at once."""


class RewindMachine(pulumi.ComponentResource):
    """The stack's rewind state machine and its task function."""

    state_machine_arn: pulumi.Output[str]
    """The machine `safetynet rewind` starts for large windows (stack output rewindStateMachineArn)."""
    function_name: pulumi.Output[str]
    """The task function (its log group: /safetynet/<stack>/rewind)."""

    def __init__(self, name: str, args: RewindMachineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:recovery:RewindMachine", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = pulumi.Output.from_input(args.account_id)
        region = pulumi.Output.from_input(args.region)
        machine_name = state_machine_name(args.stack)

        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/safetynet/{args.stack}/rewind",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=args.tags,
            opts=child,
        )
        task_role, task_policy = service_role(
            f"{name}-task",
            description=f"safetynet {args.stack}: rewind one data file of a window's export",
            trust_policy=json.dumps(lambda_trust_policy()),
            policy=pulumi.Output.all(
                region=region,
                account_id=account,
                bucket_arn=args.vault.bucket_arn,
                kms_key_arn=args.vault.kms_key_arn,
                topic_arn=args.topic_arn,
                log_group_arn=log_group_arn(region, account, logs),
            ).apply(lambda a: json.dumps(rewind_task_policy(stack_tag=args.stack_tag, **a))),
            tags=args.tags,
            opts=child,
        )
        function = aws.lambda_.Function(
            f"{name}-task",
            description=f"safetynet {args.stack}: rewind tasks (prepare, one data file, summary)",
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=HANDLER,
            code=handlers_archive(),
            role=task_role.arn,
            layers=[region.apply(powertools_layer), args.dependency_layer_arn],
            timeout=TASK_TIMEOUT_SECONDS,
            memory_size=TASK_MEMORY_MB,
            environment={
                "variables": {
                    "POWERTOOLS_SERVICE_NAME": "safetynet-rewind",
                    "SAFETYNET_STACK": args.stack,
                    "SAFETYNET_STACK_TAG": args.stack_tag,
                    "VAULT_BUCKET": args.vault.bucket_name,
                    "ALERT_TOPIC_ARN": args.topic_arn,
                    "FILE_CONCURRENCY": str(FILE_CONCURRENCY),
                }
            },
            logging_config={"log_format": "JSON", "log_group": logs.name},
            tags=args.tags,
            # The role's permissions must be in place before the first invocation.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[task_policy]),
        )
        machine_logs = aws.cloudwatch.LogGroup(
            f"{name}-machine-logs",
            # Under /aws/vendedlogs/: CloudWatch Logs' resource policy then need not name the group.
            name=f"/aws/vendedlogs/states/{machine_name}",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=args.tags,
            opts=child,
        )
        # The function's ARN from its name, in the form IAM documents it: the definition invokes
        # exactly what the role may invoke.
        function_arn = pulumi.Output.all(region=region, account=account, name=function.name).apply(
            lambda a: f"arn:aws:lambda:{a['region']}:{a['account']}:function:{a['name']}"
        )
        machine_role, machine_policy = service_role(
            f"{name}-machine",
            description=f"Step Functions: safetynet {args.stack} rewind",
            trust_policy=account.apply(lambda acct: json.dumps(assume_role_policy("states.amazonaws.com", acct))),
            policy=pulumi.Output.all(
                region=region,
                account_id=account,
                function_arn=function_arn,
                bucket_arn=args.vault.bucket_arn,
                kms_key_arn=args.vault.kms_key_arn,
            ).apply(lambda a: json.dumps(rewind_machine_policy(state_machine_name=machine_name, **a))),
            tags=args.tags,
            opts=child,
        )
        machine = aws.sfn.StateMachine(
            f"{name}-machine",
            name=machine_name,
            role_arn=machine_role.arn,
            definition=function_arn.apply(
                lambda arn: json.dumps(rewind_definition(function_arn=arn, max_concurrency=args.max_concurrency))
            ),
            logging_configuration={
                "level": "ERROR",
                "include_execution_data": False,
                "log_destination": machine_logs.arn.apply(lambda a: f"{a}:*"),
            },
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[machine_policy]),
        )
        self.state_machine_arn = machine.arn
        self.function_name = function.name
        self.register_outputs({"stateMachineArn": machine.arn, "functionName": function.name})


def build_rewind_machine(
    *,
    stack: str,
    stack_tag: str,
    vault: VaultRef,
    topic_arn: pulumi.Input[str] | None,
    tags: dict[str, str],
    account_id: pulumi.Input[str],
    region: pulumi.Input[str],
    dependency_layer_arn: pulumi.Input[str] | None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
) -> RewindMachine | None:
    """The stack's RewindMachine where DisasterWatch declares an alert topic (prod and dr stacks
    with tables), else None. `dependency_layer_arn` is required then (build_protected_stack
    declares the layer wherever DisasterWatch is)."""
    if topic_arn is None:
        return None
    if dependency_layer_arn is None:
        raise ValueError("RewindMachine needs the stack's dependency layer (lambda_package.dependency_layer)")
    return RewindMachine(
        "rewind",
        RewindMachineArgs(
            stack=stack,
            stack_tag=stack_tag,
            vault=vault,
            topic_arn=topic_arn,
            dependency_layer_arn=dependency_layer_arn,
            account_id=account_id,
            region=region,
            tags=tags,
            max_concurrency=max_concurrency,
        ),
    )

"""The restore drill's Step Functions definition (Amazon States Language), a pure function.

    Prepare ─> ValidateFiles ──> StartImport ──> WaitForImport <──┐
       │       (Distributed Map,     │              │             │ IN_PROGRESS
       │        one child per        │          DescribeImport ───┘
       │        data file)           │              │ done
       │            │                └── (error) ─> Verify <──────┘
       └─ (error) ──┴──> RecordPrepareFailure ─> DrillFailed
                                                    │
                                    DeleteScratchTable ─> Outcome ─> DrillPassed | DrillFailed

Prepare checks the newest export's manifests only; ValidateFiles reads manifest-files.json from
S3 and checks each data file (existence, gzip, MD5, count, items) in its own Lambda, so exports
of any size stay within Lambda's 15 minutes. No tolerated failures: one damaged file fails the
drill, and the problems the child recorded reach the drill record (handlers.watch.drill_files).
The wait for ImportTable (minutes to hours) is a Wait/DescribeImport loop in the state machine,
never a sleeping Lambda. The scratch table is deleted on every path after it may exist.
"""

from __future__ import annotations

from typing import Any

DESCRIBE_IMPORT = "arn:aws:states:::aws-sdk:dynamodb:describeImport"
IMPORT_TABLE = "arn:aws:states:::aws-sdk:dynamodb:importTable"
DELETE_TABLE = "arn:aws:states:::aws-sdk:dynamodb:deleteTable"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
# The longest a drill may run before Step Functions stops it (imports of big tables take hours).
TIMEOUT_SECONDS = 12 * 3600
# Data files checked at once: enough to read a large export in minutes, few enough to leave the
# account's Lambda concurrency (1000 by default) to everything else.
FILE_CONCURRENCY = 20
# The Map Run's label: child executions are named `<machine>/<label>:<id>` (see the IAM policy).
VALIDATE_FILES_LABEL = "ValidateFiles"

_LAMBDA_RETRY = [
    {
        "ErrorEquals": [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
    }
]


def _invoke(function_arn: str, payload: dict[str, Any], result_path: str, next_state: str) -> dict[str, Any]:
    """A Lambda task; `payload` is {"Payload": {...}} or {"Payload.$": "$"} (the whole state,
    which carries `error`/`importStatus` only on the paths that produced them)."""
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": function_arn, **payload},
        "ResultSelector": {"value.$": "$.Payload"},
        "ResultPath": result_path,
        "OutputPath": "$",
        "Retry": _LAMBDA_RETRY,
        "Next": next_state,
    }


def _validate_files(validate_file_arn: str, max_concurrency: int, next_state: str) -> dict[str, Any]:
    """A Distributed Map over manifest-files.json (JSON lines, read by Step Functions from S3):
    one child per data file, so the work scales with the export and no file list passes
    through the state (256 KiB)."""
    return {
        "Type": "Map",
        "Label": VALIDATE_FILES_LABEL,
        "ItemReader": {
            "Resource": S3_GET_OBJECT,
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket.$": "$.prepare.manifestFiles.bucket", "Key.$": "$.prepare.manifestFiles.key"},
        },
        "ItemSelector": {"table.$": "$.table", "plan.$": "$.prepare", "file.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            # State names are unique across the whole machine, child workflows included.
            "StartAt": "ValidateFile",
            "States": {
                "ValidateFile": {
                    "Type": "Task",
                    "Resource": LAMBDA_INVOKE,
                    "Parameters": {"FunctionName": validate_file_arn, "Payload.$": "$"},
                    # A few bytes per child: the Map Run's result stays small for any file count.
                    "ResultSelector": {"items.$": "$.Payload.items"},
                    "Retry": _LAMBDA_RETRY,
                    "End": True,
                }
            },
        },
        "MaxConcurrency": max_concurrency,
        # A damaged data file fails the drill: an export that restores partly is not restorable.
        "ToleratedFailurePercentage": 0,
        "ResultPath": None,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordPrepareFailure"}],
        "Next": next_state,
    }


def drill_definition(
    *,
    prepare_arn: str,
    validate_file_arn: str,
    verify_arn: str,
    poll_seconds: int = 60,
    max_concurrency: int = FILE_CONCURRENCY,
) -> dict[str, Any]:
    """The drill of one table; execution input `{"table": "<logical name>"}`."""
    catch_to_verify = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Verify"}]
    prepare = _invoke(prepare_arn, {"Payload": {"table.$": "$.table"}}, "$.prepareResult", "Unwrap")
    prepare["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordPrepareFailure"}]
    return {
        "Comment": "safetynet restore drill: import the latest export into a scratch table, verify, delete",
        "StartAt": "Prepare",
        "TimeoutSeconds": TIMEOUT_SECONDS,
        "States": {
            "Prepare": prepare,
            "Unwrap": {
                "Type": "Pass",
                "Parameters": {"table.$": "$.table", "prepare.$": "$.prepareResult.value"},
                "Next": "ValidateFiles",
            },
            "ValidateFiles": _validate_files(validate_file_arn, max_concurrency, "StartImport"),
            "StartImport": {
                "Type": "Task",
                "Resource": IMPORT_TABLE,
                "Parameters": {
                    "S3BucketSource.$": "$.prepare.importRequest.S3BucketSource",
                    "InputFormat.$": "$.prepare.importRequest.InputFormat",
                    "InputCompressionType.$": "$.prepare.importRequest.InputCompressionType",
                    "TableCreationParameters.$": "$.prepare.importRequest.TableCreationParameters",
                    "ClientToken.$": "$.prepare.importRequest.ClientToken",
                },
                "ResultSelector": {"arn.$": "$.ImportTableDescription.ImportArn"},
                "ResultPath": "$.import",
                "Retry": [
                    {
                        "ErrorEquals": ["DynamoDb.LimitExceededException"],
                        "IntervalSeconds": 60,
                        "MaxAttempts": 5,
                        "BackoffRate": 2.0,
                    }
                ],
                "Catch": catch_to_verify,
                "Next": "WaitForImport",
            },
            "WaitForImport": {"Type": "Wait", "Seconds": poll_seconds, "Next": "DescribeImport"},
            "DescribeImport": {
                "Type": "Task",
                "Resource": DESCRIBE_IMPORT,
                "Parameters": {"ImportArn.$": "$.import.arn"},
                "ResultSelector": {"description.$": "$.ImportTableDescription"},
                "ResultPath": "$.importStatus",
                "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 5, "MaxAttempts": 3}],
                "Catch": catch_to_verify,
                "Next": "ImportDone?",
            },
            "ImportDone?": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Or": [
                            {
                                "Variable": "$.importStatus.description.ImportStatus",
                                "StringEquals": "IN_PROGRESS",
                            },
                            {
                                "Variable": "$.importStatus.description.ImportStatus",
                                "StringEquals": "CANCELLING",
                            },
                        ],
                        "Next": "WaitForImport",
                    }
                ],
                "Default": "Verify",
            },
            "Verify": _invoke(verify_arn, {"Payload.$": "$"}, "$.result", "DeleteScratchTable"),
            "DeleteScratchTable": {
                "Type": "Task",
                "Resource": DELETE_TABLE,
                "Parameters": {"TableName.$": "$.prepare.scratchTable"},
                "ResultPath": None,
                "Retry": [
                    {
                        # A table still being created cannot be deleted yet.
                        "ErrorEquals": ["DynamoDb.ResourceInUseException"],
                        "IntervalSeconds": 30,
                        "MaxAttempts": 20,
                        "BackoffRate": 1.0,
                    }
                ],
                "Catch": [
                    {
                        "ErrorEquals": ["DynamoDb.ResourceNotFoundException"],
                        "ResultPath": None,
                        "Next": "Outcome",
                    }
                ],
                "Next": "Outcome",
            },
            "Outcome": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.result.value.ok", "BooleanEquals": True, "Next": "DrillPassed"}],
                "Default": "DrillFailed",
            },
            # Prepare or a data file failed: no scratch table exists yet. Verify records why (for a
            # failed map, the problems its children wrote) and the drill fails.
            "RecordPrepareFailure": _invoke(verify_arn, {"Payload.$": "$"}, "$.result", "DrillFailed"),
            "DrillPassed": {"Type": "Succeed"},
            "DrillFailed": {
                "Type": "Fail",
                "Error": "RestoreDrillFailed",
                "Cause": "The latest export did not restore; see the drill record and the Verify output.",
            },
        },
    }

"""The building blocks of the staging state machine (`state_machine.py`): the retries and catches
its states share, a Lambda task state, a DescribeImport poll, and the states that recover a test
table when a replace fails after its delete (`handlers.staging.recovery` does the work)."""

from __future__ import annotations

from typing import Any

LAMBDA_RETRY = [
    {
        "ErrorEquals": [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ],
        "IntervalSeconds": 2,
        "MaxAttempts": 6,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    }
]
CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}]
# After PrepareReplace deleted the table, a failure recovers it (Recovery below) before the run
# is recorded as failed: the table is never left missing, or half loaded and untagged.
CATCH_RECOVER = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "StartRecovery"}]
# Count and Verify serve both modes: only a replace has a table to recover.
CATCH_MODE = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover?"}]
# A recovery step that fails adds its error to the run's own (RecoveryFailed), then records both.
CATCH_RECOVERY = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.recoveryError", "Next": "RecoveryFailed"}]
# Putting back tags, PITR, TTL and streams is retried before the table is recovered: a tag that
# has not read back yet (TagResource is eventually consistent) is no reason to delete a table.
FINISH_RETRY = [
    {"ErrorEquals": ["StagingError", "ClientError"], "IntervalSeconds": 10, "MaxAttempts": 2, "BackoffRate": 2}
]


def task_state(
    function_arn: str,
    task: str,
    params: dict[str, Any],
    *,
    result_path: str | None,
    next_: str,
    catch: list[dict[str, Any]] = CATCH_ALL,
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": function_arn,
        "Parameters": {"task": task, **params},
        "Retry": LAMBDA_RETRY,
        "Catch": catch,
        "Next": next_,
    }
    state["ResultPath"] = result_path
    return state


def import_poll(
    name: str, arn_path: str, status_path: str, wait: str, *, catch: list[dict[str, Any]]
) -> dict[str, Any]:
    """DescribeImport as an SDK task: the import's status (and count) into `status_path`."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:dynamodb:describeImport",
        "Parameters": {"ImportArn.$": arn_path},
        "ResultSelector": {
            "status.$": "$.ImportTableDescription.ImportStatus",
            "imported.$": "$.ImportTableDescription.ImportedItemCount",
        },
        "ResultPath": status_path,
        "Retry": [{"ErrorEquals": ["DynamoDb.DynamoDbException"], "MaxAttempts": 3, "IntervalSeconds": 5}],
        "Catch": catch,
        "Next": name,
    }


def recovery_states(function_arn: str, *, delete_poll_seconds: int, import_poll_seconds: int) -> dict[str, Any]:
    """A replace that failed after its delete (`handlers.staging.recovery`): delete what it left,
    ImportTable the table from its last good export (or, failing that, an empty one), put its
    configuration back, then record the failure with what the table now holds."""
    with_error = {"target.$": "$.target", "error.$": "$.error"}
    return {
        "StartRecovery": {
            "Type": "Pass",
            "Parameters": {"empty": False},
            "ResultPath": "$.recovering",
            "Next": "Recover",
        },
        "Recover": task_state(
            function_arn, "recover", with_error, result_path="$.leftover", next_="Cleared?", catch=CATCH_RECOVERY
        ),
        "Cleared?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.leftover.state", "StringEquals": "gone", "Next": "Recreate"}],
            "Default": "WaitForRecover",
        },
        "WaitForRecover": {"Type": "Wait", "Seconds": delete_poll_seconds, "Next": "Recover"},
        "Recreate": task_state(
            function_arn,
            "recreate",
            {**with_error, "recovering.$": "$.recovering"},
            result_path="$.recovery",
            next_="WaitForRecreate",
            catch=CATCH_RECOVERY,
        ),
        "WaitForRecreate": {"Type": "Wait", "Seconds": import_poll_seconds, "Next": "DescribeRecreate"},
        "DescribeRecreate": import_poll(
            "Recreated?", "$.recovery.importArn", "$.recreateStatus", "WaitForRecreate", catch=CATCH_RECOVERY
        ),
        "Recreated?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.recreateStatus.status", "StringEquals": "COMPLETED", "Next": "FinishRecreate"},
                {"Variable": "$.recreateStatus.status", "StringEquals": "IN_PROGRESS", "Next": "WaitForRecreate"},
                # The last good export did not import either: once more from an empty export.
                {"Variable": "$.recovering.empty", "BooleanEquals": False, "Next": "RecreateEmpty"},
            ],
            "Default": "RecreateFailed",
        },
        "RecreateEmpty": {
            "Type": "Pass",
            "Parameters": {"empty": True},
            "ResultPath": "$.recovering",
            "Next": "Recover",
        },
        "RecreateFailed": {
            "Type": "Pass",
            "Parameters": {
                "Error": "RecreateFailed",
                "Cause.$": "States.Format('ImportTable of the recovery ended {}', $.recreateStatus.status)",
            },
            "ResultPath": "$.recoveryError",
            "Next": "RecoveryFailed",
        },
        "FinishRecreate": task_state(
            function_arn,
            "finish_recreate",
            {**with_error, "recovery.$": "$.recovery"},
            result_path="$.recovered",
            next_="RecordRecovered",
            catch=CATCH_RECOVERY,
        ),
        "RecoveryFailed": {
            "Type": "Pass",
            "Parameters": {
                "Error.$": "$.error.Error",
                "Cause.$": "States.Format('{}; recovering the table failed too: {}: {}', $.error.Cause, "
                "$.recoveryError.Error, $.recoveryError.Cause)",
            },
            "ResultPath": "$.error",
            "Next": "RecordFailure",
        },
    }

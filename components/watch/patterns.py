"""EventBridge patterns of DisasterWatch: the CloudTrail management events that endanger a stack's
tables or their backups, each scoped to this stack's own resources.

Pure functions returning dicts (no Pulumi import): the component serializes them once, the tests
route realistic CloudTrail samples through moto's EventBridge with exactly these patterns.

CloudTrail records `requestParameters` as the caller sent them, so where an API accepts a name or
an ARN (DynamoDB's TableName, KMS's KeyId) both spellings are listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conventions.watch import CLOUDTRAIL_DETAIL_TYPE

Pattern = dict[str, Any]


@dataclass(frozen=True)
class WatchedResources:
    """The resources of one stack that DisasterWatch guards (resolved names and ARNs)."""

    table_names: list[str]
    """Physical table names."""
    table_arns: list[str]
    """Table ARNs, same order as `table_names`."""
    bucket_name: str
    """The backup vault bucket."""
    kms_key_arn: str
    """The vault's KMS key."""
    schedule_names: list[str] = field(default_factory=list)
    """Names of the scheduler schedules that run the nightly exports (and drills)."""


def _api_call(source: str, event_source: str, names: list[str], request: dict[str, Any]) -> Pattern:
    return {
        "source": [source],
        "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
        "detail": {
            "eventSource": [event_source],
            "eventName": names,
            "requestParameters": request,
        },
    }


def _dynamodb(names: list[str], request: dict[str, Any]) -> Pattern:
    return _api_call("aws.dynamodb", "dynamodb.amazonaws.com", names, request)


def _table_refs(r: WatchedResources) -> list[str]:
    # DynamoDB accepts the table's name or its ARN as TableName.
    return [*r.table_names, *r.table_arns]


def key_id(kms_key_arn: str) -> str:
    """The key id of `arn:aws:kms:<region>:<acct>:key/<id>`."""
    return kms_key_arn.rsplit("/", 1)[-1]


def table_deleted(r: WatchedResources) -> Pattern:
    """DeleteTable on one of the stack's tables (also attempts that deletion protection stopped)."""
    return _dynamodb(["DeleteTable"], {"tableName": _table_refs(r)})


def deletion_protection_off(r: WatchedResources) -> Pattern:
    """UpdateTable that turns deletion protection off; capacity or index changes do not match."""
    return _dynamodb(["UpdateTable"], {"tableName": _table_refs(r), "deletionProtectionEnabled": [False]})


def pitr_off(r: WatchedResources) -> Pattern:
    """UpdateContinuousBackups that turns point-in-time recovery off."""
    return _dynamodb(
        ["UpdateContinuousBackups"],
        {
            "tableName": _table_refs(r),
            "pointInTimeRecoverySpecification": {"pointInTimeRecoveryEnabled": [False]},
        },
    )


def backup_deleted(r: WatchedResources) -> Pattern:
    """DeleteBackup of an on-demand backup of one of the tables (`<table arn>/backup/<id>`)."""
    return _dynamodb(["DeleteBackup"], {"backupArn": [{"prefix": f"{arn}/backup/"} for arn in r.table_arns]})


def resource_policy_changed(r: WatchedResources) -> Pattern:
    """PutResourcePolicy/DeleteResourcePolicy on a table (or its stream): who may read or delete it."""
    return _dynamodb(
        ["PutResourcePolicy", "DeleteResourcePolicy"],
        {"resourceArn": [*r.table_arns, *({"prefix": f"{arn}/stream/"} for arn in r.table_arns)]},
    )


# S3 logs PutBucketLifecycleConfiguration as PutBucketLifecycle; both names are listed.
VAULT_BUCKET_EVENTS = [
    "DeleteBucket",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketLifecycle",
    "PutBucketLifecycleConfiguration",
    "DeleteBucketLifecycle",
    "PutObjectLockConfiguration",
]


def vault_bucket_changed(r: WatchedResources) -> Pattern:
    """Calls that delete the vault or change its policy, lifecycle (expiry) or Object Lock."""
    return _api_call("aws.s3", "s3.amazonaws.com", VAULT_BUCKET_EVENTS, {"bucketName": [r.bucket_name]})


def vault_versioning_suspended(r: WatchedResources) -> Pattern:
    """PutBucketVersioning suspending versioning (enabling it again is benign)."""
    return _api_call(
        "aws.s3",
        "s3.amazonaws.com",
        ["PutBucketVersioning"],
        {"bucketName": [r.bucket_name], "VersioningConfiguration": {"Status": ["Suspended"]}},
    )


def vault_key_disabled(r: WatchedResources) -> Pattern:
    """ScheduleKeyDeletion or DisableKey on the vault key: every export becomes unreadable."""
    return _api_call(
        "aws.kms",
        "kms.amazonaws.com",
        ["ScheduleKeyDeletion", "DisableKey"],
        {"keyId": [key_id(r.kms_key_arn), r.kms_key_arn]},
    )


# EventBridge Scheduler is a REST API whose CloudTrail records name the path and body members in
# lowerCamel (`name`, `groupName`, `state`); the SDK spelling (`Name`, `State`) is matched too, so
# a change of casing on AWS's side cannot silently switch these rules off.
def _scheduler_request(names: list[str], **extra: list[str]) -> dict[str, Any]:
    return {
        "$or": [
            {"name": names, **extra},
            {"Name": names, **{k[0].upper() + k[1:]: v for k, v in extra.items()}},
        ]
    }


def schedule_deleted(r: WatchedResources) -> Pattern:
    """DeleteSchedule of a nightly export (or drill) schedule: backups silently stop."""
    return _api_call(
        "aws.scheduler",
        "scheduler.amazonaws.com",
        ["DeleteSchedule"],
        _scheduler_request(list(r.schedule_names)),
    )


def schedule_disabled(r: WatchedResources) -> Pattern:
    """UpdateSchedule setting a schedule's state to DISABLED."""
    return _api_call(
        "aws.scheduler",
        "scheduler.amazonaws.com",
        ["UpdateSchedule"],
        _scheduler_request(list(r.schedule_names), state=["DISABLED"]),
    )


def watch_patterns(r: WatchedResources) -> dict[str, Pattern]:
    """Every DisasterWatch rule by its short name (used in resource names and alert texts).

    The scheduler rules are omitted when no schedule is known (an empty list is not a valid
    EventBridge pattern value).
    """
    patterns = {
        "table-deleted": table_deleted(r),
        "deletion-protection-off": deletion_protection_off(r),
        "pitr-off": pitr_off(r),
        "backup-deleted": backup_deleted(r),
        "table-policy-changed": resource_policy_changed(r),
        "vault-changed": vault_bucket_changed(r),
        "vault-versioning-suspended": vault_versioning_suspended(r),
        "vault-key-disabled": vault_key_disabled(r),
    }
    if r.schedule_names:
        patterns["schedule-deleted"] = schedule_deleted(r)
        patterns["schedule-disabled"] = schedule_disabled(r)
    return patterns


# The rules DisasterWatch declares, and the watched API names the classifier recognizes.
RULE_NAMES = [
    "table-deleted",
    "deletion-protection-off",
    "pitr-off",
    "backup-deleted",
    "table-policy-changed",
    "vault-changed",
    "vault-versioning-suspended",
    "vault-key-disabled",
    "schedule-deleted",
    "schedule-disabled",
]


def schedule_name(schedule_arn: str) -> str:
    """`arn:aws:scheduler:<region>:<acct>:schedule/<group>/<name>` -> `<name>`."""
    return schedule_arn.rsplit("/", 1)[-1]

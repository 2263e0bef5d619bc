"""EventBridge patterns of DisasterWatch: the CloudTrail management events that endanger a stack's
tables or their backups, and the creation of tables it does not protect.

Pure functions returning dicts (no Pulumi import): the component serializes them once, the tests
route realistic CloudTrail samples through moto's EventBridge with exactly these patterns.

A pattern names event sources, event names and the request parameters that make a call dangerous
(deletion protection or PITR turned *off*, versioning *suspended*, a schedule *disabled*), never a
table: its size stays the same for any number of tables (EventBridge allows 2,048 characters per
pattern by default). Which tables, backups and schedules are the stack's own is decided by the
classifier from the context shipped with its code (`handlers.watch.classifier.relevance`), which
stays quiet for everyone else's. Only the vault bucket and its key are named here: there is one of
each per stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conventions.watch import CLOUDTRAIL_DETAIL_TYPE, VAULT_BUCKET_EVENTS

Pattern = dict[str, Any]


@dataclass(frozen=True)
class VaultResources:
    """The stack's backup vault, the one thing DisasterWatch's patterns name (resolved values)."""

    bucket_name: str
    """The backup vault bucket."""
    kms_key_arn: str
    """The vault's KMS key."""


def _api_call(source: str, event_source: str, names: list[str], request: dict[str, Any] | None = None) -> Pattern:
    detail: dict[str, Any] = {"eventSource": [event_source], "eventName": names}
    if request is not None:
        detail["requestParameters"] = request
    return {"source": [source], "detail-type": [CLOUDTRAIL_DETAIL_TYPE], "detail": detail}


def _dynamodb(names: list[str], request: dict[str, Any] | None = None) -> Pattern:
    return _api_call("aws.dynamodb", "dynamodb.amazonaws.com", names, request)


def key_id(kms_key_arn: str) -> str:
    """The key id of `arn:aws:kms:<region>:<acct>:key/<id>`."""
    return kms_key_arn.rsplit("/", 1)[-1]


def table_deleted() -> Pattern:
    """DeleteTable (also attempts that deletion protection stopped)."""
    return _dynamodb(["DeleteTable"])


def deletion_protection_off() -> Pattern:
    """UpdateTable that turns deletion protection off; capacity or index changes do not match."""
    return _dynamodb(["UpdateTable"], {"deletionProtectionEnabled": [False]})


def pitr_off() -> Pattern:
    """UpdateContinuousBackups that turns point-in-time recovery off."""
    return _dynamodb(
        ["UpdateContinuousBackups"],
        {"pointInTimeRecoverySpecification": {"pointInTimeRecoveryEnabled": [False]}},
    )


def backup_deleted() -> Pattern:
    """DeleteBackup of an on-demand backup (`<table arn>/backup/<id>`)."""
    return _dynamodb(["DeleteBackup"])


def resource_policy_changed() -> Pattern:
    """PutResourcePolicy/DeleteResourcePolicy on a table (or its stream): who may read or delete it."""
    return _dynamodb(["PutResourcePolicy", "DeleteResourcePolicy"])


def table_created() -> Pattern:
    """CreateTable of any table: the classifier alerts when the table is neither the stack's nor
    excluded by `safetynet:coverage.exclude`."""
    return _dynamodb(["CreateTable"])


def vault_bucket_changed(r: VaultResources) -> Pattern:
    """Calls that delete the vault or change its policy, lifecycle (expiry) or Object Lock."""
    return _api_call("aws.s3", "s3.amazonaws.com", VAULT_BUCKET_EVENTS, {"bucketName": [r.bucket_name]})


def vault_versioning_suspended(r: VaultResources) -> Pattern:
    """PutBucketVersioning suspending versioning (enabling it again is benign)."""
    return _api_call(
        "aws.s3",
        "s3.amazonaws.com",
        ["PutBucketVersioning"],
        {"bucketName": [r.bucket_name], "VersioningConfiguration": {"Status": ["Suspended"]}},
    )


def vault_key_disabled(r: VaultResources) -> Pattern:
    """ScheduleKeyDeletion or DisableKey on the vault key: every export becomes unreadable.
    CloudTrail records the KeyId as the caller sent it: the key id and its ARN are listed."""
    return _api_call(
        "aws.kms",
        "kms.amazonaws.com",
        ["ScheduleKeyDeletion", "DisableKey"],
        {"keyId": [key_id(r.kms_key_arn), r.kms_key_arn]},
    )


def schedule_deleted() -> Pattern:
    """DeleteSchedule (of any schedule: the classifier keeps the stack's export and drill schedules)."""
    return _api_call("aws.scheduler", "scheduler.amazonaws.com", ["DeleteSchedule"])


def schedule_disabled() -> Pattern:
    """UpdateSchedule setting a schedule's state to DISABLED.

    EventBridge Scheduler is a REST API whose CloudTrail records name the body members in
    lowerCamel (`state`); the SDK spelling (`State`) is matched too, so a change of casing on
    AWS's side cannot silently switch this rule off."""
    return _api_call(
        "aws.scheduler",
        "scheduler.amazonaws.com",
        ["UpdateSchedule"],
        {"$or": [{"state": ["DISABLED"]}, {"State": ["DISABLED"]}]},
    )


def watch_patterns(r: VaultResources) -> dict[str, Pattern]:
    """Every DisasterWatch rule by its short name (used in resource names and alert texts)."""
    return {
        "table-deleted": table_deleted(),
        "deletion-protection-off": deletion_protection_off(),
        "pitr-off": pitr_off(),
        "backup-deleted": backup_deleted(),
        "table-policy-changed": resource_policy_changed(),
        "vault-changed": vault_bucket_changed(r),
        "vault-versioning-suspended": vault_versioning_suspended(r),
        "vault-key-disabled": vault_key_disabled(r),
        "schedule-deleted": schedule_deleted(),
        "schedule-disabled": schedule_disabled(),
        "table-created": table_created(),
    }


# The rules DisasterWatch declares, in declaration order.
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
    "table-created",
]


def schedule_name(schedule_arn: str) -> str:
    """`arn:aws:scheduler:<region>:<acct>:schedule/<group>/<name>` -> `<name>`."""
    return schedule_arn.rsplit("/", 1)[-1]

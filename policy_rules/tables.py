"""Rules `table-*`: every prod table keeps point-in-time recovery, deletion protection, KMS
encryption and a nightly export.

Also what the other rule modules ask about tables and exports: which tables are protected
(`is_protected_table`) and which schedules run a native export (`export_schedules`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conventions.tags import ENVIRONMENT_TAG, PRODUCTION_ENVIRONMENTS
from policy_rules.inputs import document, get, of_type, table_name_of_arn, tags_of
from policy_rules.model import SCHEDULE, TABLE, Finding, Props, Resource

PROTECTED_ENVIRONMENTS = frozenset(PRODUCTION_ENVIRONMENTS)
"""Tables in these environments must carry the full safety net. A table without the
environment tag is treated as protected too: removing a tag must not switch the rules off."""
EXPORT_TARGET_SUFFIX = ":dynamodb:exportTableToPointInTime"
"""EventBridge Scheduler's universal target for a native export (the NightlyExport schedule)."""


def is_protected_table(props: Props) -> bool:
    """A table in a production environment, or with no environment tag at all."""
    env = tags_of(props).get(ENVIRONMENT_TAG)
    return env is None or str(env) in PROTECTED_ENVIRONMENTS


def export_schedules(resources: Sequence[Resource]) -> list[tuple[Resource, Mapping[str, Any]]]:
    """(schedule, export request) for every enabled schedule that runs a native export."""
    found = []
    for r in of_type(resources, SCHEDULE):
        if str(get(r.props, "state") or "ENABLED") == "DISABLED":
            continue
        if not str(get(r.props, "target", "arn") or "").endswith(EXPORT_TARGET_SUFFIX):
            continue
        request = document(get(r.props, "target", "input"))
        if request is not None:
            found.append((r, request))
    return found


# -- resource rules --------------------------------------------------------------------------------


def table_pitr(resource_type: str, props: Props) -> list[Finding]:
    """A protected table has point-in-time recovery on."""
    if resource_type != TABLE or not is_protected_table(props):
        return []
    if get(props, "pointInTimeRecovery", "enabled") is True:
        return []
    return [
        Finding(
            "point-in-time recovery is off on a prod table: accidental writes and deletes of the last "
            "35 days could not be undone",
            "declare the table through BackedUpTable (it sets pointInTimeRecovery.enabled: true); "
            "never turn PITR off in prod",
        )
    ]


def table_deletion_protection(resource_type: str, props: Props) -> list[Finding]:
    """A protected table has DynamoDB deletion protection on."""
    if resource_type != TABLE or not is_protected_table(props):
        return []
    if get(props, "deletionProtectionEnabled") is True:
        return []
    return [
        Finding(
            "deletion protection is off on a prod table: one DeleteTable call (console, script, "
            "`pulumi destroy`) removes it",
            "set deletionProtectionEnabled: true (BackedUpTable does so when safetynet:environment is prod)",
        )
    ]


def table_encryption(resource_type: str, props: Props) -> list[Finding]:
    """A protected table uses server-side encryption with a KMS key."""
    if resource_type != TABLE or not is_protected_table(props):
        return []
    if get(props, "serverSideEncryption", "enabled") is True:
        return []
    return [
        Finding(
            "server-side encryption with a KMS key is not enabled: key use is not logged in CloudTrail "
            "and access cannot be revoked through the key",
            "set serverSideEncryption: {enabled: true} (optionally with kmsKeyArn)",
        )
    ]


# -- stack rules -----------------------------------------------------------------------------------


def table_nightly_export(resources: Sequence[Resource]) -> list[Finding]:
    """Every protected table is the TableArn of an enabled NightlyExport schedule."""
    exported = set()
    for _, request in export_schedules(resources):
        name = table_name_of_arn(str(request.get("TableArn") or ""))
        if name:
            exported.add(name)
    findings = []
    for t in of_type(resources, TABLE):
        if not is_protected_table(t.props):
            continue
        name = get(t.props, "name")
        if name not in exported:
            findings.append(
                Finding(
                    f"no enabled export schedule targets table {name!r}: it has no nightly backup",
                    "declare the table with BackedUpTable (it bundles the NightlyExport schedule) and keep "
                    "the schedule's state ENABLED",
                    t,
                )
            )
    return findings

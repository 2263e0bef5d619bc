"""Rule `staging-writes-only-staging-targets`: a staging role may write or delete only the tables
of its own stack tagged as staging targets, never a prod table.

A staging role policy is any policy document under a `safetynet:staging:*` component, or of a
resource whose own name says staging (`is_staging`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from conventions.tags import STACK_TAG, STAGING_TARGET_TAG
from policy_rules.iam import policy_documents
from policy_rules.inputs import as_list, get, of_type, statements, table_name_of_arn, tags_of
from policy_rules.model import TABLE, Finding, Props, Resource
from policy_rules.tables import is_protected_table

STAGING_MODULE = "staging"
"""Resources under a `safetynet:staging:*` component are the staging pipeline's."""
DYNAMODB_ITEM_WRITE_ACTIONS = frozenset(
    a.lower()
    for a in (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:TransactWriteItems",
    )
)
# What changes a table's data or existence (a staging role must only do this to staging targets).
DYNAMODB_WRITE_ACTIONS = frozenset(
    a.lower()
    for a in (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:TransactWriteItems",
        "dynamodb:PartiQLInsert",
        "dynamodb:PartiQLUpdate",
        "dynamodb:PartiQLDelete",
        "dynamodb:CreateTable",
        "dynamodb:DeleteTable",
        "dynamodb:UpdateTable",
        "dynamodb:ImportTable",
        "dynamodb:RestoreTableFromBackup",
        "dynamodb:RestoreTableToPointInTime",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:UpdateContinuousBackups",
    )
)


# -- which resources and tables are staging's -------------------------------------------------------


def _under_staging_component(r: Resource) -> bool:
    for a in r.lineage():
        parts = a.type.split(":")
        if a.type.startswith("safetynet:") and len(parts) == 3 and parts[1] == STAGING_MODULE:
            return True
    return False


def is_staging(r: Resource) -> bool:
    """A resource of the staging pipeline: under a staging component, or named for staging."""
    return _under_staging_component(r) or "staging" in r.name.lower()


def _is_staging_target(props: Props) -> bool:
    """Tagged as a staging target of its own stack, and not a prod table."""
    tags = tags_of(props)
    value = tags.get(STAGING_TARGET_TAG)
    if value is None or str(value).strip().lower() in ("", "false") or is_protected_table(props):
        return False
    stack = tags.get(STACK_TAG)
    return stack is None or str(value) in (str(stack), "true")


def _is_staging_state(table: Resource, writes: Sequence[str]) -> bool:
    """The pipeline's own bookkeeping table (e.g. its ledger of staged exports): declared inside a
    staging component, not a prod table, and written item by item only (never deleted,
    recreated or imported into)."""
    return (
        _under_staging_component(table)
        and not is_protected_table(table.props)
        and all(w.lower() in DYNAMODB_ITEM_WRITE_ACTIONS for w in writes)
    )


# -- what a statement grants ------------------------------------------------------------------------


def _writes(stmt: Mapping[str, Any]) -> list[str]:
    """The DynamoDB write/delete actions an Allow statement grants (wildcards included)."""
    if stmt.get("Effect") != "Allow":
        return []
    if "NotAction" in stmt:
        return ["NotAction"]
    out = []
    for a in as_list(stmt.get("Action")):
        action = str(a).lower()
        if action == "*" or (action.startswith("dynamodb:") and ("*" in action or action in DYNAMODB_WRITE_ACTIONS)):
            out.append(str(a))
    return out


def _tag_gated(stmt: Mapping[str, Any]) -> bool:
    """The statement only applies to resources tagged as staging targets."""
    key = f"aws:ResourceTag/{STAGING_TARGET_TAG}"
    for op in ("StringEquals", "StringEqualsIgnoreCase"):
        values = as_list(get(stmt, "Condition", op, key))
        if values and all(str(v).strip().lower() not in ("", "false") for v in values):
            return True
    return False


# Actions that only create a table (and fail on an existing one): no tag condition can hold for
# them (the table has no tags yet), so a name pattern may scope them (`_pattern_of_targets`).
CREATE_ONLY_ACTIONS = frozenset(a.lower() for a in ("dynamodb:ImportTable",))


def _pattern_of_targets(name: str, writes: Sequence[str], tables: Mapping[Any, Resource]) -> bool:
    """A create-only grant on a table name pattern with a fixed part, matching at least one of the
    stack's staging targets and none of its prod tables. (Matching a table that exists does not
    matter: a create-only action fails on it.)"""
    if not all(w.lower() in CREATE_ONLY_ACTIONS for w in writes) or not name.strip("*"):
        return False
    matched = [t for n, t in tables.items() if isinstance(n, str) and fnmatchcase(n, name)]
    return any(_is_staging_target(t.props) for t in matched) and not any(is_protected_table(t.props) for t in matched)


def _why_not_a_target(name: str | None, table: Resource | None) -> str:
    if not name:
        return "resources beyond named tables"
    if "*" in name:
        return "a table name pattern"
    if table is None:
        return "a table not declared in this stack"
    return f"table {name!r}, not tagged as a staging target of its stack ({STAGING_TARGET_TAG})"


# -- stack rule -------------------------------------------------------------------------------------


def staging_writes_only_staging_targets(resources: Sequence[Resource]) -> list[Finding]:
    """No staging role's policy allows writing or deleting a table that is not declared in this
    stack with the staging-target tag (unless the statement is gated on that tag). The one
    exception: item writes to the pipeline's own non-prod bookkeeping tables."""
    tables = {get(t.props, "name"): t for t in of_type(resources, TABLE)}
    findings = []
    for r in resources:
        if not is_staging(r):
            continue
        for where, doc in policy_documents(r.type, r.props):
            if where == "assumeRolePolicy":
                continue
            for i, stmt in enumerate(statements(doc)):
                writes = _writes(stmt)
                if not writes or _tag_gated(stmt):
                    continue
                sid = stmt.get("Sid") or f"Statement[{i}]"
                for res in as_list(stmt.get("Resource")) or ["(no Resource)"]:
                    arn = str(res)
                    name = table_name_of_arn(arn)
                    table = tables.get(name) if name and "*" not in name else None
                    if table is not None and (_is_staging_target(table.props) or _is_staging_state(table, writes)):
                        continue
                    if name and "*" in name and _pattern_of_targets(name, writes, tables):
                        continue
                    why = _why_not_a_target(name, table)
                    findings.append(
                        Finding(
                            f"{where} statement {sid} lets a staging role {', '.join(writes)} {arn}: {why}",
                            f"scope the statement to the ARNs of this stack's staging-target tables and add "
                            f"Condition StringEquals aws:ResourceTag/{STAGING_TARGET_TAG}: '<project/stack>'",
                            r,
                        )
                    )
    return findings

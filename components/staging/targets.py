"""Which test table a prod export goes to, as pure documents: the event pattern of the pipeline's
one trigger (every completed export in prod's vault) and the ledger item each StagedTable
registers (keyed by its prod table's export prefix, holding its TargetTable JSON), which the
state machine's first task looks up (handlers/staging/targets.py). The trigger's size does not
depend on the tables, and each item is one table's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from components.config.staging import StagingSpec
from components.config.tables import TableSpec
from conventions.vault import EXPORTS_ROOT

# The ledger's key attribute, and the attribute of a target item holding its TargetTable JSON
# (read by handlers.staging.targets).
LEDGER_KEY = "table"
TARGET_ATTRIBUTE = "target"
SUMMARY_KEY = "AWSDynamoDB/*/manifest-summary.json"


def ledger_table_name(environment: str) -> str:
    """The staging ledger's name: run records, registered targets, and the journal and last good
    export `safetynet stage` keeps per table (`safetynet.staging.journal`)."""
    return f"safetynet-staging-ledger-{environment}"


def summary_event_pattern(bucket_name: str, export_prefixes: Sequence[str] | None = None) -> dict[str, Any]:
    """S3 "Object Created" (EventBridge notifications) of a manifest-summary.json, written last by
    DynamoDB, so the export is complete when it fires: under any table's export prefix (None: one
    wildcard for every table under `exports/`, whatever the tables), or under one of
    `export_prefixes` (prod forwards one reader's selected tables with one rule)."""
    if export_prefixes is not None and not export_prefixes:
        raise ValueError("summary_event_pattern needs at least one export prefix (or None for every table)")
    prefixes = [f"{EXPORTS_ROOT}/*"] if export_prefixes is None else list(export_prefixes)
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [bucket_name]},
            "object": {"key": [{"wildcard": f"{p}/{SUMMARY_KEY}"} for p in prefixes]},
        },
    }


def target_document(
    *,
    spec: TableSpec,
    physical_name: str,
    stack: str,
    prod_table: Mapping[str, Any],
    staging: StagingSpec,
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """The TargetTable JSON (handlers.staging.target.TargetTable) for one test table: prod's schema with
    the test table's name, and everything a replace must put back. Raises ValueError when the
    test table's configured schema drifted from prod's."""
    prod_schema = dict(prod_table["schema"])
    own = spec.create_table_request(physical_name)
    if {**prod_schema, "TableName": physical_name} != own:
        raise ValueError(
            f"safetynet:tables '{spec.name}': the test table's schema differs from prod's "
            f"tables.{spec.name}.schema output; copy the table's keys, indexes and billing from prod's config"
        )
    return {
        "name": physical_name,
        "logicalName": spec.name,
        "stack": stack,
        "schema": {**prod_schema, "TableName": physical_name},
        "sourceTableArn": prod_table["arn"],
        "mode": staging.mode_for(spec.name),
        "ttlAttribute": spec.ttl_attribute,
        "pointInTimeRecoveryDays": spec.point_in_time_recovery_days,
        "deletionProtection": False,
        "tags": dict(tags),
        "mask": [
            {"path": r.path, "action": r.action, **({"value": r.value} if r.value is not None else {})}
            for r in staging.rules_for(spec.name)
        ],
    }


def target_item(export_prefix: str, target: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger item (DynamoDB JSON) that registers a test table as the target of the exports
    under `export_prefix` (`exports/<prod table>`): keyed by that prefix, which, having a `/`,
    is never a table's logical name (the key of its run record)."""
    return {
        LEDGER_KEY: {"S": export_prefix},
        TARGET_ATTRIBUTE: {"S": json.dumps(target, sort_keys=True, separators=(",", ":"))},
    }


TRIGGER_INPUT_TEMPLATE = '{"bucket": <bucket>, "key": <key>}'
"""EventBridge input template: the event's bucket and key; the machine's first task finds the
table (`resolve`)."""

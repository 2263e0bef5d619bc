"""Which test table an export goes to: the targets the test stack registered.

The test stack's pipeline has one EventBridge rule for every completed export in prod's vault (a
rule per table would not scale), so the first task of a run decides whether the export's table is
staged here. Each StagedTable registers its TargetTable in the ledger, keyed by its prod table's
export prefix (`exports/<table>`, which has a `/` and so never collides with a run record, keyed
by a table's logical name). An export under any other prefix is not staged here: the run ends
quietly. Only the stack writes these items; the task role may not (see the staging policies), and
the guard on the test table's tags stays the second lock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from handlers import exports
from handlers.staging.target import TargetTable

logger = Logger(service="safetynet-staging", child=True)

# The ledger's key attribute, and the attribute of a target item that holds the TargetTable JSON
# (written by components.staging.component.target_item).
LEDGER_KEY = "table"
TARGET_ATTRIBUTE = "target"


@dataclass(frozen=True)
class Resolution:
    """Where an export goes: its target, or None with the reason it is not staged here."""

    target: TargetTable | None
    reason: str


def target_document(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """The TargetTable JSON of a ledger item (DynamoDB JSON); None when it is not a target item."""
    raw = item.get(TARGET_ATTRIBUTE, {}).get("S")
    if not raw:
        return None
    doc: dict[str, Any] = json.loads(raw)
    return doc


def table_prefix(bucket: str, key: str) -> str | None:
    """The table's export prefix (`exports/<table>`) of an export's manifest-summary.json key;
    None when the key is not in an export's folder."""
    try:
        ref = exports.ExportRef.parse(f"s3://{bucket}/{key}")
    except ValueError:
        return None
    return ref.export_prefix.rstrip("/") or None


def resolve(ddb: Any, ledger: str, bucket: str, key: str) -> Resolution:
    """The registered target of the export whose manifest-summary.json is `s3://bucket/key`."""
    where = f"s3://{bucket}/{key}"
    prefix = table_prefix(bucket, key)
    if prefix is None:
        return _not_staged(f"{where} is not in an export's folder; nothing to stage")
    item = ddb.get_item(TableName=ledger, Key={LEDGER_KEY: {"S": prefix}}, ConsistentRead=True).get("Item")
    doc = target_document(item) if item else None
    if doc is None:
        return _not_staged(f"{where}: no table of this stack stages the exports under {prefix}/; not staged here")
    target = TargetTable.from_json(doc)
    return Resolution(target, f"{where} -> {target.name}")


def _not_staged(reason: str) -> Resolution:
    logger.info({"message": "export not staged here", "reason": reason})
    return Resolution(None, reason)

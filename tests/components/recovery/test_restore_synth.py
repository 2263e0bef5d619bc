"""The program with `safetynet:restore`: every source kind gives the table exactly its restore
inputs, keeps every usual setting, and never lets a restore input replace a live table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from components.backup.table import RESTORE_INPUTS
from safetynet.synth import SynthError, SynthResult
from tests.support.policies import role_policy
from tests.support.stacks import synth_stack

TABLE = "aws:dynamodb/table:Table"
EXPORT_URL = "s3://vault-bucket-1/exports/customers/AWSDynamoDB/01700000000000-abcdef12/"
BACKUP_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/orders/backup/01700000000000-abcdef12"
DELETED_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/orders"
AN_HOUR_AGO = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
AN_HOUR_AGO_TEXT = AN_HOUR_AGO.strftime("%Y-%m-%dT%H:%M:%SZ")


def _restore(restore: dict[str, Any]) -> SynthResult:
    return synth_stack("prod", config_overrides={"restore": restore})


def _table(result: SynthResult, name: str) -> dict[str, Any]:
    return result.one(TABLE, name)


def _without_restore_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if k not in RESTORE_INPUTS}


def _restore_part(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if k in RESTORE_INPUTS}


def test_export_source_imports_the_data_folder_as_gzipped_dynamodb_json(prod_synth: SynthResult) -> None:
    # Given an export source for customers / When synthesized
    t = _table(_restore({"customers": {"export": EXPORT_URL}}), "customers-table")
    # Then the table imports exactly the export's data/ folder
    assert _restore_part(t["inputs"]) == {
        "importTable": {
            "inputFormat": "DYNAMODB_JSON",
            "inputCompressionType": "GZIP",
            "s3BucketSource": {
                "bucket": "vault-bucket-1",
                "keyPrefix": "exports/customers/AWSDynamoDB/01700000000000-abcdef12/data/",
            },
        }
    }
    # and every other setting is what the table has without a restore
    assert _without_restore_inputs(t["inputs"]) == _table(prod_synth, "customers-table")["inputs"]


def test_backup_source_sets_only_the_backup_arn_and_keeps_ttl_streams_and_indexes(
    prod_synth: SynthResult,
) -> None:
    t = _table(_restore({"orders": {"backupArn": BACKUP_ARN}}), "orders-table")
    assert _restore_part(t["inputs"]) == {"restoreBackupArn": BACKUP_ARN}
    usual = _without_restore_inputs(t["inputs"])
    assert usual == _table(prod_synth, "orders-table")["inputs"]
    # the settings a plain AWS restore drops are declared again
    assert usual["ttl"] == {"enabled": True, "attributeName": "expiresAt"}
    assert usual["streamEnabled"] is True
    assert usual["pointInTimeRecovery"]["enabled"] is True
    assert usual["deletionProtectionEnabled"] is True
    assert usual["tags"]["team"] == "checkout"
    assert [g["name"] for g in usual["globalSecondaryIndexes"]] == ["by-status"]
    assert [i["name"] for i in usual["localSecondaryIndexes"]] == ["by-created"]


def test_point_in_time_of_a_deleted_table_restores_by_source_arn(prod_synth: SynthResult) -> None:
    restore = {"orders": {"pointInTime": AN_HOUR_AGO.isoformat(), "sourceTableArn": DELETED_ARN}}
    t = _table(_restore(restore), "orders-table")
    assert _restore_part(t["inputs"]) == {
        "restoreSourceTableArn": DELETED_ARN,
        "restoreDateTime": AN_HOUR_AGO_TEXT,
    }
    assert _without_restore_inputs(t["inputs"]) == _table(prod_synth, "orders-table")["inputs"]


def test_latest_restorable_time_restores_to_latest(prod_synth: SynthResult) -> None:
    restore = {"orders": {"latestRestorableTime": True, "sourceTableArn": DELETED_ARN}}
    t = _table(_restore(restore), "orders-table")
    assert _restore_part(t["inputs"]) == {"restoreSourceTableArn": DELETED_ARN, "restoreToLatestTime": True}


def test_restore_inputs_are_ignored_on_update_for_every_table() -> None:
    result = _restore({"customers": {"export": EXPORT_URL}, "orders": {"backupArn": BACKUP_ARN}})
    for t in result.of_type(TABLE):
        assert set(RESTORE_INPUTS) <= set(t["options"]["ignoreChanges"]), t["name"]
        # prod tables stay protected while a restore source is set
        assert t["options"]["protect"] is True
        assert t["options"]["retainOnDelete"] is True


def test_target_suffix_declares_a_protected_table_beside_an_untouched_original(prod_synth: SynthResult) -> None:
    # Given a PITR restore of inventory beside the live (corrupted) table
    result = _restore({"inventory": {"pointInTime": AN_HOUR_AGO.isoformat(), "targetSuffix": "-restored"}})
    # Then the original is declared exactly as without a restore
    assert _table(result, "inventory-table")["inputs"] == _table(prod_synth, "inventory-table")["inputs"]
    # and a second table reads the original at that time
    beside = _table(result, "inventory-restored")
    assert beside["inputs"]["name"] == "inventory-restored"
    assert _restore_part(beside["inputs"]) == {
        "restoreSourceName": "inventory",
        "restoreDateTime": AN_HOUR_AGO_TEXT,
    }
    original = _table(prod_synth, "inventory-table")["inputs"]
    same = {k: v for k, v in _without_restore_inputs(beside["inputs"]).items() if k not in ("name", "tags")}
    assert same == {k: v for k, v in original.items() if k not in ("name", "tags")}
    assert beside["inputs"]["tags"] == {**original["tags"], "safetynet:restored-from": "pitr"}
    assert beside["options"]["protect"] is True
    assert set(RESTORE_INPUTS) <= set(beside["options"]["ignoreChanges"])
    assert beside["parent"] == "safetynet:dynamodb:BackedUpTable::inventory"
    assert result.outputs["restoredTables"] == {"inventory": "inventory-restored"}


def test_outputs_keep_their_shape_and_values_when_a_table_is_restored(prod_synth: SynthResult) -> None:
    # The test stack reads prod's `tables` output by logical name through a StackReference: a
    # table recreated from a backup under the same name must look the same to it.
    result = _restore({"customers": {"export": EXPORT_URL}, "orders": {"backupArn": BACKUP_ARN}})
    assert result.outputs == prod_synth.outputs
    assert "restoredTables" not in result.outputs


def test_export_source_for_a_table_with_lsis_is_refused_with_the_alternatives() -> None:
    url = "s3://vault-bucket-1/exports/orders/AWSDynamoDB/01700000000000-abcdef12/"
    with pytest.raises(SynthError) as err:
        _restore({"orders": {"export": url}})
    msg = str(err.value)
    assert "safetynet:restore" in msg
    assert "localSecondaryIndexes (by-created)" in msg
    assert "ImportTable cannot create LSIs" in msg
    assert "pointInTime" in msg and "backupArn" in msg


def test_latest_in_config_fails_and_points_at_restore_plan() -> None:
    with pytest.raises(SynthError, match=r"safetynet restore-plan"):
        _restore({"customers": {"latest": True}})


def test_the_table_restored_beside_has_its_own_nightly_export() -> None:
    result = _restore({"inventory": {"pointInTime": AN_HOUR_AGO.isoformat(), "targetSuffix": "-restored"}})
    schedule = result.one("aws:scheduler/schedule:Schedule", "inventory-restored-export-schedule")
    request = json.loads(schedule["inputs"]["target"]["input"])
    assert request["TableArn"].endswith(":table/inventory-restored")
    assert request["S3Prefix"] == "exports/inventory-restored"
    # through the stack's export role, whose grant is scoped by the stack tag the restored table carries
    assert schedule["inputs"]["target"]["roleArn"] == result.outputs["nightlyExports"]["roleArn"]
    policy = role_policy(result, "nightly-exports-policy")
    export_stmt = next(s for s in policy["Statement"] if "dynamodb:ExportTableToPointInTime" in s["Action"])
    tags = result.one("aws:dynamodb/table:Table", "inventory-restored")["inputs"]["tags"]
    assert export_stmt["Condition"]["StringEquals"] == {"aws:ResourceTag/safetynet:stack": tags["safetynet:stack"]}


@pytest.mark.parametrize(
    "restore",
    [
        {"customers": {"export": EXPORT_URL}},
        {"orders": {"backupArn": BACKUP_ARN}},
        {"orders": {"latestRestorableTime": True, "sourceTableArn": DELETED_ARN}},
        {"inventory": {"pointInTime": AN_HOUR_AGO_TEXT, "targetSuffix": "-restored"}},
    ],
    ids=["export", "backup", "pitr-deleted", "pitr-beside"],
)
def test_restored_stacks_pass_the_pull_request_checks(restore: dict[str, Any]) -> None:
    from safetynet.policy_check import check_synth_doc

    assert check_synth_doc(_restore(restore).to_json()) == []

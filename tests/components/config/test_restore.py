"""`safetynet:restore` parsing and the pure restore-input builder."""

from __future__ import annotations

from typing import Any

from components.config.loading import parse_stack_config
from components.config.restore import TableRestore, export_data_prefix
from components.config.stack import StackConfig
from components.recovery.restore import restore_inputs
from tests.support.config import config_error

TABLES = [
    {
        "name": "orders",
        "hashKey": {"name": "pk", "type": "S"},
        "rangeKey": {"name": "sk", "type": "S"},
        "localSecondaryIndexes": [{"name": "by-time", "rangeKey": {"name": "ts", "type": "N"}}],
    },
    {"name": "customers", "hashKey": {"name": "id", "type": "S"}},
]
EXPORT = "s3://vault-1/exports/customers/AWSDynamoDB/01700000000000-abcdef12/"
BACKUP = "arn:aws:dynamodb:eu-central-1:123456789012:table/customers/backup/01700000000000-abcdef12"


def _parse(restore: dict[str, Any]) -> StackConfig:
    return parse_stack_config({"environment": "prod", "tables": TABLES, "restore": restore})


def _problems(restore: dict[str, Any]) -> str:
    return config_error({"environment": "prod", "tables": TABLES, "restore": restore})


def test_no_restore_block_means_no_restores() -> None:
    assert parse_stack_config({"environment": "prod", "tables": TABLES}).restore == {}


def test_an_export_source_parses() -> None:
    cfg = _parse({"customers": {"export": EXPORT}})
    assert cfg.restore["customers"].source_kind() == "export"


def test_two_sources_for_one_table_are_refused() -> None:
    msg = _problems({"customers": {"export": EXPORT, "backupArn": BACKUP}})
    assert "safetynet:restore.customers: exactly one source per table" in msg
    assert "found export, backupArn" in msg


def test_no_source_is_refused() -> None:
    assert "found none" in _problems({"customers": {"targetSuffix": "-r"}})


def test_unknown_table_names_the_configured_tables() -> None:
    msg = _problems({"custmers": {"backupArn": BACKUP}})
    assert "custmers: no such table in safetynet:tables (tables: customers, orders)" in msg


def test_export_source_on_an_lsi_table_proposes_pitr_or_backup() -> None:
    msg = _problems({"orders": {"export": EXPORT.replace("customers", "orders")}})
    assert "localSecondaryIndexes (by-time)" in msg
    assert "--source pitr" in msg and "--source backup" in msg


def test_a_folder_that_is_not_an_export_is_refused() -> None:
    msg = _problems({"customers": {"export": "s3://vault-1/exports/customers/"}})
    assert "AWSDynamoDB/<ExportId>/" in msg


def test_a_time_without_zone_is_refused() -> None:
    msg = _problems({"customers": {"pointInTime": "2026-01-01T00:00:00", "targetSuffix": "-r"}})
    assert "pointInTime needs a time zone" in msg


def test_a_future_time_is_refused() -> None:
    msg = _problems({"customers": {"pointInTime": "2999-01-01T00:00:00Z", "targetSuffix": "-r"}})
    assert "in the future" in msg


def test_pitr_onto_its_own_live_name_is_refused() -> None:
    # The table a PITR restore reads is the table it would be created as: impossible.
    msg = _problems({"customers": {"latestRestorableTime": True}})
    assert "needs targetSuffix" in msg and "sourceTableArn" in msg


def test_an_aws_backup_recovery_point_arn_explains_how_to_restore_it() -> None:
    msg = _problems({"customers": {"backupArn": "arn:aws:backup:eu-central-1:123456789012:recovery-point:x"}})
    assert "aws backup start-restore-job" in msg


def test_source_table_arn_without_pitr_is_refused() -> None:
    msg = _problems(
        {
            "customers": {
                "backupArn": BACKUP,
                "sourceTableArn": "arn:aws:dynamodb:eu-central-1:123456789012:table/customers",
            }
        }
    )
    assert "sourceTableArn only goes with pointInTime" in msg


def test_latest_is_refused_with_the_command_that_resolves_it() -> None:
    assert "run `safetynet restore-plan <stack> --source latest`" in _problems({"customers": {"latest": True}})


def test_the_import_prefix_is_the_exports_data_folder() -> None:
    assert export_data_prefix(EXPORT) == (
        "vault-1",
        "exports/customers/AWSDynamoDB/01700000000000-abcdef12/data/",
    )
    assert export_data_prefix("s3://vault-1/AWSDynamoDB/01700000000000-abcdef12") == (
        "vault-1",
        "AWSDynamoDB/01700000000000-abcdef12/data/",
    )


def test_pitr_inputs_read_the_live_table_when_restoring_beside_it() -> None:
    entry = TableRestore.model_validate({"pointInTime": "2026-01-01T01:00:00+01:00", "targetSuffix": "-r"})
    assert restore_inputs(entry, "customers") == {
        "restore_source_name": "customers",
        "restore_date_time": "2026-01-01T00:00:00Z",
    }

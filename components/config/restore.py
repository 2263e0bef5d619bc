"""`safetynet:restore`: where a table comes back from when Pulumi (re)creates it.

One entry per configured table (by logical name), each with exactly one source:

    safetynet:restore:
      orders:
        export: s3://vault-bucket/exports/orders/AWSDynamoDB/01700000000000-abcdef12/
      customers:
        pointInTime: "2026-11-27T08:00:00Z"
        targetSuffix: -restored
      inventory:
        backupArn: arn:aws:dynamodb:eu-central-1:123456789012:table/inventory/backup/01700000000000-abcdef12

The sources only act when a table is created: the table component keeps them in
`ignoreChanges`, so a restore block left in a stack file never replaces a live table.

`latest: true` is accepted by the parser only to fail with a clear instruction: which export is
"latest" (and whether it is valid) depends on the vault's contents, which the program cannot read
during a preview. `safetynet restore-plan` resolves it to a concrete `export:` and writes that.
This module does not import Pulumi or boto3.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from components.config.base import ConfigModel

# s3://<bucket>/<prefix...>/AWSDynamoDB/<ExportId>/ : the folder DynamoDB writes one export into.
EXPORT_URL_RE = re.compile(
    r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<prefix>(?:[^/]+/)*?)AWSDynamoDB/(?P<export_id>[A-Za-z0-9-]+)/?$"
)
DYNAMODB_BACKUP_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[a-zA-Z0-9_.-]{3,255}/backup/[A-Za-z0-9-]+$"
)
AWS_BACKUP_RECOVERY_POINT_RE = re.compile(r"^arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:recovery-point:.+$")
TABLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[a-zA-Z0-9_.-]{3,255}$")
SUFFIX_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")

SOURCE_KEYS = ("latest", "export", "pointInTime", "latestRestorableTime", "backupArn")


def export_data_prefix(export_url: str) -> tuple[str, str]:
    """(bucket, key prefix) that ImportTable reads for an export folder URL.

    ImportTable imports every object under `S3KeyPrefix`; an export folder also holds the
    manifests (`manifest-*.json`, `*.checksum`, `_started`), which are not DynamoDB JSON items.
    The prefix is therefore the export's `data/` folder: `<prefix>/AWSDynamoDB/<ExportId>/data/`.
    """
    m = EXPORT_URL_RE.match(export_url)
    if not m:
        raise ValueError(f"not an export folder URL: {export_url}")
    return m.group("bucket"), f"{m.group('prefix')}AWSDynamoDB/{m.group('export_id')}/data/"


class TableRestore(ConfigModel):
    """Where one table is restored from when it is (re)created. Exactly one source."""

    latest: bool | None = Field(
        default=None, description="Not resolved by the program: run `safetynet restore-plan` instead."
    )
    export: str | None = Field(
        default=None,
        description="s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/ : an export folder (ImportTable).",
    )
    point_in_time: datetime | None = Field(
        default=None, description="ISO-8601 time with zone: a PITR restore to that second."
    )
    latest_restorable_time: bool | None = Field(
        default=None, description="A PITR restore to the latest restorable time."
    )
    source_table_arn: str | None = Field(
        default=None, description="PITR source by ARN (a deleted or other-region table)."
    )
    backup_arn: str | None = Field(
        default=None, description="A DynamoDB backup ARN: on-demand, AWS Backup or system backup."
    )
    target_suffix: str | None = Field(
        default=None, description="Restore into a new table `<physical name><suffix>` beside the original."
    )

    def source_kind(self) -> str:
        """`export`, `pitr` or `backup` (after validation exactly one source is set)."""
        if self.export:
            return "export"
        if self.backup_arn:
            return "backup"
        if self.point_in_time is not None or self.latest_restorable_time:
            return "pitr"
        return "latest"

    def restore_time_text(self) -> str | None:
        """The PITR time as RFC 3339 UTC (what the provider's restore_date_time takes)."""
        if self.point_in_time is None:
            return None
        return self.point_in_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @model_validator(mode="after")
    def _one_source(self) -> TableRestore:
        given = [
            key
            for key, value in (
                ("latest", self.latest),
                ("export", self.export),
                ("pointInTime", self.point_in_time),
                ("latestRestorableTime", self.latest_restorable_time),
                ("backupArn", self.backup_arn),
            )
            if value not in (None, False)
        ]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"exactly one source per table (one of {', '.join(SOURCE_KEYS)}); found {found}")
        problems = self._source_problems() + self._arn_problems()
        if self.target_suffix is not None and not SUFFIX_RE.match(self.target_suffix):
            problems.append("targetSuffix is 1-64 characters of a-z A-Z 0-9 _ - . (e.g. -restored)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _source_problems(self) -> list[str]:
        problems: list[str] = []
        if self.latest:
            problems.append(
                "latest: true is not resolved by the program (the vault's contents are not known at "
                "preview time); run `safetynet restore-plan <stack> --source latest`, which validates the "
                "newest export and writes it here as export: s3://..."
            )
        if self.export is not None and not EXPORT_URL_RE.match(self.export):
            problems.append(
                f"export '{self.export}' is not an export folder; write "
                "s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/ (the folder holding manifest-summary.json)"
            )
        if self.point_in_time is not None:
            if self.point_in_time.tzinfo is None:
                problems.append("pointInTime needs a time zone, e.g. 2026-11-27T08:00:00Z")
            elif self.point_in_time > datetime.now(UTC):
                problems.append(f"pointInTime {self.point_in_time.isoformat()} is in the future")
        return problems

    def _arn_problems(self) -> list[str]:
        problems: list[str] = []
        if self.source_table_arn is not None:
            if self.source_kind() != "pitr":
                problems.append("sourceTableArn only goes with pointInTime or latestRestorableTime")
            if not TABLE_ARN_RE.match(self.source_table_arn):
                problems.append(
                    f"sourceTableArn '{self.source_table_arn}' is not a table ARN "
                    "(arn:aws:dynamodb:REGION:ACCOUNT:table/NAME)"
                )
        if self.backup_arn is not None and not DYNAMODB_BACKUP_ARN_RE.match(self.backup_arn):
            if AWS_BACKUP_RECOVERY_POINT_RE.match(self.backup_arn):
                problems.append(
                    "backupArn is an AWS Backup recovery point ARN (advanced DynamoDB backup features): "
                    "DynamoDB cannot restore it; restore it with `aws backup start-restore-job`, then "
                    "adopt the table (adopt: true), or choose a DynamoDB backup ARN "
                    "(arn:aws:dynamodb:...:table/NAME/backup/ID)"
                )
            else:
                problems.append(
                    f"backupArn '{self.backup_arn}' is not a DynamoDB backup ARN "
                    "(arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/backup/ID)"
                )
        return problems


def check_against_tables(restore: dict[str, TableRestore], info: ValidationInfo) -> dict[str, TableRestore]:
    """Rules that need the configured tables: known names, no LSI table from an export, PITR with a
    source that can exist. Runs after `tables` is parsed (it is declared before `restore`)."""
    tables = info.data.get("tables")
    if tables is None:  # `tables` itself is invalid: reported on its own path
        return restore
    by_name = {t.name: t for t in tables}
    problems: list[str] = []
    for name, entry in restore.items():
        spec = by_name.get(name)
        if spec is None:
            known = ", ".join(sorted(by_name)) or "none configured"
            problems.append(f"{name}: no such table in safetynet:tables (tables: {known})")
            continue
        kind = entry.source_kind()
        if kind == "export" and spec.local_secondary_indexes:
            lsis = ", ".join(i.name for i in spec.local_secondary_indexes)
            problems.append(
                f"{name}: the table has localSecondaryIndexes ({lsis}) and ImportTable cannot create LSIs, "
                "so an export cannot restore it; use pointInTime / latestRestorableTime (PITR) or "
                "backupArn (`safetynet restore-plan <stack> --table "
                f"{name} --source pitr` or `--source backup`)"
            )
        if kind == "pitr" and entry.source_table_arn is None and entry.target_suffix is None:
            problems.append(
                f"{name}: a PITR restore reads the live table, so it needs targetSuffix (restore beside "
                "the live table) or sourceTableArn (the deleted table's ARN); for a deleted table the "
                f"system backup '<table>$DeletedTableBackup' (backupArn) is the usual source"
            )
    if problems:
        raise ValueError("; ".join(problems))
    return restore


RestoreField = Annotated[dict[str, TableRestore], AfterValidator(check_against_tables)]
"""The type of `StackConfig.restore`: logical table name -> its restore source, checked against
the configured tables."""

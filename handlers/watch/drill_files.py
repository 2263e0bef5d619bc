"""The restore drill's check of one data file: the child task of the drill state machine's
ValidateFiles Distributed Map, so the drill validates exports of any size within Lambda's limits
(each child reads one data file; no Lambda reads the whole export).

A failed Map Run reports only that its failure threshold was exceeded; the child's own error is
in the child execution's history, which the recording step cannot read. So a child that rejects
its file first writes the problems under the run's folder in the vault
(`drills/<table>/runs/<scratch table>/files/<sha256 of the key>.json`; the drill task role may
already write and list `drills/<table>/`), then raises `DataFileRejected`. The recording step
reads a bounded number of those records back (`recorded_file_problems`) into the drill record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from conventions.vault import drill_record_prefix
from conventions.watch import WatchContext
from handlers.exports import DataFile, ExportRef, ManifestError, check_data_file
from handlers.watch.aws import AWS_ERRORS, error_text

logger = Logger(service="safetynet-watch", child=True)

MAX_REPORTED_FILES = 20
"""Damaged files whose problems the recording step reads back (the rest are counted only)."""


class DataFileRejected(Exception):
    """One data file of the export failed its check; the message names the file and every
    problem found in it (existence, gzip, MD5, item count, item syntax)."""


def run_folder(physical_table: str, scratch_table: str) -> str:
    """`drills/<table>/runs/<scratch table>/files/`: one drill run's data file records (the
    scratch table name holds the export id and the run time, so runs never share a folder)."""
    return f"{drill_record_prefix(physical_table)}/runs/{scratch_table}/files/"


def _record_key(physical_table: str, scratch_table: str, file_key: str) -> str:
    # A digest: data file keys are long and may hold characters unwelcome in a key's last part.
    return run_folder(physical_table, scratch_table) + hashlib.sha256(file_key.encode()).hexdigest()[:32] + ".json"


@dataclass(frozen=True)
class FileTask:
    """The child's input, as the map's ItemSelector builds it: the logical table, the plan of
    the Prepare task, and one line of manifest-files.json."""

    table: str
    export_url: str
    output_format: str
    scratch_table: str
    data_file: DataFile

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> FileTask:
        """Parse `{"table", "plan": {exportUrl, outputFormat, scratchTable, ...}, "file": {...}}`."""
        try:
            plan = event["plan"]
            return cls(
                table=str(event["table"]),
                export_url=str(plan["exportUrl"]),
                output_format=str(plan["outputFormat"]),
                scratch_table=str(plan["scratchTable"]),
                data_file=DataFile.from_json(event["file"]),
            )
        except (KeyError, TypeError, ManifestError) as exc:
            raise ValueError(
                f"not a ValidateFiles item ({exc}): expected table, plan.exportUrl, plan.outputFormat, "
                "plan.scratchTable and file (one line of manifest-files.json)"
            ) from None


def check_file(ctx: WatchContext, task: FileTask, *, s3: Any) -> dict[str, Any]:
    """Read one data file completely (existence, gzip, MD5, item count, every item's syntax).
    A damaged file's problems are written for the recording step, then DataFileRejected is
    raised naming the file and its problems. Returns `{"key", "items"}` for a sound file."""
    table = ctx.table(task.table)
    ref = ExportRef.parse(task.export_url)
    check = check_data_file(s3, ref, task.data_file, output_format=task.output_format)
    if check.ok:
        return {"key": check.key, "items": check.items}
    url = f"s3://{ref.bucket}/{check.key}"
    logger.warning({"message": "data file rejected", "file": url, "problems": check.problems})
    record = {"file": url, "export": ref.url, "problems": check.problems}
    try:
        s3.put_object(
            Bucket=ctx.vault_bucket,
            Key=_record_key(table.physical_name, task.scratch_table, check.key),
            Body=json.dumps(record, sort_keys=True).encode(),
            ContentType="application/json",
        )
    except AWS_ERRORS as exc:  # the rejection matters more than its record: still raise it
        logger.error({"message": "could not record the rejected file", "file": url, "error": error_text(exc)})
    raise DataFileRejected(f"data file {url} of {ref.url} is not restorable: " + "; ".join(check.problems))


@dataclass(frozen=True)
class RecordedProblems:
    """What ValidateFiles children recorded for one run."""

    problems: list[str]
    """Every problem of the first `MAX_REPORTED_FILES` damaged files, in key order."""
    more_files: bool
    """More damaged files were recorded than were read."""


def recorded_file_problems(
    s3: Any, bucket: str, physical_table: str, scratch_table: str, *, limit: int = MAX_REPORTED_FILES
) -> RecordedProblems:
    """The problems the run's children recorded: one List call and at most `limit` reads,
    however many files failed."""
    folder = run_folder(physical_table, scratch_table)
    page = s3.list_objects_v2(Bucket=bucket, Prefix=folder, MaxKeys=limit)
    problems: list[str] = []
    for obj in page.get("Contents", []):
        raw = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        try:
            doc = json.loads(raw)
            problems += [str(p) for p in doc["problems"]]
        except (ValueError, KeyError, TypeError):
            problems.append(f"a data file was rejected, but its record s3://{bucket}/{obj['Key']} is unreadable")
    return RecordedProblems(problems=problems, more_files=bool(page.get("IsTruncated")))

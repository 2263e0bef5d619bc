"""An interrupted `safetynet backup --scan` (Ctrl-C or SIGTERM: KeyboardInterrupt) leaves no export
a reader could take for a backup: it aborts its multipart uploads, deletes the unfinished folder
(or says exactly what remains where deleting is denied, as in the vault), prints the command that
writes the export again, and that command ends with the vault listing an uninterrupted run leaves.
moto in-process."""

from __future__ import annotations

import shlex
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from components.config.tables import TableSpec
from handlers.exports import ExportRef, iter_items, list_exports, scan_exports, validate_export
from safetynet.cli import app
from tests.support.export_fixtures import realistic_items
from tests.support.interrupt import Interrupter, interrupt_commands

REGION = "us-east-1"
BUCKET, CLEAN = "vault-interrupted", "vault-uninterrupted"
PER_FILE = 5
SPEC = TableSpec.model_validate(
    {"name": "orders", "hashKey": {"name": "customerId", "type": "S"}, "rangeKey": {"name": "orderId", "type": "S"}}
)
runner = CliRunner()


@pytest.fixture
def table(aws: None) -> Any:
    """orders, filled with the realistic fixture items (every attribute type), and two buckets."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**SPEC.create_table_request("orders"))
    for item in realistic_items():
        ddb.put_item(TableName="orders", Item=item)
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (BUCKET, CLEAN):
        s3.create_bucket(Bucket=bucket)
    return ddb


def backup(bucket: str, *extra: str) -> Any:
    argv = ["backup", "--scan", "orders", "--bucket", bucket, "--items-per-file", str(PER_FILE), *extra]
    return runner.invoke(app, argv, env={"COLUMNS": "300"})


def vault(bucket: str) -> dict[str, Any]:
    """The bucket as a reader and an operator see it: the exports listed as usable (with their
    items and the kinds of files in each folder), folders without a summary, open uploads."""
    s3 = boto3.client("s3", region_name=REGION)
    listing = scan_exports(s3, bucket, "exports/orders")
    exports = []
    for ref, summary in listing.exports:
        keys = [o["Key"][len(ref.prefix) :] for o in s3.list_objects_v2(Bucket=bucket, Prefix=ref.prefix)["Contents"]]
        exports.append(
            {
                "items": sorted(str(sorted(i.items())) for i in iter_items(s3, ref)),
                "count": summary.item_count,
                "files": sorted("data/*.json.gz" if k.startswith("data/") else k for k in keys),
                "valid": validate_export(s3, ref).ok,
            }
        )
    return {
        "exports": exports,
        "unfinished": [s.ref.url for s in listing.skipped],
        "objects_outside_exports": sum(
            1 for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if "/AWSDynamoDB/" not in o["Key"]
        ),
        "uploads": s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []),
    }


def flat(text: str) -> str:
    return " ".join(text.split())


def rerun_argv(output: str) -> list[str]:
    marker = "Run again (it writes a new, complete export): "
    text = flat(output)
    argv = shlex.split(text[text.index(marker) + len(marker) :])
    assert argv[0] == "safetynet"
    return argv[1:]


@pytest.fixture
def uninterrupted(table: Any) -> dict[str, Any]:
    result = backup(CLEAN)
    assert result.exit_code == 0, result.output
    state = vault(CLEAN)
    assert len(state["exports"]) == 1 and state["exports"][0]["valid"]
    return state


# (operation, call number, after the call?): the put_object calls are _started, then the data
# files (2..n+1), manifest-files.json and its checksum, the summary's checksum, the summary last.
N_FILES = -(-len(realistic_items()) // PER_FILE)
POINTS = {
    "before the first data file": ("put_object", 2, False),
    "between data files": ("put_object", 4, False),
    "before manifest-files.json": ("put_object", N_FILES + 2, False),
    "before the summary": ("put_object", N_FILES + 5, False),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_an_interrupted_scan_export_is_removed_and_the_rerun_writes_a_complete_one(
    point: str, table: Any, uninterrupted: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    operation, at, after = POINTS[point]
    with monkeypatch.context() as patch:
        interrupter = interrupt_commands(patch, Interrupter("s3", operation, at, after=after))
        result = backup(BUCKET)
    assert interrupter.fired
    # Then: exit 130, what happened to the folder, the command that writes the export again
    assert result.exit_code == 130, result.output
    text = flat(result.output)
    assert "Traceback" not in text
    assert "interrupted: the unfinished export s3://vault-interrupted/exports/orders/AWSDynamoDB/" in text
    assert "was removed" in text
    # And nothing of it is left: no folder, no open multipart upload, no export listed
    assert vault(BUCKET) == {"exports": [], "unfinished": [], "objects_outside_exports": 0, "uploads": []}
    # When the printed command runs, Then the vault holds what an uninterrupted run writes
    again = runner.invoke(app, rerun_argv(result.output))
    assert again.exit_code == 0, again.output
    assert vault(BUCKET) == uninterrupted


def test_an_interrupted_multipart_upload_is_aborted(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import handlers.exports.writer

    # Given a table of incompressible items, written in parts of 1 KiB, interrupted at the third part
    for i in range(40):
        table.put_item(
            TableName="orders",
            Item={"customerId": {"S": "blob"}, "orderId": {"S": str(i)}, "b": {"B": os.urandom(2048)}},
        )
    with monkeypatch.context() as patch:
        patch.setattr(handlers.exports.writer, "PART_SIZE", 1024)
        interrupter = interrupt_commands(patch, Interrupter("s3", "upload_part", 3))
        result = backup(BUCKET, "--items-per-file", "1000")
    assert interrupter.fired and result.exit_code == 130, result.output
    # Then the upload is aborted and the folder gone
    assert vault(BUCKET) == {"exports": [], "unfinished": [], "objects_outside_exports": 0, "uploads": []}
    # And the printed command writes the whole table
    again = runner.invoke(app, rerun_argv(result.output))
    assert again.exit_code == 0, again.output
    [export] = vault(BUCKET)["exports"]
    assert export["valid"] and export["count"] == len(realistic_items()) + 40


class DenyingDeletes:
    """The vault's bucket policy: DeleteObjects answers AccessDenied for every key."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        if name != "delete_objects":
            return getattr(self._real, name)

        def refuse(**kwargs: Any) -> dict[str, Any]:
            keys = [o["Key"] for o in kwargs["Delete"]["Objects"]]
            return {"Errors": [{"Key": k, "Code": "AccessDenied", "Message": "Access Denied"} for k in keys]}

        return refuse


def test_where_deletes_are_denied_it_says_what_remains_and_no_reader_lists_it(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.clients

    real = handlers.clients.client
    with monkeypatch.context() as patch:
        interrupter = interrupt_commands(patch, Interrupter("s3", "put_object", 4))
        wrapped = handlers.clients.client
        patch.setattr(
            handlers.clients,
            "client",
            lambda service, region=None: (
                DenyingDeletes(wrapped(service, region)) if service == "s3" else wrapped(service, region)
            ),
        )
        result = backup(BUCKET)
    assert interrupter.fired and result.exit_code == 130, result.output
    text = flat(result.output)
    # Then it names the folder, how much is left and why, and what to do
    match = text[text.index("interrupted: ") :]
    assert "remains with 3 objects and no manifest-summary.json, so no reader lists it as an export" in match
    assert "removing it failed (AccessDenied: Access Denied)" in match
    assert "aws s3 rm --recursive s3://vault-interrupted/exports/orders/AWSDynamoDB/" in match
    # And indeed: no export is listed; the folder is reported as unfinished
    s3 = real("s3", REGION)
    assert list_exports(s3, BUCKET, "exports/orders") == []
    [skipped] = scan_exports(s3, BUCKET, "exports/orders").skipped
    assert ExportRef.parse(skipped.ref.url).prefix.startswith("exports/orders/AWSDynamoDB/")
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_interrupted_after_the_summary_the_export_is_complete(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        interrupt_commands(patch, Interrupter("s3", "put_object", N_FILES + 5, after=True))
        result = backup(BUCKET)
    assert result.exit_code == 130, result.output
    assert "the export was complete before it stopped" in flat(result.output)
    [export] = vault(BUCKET)["exports"]
    assert export["valid"] and export["count"] == len(realistic_items())


def test_backup_json_and_yes(table: Any) -> None:
    import json

    result = backup(BUCKET, "--json", "--yes")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["items"] == len(realistic_items()) and doc["source"] == "orders" and doc["bucket"] == BUCKET
    assert ExportRef.parse(doc["export"]).bucket == BUCKET

"""One data file of a real (written) incremental export, rewound with its audit trail."""

from __future__ import annotations

from typing import Any

import boto3

from handlers.exports import read_data_files, read_summary
from handlers.exports.writer import write_incremental_export
from handlers.rewind.audit import RunLocation, read_outcomes, recent_rewinds
from handlers.rewind.files import rewind_data_file
from handlers.rewind.plan import Outcome
from tests.handlers.rewind.support import T1, T2, TABLE, change, get, item, key, put, spec

BUCKET = "vault"
WINDOW_PREFIX = "rewinds/orders/w"


def export_of(s3: Any, changes: list[Any]) -> Any:
    ref = write_incremental_export(
        s3,
        bucket=BUCKET,
        prefix=WINDOW_PREFIX,
        table_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}",
        changes=changes,
        export_from_time=T1,
        export_to_time=T2,
        items_per_file=1000,
    )
    return ref, read_data_files(s3, ref, read_summary(s3, ref))


def test_a_data_file_is_rewound_and_every_key_has_one_outcome_line_in_the_vault(ddb: Any) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    changes = [
        change(item("a", v=1, raw={"B": b"\x00\xff"}), item("a", v=2)),
        change(item("b", v=1), item("b", v=2)),  # written again after the window
        change(None, item("c", v=1)),
    ]
    put(ddb, item("a", v=2), item("b", v=3), item("c", v=1))
    ref, files = export_of(s3, changes)
    run = RunLocation(BUCKET, WINDOW_PREFIX, "20261126T031500Z-abcdef")
    tally = rewind_data_file(ddb, s3, ref, files[0], spec(), table=TABLE, dry_run=False, run=run, concurrency=2)
    assert tally.by_outcome()["reverted"] == 2 and tally.count(Outcome.CONFLICT) == 1
    assert get(ddb, key("a")) == item("a", v=1, raw={"B": b"\x00\xff"}) and get(ddb, key("c")) is None
    lines = read_outcomes(s3, BUCKET, run.outcomes_key(files[0].data_file_s3_key.rsplit("/", 1)[-1].split(".")[0]))
    by_pk = {line["key"]["pk"]["S"]: line for line in lines}
    assert {pk: line["outcome"] for pk, line in by_pk.items()} == {"a": "reverted", "b": "conflict", "c": "reverted"}
    assert by_pk["b"]["before"] == {"pk": {"S": "b"}, "sk": {"N": "1"}, "v": {"N": "1"}}
    assert by_pk["b"]["now"]["v"] == {"N": "3"} and by_pk["b"]["bad"]["v"] == {"N": "2"}
    assert tally.conflicts[0]["diff"] == [["v", '{"N":"1"}', '{"N":"2"}', '{"N":"3"}']]


def test_a_dry_run_writes_no_outcome_lines(ddb: Any) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    put(ddb, item("a", v=2))
    ref, files = export_of(s3, [change(item("a", v=1), item("a", v=2))])
    run = RunLocation(BUCKET, WINDOW_PREFIX, "20261126T031500Z-abcdef")
    tally = rewind_data_file(ddb, s3, ref, files[0], spec(), table=TABLE, dry_run=True, run=run)
    assert tally.count(Outcome.REVERTED) == 1 and get(ddb, key("a")) == item("a", v=2)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=run.prefix)


def test_recent_rewinds_lists_the_newest_runs_first_and_marks_runs_without_a_summary(aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for table, run_id, summary in [
        ("orders", "20261101T000000Z-aaaaaa", True),
        ("orders", "20261103T000000Z-cccccc", False),
        ("customers", "20261102T000000Z-bbbbbb", True),
    ]:
        prefix = f"rewinds/{table}/20261101T000000.000000Z_20261101T001000.000000Z/runs/{run_id}/"
        s3.put_object(
            Bucket=BUCKET, Key=prefix + "plan.json", Body=b'{"runId": "%s", "status": "running"}' % run_id.encode()
        )
        if summary:
            s3.put_object(
                Bucket=BUCKET,
                Key=prefix + "summary.json",
                Body=b'{"runId": "%s", "status": "completed"}' % run_id.encode(),
            )
    runs = recent_rewinds(s3, BUCKET, "rewinds", limit=2)
    assert [(r["runId"], r["status"]) for r in runs] == [
        ("20261103T000000Z-cccccc", "no summary"),
        ("20261102T000000Z-bbbbbb", "completed"),
    ]
    assert [r["runId"] for r in recent_rewinds(s3, BUCKET, "rewinds/orders", limit=5)] == [
        "20261103T000000Z-cccccc",
        "20261101T000000Z-aaaaaa",
    ]
    assert runs[0]["auditUrl"].startswith("s3://vault/rewinds/orders/")

"""Replication lag and health of the vault (what `safetynet status` shows): the pure judgement of
one table, and the whole check against moto buckets with exports in AWS's layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from safetynet.recovery import replication_health as rh
from safetynet.recovery.replication_health import ExportPoint, assess_table, check_vault_replication

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
VAULT = "vault-health-tests"
REPLICA = "replica-health-tests"
TABLE_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/customers"


def point(export_id: str, age: timedelta) -> ExportPoint:
    return ExportPoint(
        export_id=export_id, time=NOW - age, url=f"s3://{VAULT}/exports/customers/AWSDynamoDB/{export_id}/"
    )


NEWEST = point("01764230400000-aaaaaaaa", timedelta(hours=9))
OLDER = point("01764144000000-bbbbbbbb", timedelta(hours=33))
COMPLETED = {"manifest-summary.json": "COMPLETED", "manifest-files.json": "COMPLETED"}


# -- the judgement of one table (pure) ---------------------------------------------------------


def test_replica_with_the_newest_export_is_in_sync() -> None:
    result = assess_table("customers", source=NEWEST, replica=NEWEST, object_status=COMPLETED, now=NOW)
    assert result.ok
    assert result.lag_seconds == 0
    assert result.at_risk_seconds == 9 * 3600


def test_newest_export_still_pending_within_grace_is_a_note() -> None:
    fresh = point("01764262800000-cccccccc", timedelta(minutes=20))
    status = {"manifest-summary.json": "PENDING", "manifest-files.json": "COMPLETED"}
    result = assess_table("customers", source=fresh, replica=NEWEST, object_status=status, now=NOW)
    assert result.ok
    assert result.lag_seconds == 20 * 60
    assert "pending" in result.notes[0]


def test_newest_export_missing_after_grace_is_a_problem_with_the_statuses() -> None:
    status = {"manifest-summary.json": "PENDING", "manifest-files.json": None}
    result = assess_table("customers", source=NEWEST, replica=OLDER, object_status=status, now=NOW)
    assert not result.ok
    assert result.lag_seconds == 9 * 3600
    assert result.at_risk_seconds == 33 * 3600
    assert "01764230400000-aaaaaaaa is not in the replica after 9h 0m" in result.problems[0]
    assert "manifest-summary.json: PENDING" in result.problems[0]
    assert "manifest-files.json: no status" in result.problems[0]


def test_rtc_grace_is_shorter() -> None:
    recent = point("01764262800000-cccccccc", timedelta(minutes=30))
    kwargs: dict[str, Any] = {"source": recent, "replica": NEWEST, "object_status": {}, "now": NOW}
    assert assess_table("customers", **kwargs).ok
    assert not assess_table("customers", grace=rh.RTC_GRACE, **kwargs).ok


def test_failed_replication_is_a_problem_even_when_fresh() -> None:
    fresh = point("01764262800000-cccccccc", timedelta(minutes=5))
    status = {"manifest-summary.json": "FAILED", "manifest-files.json": "COMPLETED"}
    result = assess_table("customers", source=fresh, replica=NEWEST, object_status=status, now=NOW)
    assert not result.ok
    assert result.problems == ["S3 replication FAILED for manifest-summary.json: check the replication role and keys"]


def test_empty_replica_after_grace_says_so() -> None:
    result = assess_table("customers", source=NEWEST, replica=None, object_status={}, now=NOW)
    assert not result.ok
    assert "the replica holds no export of this table" in result.problems[0]
    assert result.at_risk_seconds is None


def test_no_export_yet_is_only_a_note() -> None:
    result = assess_table("customers", source=None, replica=None, object_status={}, now=NOW)
    assert result.ok
    assert result.notes == ["no export in the vault yet"]


# -- the whole check on moto -------------------------------------------------------------------


@pytest.fixture
def buckets(aws: None) -> Any:
    s3 = boto3.client("s3", region_name="us-east-1")
    for name in (VAULT, REPLICA):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(
        Bucket=VAULT,
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/vault-replica-role",
            "Rules": [
                {
                    "ID": "exports-to-replica",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {"Prefix": "exports/"},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{REPLICA}"},
                }
            ],
        },
    )
    return s3


def write(s3: Any, bucket: str, age: timedelta) -> Any:
    from handlers.exports import new_export_id, write_export

    at = NOW - age
    return write_export(
        s3,
        bucket=bucket,
        prefix="exports/customers",
        table_arn=TABLE_ARN,
        items=[{"customerId": {"S": "c-1"}}],
        export_time=at,
        export_id=new_export_id(at),
    )


def replicate(s3: Any, ref: Any) -> None:
    """What S3 replication does for one export: the same keys in the replica bucket."""
    for obj in s3.list_objects_v2(Bucket=VAULT, Prefix=ref.prefix)["Contents"]:
        s3.copy_object(Bucket=REPLICA, Key=obj["Key"], CopySource={"Bucket": VAULT, "Key": obj["Key"]})


def check(s3: Any) -> rh.ReplicationHealth:
    return check_vault_replication(
        source_s3=s3,
        replica_s3=s3,
        vault_bucket=VAULT,
        table_prefixes={"customers": "exports/customers"},
        now=NOW,
    )


def test_replica_bucket_is_found_in_the_vaults_replication_rule(buckets: Any) -> None:
    health = check(buckets)
    assert health.replica_bucket == REPLICA
    assert health.rule_id == "exports-to-replica"
    assert health.rule_enabled


def test_replica_holding_the_newest_export_is_healthy(buckets: Any) -> None:
    replicate(buckets, write(buckets, VAULT, timedelta(days=1)))
    newest = write(buckets, VAULT, timedelta(hours=3))
    replicate(buckets, newest)
    health = check(buckets)
    assert health.ok, health.to_json()
    table = health.tables[0]
    assert table.source is not None and table.source.export_id == newest.export_id
    assert table.lag_seconds == 0
    assert table.at_risk_seconds == 3 * 3600


def test_replica_missing_the_newest_export_is_reported_with_its_lag(buckets: Any) -> None:
    replicate(buckets, write(buckets, VAULT, timedelta(days=1)))
    newest = write(buckets, VAULT, timedelta(hours=5))
    health = check(buckets)
    assert not health.ok
    table = health.tables[0]
    assert table.lag_seconds == 5 * 3600
    assert table.at_risk_seconds == 24 * 3600
    assert newest.export_id in table.problems[0]
    # moto keeps no ReplicationStatus: reported as such, not guessed
    assert table.object_status == {"manifest-summary.json": None, "manifest-files.json": None}


def test_an_export_without_its_summary_does_not_count(buckets: Any) -> None:
    done = write(buckets, VAULT, timedelta(hours=5))
    unfinished = write(buckets, VAULT, timedelta(hours=1))
    buckets.delete_object(Bucket=VAULT, Key=unfinished.prefix + "manifest-summary.json")
    replicate(buckets, done)
    health = check(buckets)
    assert health.tables[0].source is not None
    assert health.tables[0].source.export_id == done.export_id
    assert health.ok


def test_vault_without_replication_is_a_problem(aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=VAULT)
    health = check(s3)
    assert not health.ok
    assert health.problems == [f"s3://{VAULT} has no replication configuration"]
    assert health.tables == []


def test_unreadable_replica_is_a_problem_of_the_table(buckets: Any) -> None:
    write(buckets, VAULT, timedelta(hours=1))
    buckets.delete_bucket(Bucket=REPLICA)
    health = check(buckets)
    assert not health.ok
    assert any("replica s3://replica-health-tests unreadable (NoSuchBucket" in p for p in health.tables[0].problems)

"""A table's size and write rate as the account reports them (boto3 only).

- Size: DescribeTable `TableSizeBytes` (and `ItemCount`), which DynamoDB updates about every six
  hours.
- Writes: CloudWatch `AWS/DynamoDB` `ConsumedWriteCapacityUnits` (dimension TableName: the table,
  not its indexes), summed over the last 7 days and divided by the seconds in them: the average
  write units per second. A table with no datapoints has no measured rate: the caller must not
  read that as zero (CloudWatch publishes nothing for a table nobody wrote to, and an emulator
  publishes nothing at all).

IAM: dynamodb:DescribeTable on the tables, cloudwatch:GetMetricStatistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

WRITE_WINDOW = timedelta(days=7)
PERIOD_SECONDS = 3600
"""One datapoint an hour: 168 for the window, under GetMetricStatistics' 1,440."""
READ_ACTIONS = "dynamodb:DescribeTable on the stack's tables and cloudwatch:GetMetricStatistics"


class TableNotFound(LookupError):
    """The stack's table does not exist in the account and region."""

    def __init__(self, table: str, region: str | None):
        self.table = table
        super().__init__(
            f"table {table} does not exist in {region}: pass --table-size {table}=GB and "
            f"--writes-per-second {table}=N to estimate it before it is created"
        )


@dataclass(frozen=True)
class TableSize:
    """DescribeTable's figures."""

    size_bytes: int
    item_count: int


def table_size(ddb: Any, physical: str) -> TableSize:
    """TableSizeBytes and ItemCount of a table; TableNotFound when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        table = ddb.describe_table(TableName=physical)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise TableNotFound(physical, ddb.meta.region_name) from None
        raise
    return TableSize(int(table.get("TableSizeBytes", 0)), int(table.get("ItemCount", 0)))


def writes_per_second(cloudwatch: Any, physical: str, *, now: datetime) -> float | None:
    """Average ConsumedWriteCapacityUnits per second over the last 7 days; None when CloudWatch
    has no datapoint for the table in that window."""
    response = cloudwatch.get_metric_statistics(
        Namespace="AWS/DynamoDB",
        MetricName="ConsumedWriteCapacityUnits",
        Dimensions=[{"Name": "TableName", "Value": physical}],
        StartTime=now - WRITE_WINDOW,
        EndTime=now,
        Period=PERIOD_SECONDS,
        Statistics=["Sum"],
    )
    points = response.get("Datapoints", [])
    if not points:
        return None
    return sum(float(p["Sum"]) for p in points) / WRITE_WINDOW.total_seconds()

"""The demo's rewind step on moto (in process, with the stream fixes of the tests): a bad release
between good writes, rewound with the filter; 330 reverted, 20 conflicts, every good write kept,
0 mismatches - the figures the demo's summary prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from components.config.loading import decode_pulumi_config, parse_stack_config
from handlers.rewind import recent_rewinds
from safetynet.local.demo_data import demo_items
from safetynet.local.demo_rewind import DELETES, GOOD, LATER, OVERWRITES, rewind_step
from safetynet.synth import read_stack_config
from tests.handlers.rewind.emulator import moto_streams  # noqa: F401 (fixture)
from tests.support.stacks import PROJECT_DIR

REGION = "eu-central-1"


class Clients:
    def get(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)


def test_the_demo_step_reverts_the_bad_release_and_keeps_every_good_write(moto_streams: None) -> None:  # noqa: F811
    flat, _ = read_stack_config(Path(PROJECT_DIR), "prod")
    cfg = parse_stack_config(decode_pulumi_config(flat))
    spec = next(t for t in cfg.tables if t.name == "orders")
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        **spec.create_table_request("orders"),
    )
    ddb.update_continuous_backups(
        TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="vault", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    for item in demo_items(spec, 100, 7):
        ddb.put_item(TableName="orders", Item=item)
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="safetynet-prod-alerts")["TopicArn"]

    result, tally = rewind_step(Clients(), cfg, bucket="vault", topic_arn=topic)

    assert (result.reverted, result.conflicts, result.filtered) == (OVERWRITES - LATER + DELETES, LATER, GOOD)
    assert result.good_writes_kept == GOOD + LATER and result.mismatches == 0
    assert result.changed_keys == OVERWRITES + DELETES + GOOD
    assert tally.counts["restore"]["conflict"] == LATER
    [run] = recent_rewinds(boto3.client("s3", region_name=REGION), "vault", "rewinds/orders")
    assert run["status"] == "completed" and run["filter"].startswith("NewImage.release")

"""AuditTrail, built alone under Pulumi's mocks."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pulumi

from components.watch.trail import AuditTrail, AuditTrailArgs
from tests.components.watch.minimal import ACCOUNT, STACK, TAGS
from tests.support.iam_lint import assert_clean
from tests.support.pulumi_mocks import REGION, RecordingMocks


def _build() -> None:
    @pulumi.runtime.test
    def check() -> Any:
        trail = AuditTrail("watch", AuditTrailArgs(stack=STACK, account_id=ACCOUNT, region=REGION, tags=TAGS))
        return trail.urn

    check()


def test_a_validated_multi_region_trail_into_a_private_encrypted_bucket(pulumi_mocks: RecordingMocks) -> None:
    _build()

    assert Counter(r.typ for r in pulumi_mocks.registrations if r.custom) == {
        "aws:s3/bucket:Bucket": 1,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
        "aws:s3/bucketPolicy:BucketPolicy": 1,
        "aws:cloudtrail/trail:Trail": 1,
    }
    trail = pulumi_mocks.one("aws:cloudtrail/trail:Trail", "watch-trail").inputs
    assert trail["name"] == "safetynet-unit"
    assert trail["isMultiRegionTrail"] and trail["includeGlobalServiceEvents"] and trail["enableLogFileValidation"]
    bucket = pulumi_mocks.one("aws:s3/bucket:Bucket", "watch-trail-bucket").inputs
    assert trail["s3BucketName"].startswith(bucket["bucketPrefix"]) and bucket["tags"] == TAGS
    block = pulumi_mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"))
    assert block["restrictPublicBuckets"] is True


def test_only_this_trail_may_write_to_the_bucket(pulumi_mocks: RecordingMocks) -> None:
    _build()

    registered = pulumi_mocks.one("aws:s3/bucketPolicy:BucketPolicy", "watch-trail-bucket-policy").inputs
    policy = json.loads(registered["policy"])
    assert_clean(policy, resource_policy=True)
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/safetynet-unit"
    allowed = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allowed] == [{"Service": "cloudtrail.amazonaws.com"}] * 2
    assert all(s["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn for s in allowed)
    assert allowed[1]["Resource"] == f"arn:aws:s3:::{registered['bucket']}/AWSLogs/{ACCOUNT}/*"

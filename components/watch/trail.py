"""AuditTrail: a multi-region CloudTrail trail of management events, for accounts that have none
(`safetynet:alerts.createTrail`): the destructive-event rules match what CloudTrail delivers."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.watch.parts import Children
from components.watch.policies import trail_bucket_policy


@dataclass(frozen=True)
class AuditTrailArgs:
    """Inputs of an AuditTrail."""

    stack: str
    """The stack name (the trail is `safetynet-<stack>`)."""
    account_id: pulumi.Input[str]
    """This account (CloudTrail writes to the bucket on its behalf only)."""
    region: pulumi.Input[str]
    """This region (the trail's home region)."""
    tags: dict[str, str]
    """Stack-wide tags."""


def trail_name(stack: str) -> str:
    """The trail's name (fixed: its bucket policy names the trail before it exists)."""
    return f"safetynet-{stack}"


class AuditTrail(pulumi.ComponentResource):
    """The trail and its private, encrypted bucket (nothing to expose: the trail only feeds the
    destructive-event rules, which match events, not the trail)."""

    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:watch:AuditTrail", name, None, opts)
        children = Children(self, opts)
        bucket = aws.s3.Bucket(
            f"{name}-trail-bucket", bucket_prefix="safetynet-trail-", tags=args.tags, opts=children.opts()
        )
        pab = aws.s3.BucketPublicAccessBlock(
            f"{name}-trail-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=children.opts(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-trail-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=children.opts(),
        )
        name_of_trail = trail_name(args.stack)
        expected_arn = pulumi.Output.all(region=args.region, account_id=args.account_id).apply(
            lambda a: f"arn:aws:cloudtrail:{a['region']}:{a['account_id']}:trail/{name_of_trail}"
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-trail-bucket-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket_arn=bucket.arn, trail_arn=expected_arn, account_id=args.account_id).apply(
                lambda a: json.dumps(trail_bucket_policy(**a))
            ),
            opts=children.opts(depends_on=[pab]),
        )
        aws.cloudtrail.Trail(
            f"{name}-trail",
            name=name_of_trail,
            s3_bucket_name=bucket.bucket,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            tags=args.tags,
            # CloudTrail checks the bucket policy when the trail is created.
            opts=children.opts(depends_on=[policy]),
        )
        self.register_outputs({})

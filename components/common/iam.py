"""A service's IAM role and its one inline policy, declared together (every safetynet role is
such a pair): `<prefix>-role` and `<prefix>-policy`."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def service_role(
    prefix: str,
    *,
    description: str,
    trust_policy: pulumi.Input[str],
    policy: pulumi.Input[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """The role (assumable as `trust_policy` says) and its inline `policy` (JSON documents).
    Returns both: whatever the role runs must wait for the policy."""
    role = aws.iam.Role(
        f"{prefix}-role", description=description, assume_role_policy=trust_policy, tags=dict(tags), opts=opts
    )
    attached = aws.iam.RolePolicy(f"{prefix}-policy", role=role.id, policy=policy, opts=opts)
    return role, attached


def log_group_arn(
    region: pulumi.Input[str], account_id: pulumi.Input[str], group: aws.cloudwatch.LogGroup
) -> pulumi.Output[str]:
    """A log group's ARN, for IAM statements that append the log-stream part themselves. Built
    from the name: the provider's `arn` attribute has varied in form (with and without a trailing
    ":*")."""
    return pulumi.Output.all(region=region, account=account_id, group=group.name).apply(
        lambda a: f"arn:aws:logs:{a['region']}:{a['account']}:log-group:{a['group']}"
    )

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

"""Tags and environments: how every layer recognises what a stack owns and how much it guards it."""

from __future__ import annotations

# The config namespace (`safetynet:<key>`), the CloudWatch metric namespace and the prefix of
# every name the program gives a resource.
NAMESPACE = "safetynet"
# Tags on every resource the program declares (the stack's default tags).
ENVIRONMENT_TAG = f"{NAMESPACE}:environment"
STACK_TAG = f"{NAMESPACE}:stack"
MANAGED_BY_TAG = "managed-by"
MANAGED_BY = f"pulumi/{NAMESPACE}"
# On a test table: the `<project>/<stack>` whose staging pipeline may overwrite it. The task code
# refuses any table without it (the second lock behind the IAM scope).
STAGING_TARGET_TAG = f"{NAMESPACE}:staging-target"
# Environments whose tables are production data: Pulumi protect, deletion protection, never a
# staging target.
PRODUCTION_ENVIRONMENTS = ("prod", "dr")


def stack_tag_value(project: str, stack: str) -> str:
    """The value of STACK_TAG (and STAGING_TARGET_TAG) for a project's stack."""
    return f"{project}/{stack}"

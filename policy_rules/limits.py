"""Rules `limit-*`: no declared resource exceeds a size or count AWS limits, so a deploy is not
refused halfway (Pulumi's mocks accept anything; AWS does not).

The numbers and their sources are in `quotas`; what each rule measures, and how, in `sizes` (built
on `measure`). Each finding names the resource, the measured size and the limit, with the Service
Quotas code where AWS raises it. `MEASURES` pairs every rule with its measure, so the scale
benchmark reports the largest value of each quantity with the code the rules run.

Stack rules on account-wide quotas (roles, tables, rules per bus, schedules) count what this stack
declares: other stacks in the same account and Region count too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from policy_rules import sizes
from policy_rules.model import Finding, Props, Resource
from policy_rules.sizes import ResourceMeasure, Size, StackMeasure


def _findings(measured: Sequence[Size], fix: str) -> list[Finding]:
    return [Finding(s.message(), fix, s.resource) for s in measured if s.over]


# -- EventBridge -----------------------------------------------------------------------------------


def eventbridge_pattern_size(resource_type: str, props: Props) -> list[Finding]:
    """An event pattern fits EventBridge's pattern size (compact JSON, as the provider sends it)."""
    return _findings(
        sizes.pattern_sizes(resource_type, props),
        "match fewer literal values: scope the pattern by a prefix or tag rather than listing every table, and "
        "let the target's code filter what the pattern cannot; or raise the quota",
    )


def eventbridge_target_input(resource_type: str, props: Props) -> list[Finding]:
    """A rule target's constant input or input template fits EventBridge's limit."""
    return _findings(
        sizes.target_input_sizes(resource_type, props),
        "pass less in the target input: let the target read the rest (the context file shipped with the "
        "code, a parameter, an S3 object)",
    )


def eventbridge_rules_per_bus(resources: Sequence[Resource]) -> list[Finding]:
    """The stack's rules on one event bus fit the rules-per-bus quota."""
    return _findings(
        sizes.rules_per_bus_sizes(resources),
        "match more events per rule (one rule per kind of event, not per table), or raise the quota",
    )


def eventbridge_wildcard_rules(resources: Sequence[Resource]) -> list[Finding]:
    """At most 30 rules per bus use `wildcard` filters (a fixed limit)."""
    return _findings(
        sizes.wildcard_rules_sizes(resources),
        "use prefix or suffix matching instead of wildcard in some rules, or merge rules",
    )


def eventbridge_targets_per_rule(resources: Sequence[Resource]) -> list[Finding]:
    """A rule has at most 5 targets."""
    return _findings(sizes.targets_per_rule_sizes(resources), "fan out through one SNS topic or a second rule")


def eventbridge_bus_policy(resources: Sequence[Resource]) -> list[Finding]:
    """An event bus's policy (EventBusPolicy and EventPermission statements) fits its size quota."""
    return _findings(
        sizes.bus_policies_sizes(resources),
        "grant many accounts in one statement (a condition on aws:PrincipalOrgID or a list of principals) "
        "instead of one statement per account, or raise the quota",
    )


# -- IAM -------------------------------------------------------------------------------------------


def iam_role_inline_policies(resources: Sequence[Resource]) -> list[Finding]:
    """The inline policies of one role, together and without white space, fit IAM's role policy size."""
    return _findings(
        sizes.inline_policies_sizes(resources),
        "scope statements by tag or ARN prefix instead of listing every resource (aws:ResourceTag conditions, "
        "`table/<prefix>*`), or move statements to managed policies attached to the role",
    )


def iam_managed_policy(resource_type: str, props: Props) -> list[Finding]:
    """A managed policy fits IAM's managed policy size."""
    return _findings(
        sizes.managed_policy_sizes(resource_type, props),
        "split the policy in two, or scope its resources by tag or ARN prefix",
    )


def iam_trust_policy(resource_type: str, props: Props) -> list[Finding]:
    """A role's trust policy fits IAM's trust policy length."""
    return _findings(
        sizes.trust_policy_sizes(resource_type, props),
        "trust fewer principals per role (one role per trusted party), or raise the quota",
    )


def iam_roles(resources: Sequence[Resource]) -> list[Finding]:
    """The stack's roles fit the account's roles quota."""
    return _findings(
        sizes.roles_sizes(resources),
        "share one role between resources that need the same permissions (scoped by tag), or raise the quota",
    )


# -- resource policies -----------------------------------------------------------------------------

_GRANT_FEWER = (
    "grant in fewer statements: several principals or prefixes per statement, conditions "
    "(aws:PrincipalAccount, aws:PrincipalOrgID) instead of one statement per reader or table"
)


def s3_bucket_policy(resource_type: str, props: Props) -> list[Finding]:
    """A bucket policy fits S3's 20 KB."""
    return _findings(sizes.bucket_policy_sizes(resource_type, props), _GRANT_FEWER)


def kms_key_policy(resource_type: str, props: Props) -> list[Finding]:
    """A key policy fits KMS's 32 KB."""
    return _findings(sizes.key_policy_sizes(resource_type, props), _GRANT_FEWER)


def sns_topic_policy(resource_type: str, props: Props) -> list[Finding]:
    """A topic policy fits SNS's size and statement count."""
    return _findings(sizes.topic_policy_sizes(resource_type, props), _GRANT_FEWER)


def sqs_queue_policy(resource_type: str, props: Props) -> list[Finding]:
    """A queue policy fits SQS's size and statement count."""
    return _findings(sizes.queue_policy_sizes(resource_type, props), _GRANT_FEWER)


# -- Lambda ----------------------------------------------------------------------------------------


def lambda_environment(resource_type: str, props: Props) -> list[Finding]:
    """A function's environment variables together fit Lambda's 4 KB."""
    return _findings(
        sizes.environment_sizes(resource_type, props),
        "keep only names and small settings in the environment; ship data with the code (a context file) "
        "or read it from SSM Parameter Store or S3",
    )


def lambda_layers(resource_type: str, props: Props) -> list[Finding]:
    """A function lists at most 5 layers."""
    return _findings(sizes.layer_count_sizes(resource_type, props), "merge layers into fewer")


def lambda_code_zipped(resource_type: str, props: Props) -> list[Finding]:
    """A function's or layer's code archive fits the direct-upload size."""
    return _findings(
        sizes.zipped_sizes(resource_type, props),
        "upload the archive through S3 (s3Bucket/s3Key) or leave unused files and dependencies out",
    )


def lambda_code_unzipped(resources: Sequence[Resource]) -> list[Finding]:
    """A function's code with its declared layers fits Lambda's unzipped size."""
    return _findings(
        sizes.unzipped_sizes(resources),
        "leave unused dependencies out of the code and layers, or ship the function as a container image",
    )


def lambda_resource_policy(resources: Sequence[Resource]) -> list[Finding]:
    """A function's permissions (its resource-based policy) fit Lambda's 20 KB."""
    return _findings(
        sizes.function_policies_sizes(resources),
        "let one permission cover many sources (one rule per kind of event, or principal with "
        "sourceAccount) instead of one permission per rule",
    )


# -- the rest --------------------------------------------------------------------------------------


def sfn_definition(resource_type: str, props: Props) -> list[Finding]:
    """A state machine definition fits Step Functions' 1 MB."""
    return _findings(
        sizes.definition_sizes(resource_type, props),
        "read per-table data at run time (an input, a file) instead of inlining it, or split the machine",
    )


def dashboard_widgets(resource_type: str, props: Props) -> list[Finding]:
    """A dashboard has at most 500 widgets."""
    return _findings(
        sizes.dashboard_widgets_sizes(resource_type, props),
        "one widget per concept, not per table: a SEARCH expression or a Metrics Insights query graphs "
        "every table in one widget",
    )


def dashboard_alarm_widget(resource_type: str, props: Props) -> list[Finding]:
    """An alarm status widget lists at most 100 alarms."""
    return _findings(
        sizes.dashboard_alarms_sizes(resource_type, props),
        "show composite alarms (one per kind of failure) or split the alarms over several widgets",
    )


def dashboard_metrics(resource_type: str, props: Props) -> list[Finding]:
    """Metric widgets and the dashboard stay within CloudWatch's metric counts."""
    return _findings(
        sizes.dashboard_metrics_sizes(resource_type, props),
        "graph per-table metrics with one SEARCH expression or Metrics Insights query instead of one metric per table",
    )


def resource_tags(resource_type: str, props: Props) -> list[Finding]:
    """A resource has at most 50 tags, with keys and values within their lengths."""
    return _findings(
        sizes.tags_sizes(resource_type, props),
        "drop or shorten tags: at most 50 per resource (the stack adds its own), keys up to 128 and values "
        "up to 256 characters",
    )


def dynamodb_tables(resources: Sequence[Resource]) -> list[Finding]:
    """The stack's tables fit the account's table quota in the Region."""
    return _findings(sizes.tables_sizes(resources), "raise the quota before deploying")


def scheduler_schedules(resources: Sequence[Resource]) -> list[Finding]:
    """The stack's schedules and schedule groups fit EventBridge Scheduler's quotas."""
    return _findings(sizes.schedules_sizes(resources), "raise the quota, or delete schedules no longer used")


MEASURES: dict[Callable[..., list[Finding]], ResourceMeasure | StackMeasure] = {
    eventbridge_pattern_size: sizes.pattern_sizes,
    eventbridge_target_input: sizes.target_input_sizes,
    eventbridge_rules_per_bus: sizes.rules_per_bus_sizes,
    eventbridge_wildcard_rules: sizes.wildcard_rules_sizes,
    eventbridge_targets_per_rule: sizes.targets_per_rule_sizes,
    eventbridge_bus_policy: sizes.bus_policies_sizes,
    iam_role_inline_policies: sizes.inline_policies_sizes,
    iam_managed_policy: sizes.managed_policy_sizes,
    iam_trust_policy: sizes.trust_policy_sizes,
    iam_roles: sizes.roles_sizes,
    s3_bucket_policy: sizes.bucket_policy_sizes,
    kms_key_policy: sizes.key_policy_sizes,
    sns_topic_policy: sizes.topic_policy_sizes,
    sqs_queue_policy: sizes.queue_policy_sizes,
    lambda_environment: sizes.environment_sizes,
    lambda_layers: sizes.layer_count_sizes,
    lambda_code_zipped: sizes.zipped_sizes,
    lambda_code_unzipped: sizes.unzipped_sizes,
    lambda_resource_policy: sizes.function_policies_sizes,
    sfn_definition: sizes.definition_sizes,
    dashboard_widgets: sizes.dashboard_widgets_sizes,
    dashboard_alarm_widget: sizes.dashboard_alarms_sizes,
    dashboard_metrics: sizes.dashboard_metrics_sizes,
    resource_tags: sizes.tags_sizes,
    dynamodb_tables: sizes.tables_sizes,
    scheduler_schedules: sizes.schedules_sizes,
}
"""Each limit rule's measure: the same sizes the rule compares, for reports (bench/synth_scale.py)."""


def measured(check: Callable[..., list[Finding]], kind: str, resources: Sequence[Resource]) -> list[Size]:
    """Every size a limit rule measures over a resource list (`kind` is the rule's kind)."""
    if kind == "stack":
        return cast(StackMeasure, MEASURES[check])(resources)
    measure = cast(ResourceMeasure, MEASURES[check])
    return [Size(s.limit, s.subject, s.what, s.value, r) for r in resources for s in measure(r.type, r.props)]

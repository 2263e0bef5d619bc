"""Every rule, in one place and in the order the pack, the `synth --check` report and the README
list them; and how rules run over a resource list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policy_rules import limits
from policy_rules.iam import no_wildcard_actions
from policy_rules.messaging import sns_topic_encrypted, sqs_queue_encrypted
from policy_rules.model import Finding, Resource, Rule, Violation
from policy_rules.staging import staging_writes_only_staging_targets
from policy_rules.tables import table_deletion_protection, table_encryption, table_nightly_export, table_pitr
from policy_rules.vault import (
    MIN_EXPORT_RETENTION_DAYS,
    vault_blocks_public_access,
    vault_denies_insecure_transport,
    vault_keeps_exports,
    vault_kms_encrypted,
    vault_versioned,
)

RULES: tuple[Rule, ...] = (
    Rule("table-pitr", "Prod tables have point-in-time recovery on.", "resource", table_pitr),
    Rule(
        "table-deletion-protection",
        "Prod tables have DynamoDB deletion protection on.",
        "resource",
        table_deletion_protection,
    ),
    Rule("table-encryption", "Prod tables use server-side encryption with KMS.", "resource", table_encryption),
    Rule(
        "table-nightly-export",
        "Every prod table is the target of an enabled NightlyExport schedule.",
        "stack",
        table_nightly_export,
    ),
    Rule(
        "vault-public-access-block",
        "The backup vault blocks all public access.",
        "stack",
        vault_blocks_public_access,
    ),
    Rule(
        "vault-tls-only",
        "The backup vault's policy denies requests without TLS.",
        "stack",
        vault_denies_insecure_transport,
    ),
    Rule("vault-versioning", "The backup vault is versioned.", "stack", vault_versioned),
    Rule("vault-kms-encryption", "The backup vault is KMS-encrypted by default.", "stack", vault_kms_encrypted),
    Rule(
        "vault-export-retention",
        f"The backup vault keeps exports at least {MIN_EXPORT_RETENTION_DAYS} days; no lifecycle rule "
        "expires them sooner.",
        "stack",
        vault_keeps_exports,
    ),
    Rule(
        "staging-writes-only-staging-targets",
        "Staging roles may write or delete only tables tagged as staging targets.",
        "stack",
        staging_writes_only_staging_targets,
    ),
    Rule(
        "iam-no-wildcard-actions",
        "No IAM or resource policy allows `*` actions (or NotAction).",
        "resource",
        no_wildcard_actions,
    ),
    Rule("sns-topic-encrypted", "SNS topics are encrypted with KMS.", "resource", sns_topic_encrypted),
    Rule("sqs-queue-encrypted", "SQS queues are encrypted.", "resource", sqs_queue_encrypted),
    # AWS's size and count limits (policy_rules/limits.py; numbers and sources in quotas.py).
    Rule(
        "limit-eventbridge-pattern-size",
        "Event patterns fit EventBridge's pattern size (2,048 characters by default).",
        "resource",
        limits.eventbridge_pattern_size,
    ),
    Rule(
        "limit-eventbridge-target-input",
        "Rule target inputs fit EventBridge's 8,192 characters.",
        "resource",
        limits.eventbridge_target_input,
    ),
    Rule(
        "limit-eventbridge-rules-per-bus",
        "The stack's rules on one event bus fit the 300 rules per bus.",
        "stack",
        limits.eventbridge_rules_per_bus,
    ),
    Rule(
        "limit-eventbridge-wildcard-rules",
        "At most 30 rules per event bus use wildcard filters.",
        "stack",
        limits.eventbridge_wildcard_rules,
    ),
    Rule(
        "limit-eventbridge-targets-per-rule",
        "An EventBridge rule has at most 5 targets.",
        "stack",
        limits.eventbridge_targets_per_rule,
    ),
    Rule(
        "limit-eventbridge-bus-policy",
        "An event bus policy fits 10,240 characters.",
        "stack",
        limits.eventbridge_bus_policy,
    ),
    Rule(
        "limit-iam-role-inline-policies",
        "The inline policies of one role together fit IAM's 10,240 characters (white space not counted).",
        "stack",
        limits.iam_role_inline_policies,
    ),
    Rule(
        "limit-iam-managed-policy",
        "A managed policy fits IAM's 6,144 characters.",
        "resource",
        limits.iam_managed_policy,
    ),
    Rule(
        "limit-iam-trust-policy",
        "A role trust policy fits IAM's 2,048 characters by default.",
        "resource",
        limits.iam_trust_policy,
    ),
    Rule("limit-iam-roles", "The stack's roles fit the 1,000 roles per account.", "stack", limits.iam_roles),
    Rule("limit-s3-bucket-policy", "A bucket policy fits S3's 20 KB.", "resource", limits.s3_bucket_policy),
    Rule("limit-kms-key-policy", "A key policy fits KMS's 32 KB.", "resource", limits.kms_key_policy),
    Rule(
        "limit-sns-topic-policy",
        "A topic policy fits SNS's 30 KB and 100 statements.",
        "resource",
        limits.sns_topic_policy,
    ),
    Rule(
        "limit-sqs-queue-policy",
        "A queue policy fits SQS's 8,192 bytes and 20 statements.",
        "resource",
        limits.sqs_queue_policy,
    ),
    Rule(
        "limit-lambda-environment",
        "A function's environment variables fit Lambda's 4 KB.",
        "resource",
        limits.lambda_environment,
    ),
    Rule("limit-lambda-layers", "A function lists at most 5 layers.", "resource", limits.lambda_layers),
    Rule(
        "limit-lambda-code-zipped",
        "A function's or layer's code archive fits Lambda's 50 MB direct upload.",
        "resource",
        limits.lambda_code_zipped,
    ),
    Rule(
        "limit-lambda-code-unzipped",
        "A function's code with its layers fits Lambda's 250 MB unzipped.",
        "stack",
        limits.lambda_code_unzipped,
    ),
    Rule(
        "limit-lambda-resource-policy",
        "A function's permissions fit Lambda's 20 KB resource-based policy.",
        "stack",
        limits.lambda_resource_policy,
    ),
    Rule(
        "limit-sfn-definition",
        "A state machine definition fits Step Functions' 1 MB.",
        "resource",
        limits.sfn_definition,
    ),
    Rule(
        "limit-dashboard-widgets",
        "A CloudWatch dashboard has at most 500 widgets.",
        "resource",
        limits.dashboard_widgets,
    ),
    Rule(
        "limit-dashboard-alarm-widget",
        "An alarm status widget lists at most 100 alarms.",
        "resource",
        limits.dashboard_alarm_widget,
    ),
    Rule(
        "limit-dashboard-metrics",
        "At most 500 metrics per widget and 2,500 per dashboard.",
        "resource",
        limits.dashboard_metrics,
    ),
    Rule(
        "limit-tags",
        "A resource has at most 50 tags (keys 128, values 256 characters).",
        "resource",
        limits.resource_tags,
    ),
    Rule(
        "limit-dynamodb-tables",
        "The stack's tables fit the 2,500 tables per account and Region.",
        "stack",
        limits.dynamodb_tables,
    ),
    Rule(
        "limit-scheduler-schedules",
        "The stack's schedules and schedule groups fit EventBridge Scheduler's quotas.",
        "stack",
        limits.scheduler_schedules,
    ),
)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def run_rule(rule: Rule, resources: Sequence[Resource]) -> list[tuple[Resource | None, Finding]]:
    """One rule over a resource list: (resource, finding) pairs."""
    if rule.kind == "stack":
        return [(f.resource, f) for f in rule.check(resources)]
    return [(r, f) for r in resources for f in rule.check(r.type, r.props)]


def evaluate(resources: Sequence[Resource], rules: Iterable[Rule] = RULES) -> list[Violation]:
    """Every rule over a resource list, as violations in rule order."""
    out = []
    for rule in rules:
        for r, f in run_rule(rule, resources):
            out.append(
                Violation(
                    rule=rule.id,
                    resource=r.label if r is not None else "(stack)",
                    message=f.message,
                    fix=f.fix,
                    mandatory=rule.mandatory,
                    urn=r.urn if r is not None else None,
                )
            )
    return out

"""Every rule, in one place and in the order the pack, the `synth --check` report and the README
list them; and how rules run over a resource list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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

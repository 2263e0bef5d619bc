"""RULES as a whole (policy_rules/registry.py): every rule passes on every shipped stack, and
each fails, with its message, on a violating input crafted by mutating the synthesized
resources, without failing any other rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import policy_rules as pr
from policy_rules.model import TABLE
from policy_rules.tables import export_schedules
from policy_rules.vault import vault_buckets
from tests.policy_rules.crafted import CRAFTED as SAFETY_CRAFTED
from tests.policy_rules.crafted_limits import CRAFTED_LIMITS
from tests.policy_rules.records import Records, messages
from tests.support.stacks import PROJECT_DIR, SHIPPED_STACKS

CRAFTED = {**SAFETY_CRAFTED, **CRAFTED_LIMITS}

# -- the registry -----------------------------------------------------------------------------------


def test_rules_are_listed_in_the_documented_order() -> None:
    # The pack, the `synth --check` report and the README's table list the rules in this order.
    assert [r.id for r in pr.RULES] == [
        "table-pitr",
        "table-deletion-protection",
        "table-encryption",
        "table-nightly-export",
        "vault-public-access-block",
        "vault-tls-only",
        "vault-versioning",
        "vault-kms-encryption",
        "vault-export-retention",
        "staging-writes-only-staging-targets",
        "iam-no-wildcard-actions",
        "sns-topic-encrypted",
        "sqs-queue-encrypted",
        "limit-eventbridge-pattern-size",
        "limit-eventbridge-target-input",
        "limit-eventbridge-rules-per-bus",
        "limit-eventbridge-wildcard-rules",
        "limit-eventbridge-targets-per-rule",
        "limit-eventbridge-bus-policy",
        "limit-iam-role-inline-policies",
        "limit-iam-managed-policy",
        "limit-iam-trust-policy",
        "limit-iam-roles",
        "limit-s3-bucket-policy",
        "limit-kms-key-policy",
        "limit-sns-topic-policy",
        "limit-sqs-queue-policy",
        "limit-lambda-environment",
        "limit-lambda-layers",
        "limit-lambda-code-zipped",
        "limit-lambda-code-unzipped",
        "limit-lambda-resource-policy",
        "limit-sfn-definition",
        "limit-dashboard-widgets",
        "limit-dashboard-alarm-widget",
        "limit-dashboard-metrics",
        "limit-tags",
        "limit-dynamodb-tables",
        "limit-scheduler-schedules",
    ]
    assert list(pr.RULES_BY_ID) == [r.id for r in pr.RULES]


@pytest.mark.slow
def test_the_rules_import_neither_pulumi_nor_the_cli() -> None:
    # Given a fresh interpreter; When it imports the rules; Then no Pulumi SDK or safetynet layer
    # comes with them (the pack and the CLI both import this package, not each other).
    code = "import sys, policy_rules; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_DIR)
    loaded = set(out.stdout.split())
    assert "policy_rules" in loaded
    assert {"pulumi", "pulumi_aws", "pulumi_policy", "safetynet", "components", "handlers"}.isdisjoint(loaded)


# -- every rule passes on every shipped stack -------------------------------------------------------


def test_shipped_stack_passes_every_rule(shipped_records: Records) -> None:
    # Given the synthesized stack; When every rule runs; Then nothing is reported
    violations = pr.evaluate(pr.from_synth(shipped_records))
    assert violations == [], "\n".join(f"{v.rule} {v.resource}: {v.message}" for v in violations)


def test_shipped_stacks_include_prod_and_test() -> None:
    assert {"prod", "test"} <= set(SHIPPED_STACKS)


def test_project_dir_is_the_repository() -> None:
    assert (Path(PROJECT_DIR) / "policy" / "PulumiPolicy.yaml").is_file()


def test_prod_synth_has_what_the_rules_inspect(prod_records: Records) -> None:
    # Guards against rules passing vacuously: the inputs they read are really there.
    res = pr.from_synth(prod_records)
    assert [r for r in res if r.type == TABLE]
    assert vault_buckets(res)
    assert export_schedules(res)


# -- each rule fails on a crafted violation, with its message ------------------------------------


def test_every_rule_has_a_crafted_violation() -> None:
    assert set(CRAFTED) == set(pr.RULES_BY_ID)


@pytest.mark.parametrize("rule_id", sorted(CRAFTED))
def test_rule_fails_on_crafted_violation(rule_id: str, prod_records: Records) -> None:
    # Given the prod stack with one safety-net property broken
    recs = prod_records
    mutate, expected = CRAFTED[rule_id]
    assert messages(rule_id, recs) == [], "the unbroken stack must pass first"
    mutate(recs)
    # When the rule runs; Then it reports the problem and how to fix it
    found = messages(rule_id, recs)
    assert len(found) == 1, found
    assert expected in found[0]
    assert " | " in found[0] and found[0].split(" | ", 1)[1].strip()


@pytest.mark.parametrize("rule_id", sorted(CRAFTED))
def test_crafted_violation_breaks_only_its_rule(rule_id: str, prod_records: Records) -> None:
    # The rules do not overlap: each crafted input fails exactly one rule.
    recs = prod_records
    CRAFTED[rule_id][0](recs)
    assert {v.rule for v in pr.evaluate(pr.from_synth(recs))} == {rule_id}

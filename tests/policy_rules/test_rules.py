"""The policy rules (policy_rules.py): every rule passes on every shipped stack, and each
fails, with its message, on a violating input crafted by mutating the synthesized resources."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import policy_rules as pr
from tests.support.stacks import PROJECT_DIR, synth_stack

SHIPPED_STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
Records = list[dict[str, Any]]

_SYNTH_CACHE: dict[str, Records] = {}


def records(stack: str = "prod") -> Records:
    """A fresh deep copy of a shipped stack's synth records (synth runs once per stack)."""
    if stack not in _SYNTH_CACHE:
        _SYNTH_CACHE[stack] = synth_stack(stack).resources
    return copy.deepcopy(_SYNTH_CACHE[stack])


def find(recs: Records, typ: str, name_part: str = "") -> dict[str, Any]:
    return next(r for r in recs if r["type"] == typ and name_part in r["name"])


def messages(rule_id: str, recs: Records) -> list[str]:
    """What one rule reports on the records (message + fix per finding)."""
    rule = pr.RULES_BY_ID[rule_id]
    return [f"{f.message} | {f.fix}" for _, f in pr.run_rule(rule, pr.from_synth(recs))]


def edit_policy(res: dict[str, Any], key: str, change: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads(res["inputs"][key])
    change(doc)
    res["inputs"][key] = json.dumps(doc)


def add_resource(recs: Records, typ: str, name: str, inputs: dict[str, Any], parent: str | None = None) -> None:
    recs.append({"type": typ, "name": name, "parent": parent, "inputs": inputs, "urn": f"urn:test::{name}"})


def add_staging_policy(recs: Records, statement: dict[str, Any]) -> None:
    """A staging component with a role policy holding one statement."""
    add_resource(recs, "safetynet:staging:StagingPipeline", "staging", {})
    add_resource(
        recs,
        "aws:iam/rolePolicy:RolePolicy",
        "staging-task-policy",
        {
            "role": "staging-task-role",
            "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        },
        parent="safetynet:staging:StagingPipeline::staging",
    )


TABLE_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/"


# -- every rule passes on every shipped stack -------------------------------------------------------


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stack_passes_every_rule(stack: str) -> None:
    # Given the synthesized stack; When every rule runs; Then nothing is reported
    violations = pr.evaluate(pr.from_synth(records(stack)))
    assert violations == [], "\n".join(f"{v.rule} {v.resource}: {v.message}" for v in violations)


def test_shipped_stacks_include_prod_and_test() -> None:
    assert {"prod", "test"} <= set(SHIPPED_STACKS)


def test_prod_synth_has_what_the_rules_inspect() -> None:
    # Guards against rules passing vacuously: the inputs they read are really there.
    res = pr.from_synth(records("prod"))
    assert [r for r in res if r.type == pr.TABLE]
    assert pr.vault_buckets(res)
    assert pr._export_schedules(res)


# -- each rule fails on a crafted violation, with its message ------------------------------------


def _pitr_off(recs: Records) -> None:
    find(recs, pr.TABLE, "orders")["inputs"]["pointInTimeRecovery"]["enabled"] = False


def _deletion_protection_off(recs: Records) -> None:
    find(recs, pr.TABLE, "orders")["inputs"]["deletionProtectionEnabled"] = False


def _encryption_off(recs: Records) -> None:
    del find(recs, pr.TABLE, "orders")["inputs"]["serverSideEncryption"]


def _schedule_removed(recs: Records) -> None:
    recs.remove(find(recs, pr.SCHEDULE, "orders"))


def _public_access_open(recs: Records) -> None:
    find(recs, pr.PUBLIC_ACCESS_BLOCK[0])["inputs"]["restrictPublicBuckets"] = False


def _tls_statement_removed(recs: Records) -> None:
    edit_policy(
        find(recs, pr.BUCKET_POLICY[0]),
        "policy",
        lambda d: d.update(Statement=[s for s in d["Statement"] if s.get("Sid") != "DenyInsecureTransport"]),
    )


def _versioning_suspended(recs: Records) -> None:
    find(recs, pr.VERSIONING[0])["inputs"]["versioningConfiguration"]["status"] = "Suspended"


def _sse_s3(recs: Records) -> None:
    rule = find(recs, pr.ENCRYPTION[0])["inputs"]["rules"][0]
    rule["applyServerSideEncryptionByDefault"] = {"sseAlgorithm": "AES256"}


def _short_retention(recs: Records) -> None:
    rules = find(recs, pr.LIFECYCLE[0])["inputs"]["rules"]
    next(r for r in rules if r["id"] == "exports-retention")["expiration"]["days"] = 10


def _staging_writes_prod_table(recs: Records) -> None:
    add_staging_policy(
        recs,
        {
            "Sid": "Refill",
            "Effect": "Allow",
            "Action": ["dynamodb:BatchWriteItem"],
            "Resource": [TABLE_ARN + "orders"],
        },
    )


def _wildcard_action(recs: Records) -> None:
    edit_policy(
        find(recs, "aws:iam/rolePolicy:RolePolicy", "orders"),
        "policy",
        lambda d: d["Statement"].append(
            {"Sid": "Everything", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}
        ),
    )


def _plain_topic(recs: Records) -> None:
    add_resource(recs, pr.SNS_TOPIC, "alerts", {"name": "alerts"})


def _plain_queue(recs: Records) -> None:
    find(recs, pr.SQS_QUEUE, "orders")["inputs"]["sqsManagedSseEnabled"] = False


CRAFTED: dict[str, tuple[Callable[[Records], None], str]] = {
    "table-pitr": (_pitr_off, "point-in-time recovery is off on a prod table"),
    "table-deletion-protection": (_deletion_protection_off, "deletion protection is off on a prod table"),
    "table-encryption": (_encryption_off, "server-side encryption with a KMS key is not enabled"),
    "table-nightly-export": (_schedule_removed, "no enabled export schedule targets table 'orders'"),
    "vault-public-access-block": (
        _public_access_open,
        "public access block leaves restrictPublicBuckets off",
    ),
    "vault-tls-only": (_tls_statement_removed, "no bucket policy statement denies requests without TLS"),
    "vault-versioning": (_versioning_suspended, "is not versioned (status: Suspended)"),
    "vault-kms-encryption": (_sse_s3, "is not KMS-encrypted by default (algorithms: AES256)"),
    "vault-export-retention": (_short_retention, "expires exports after 10 days, fewer than the required 35"),
    "staging-writes-only-staging-targets": (
        _staging_writes_prod_table,
        f"staging role dynamodb:BatchWriteItem {TABLE_ARN}orders: table 'orders', not tagged as a staging",
    ),
    "iam-no-wildcard-actions": (_wildcard_action, "statement Everything allows wildcard actions dynamodb:*"),
    "sns-topic-encrypted": (_plain_topic, "the SNS topic is not encrypted at rest"),
    "sqs-queue-encrypted": (_plain_queue, "the SQS queue is not encrypted at rest"),
}


def test_every_rule_has_a_crafted_violation() -> None:
    assert set(CRAFTED) == set(pr.RULES_BY_ID)


@pytest.mark.parametrize("rule_id", sorted(CRAFTED))
def test_rule_fails_on_crafted_violation(rule_id: str) -> None:
    # Given the prod stack with one safety-net property broken
    recs = records("prod")
    mutate, expected = CRAFTED[rule_id]
    assert messages(rule_id, recs) == [], "the unbroken stack must pass first"
    mutate(recs)
    # When the rule runs; Then it reports the problem and how to fix it
    found = messages(rule_id, recs)
    assert len(found) == 1, found
    assert expected in found[0]
    assert " | " in found[0] and found[0].split(" | ", 1)[1].strip()


@pytest.mark.parametrize("rule_id", sorted(CRAFTED))
def test_crafted_violation_breaks_only_its_rule(rule_id: str) -> None:
    # The rules do not overlap: each crafted input fails exactly one rule.
    recs = records("prod")
    CRAFTED[rule_id][0](recs)
    assert {v.rule for v in pr.evaluate(pr.from_synth(recs))} == {rule_id}


# -- rule details -----------------------------------------------------------------------------------


def test_table_rules_skip_non_prod_tables() -> None:
    props = {"tags": {pr.ENVIRONMENT_TAG: "test"}, "name": "orders-test"}
    assert pr.table_pitr(pr.TABLE, props) == []
    assert pr.table_deletion_protection(pr.TABLE, props) == []
    assert pr.table_encryption(pr.TABLE, props) == []


def test_table_without_environment_tag_counts_as_prod() -> None:
    # Dropping the tag must not switch the rules off.
    assert pr.table_deletion_protection(pr.TABLE, {"name": "orders"})


def test_disabled_schedule_is_no_backup() -> None:
    recs = records("prod")
    find(recs, pr.SCHEDULE, "orders")["inputs"]["state"] = "DISABLED"
    assert any("'orders'" in m for m in messages("table-nightly-export", recs))


def test_schedule_for_another_table_does_not_count() -> None:
    recs = records("prod")
    sched = find(recs, pr.SCHEDULE, "orders")
    request = json.loads(sched["inputs"]["target"]["input"])
    request["TableArn"] = TABLE_ARN + "customers"
    sched["inputs"]["target"]["input"] = json.dumps(request)
    assert any("'orders'" in m for m in messages("table-nightly-export", recs))


def test_missing_public_access_block_is_reported() -> None:
    recs = records("prod")
    recs.remove(find(recs, pr.PUBLIC_ACCESS_BLOCK[0]))
    assert any("has no public access block" in m for m in messages("vault-public-access-block", recs))


def test_catch_all_lifecycle_rule_expiring_early_is_reported() -> None:
    recs = records("prod")
    rules = find(recs, pr.LIFECYCLE[0])["inputs"]["rules"]
    rules.append({"id": "cleanup", "status": "Enabled", "filter": {}, "expiration": {"days": 7}})
    assert any("rule cleanup expires exports after 7 days" in m for m in messages("vault-export-retention", recs))


def test_lifecycle_rule_on_other_prefix_or_disabled_is_fine() -> None:
    recs = records("prod")
    rules = find(recs, pr.LIFECYCLE[0])["inputs"]["rules"]
    rules.append({"id": "tmp", "status": "Enabled", "filter": {"prefix": "tmp/"}, "expiration": {"days": 1}})
    rules.append({"id": "off", "status": "Disabled", "filter": {}, "expiration": {"days": 1}})
    assert messages("vault-export-retention", recs) == []


def test_lifecycle_rule_expiring_on_a_date_is_reported() -> None:
    recs = records("prod")
    rules = find(recs, pr.LIFECYCLE[0])["inputs"]["rules"]
    rules.append(
        {
            "id": "d",
            "status": "Enabled",
            "filter": {"prefix": "exports/orders/"},
            "expiration": {"date": "2027-01-01"},
        }
    )
    assert any("on a date" in m for m in messages("vault-export-retention", recs))


def _tag_orders_as_staging_target(recs: Records, value: str = "safetynet/prod") -> None:
    tags = find(recs, pr.TABLE, "orders")["inputs"]["tags"]
    tags[pr.ENVIRONMENT_TAG] = "test"
    tags[pr.STAGING_TARGET_TAG] = value


def test_staging_may_write_tables_tagged_as_targets_of_their_stack() -> None:
    recs = records("prod")
    _tag_orders_as_staging_target(recs)
    _staging_writes_prod_table(recs)
    assert messages("staging-writes-only-staging-targets", recs) == []


def test_staging_target_of_another_stack_is_not_a_target() -> None:
    recs = records("prod")
    _tag_orders_as_staging_target(recs, value="safetynet/other")
    _staging_writes_prod_table(recs)
    assert messages("staging-writes-only-staging-targets", recs)


def test_prod_table_is_never_a_staging_target_even_if_tagged() -> None:
    recs = records("prod")
    find(recs, pr.TABLE, "orders")["inputs"]["tags"][pr.STAGING_TARGET_TAG] = "true"
    _staging_writes_prod_table(recs)
    assert messages("staging-writes-only-staging-targets", recs)


def test_staging_statement_gated_on_the_tag_is_allowed() -> None:
    recs = records("prod")
    add_staging_policy(
        recs,
        {
            "Effect": "Allow",
            "Action": ["dynamodb:DeleteTable"],
            "Resource": [TABLE_ARN + "orders-test"],
            "Condition": {"StringEquals": {f"aws:ResourceTag/{pr.STAGING_TARGET_TAG}": "safetynet/test"}},
        },
    )
    assert messages("staging-writes-only-staging-targets", recs) == []


@pytest.mark.parametrize(
    ("resource", "why"),
    [
        (TABLE_ARN + "*", "a table name pattern"),
        (TABLE_ARN + "elsewhere", "a table not declared in this stack"),
        ("*", "resources beyond named tables"),
    ],
)
def test_staging_write_beyond_declared_targets_is_reported(resource: str, why: str) -> None:
    recs = records("prod")
    add_staging_policy(recs, {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": resource})
    found = messages("staging-writes-only-staging-targets", recs)
    assert len(found) == 1 and why in found[0]


def test_staging_reads_are_not_writes() -> None:
    recs = records("prod")
    add_staging_policy(
        recs, {"Effect": "Allow", "Action": ["dynamodb:DescribeTable"], "Resource": TABLE_ARN + "orders"}
    )
    assert messages("staging-writes-only-staging-targets", recs) == []


def test_wildcard_in_deny_statement_is_fine() -> None:
    doc = {"Statement": [{"Effect": "Deny", "Action": "s3:*", "Principal": "*", "Resource": "*"}]}
    assert pr.no_wildcard_actions("aws:s3/bucketPolicy:BucketPolicy", {"policy": json.dumps(doc)}) == []


def test_not_action_in_allow_is_reported() -> None:
    doc = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    found = pr.no_wildcard_actions("aws:iam/policy:Policy", {"policy": doc})
    assert any("NotAction" in f.message for f in found)


def test_wildcard_in_role_inline_policy_is_reported() -> None:
    doc = {"Statement": [{"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}]}
    found = pr.no_wildcard_actions("aws:iam/role:Role", {"inlinePolicies": [{"name": "x", "policy": json.dumps(doc)}]})
    assert [f.message for f in found] == [
        "inlinePolicies[0] (x) statement Statement[0] allows wildcard actions s3:Get*"
    ]


def test_encrypted_topic_and_kms_queue_pass() -> None:
    assert pr.sns_topic_encrypted(pr.SNS_TOPIC, {"kmsMasterKeyId": "alias/aws/sns"}) == []
    assert pr.sqs_queue_encrypted(pr.SQS_QUEUE, {"kmsMasterKeyId": "alias/aws/sqs"}) == []


def test_from_synth_links_parents() -> None:
    res = {r.label: r for r in pr.from_synth(records("prod"))}
    sched = next(r for label, r in res.items() if label.startswith(pr.SCHEDULE))
    assert [a.type for a in sched.lineage()] == [
        pr.SCHEDULE,
        "safetynet:backup:NightlyExport",
        "safetynet:dynamodb:BackedUpTable",
    ]


def test_from_policy_resources_links_parents() -> None:
    class Item:
        def __init__(self, typ: str, name: str, parent: Any = None):
            self.resource_type, self.name, self.props, self.urn, self.parent = (
                typ,
                name,
                {},
                f"urn:{name}",
                parent,
            )

    parent = Item("safetynet:staging:StagingPipeline", "p")
    child = Item("aws:iam/rolePolicy:RolePolicy", "c", parent)
    converted = pr.from_policy_resources([child, parent])
    assert converted[0].parent is converted[1]
    assert pr._is_staging(converted[0])


def test_project_dir_is_the_repository() -> None:
    assert (Path(PROJECT_DIR) / "policy" / "PulumiPolicy.yaml").is_file()


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_vault_bucket_of_a_stack_is_checked(stack: str) -> None:
    # Each vault bucket (the vault, and a replica where configured) gets the same hardening rules:
    # suspending its versioning is reported for exactly that bucket.
    base = records(stack)
    buckets = pr.vault_buckets(pr.from_synth(base))
    if not buckets:
        pytest.skip(f"stack {stack} keeps no vault")
    for bucket in buckets:
        recs = copy.deepcopy(base)
        versioning = next(r for r in recs if r["type"] in pr.VERSIONING and r["inputs"].get("bucket") == bucket)
        versioning["inputs"]["versioningConfiguration"]["status"] = "Suspended"
        found = messages("vault-versioning", recs)
        assert len(found) == 1 and f"vault bucket {bucket} is not versioned" in found[0]


def _add_pipeline_state_table(recs: Records, env: str = "test") -> None:
    add_resource(recs, "safetynet:staging:StagingPipeline", "staging", {})
    add_resource(
        recs,
        pr.TABLE,
        "staging-ledger",
        {"name": "ledger", "tags": {pr.ENVIRONMENT_TAG: env}},
        parent="safetynet:staging:StagingPipeline::staging",
    )
    add_resource(
        recs,
        "aws:iam/rolePolicy:RolePolicy",
        "staging-task-policy",
        {"policy": "{}"},
        parent="safetynet:staging:StagingPipeline::staging",
    )


def _set_task_statement(recs: Records, actions: list[str]) -> None:
    doc = {"Statement": [{"Sid": "Ledger", "Effect": "Allow", "Action": actions, "Resource": TABLE_ARN + "ledger"}]}
    find(recs, "aws:iam/rolePolicy:RolePolicy", "staging-task")["inputs"]["policy"] = json.dumps(doc)


def test_staging_may_write_items_of_its_own_bookkeeping_table() -> None:
    recs = records("prod")
    _add_pipeline_state_table(recs)
    _set_task_statement(recs, ["dynamodb:PutItem", "dynamodb:UpdateItem"])
    assert messages("staging-writes-only-staging-targets", recs) == []


def test_staging_may_not_delete_its_bookkeeping_table() -> None:
    recs = records("prod")
    _add_pipeline_state_table(recs)
    _set_task_statement(recs, ["dynamodb:PutItem", "dynamodb:DeleteTable"])
    found = messages("staging-writes-only-staging-targets", recs)
    assert len(found) == 1 and "dynamodb:DeleteTable" in found[0] and "table 'ledger'" in found[0]


def test_prod_table_under_a_staging_component_gets_no_exception() -> None:
    recs = records("prod")
    _add_pipeline_state_table(recs, env="prod")
    _set_task_statement(recs, ["dynamodb:PutItem"])
    assert messages("staging-writes-only-staging-targets", recs)

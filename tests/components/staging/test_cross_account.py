"""Cross-account staging from config: `safetynet:stagingReaders` on the prod stack (vault bucket and
key policy grants, export event forwarding) and `safetynet:staging.crossAccount` on the test stack
(the permission on its default bus). Synthesized under Pulumi's mocks; every generated policy linted;
the forwarding rule's pattern routed through moto's EventBridge. The config's own validation is in
tests/components/config/test_readers.py, the components alone in test_readers.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import policy_rules
from components.backup.policies import vault_bucket_policy
from safetynet.synth import SYNTH_ACCOUNT_ID, SynthResult, read_stack_config, synth
from tests.support.eventbridge import delivered, s3_object_created
from tests.support.iam_lint import assert_clean
from tests.support.policies import role_policy
from tests.support.stacks import PROJECT_DIR, failed_synth, synth_stack

REGION = "eu-central-1"  # Pulumi.prod.yaml's aws:region
TEST_ACCOUNT = "222222222222"
DR_ACCOUNT = "333333333333"
TASK_ROLE = f"arn:aws:iam::{TEST_ACCOUNT}:role/staging-task-role-1a2b3c4"
MACHINE_ROLE = f"arn:aws:iam::{TEST_ACCOUNT}:role/staging-machine-role-5d6e7f8"
DR_ROLE = f"arn:aws:iam::{DR_ACCOUNT}:role/team/staging-task-role-9z8y7x6"
READERS = [
    {"account": TEST_ACCOUNT, "roleArns": [TASK_ROLE, MACHINE_ROLE], "tables": ["orders", "customers"]},
    # every table by default; its test stack runs in another region
    {"account": DR_ACCOUNT, "roleArns": [DR_ROLE], "region": "eu-west-1"},
]
OWN_KEY = "arn:aws:kms:eu-central-1:123456789012:key/0000aaaa-1111-2222-3333-444455556666"
PROD = "acme/safetynet/prod"

BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
FORWARDING = "safetynet:staging:ExportForwarding"
RULE = "aws:cloudwatch/eventRule:EventRule"
PERMISSION = "aws:cloudwatch/eventPermission:EventPermission"


@pytest.fixture(scope="module")
def granted() -> SynthResult:
    return synth_stack("prod", config_overrides={"stagingReaders": READERS})


def bucket_arn(result: SynthResult) -> str:
    return str(result.outputs["vaultBucketArn"])


def bucket_policy(result: SynthResult) -> dict[str, Any]:
    return json.loads(result.one(BUCKET_POLICY, "vault-policy")["inputs"]["policy"])


def key_policy(result: SynthResult) -> dict[str, Any]:
    return json.loads(result.one(KEY_POLICY, "vault-key-policy")["inputs"]["policy"])


# -- without config: nothing changes ----------------------------------------------------------


def test_without_readers_the_vault_policy_is_the_baseline_and_nothing_is_forwarded(prod_synth: SynthResult) -> None:
    assert bucket_policy(prod_synth) == vault_bucket_policy(bucket_arn(prod_synth))
    assert prod_synth.of_type(KEY_POLICY) == []  # KMS's default key policy stays in place
    assert prod_synth.of_type(FORWARDING) == []
    assert "stagingReaders" not in prod_synth.outputs


# -- the vault bucket policy ------------------------------------------------------------------


def test_the_bucket_policy_adds_exactly_each_readers_read_and_list_grants(granted: SynthResult) -> None:
    arn = bucket_arn(granted)
    doc = bucket_policy(granted)
    # The baseline stays first and unchanged.
    assert doc["Statement"][:2] == vault_bucket_policy(arn)["Statement"]
    assert doc["Statement"][2:] == [
        {
            "Sid": f"StagingReadsExports{TEST_ACCOUNT}",
            "Effect": "Allow",
            "Principal": {"AWS": sorted([TASK_ROLE, MACHINE_ROLE])},
            "Action": ["s3:GetObject"],
            "Resource": [f"{arn}/exports/customers/*", f"{arn}/exports/orders/*"],
        },
        {
            "Sid": f"StagingListsExports{TEST_ACCOUNT}",
            "Effect": "Allow",
            "Principal": {"AWS": sorted([TASK_ROLE, MACHINE_ROLE])},
            "Action": ["s3:ListBucket"],
            "Resource": [arn],
            "Condition": {"StringLike": {"s3:prefix": ["exports/customers/*", "exports/orders/*"]}},
        },
        # A reader of every table: the exports prefix, a fixed size however many tables prod has.
        {
            "Sid": f"StagingReadsExports{DR_ACCOUNT}",
            "Effect": "Allow",
            "Principal": {"AWS": [DR_ROLE]},
            "Action": ["s3:GetObject"],
            "Resource": [f"{arn}/exports/*"],
        },
        {
            "Sid": f"StagingListsExports{DR_ACCOUNT}",
            "Effect": "Allow",
            "Principal": {"AWS": [DR_ROLE]},
            "Action": ["s3:ListBucket"],
            "Resource": [arn],
            "Condition": {"StringLike": {"s3:prefix": ["exports/*"]}},
        },
    ]


def test_a_reader_gets_nothing_on_tables_it_did_not_select(granted: SynthResult) -> None:
    statements = [*bucket_policy(granted)["Statement"], *key_policy(granted)["Statement"]]
    mine = [s for s in statements if isinstance(s["Principal"], dict) and TASK_ROLE in s["Principal"]["AWS"]]
    assert len(mine) == 3  # read, list, decrypt
    for stmt in mine:
        assert "inventory" not in json.dumps(stmt), stmt
    assert "inventory" not in json.dumps(granted.outputs["stagingReaders"]["accounts"][TEST_ACCOUNT])


def test_the_bucket_policy_with_grants_passes_the_lint(granted: SynthResult) -> None:
    assert_clean(bucket_policy(granted), resource_policy=True)


# -- the vault key policy ---------------------------------------------------------------------


def test_the_key_policy_keeps_kms_default_statement_first(granted: SynthResult) -> None:
    # Without it the prod account's own IAM policies would lose the key.
    assert key_policy(granted)["Statement"][0] == {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{SYNTH_ACCOUNT_ID}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def test_the_key_policy_lets_each_readers_roles_decrypt_only_through_s3_for_the_vault(granted: SynthResult) -> None:
    arn = bucket_arn(granted)
    grants = key_policy(granted)["Statement"][1:]
    condition = {
        "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [arn, f"{arn}/*"]},
    }
    assert grants == [
        {
            "Sid": f"StagingDecryptsExports{TEST_ACCOUNT}",
            "Effect": "Allow",
            "Principal": {"AWS": sorted([TASK_ROLE, MACHINE_ROLE])},
            "Action": ["kms:Decrypt"],
            "Resource": "*",
            "Condition": condition,
        },
        {
            "Sid": f"StagingDecryptsExports{DR_ACCOUNT}",
            "Effect": "Allow",
            "Principal": {"AWS": [DR_ROLE]},
            "Action": ["kms:Decrypt"],
            "Resource": "*",
            "Condition": condition,
        },
    ]


def test_the_key_policy_grant_statements_pass_the_lint(granted: SynthResult) -> None:
    # The default statement (kms:* for the owning account) is KMS's own and checked exactly above.
    grants = key_policy(granted)["Statement"][1:]
    assert_clean({"Version": "2012-10-17", "Statement": grants}, resource_policy=True)


def test_the_key_policy_is_on_the_vaults_own_key(granted: SynthResult) -> None:
    policy = granted.one(KEY_POLICY, "vault-key-policy")
    assert policy["parent"] == "safetynet:backup:BackupVault::vault"
    assert str(granted.outputs["kmsKeyArn"]).endswith(f"/{policy['inputs']['keyId']}")


def test_with_a_configured_key_the_statements_are_emitted_for_its_owners() -> None:
    # Given backup.kmsKeyArn: a key this stack does not manage, so it cannot change its policy
    result = synth_stack(
        "prod",
        config_overrides={
            "stagingReaders": READERS[:1],
            "backup": {"retentionDays": 90, "kmsKeyArn": OWN_KEY},
        },
    )
    assert result.of_type(KEY_POLICY) == []
    statements = result.outputs["stagingReaders"]["keyPolicyStatements"]
    assert [s["Sid"] for s in statements] == [f"StagingDecryptsExports{TEST_ACCOUNT}"]
    assert statements[0]["Principal"] == {"AWS": sorted([TASK_ROLE, MACHINE_ROLE])}
    assert_clean({"Version": "2012-10-17", "Statement": statements}, resource_policy=True)


# -- forwarding the export events ---------------------------------------------------------------


def test_one_forwarding_per_reader_account(granted: SynthResult) -> None:
    assert [r["name"] for r in granted.of_type(FORWARDING)] == [
        f"staging-reader-{TEST_ACCOUNT}",
        f"staging-reader-{DR_ACCOUNT}",
    ]
    assert set(granted.outputs["stagingReaders"]["accounts"]) == {TEST_ACCOUNT, DR_ACCOUNT}


@pytest.mark.parametrize(
    ("account", "region"), [(TEST_ACCOUNT, REGION), (DR_ACCOUNT, "eu-west-1")], ids=["same-region", "own-region"]
)
def test_the_target_is_the_readers_default_bus_through_the_forwarding_role(
    granted: SynthResult, account: str, region: str
) -> None:
    name = f"staging-reader-{account}"
    target = granted.one("aws:cloudwatch/eventTarget:EventTarget", f"{name}-target")["inputs"]
    bus = f"arn:aws:events:{region}:{account}:event-bus/default"
    assert target["arn"] == bus
    assert target["roleArn"] == granted.outputs["stagingReaders"]["accounts"][account]["forwardRoleArn"]
    assert role_policy(granted, f"{name}-policy") == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ForwardExportEvents", "Effect": "Allow", "Action": ["events:PutEvents"], "Resource": [bus]}
        ],
    }


@pytest.mark.parametrize("account", [TEST_ACCOUNT, DR_ACCOUNT])
def test_the_forwarding_role_policy_passes_the_lint(granted: SynthResult, account: str) -> None:
    assert_clean(role_policy(granted, f"staging-reader-{account}-policy"))


def test_only_eventbridge_for_this_rule_may_assume_the_forwarding_role(granted: SynthResult) -> None:
    name = f"staging-reader-{TEST_ACCOUNT}"
    trust = json.loads(granted.one("aws:iam/role:Role", f"{name}-role")["inputs"]["assumeRolePolicy"])
    rule_arn = granted.outputs["stagingReaders"]["accounts"][TEST_ACCOUNT]["forwardRuleArn"]
    (stmt,) = trust["Statement"]
    assert stmt["Principal"] == {"Service": "events.amazonaws.com"}
    assert stmt["Condition"] == {
        "StringEquals": {"aws:SourceAccount": SYNTH_ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": rule_arn},
    }


def test_the_shipped_policy_rules_pass_with_readers(granted: SynthResult) -> None:
    assert policy_rules.evaluate(policy_rules.from_synth(granted.resources)) == []


SUMMARY = "AWSDynamoDB/01700000000000-a1b2c3d4/manifest-summary.json"


@pytest.mark.parametrize(
    ("key", "other_bucket", "matches"),
    [
        (f"exports/orders/{SUMMARY}", False, True),
        (f"exports/customers/{SUMMARY}", False, True),
        (f"exports/inventory/{SUMMARY}", False, False),  # not selected by this reader
        ("exports/customers/AWSDynamoDB/01700000000000-a1b2c3d4/manifest-files.json", False, False),
        ("exports/customers/AWSDynamoDB/01700000000000-a1b2c3d4/data/abc.json.gz", False, False),
        (f"exports/customers-archive/{SUMMARY}", False, False),
        (f"masked/customers/{SUMMARY}", False, False),
        (f"exports/customers/{SUMMARY}", True, False),
    ],
)
def test_the_forwarding_pattern_matches_only_the_selected_tables_summaries(
    aws: None, granted: SynthResult, key: str, other_bucket: bool, matches: bool
) -> None:
    # Given the synthesized forwarding rule's pattern on moto's EventBridge
    pattern = granted.one(RULE, f"staging-reader-{TEST_ACCOUNT}-rule")["inputs"]["eventPattern"]
    vault = str(granted.outputs["vaultBucketName"])
    # When S3 reports the object
    event = s3_object_created("another-bucket" if other_bucket else vault, key)
    got = delivered({"forward": pattern}, event)["forward"]
    # Then only a selected table's manifest-summary.json in the vault is forwarded
    assert [e["detail"]["object"]["key"] for e in got] == ([key] if matches else [])


@pytest.mark.parametrize(
    ("key", "matches"),
    [
        (f"exports/inventory/{SUMMARY}", True),
        (f"exports/a-table-added-later/{SUMMARY}", True),
        ("exports/inventory/AWSDynamoDB/01700000000000-a1b2c3d4/data/abc.json.gz", False),
        ("exports/inventory/AWSDynamoDB/01700000000000-a1b2c3d4/manifest-files.json", False),
        (f"drills/inventory/runs/r1/{SUMMARY}", False),
        (f"masked/inventory/{SUMMARY}", False),
    ],
)
def test_a_reader_of_every_table_gets_every_exports_summary_and_nothing_else(
    aws: None, granted: SynthResult, key: str, matches: bool
) -> None:
    pattern = granted.one(RULE, f"staging-reader-{DR_ACCOUNT}-rule")["inputs"]["eventPattern"]
    got = delivered({"forward": pattern}, s3_object_created(str(granted.outputs["vaultBucketName"]), key))["forward"]
    assert [e["detail"]["object"]["key"] for e in got] == ([key] if matches else [])


def test_a_reader_of_every_table_forwards_every_tables_summary_with_one_wildcard(granted: SynthResult) -> None:
    pattern = json.loads(granted.one(RULE, f"staging-reader-{DR_ACCOUNT}-rule")["inputs"]["eventPattern"])
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "exports/*/AWSDynamoDB/*/manifest-summary.json"}]
    assert granted.outputs["stagingReaders"]["accounts"][DR_ACCOUNT]["exportPrefixes"] == ["exports"]


# -- a reader in prod's own account: refused at deploy time ---------------------------------------


def test_a_reader_in_prods_own_account_fails_the_program(tmp_path: Path) -> None:
    own = {"account": SYNTH_ACCOUNT_ID, "roleArns": [f"arn:aws:iam::{SYNTH_ACCOUNT_ID}:role/staging-task"]}
    err = failed_synth("prod", tmp_path, config_overrides={"stagingReaders": [READERS[0], own]})
    assert f"safetynet:stagingReaders[1].account {SYNTH_ACCOUNT_ID} is this stack's own account" in err
    assert "remove the entry" in err


# -- the test stack's side: prod may put events on its default bus --------------------------------


VAULT_ACCOUNT = "111111111111"


def staging_config(cross_account: dict[str, Any] | None) -> dict[str, Any]:
    """Pulumi.test.yaml's safetynet:staging, with `crossAccount` when given."""
    flat, _ = read_stack_config(PROJECT_DIR, "test")
    staging = json.loads(flat["safetynet:staging"])
    if cross_account is not None:
        staging["crossAccount"] = cross_account
    return {"staging": staging}


def prod_in(prod: SynthResult, account: str) -> dict[str, Any]:
    """prod's outputs as the test stack reads them, from a prod stack in `account`."""
    return {PROD: {**prod.outputs, "accountId": account}}


@pytest.fixture(scope="module")
def cross_account_test_stack(prod_synth: SynthResult) -> SynthResult:
    return synth(
        PROJECT_DIR,
        "test",
        config_overrides=staging_config({"vaultAccountId": VAULT_ACCOUNT}),
        stack_references=prod_in(prod_synth, VAULT_ACCOUNT),
    )


def test_a_cross_account_test_stack_lets_the_prod_account_put_events_on_its_default_bus(
    cross_account_test_stack: SynthResult,
) -> None:
    permission = cross_account_test_stack.one(PERMISSION)
    assert permission["inputs"] == {
        "eventBusName": "default",
        "principal": VAULT_ACCOUNT,
        "action": "events:PutEvents",
        "statementId": f"safetynet-staging-test-from-{VAULT_ACCOUNT}",
    }
    assert permission["parent"] == "safetynet:staging:ProdExportEvents::staging-prod-events"


def test_a_same_account_test_stack_changes_nothing_on_its_bus(prod_synth: SynthResult) -> None:
    result = synth(
        PROJECT_DIR,
        "test",
        config_overrides=staging_config(None),
        stack_references=prod_in(prod_synth, SYNTH_ACCOUNT_ID),
    )
    assert result.of_type(PERMISSION) == []


def test_the_forwarded_events_match_the_test_stacks_trigger(
    aws: None, granted: SynthResult, cross_account_test_stack: SynthResult
) -> None:
    # Given the test stack's trigger on moto's EventBridge, against the vault whose events prod
    # forwards (the same bucket name: both synths name the vault alike)
    trigger = cross_account_test_stack.one(RULE, "staging-trigger")["inputs"]["eventPattern"]
    assert json.loads(trigger)["detail"]["bucket"]["name"] == [granted.outputs["vaultBucketName"]]
    forward = granted.one(RULE, f"staging-reader-{TEST_ACCOUNT}-rule")["inputs"]["eventPattern"]
    # When a customers export completes
    event = s3_object_created(str(granted.outputs["vaultBucketName"]), f"exports/customers/{SUMMARY}")
    got = delivered({"forward": forward, "trigger": trigger}, event)
    # Then prod forwards it and the test stack's trigger matches the same event
    assert {name: len(received) for name, received in got.items()} == {"forward": 1, "trigger": 1}


def test_the_test_stack_fails_when_vault_account_is_its_own(prod_synth: SynthResult, tmp_path: Path) -> None:
    err = failed_synth(
        "test",
        tmp_path,
        config_overrides=staging_config({"vaultAccountId": SYNTH_ACCOUNT_ID}),
        stack_references=prod_in(prod_synth, SYNTH_ACCOUNT_ID),
    )
    assert f"safetynet:staging.crossAccount.vaultAccountId {SYNTH_ACCOUNT_ID} is this stack's own account" in err

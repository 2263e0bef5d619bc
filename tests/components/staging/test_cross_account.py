"""Cross-account staging from config: `safetynet:stagingReaders` on the prod stack (vault bucket and
key policy grants, export event forwarding) and `safetynet:staging.crossAccount` on the test stack
(the permission on its default bus). Synthesized under Pulumi's mocks; every generated policy linted;
the forwarding rule's pattern routed through moto's EventBridge; every invalid config named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from ruamel.yaml import YAML

import policy_rules
from components.common.policies import vault_bucket_policy
from components.config.readers import same_account_problem
from components.config.stack import ConfigError, decode_pulumi_config, parse_stack_config
from components.config.staging import CrossAccountSpec
from components.staging.readers import check_vault_account
from safetynet.synth import SYNTH_ACCOUNT_ID, SynthResult, read_stack_config, synth
from tests.support.iam_lint import assert_clean
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
def plain() -> SynthResult:
    return synth_stack("prod")


@pytest.fixture(scope="module")
def granted() -> SynthResult:
    return synth_stack("prod", config_overrides={"stagingReaders": READERS})


def bucket_arn(result: SynthResult) -> str:
    return str(result.outputs["vaultBucketArn"])


def bucket_policy(result: SynthResult) -> dict[str, Any]:
    return json.loads(result.one(BUCKET_POLICY, "vault-policy")["inputs"]["policy"])


def key_policy(result: SynthResult) -> dict[str, Any]:
    return json.loads(result.one(KEY_POLICY, "vault-key-policy")["inputs"]["policy"])


def by_sid(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in doc["Statement"]}


def role_policy(result: SynthResult, name: str) -> dict[str, Any]:
    return json.loads(result.one("aws:iam/rolePolicy:RolePolicy", name)["inputs"]["policy"])


# -- without config: nothing changes ----------------------------------------------------------


def test_without_readers_the_vault_policy_is_the_baseline_and_nothing_is_forwarded(plain: SynthResult) -> None:
    assert bucket_policy(plain) == vault_bucket_policy(bucket_arn(plain))
    assert plain.of_type(KEY_POLICY) == []  # KMS's default key policy stays in place
    assert plain.of_type(FORWARDING) == []
    assert "stagingReaders" not in plain.outputs


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
        {
            "Sid": f"StagingReadsExports{DR_ACCOUNT}",
            "Effect": "Allow",
            "Principal": {"AWS": [DR_ROLE]},
            "Action": ["s3:GetObject"],
            "Resource": [f"{arn}/exports/{t}/*" for t in ("customers", "inventory", "orders")],
        },
        {
            "Sid": f"StagingListsExports{DR_ACCOUNT}",
            "Effect": "Allow",
            "Principal": {"AWS": [DR_ROLE]},
            "Action": ["s3:ListBucket"],
            "Resource": [arn],
            "Condition": {
                "StringLike": {"s3:prefix": [f"exports/{t}/*" for t in ("customers", "inventory", "orders")]}
            },
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


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    return {
        "Source": "aws.s3",
        "DetailType": "Object Created",
        "Detail": json.dumps({"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 10}}),
        "Resources": [f"arn:aws:s3:::{bucket}"],
    }


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
    # Given the synthesized forwarding rule's pattern on moto's EventBridge, targeting a queue
    pattern = granted.one(RULE, f"staging-reader-{TEST_ACCOUNT}-rule")["inputs"]["eventPattern"]
    vault = str(granted.outputs["vaultBucketName"])
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="forwarded")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="forward", EventPattern=pattern)
    events.put_targets(Rule="forward", Targets=[{"Id": "q", "Arn": arn}])
    # When S3 reports the object
    events.put_events(Entries=[s3_event("another-bucket" if other_bucket else vault, key)])
    # Then only a selected table's manifest-summary.json in the vault is forwarded
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])
    assert bool(got) is matches
    if matches:
        assert json.loads(got[0]["Body"])["detail"]["object"]["key"] == key


def test_a_reader_of_every_table_forwards_every_tables_summary(granted: SynthResult) -> None:
    pattern = json.loads(granted.one(RULE, f"staging-reader-{DR_ACCOUNT}-rule")["inputs"]["eventPattern"])
    assert pattern["detail"]["object"]["key"] == [
        {"wildcard": f"exports/{t}/AWSDynamoDB/*/manifest-summary.json"} for t in ("orders", "customers", "inventory")
    ]


# -- a reader in prod's own account: refused at deploy time ---------------------------------------


def test_a_reader_in_prods_own_account_fails_the_program(tmp_path: Path) -> None:
    own = {"account": SYNTH_ACCOUNT_ID, "roleArns": [f"arn:aws:iam::{SYNTH_ACCOUNT_ID}:role/staging-task"]}
    err = failed_synth("prod", tmp_path, config_overrides={"stagingReaders": [READERS[0], own]})
    assert f"safetynet:stagingReaders[1].account {SYNTH_ACCOUNT_ID} is this stack's own account" in err
    assert "remove the entry" in err


def test_same_account_problem_is_none_for_another_account() -> None:
    assert same_account_problem("safetynet:stagingReaders[0]", TEST_ACCOUNT, SYNTH_ACCOUNT_ID) is None


# -- the test stack's side: prod may put events on its default bus --------------------------------


VAULT_ACCOUNT = "111111111111"


def staging_config(cross_account: dict[str, Any] | None) -> dict[str, Any]:
    """Pulumi.test.yaml's safetynet:staging, with `crossAccount` when given."""
    flat, _ = read_stack_config(PROJECT_DIR, "test")
    staging = json.loads(flat["safetynet:staging"])
    if cross_account is not None:
        staging["crossAccount"] = cross_account
    return {"staging": staging}


def prod_in(plain: SynthResult, account: str) -> dict[str, Any]:
    """prod's outputs as the test stack reads them, from a prod stack in `account`."""
    return {PROD: {**plain.outputs, "accountId": account}}


@pytest.fixture(scope="module")
def cross_account_test_stack(plain: SynthResult) -> SynthResult:
    return synth(
        PROJECT_DIR,
        "test",
        config_overrides=staging_config({"vaultAccountId": VAULT_ACCOUNT}),
        stack_references=prod_in(plain, VAULT_ACCOUNT),
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


def test_a_same_account_test_stack_changes_nothing_on_its_bus(plain: SynthResult) -> None:
    result = synth(
        PROJECT_DIR, "test", config_overrides=staging_config(None), stack_references=prod_in(plain, SYNTH_ACCOUNT_ID)
    )
    assert result.of_type(PERMISSION) == []


def test_the_forwarded_events_match_the_test_stacks_trigger(
    aws: None, granted: SynthResult, cross_account_test_stack: SynthResult
) -> None:
    # Given the test stack's trigger for customers on moto's EventBridge, against the vault whose
    # events prod forwards (the same bucket name: both synths name the vault alike)
    trigger = cross_account_test_stack.one(RULE, "customers-trigger")["inputs"]["eventPattern"]
    assert json.loads(trigger)["detail"]["bucket"]["name"] == [granted.outputs["vaultBucketName"]]
    forward = granted.one(RULE, f"staging-reader-{TEST_ACCOUNT}-rule")["inputs"]["eventPattern"]
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queues = {}
    for name, pattern in (("forward", forward), ("trigger", trigger)):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventPattern=pattern)
        events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
        queues[name] = url
    # When a customers export completes
    events.put_events(Entries=[s3_event(str(granted.outputs["vaultBucketName"]), f"exports/customers/{SUMMARY}")])
    # Then prod forwards it and the test stack's trigger matches the same event
    for url in queues.values():
        assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages"), url


def test_a_vault_account_equal_to_the_test_account_is_refused() -> None:
    with pytest.raises(ValueError, match="vaultAccountId 222222222222 is this stack's own account"):
        check_vault_account(
            CrossAccountSpec(vault_account_id=TEST_ACCOUNT), own_account=TEST_ACCOUNT, prod_account=None
        )


def test_a_vault_account_other_than_prods_is_refused_with_prods_account() -> None:
    with pytest.raises(ValueError, match=f'write vaultAccountId: "{VAULT_ACCOUNT}"'):
        check_vault_account(
            CrossAccountSpec(vault_account_id="999999999999"), own_account=TEST_ACCOUNT, prod_account=VAULT_ACCOUNT
        )


def test_the_test_stack_fails_when_vault_account_is_its_own(plain: SynthResult, tmp_path: Path) -> None:
    err = failed_synth(
        "test",
        tmp_path,
        config_overrides=staging_config({"vaultAccountId": SYNTH_ACCOUNT_ID}),
        stack_references=prod_in(plain, SYNTH_ACCOUNT_ID),
    )
    assert f"safetynet:staging.crossAccount.vaultAccountId {SYNTH_ACCOUNT_ID} is this stack's own account" in err


# -- invalid config: each case named, with the fix ----------------------------------------------

TABLES = [
    {"name": "orders", "hashKey": {"name": "customerId", "type": "S"}},
    {"name": "customers", "hashKey": {"name": "customerId", "type": "S"}},
]


def parse(readers: Any, **extra: Any) -> Any:
    return parse_stack_config({"environment": "prod", "tables": TABLES, "stagingReaders": readers, **extra})


def problems(readers: Any, **extra: Any) -> str:
    with pytest.raises(ConfigError) as err:
        parse(readers, **extra)
    return str(err.value)


def reader(**fields: Any) -> dict[str, Any]:
    return {"account": TEST_ACCOUNT, "roleArns": [TASK_ROLE], **fields}


def test_a_reader_parses_and_selects_every_table_by_default() -> None:
    cfg = parse([reader(), reader(account=DR_ACCOUNT, roleArns=[DR_ROLE], tables=["customers"])])
    first, second = cfg.staging_readers
    assert first.selected(["orders", "customers"]) == ["orders", "customers"]
    assert second.selected(["orders", "customers"]) == ["customers"]
    assert second.role_arns == [DR_ROLE]


def test_readers_are_optional() -> None:
    assert parse_stack_config({"environment": "prod", "tables": TABLES}).staging_readers == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"roleArns": [f"arn:aws:iam::{DR_ACCOUNT}:role/staging-task"]},
            f"safetynet:stagingReaders[0]: roleArns[0]: 'arn:aws:iam::{DR_ACCOUNT}:role/staging-task' is a role "
            f"of account {DR_ACCOUNT}, not of this reader's account {TEST_ACCOUNT}",
        ),
        (
            {"roleArns": [f"arn:aws:iam::{TEST_ACCOUNT}:role/staging-*"]},
            "roleArns[0]: 'arn:aws:iam::222222222222:role/staging-*' contains a wildcard",
        ),
        (
            {"roleArns": [f"arn:aws:sts::{TEST_ACCOUNT}:assumed-role/staging-task/session"]},
            "a session ARN changes with every session; write the role's ARN arn:aws:iam::ACCOUNT:role/NAME",
        ),
        (
            {"roleArns": [f"arn:aws:iam::{TEST_ACCOUNT}:user/alice"]},
            "is not an IAM role ARN: write an IAM role ARN arn:aws:iam::222222222222:role/NAME; copy the test "
            "stack's outputs taskRoleArn and stateMachineRoleArn",
        ),
        ({"roleArns": []}, "roleArns is empty: copy the test stack's outputs taskRoleArn and stateMachineRoleArn"),
        ({"roleArns": [TASK_ROLE, TASK_ROLE]}, f"roleArns lists {TASK_ROLE} more than once"),
        ({"tables": ["*"]}, "tables[0] '*': wildcards are not allowed; list the tables, or omit tables for every"),
        ({"tables": []}, "tables is empty, which grants nothing"),
        (
            {"tables": ["orders", "inventory"]},
            "safetynet:stagingReaders[0].tables[1]: no table 'inventory' in safetynet:tables; use one of "
            "customers, orders",
        ),
        (
            {"account": 222222222222},
            'safetynet:stagingReaders[0].account: quote the account id: account: "222222222222"',
        ),
        ({"account": "2222"}, "safetynet:stagingReaders[0].account: '2222' is not a 12-digit account id"),
        ({"region": "Frankfurt"}, "region 'Frankfurt' is not an AWS region code; write e.g. eu-west-1"),
        ({"roleArn": TASK_ROLE}, "safetynet:stagingReaders[0].roleArn: Extra inputs are not permitted — unknown key"),
    ],
    ids=[
        "role-of-another-account",
        "wildcard-role",
        "session-arn",
        "user-arn",
        "no-roles",
        "duplicate-role",
        "wildcard-table",
        "no-tables",
        "unknown-table",
        "unquoted-account",
        "short-account",
        "bad-region",
        "typo-key",
    ],
)
def test_an_invalid_reader_is_named_with_the_fix(fields: dict[str, Any], expected: str) -> None:
    assert expected in problems([reader(**fields)])


def test_an_account_listed_twice_is_refused() -> None:
    err = problems([reader(), reader(roleArns=[MACHINE_ROLE])])
    assert f"safetynet:stagingReaders: account {TEST_ACCOUNT} is listed more than once; merge its roleArns" in err


def test_readers_on_a_test_stack_are_refused() -> None:
    err = problems([reader()], environment="test", staging={"from": PROD})
    assert "this is a test stack (safetynet:staging is set) and has no vault to grant" in err
    assert "set stagingReaders in the config of the prod stack" in err


def test_readers_without_tables_are_refused() -> None:
    with pytest.raises(ConfigError, match="safetynet:tables is empty, so there are no exports to grant"):
        parse_stack_config({"environment": "prod", "stagingReaders": [reader()]})


def test_a_list_is_required() -> None:
    assert "safetynet:stagingReaders: Input should be a valid list" in problems(reader())


def test_the_commented_example_in_pulumi_prod_yaml_parses_against_prods_tables() -> None:
    # Given the example in Pulumi.prod.yaml, uncommented
    lines = (PROJECT_DIR / "Pulumi.prod.yaml").read_text().splitlines()
    start = lines.index("  # safetynet:stagingReaders:")
    example = []
    for line in lines[start + 1 :]:
        if not line.startswith("  #   "):
            break
        example.append(line.removeprefix("  #   "))
    readers = YAML(typ="safe").load("\n".join(example))
    flat, _ = read_stack_config(PROJECT_DIR, "prod")
    # When it is parsed with prod's config; Then it is valid and selects two of prod's tables
    cfg = parse_stack_config({**decode_pulumi_config(flat), "stagingReaders": readers})
    (only,) = cfg.staging_readers
    assert only.selected([t.name for t in cfg.tables]) == ["orders", "customers"]

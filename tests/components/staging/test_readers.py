"""Cross-account staging's components, declared alone from minimal arguments under Pulumi's mocks:
prod's ExportForwarding to a reader account, the test stack's ProdExportEvents; and the pure
functions beside them (readers resolved from config, the vault account check)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.common.policies import assume_role_policy
from components.config.loading import parse_stack_config
from components.config.staging import CrossAccountSpec
from components.staging.policies import StagingReader, forward_exports_policy, staging_reader_grants
from components.staging.readers import (
    ExportForwarding,
    ExportForwardingArgs,
    ProdExportEvents,
    ProdExportEventsArgs,
    check_vault_account,
    forwarding_pattern_chars,
    staging_readers,
)
from components.staging.targets import summary_event_pattern
from tests.support.pulumi_mocks import REGION, RecordingMocks
from tests.support.pulumi_run import declared, resolved

PROD_ACCOUNT = "123456789012"
TEST_ACCOUNT = "222222222222"
TASK_ROLE = f"arn:aws:iam::{TEST_ACCOUNT}:role/staging-task"
READER = StagingReader(
    where="safetynet:stagingReaders[0]",
    account=TEST_ACCOUNT,
    role_arns=(TASK_ROLE,),
    prefixes=("exports/orders", "exports/customers"),
)
RULE = "aws:cloudwatch/eventRule:EventRule"
KEY = "arn:aws:kms:eu-central-1:123456789012:key/0000vault"


def forward(reader: StagingReader = READER) -> dict[str, Any]:
    """Declare prod's forwarding to `reader` and resolve what it exposes."""

    def build() -> dict[str, Any]:
        forwarding = ExportForwarding(
            "staging-reader",
            ExportForwardingArgs(
                reader=reader, vault_bucket_name="prod-vault", account_id=PROD_ACCOUNT, region=REGION, tags={}
            ),
        )
        return {"rule_arn": forwarding.rule_arn, "role_arn": forwarding.role_arn, "bus_arn": forwarding.bus_arn}

    return resolved(build)


def test_a_forwarding_is_a_rule_targeting_the_readers_bus_through_its_own_role(pulumi_mocks: RecordingMocks) -> None:
    out = forward()
    assert declared(pulumi_mocks) == sorted(
        [
            ("safetynet:staging:ExportForwarding", "staging-reader"),
            (RULE, "staging-reader-rule"),
            ("aws:iam/role:Role", "staging-reader-role"),
            ("aws:iam/rolePolicy:RolePolicy", "staging-reader-policy"),
            ("aws:cloudwatch/eventTarget:EventTarget", "staging-reader-target"),
        ]
    )
    target = pulumi_mocks.one("aws:cloudwatch/eventTarget:EventTarget").inputs
    assert (target["arn"], target["roleArn"]) == (out["bus_arn"], out["role_arn"])


def test_what_it_exposes_resolves(pulumi_mocks: RecordingMocks) -> None:
    out = forward()
    assert out["bus_arn"] == f"arn:aws:events:{REGION}:{TEST_ACCOUNT}:event-bus/default"
    assert out["rule_arn"].endswith(":staging-reader-rule")
    assert ":role/staging-reader-role-" in out["role_arn"]


def test_a_reader_in_its_own_region_gets_the_events_on_that_regions_bus(pulumi_mocks: RecordingMocks) -> None:
    out = forward(StagingReader(**{**READER.__dict__, "region": "eu-west-1"}))
    assert out["bus_arn"] == f"arn:aws:events:eu-west-1:{TEST_ACCOUNT}:event-bus/default"


def test_the_rule_matches_the_summaries_of_the_readers_tables_only(pulumi_mocks: RecordingMocks) -> None:
    forward()
    pattern = json.loads(pulumi_mocks.one(RULE, "staging-reader-rule").inputs["eventPattern"])
    assert pattern == summary_event_pattern("prod-vault", ["exports/orders", "exports/customers"])


def test_only_eventbridge_for_this_rule_may_put_events_on_the_readers_bus(pulumi_mocks: RecordingMocks) -> None:
    out = forward()
    trust = pulumi_mocks.one("aws:iam/role:Role").inputs["assumeRolePolicy"]
    assert json.loads(trust) == assume_role_policy("events.amazonaws.com", PROD_ACCOUNT, source_arn=out["rule_arn"])
    policy = pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"]
    assert json.loads(policy) == forward_exports_policy(out["bus_arn"])


def test_prod_export_events_let_the_vault_account_put_events_on_the_default_bus(pulumi_mocks: RecordingMocks) -> None:
    def build() -> dict[str, Any]:
        ProdExportEvents(
            "staging-prod-events",
            ProdExportEventsArgs(
                spec=CrossAccountSpec(vault_account_id=PROD_ACCOUNT),
                environment="test",
                account_id=TEST_ACCOUNT,
                prod_account_id=PROD_ACCOUNT,
            ),
        )
        return {}

    resolved(build)
    assert declared(pulumi_mocks) == [
        ("aws:cloudwatch/eventPermission:EventPermission", "staging-prod-events-permission"),
        ("safetynet:staging:ProdExportEvents", "staging-prod-events"),
    ]
    assert pulumi_mocks.one("aws:cloudwatch/eventPermission:EventPermission").inputs == {
        "eventBusName": "default",
        "principal": PROD_ACCOUNT,
        "action": "events:PutEvents",
        "statementId": f"safetynet-staging-test-from-{PROD_ACCOUNT}",
    }


# -- pure functions -------------------------------------------------------------------------------


def test_readers_resolve_to_the_export_prefixes_of_their_tables_physical_names() -> None:
    cfg = parse_stack_config(
        {
            "environment": "dev",
            "tables": [{"name": n, "hashKey": {"name": "id", "type": "S"}} for n in ("orders", "customers")],
            "stagingReaders": [
                {"account": TEST_ACCOUNT, "roleArns": [TASK_ROLE], "tables": ["customers"]},
                {"account": "333333333333", "roleArns": ["arn:aws:iam::333333333333:role/r"], "region": "eu-west-1"},
            ],
        }
    )
    assert staging_readers(cfg) == [
        StagingReader("safetynet:stagingReaders[0]", TEST_ACCOUNT, (TASK_ROLE,), ("exports/customers-dev",)),
        # Every table: no prefixes (the whole exports prefix), whatever tables there are.
        StagingReader(
            "safetynet:stagingReaders[1]",
            "333333333333",
            ("arn:aws:iam::333333333333:role/r",),
            None,
            region="eu-west-1",
        ),
    ]


def config_of(n: int, readers: list[dict[str, Any]]) -> Any:
    return parse_stack_config(
        {
            "environment": "prod",
            "tables": [{"name": f"table-{i:04d}", "hashKey": {"name": "id", "type": "S"}} for i in range(n)],
            "stagingReaders": readers,
        }
    )


EVERY_TABLE = {"account": "333333333333", "roleArns": ["arn:aws:iam::333333333333:role/r"]}


def test_a_reader_of_every_table_gets_the_same_grants_and_pattern_at_any_table_count() -> None:
    # Given prod with 3 tables, then with 1,000
    few, many = (staging_readers(config_of(n, [EVERY_TABLE])) for n in (3, 1000))
    # Then the reader's grants and forwarding pattern are the same
    grants = [staging_reader_grants(bucket_arn="arn:aws:s3:::prod-vault", key_arn=KEY, readers=r) for r in (few, many)]
    assert grants[0] == grants[1]
    assert forwarding_pattern_chars(few[0].prefixes) == forwarding_pattern_chars(many[0].prefixes) < 300


def test_a_selection_whose_forwarding_pattern_fits_is_granted_table_by_table() -> None:
    selection = [f"table-{i:04d}" for i in range(20)]
    (reader,) = staging_readers(config_of(1000, [{**EVERY_TABLE, "tables": selection}]))
    assert reader.prefixes == tuple(f"exports/{t}" for t in selection)
    assert forwarding_pattern_chars(reader.prefixes) <= 2048


def test_a_selection_too_large_to_forward_in_one_pattern_is_refused_naming_the_reader() -> None:
    selection = [f"table-{i:04d}" for i in range(100)]
    with pytest.raises(ValueError) as exc:
        staging_readers(
            config_of(1000, [EVERY_TABLE, {"account": TEST_ACCOUNT, "roleArns": [TASK_ROLE], "tables": selection}])
        )
    message = str(exc.value)
    assert message.startswith("safetynet:stagingReaders[1].tables selects 100 tables")
    assert "over EventBridge's 2048" in message and "omit tables" in message


def test_a_vault_account_equal_to_the_test_account_is_refused() -> None:
    with pytest.raises(ValueError, match="vaultAccountId 222222222222 is this stack's own account"):
        check_vault_account(
            CrossAccountSpec(vault_account_id=TEST_ACCOUNT), own_account=TEST_ACCOUNT, prod_account=None
        )


def test_a_vault_account_other_than_prods_is_refused_with_prods_account() -> None:
    with pytest.raises(ValueError, match=f'write vaultAccountId: "{PROD_ACCOUNT}"'):
        check_vault_account(
            CrossAccountSpec(vault_account_id="999999999999"), own_account=TEST_ACCOUNT, prod_account=PROD_ACCOUNT
        )


def test_the_vault_account_is_accepted_when_prod_reports_it_or_nothing() -> None:
    spec = CrossAccountSpec(vault_account_id=PROD_ACCOUNT)
    assert check_vault_account(spec, own_account=TEST_ACCOUNT, prod_account=PROD_ACCOUNT) == PROD_ACCOUNT
    assert check_vault_account(spec, own_account=TEST_ACCOUNT, prod_account=None) == PROD_ACCOUNT

"""Adoption logic (safetynet/coverage/adopt.py), pure: live tables in, entries or reasons out; and
the `asFound` block of `safetynet:tables` that the entries use (components/config/tables.py)."""

from __future__ import annotations

from typing import Any

import pytest

from components.backup.table import table_inputs
from components.config.base import ConfigError
from components.config.loading import parse_stack_config
from components.config.tables import TableSpec
from safetynet.coverage.adopt import Selector, StackView, Unrepresentable, entry_for, parse_tag, plan_adoption
from safetynet.coverage.inventory import LiveTable, live_table

ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/"


def describe(name: str, **extra: Any) -> dict[str, Any]:
    """A DescribeTable `Table` as DynamoDB returns it for a hash-key, on-demand table."""
    return {
        "TableName": name,
        "TableArn": ARN + name,
        "TableStatus": "ACTIVE",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0},
        "DeletionProtectionEnabled": False,
        "WarmThroughput": {"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 4000, "Status": "ACTIVE"},
        **extra,
    }


def live(
    name: str = "legacy",
    *,
    tags: dict[str, str] | None = None,
    pitr_days: int | None = None,
    ttl: dict[str, Any] | None = None,
    **extra: Any,
) -> LiveTable:
    pitr = (
        {"PointInTimeRecoveryStatus": "ENABLED", "RecoveryPeriodInDays": pitr_days}
        if pitr_days
        else {"PointInTimeRecoveryStatus": "DISABLED"}
    )
    return live_table(
        describe(name, **extra),
        tags=tags or {},
        ttl=ttl or {"TimeToLiveStatus": "DISABLED"},
        backups={"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": pitr},
    )


def view(
    environment: str = "prod", pattern: str | None = None, tables: list[dict[str, Any]] | None = None
) -> StackView:
    raw: dict[str, Any] = {"environment": environment, "tables": tables or []}
    if pattern:
        raw["tableNamePattern"] = pattern
    return StackView(cfg=parse_stack_config(raw), project="safetynet", stack=environment)


# -- the command line's selectors ----------------------------------------------------------------


def test_a_tag_is_key_equals_value_and_the_value_may_hold_equals_signs() -> None:
    assert parse_tag("team=payments") == ("team", "payments")
    assert parse_tag("expr=a=b") == ("expr", "a=b")
    assert parse_tag("empty=") == ("empty", "")


@pytest.mark.parametrize("text", ["team", "=x", " =x"])
def test_a_tag_without_a_key_or_an_equals_sign_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_tag(text)


def test_names_match_any_prefix_or_exact_name_and_tags_must_all_match() -> None:
    s = Selector(tags={"team": "x", "env": "p"}, prefixes=("orders-",), names=("legacy",))
    assert s.by_name("orders-eu") and s.by_name("legacy") and not s.by_name("legacy-2")
    assert s.by_tags({"team": "x", "env": "p", "other": "1"})
    assert not s.by_tags({"team": "x"})
    assert Selector(tags={"team": "x"}).by_name("anything")


def test_excluded_tables_are_reported_with_the_pattern_and_unpicked_ones_not_at_all() -> None:
    tables = [live("etl-1", tags={"team": "x"}), live("svc-1", tags={"team": "x"}), live("svc-2")]
    plan = plan_adoption(tables, view(), Selector(tags={"team": "x"}, excludes=("etl-*",)))
    assert [(o.table, o.kind) for o in plan.outcomes] == [("etl-1", "excluded"), ("svc-1", "adopt")]
    assert plan.outcomes[0].reason == "matches --exclude etl-*"


# -- physical names back to logical ones ---------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "pattern", "physical", "logical"),
    [
        ("prod", None, "orders", "orders"),
        ("dev", None, "orders-dev", "orders"),
        ("dev", None, "orders", None),
        ("dev", None, "orders-prod", None),
        ("dev", "{environment}.{name}", "dev.billing-v2", "billing-v2"),
        ("prod", "{name}-{environment}-{name}", "a-prod-a", "a"),
        ("prod", "{name}-{environment}-{name}", "a-prod-b", None),
    ],
)
def test_the_logical_name_is_the_one_table_name_pattern_maps_to_the_physical_name(
    environment: str, pattern: str | None, physical: str, logical: str | None
) -> None:
    assert view(environment, pattern).logical_name(physical) == logical


def test_a_table_outside_the_stacks_name_pattern_cannot_be_adopted() -> None:
    with pytest.raises(Unrepresentable, match=r"tableNamePattern '\{name\}-\{environment\}'"):
        entry_for(live("orders"), view("dev"))


# -- entries ---------------------------------------------------------------------------------------


def test_a_bare_table_is_adopted_with_every_protection_kept_as_found() -> None:
    logical, entry, kept = entry_for(live("legacy"), view())
    assert logical == "legacy"
    assert entry == {
        "name": "legacy",
        "hashKey": {"name": "id", "type": "S"},
        "adopt": True,
        "asFound": {
            "pointInTimeRecovery": False,
            "deletionProtection": False,
            "serverSideEncryption": False,
            "stackTags": False,
        },
    }
    assert kept == ["PITR off", "deletion protection off", "AWS owned key", "no stack tags"]


def test_the_pitr_period_is_carried_when_it_is_not_the_default() -> None:
    _, entry, _ = entry_for(live(pitr_days=7), view())
    assert entry["pointInTimeRecoveryDays"] == 7
    assert "pointInTimeRecovery" not in entry["asFound"]
    _, entry, _ = entry_for(live(pitr_days=35), view())
    assert "pointInTimeRecoveryDays" not in entry


def test_outside_prod_deletion_protection_on_is_what_is_kept() -> None:
    _, on, _ = entry_for(live("legacy-dev", DeletionProtectionEnabled=True), view("dev"))
    _, off, _ = entry_for(live("legacy-dev"), view("dev"))
    assert on["asFound"]["deletionProtection"] is True
    assert "deletionProtection" not in off["asFound"]


def test_a_table_with_the_stacks_tags_keeps_only_its_own_in_the_entry() -> None:
    tags = {
        "safetynet:environment": "prod",
        "safetynet:stack": "safetynet/prod",
        "managed-by": "pulumi/safetynet",
        "safetynet:table": "legacy",
        "team": "x",
        "aws:cloudformation:stack-name": "old",
    }
    _, entry, _ = entry_for(live(tags=tags), view())
    assert entry["tags"] == {"team": "x"}
    assert "stackTags" not in entry["asFound"]


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ({"managed-by": "terraform"}, "tagged managed-by=terraform: another tool manages it"),
        ({"safetynet:stack": "acme/other"}, "another safetynet stack manages it"),
    ],
)
def test_a_table_another_owner_tagged_is_refused(tags: dict[str, str], reason: str) -> None:
    with pytest.raises(Unrepresentable, match=reason):
        entry_for(live(tags=tags), view())


def test_indexes_billing_ttl_streams_and_class_are_carried() -> None:
    table = live(
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "B"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        BillingModeSummary={"BillingMode": "PROVISIONED"},
        ProvisionedThroughput={"ReadCapacityUnits": 4, "WriteCapacityUnits": 2, "NumberOfDecreasesToday": 0},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["b", "a"]},
                "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 3},
                "IndexStatus": "ACTIVE",
                "IndexSizeBytes": 10,
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-g-local",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "g", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"},
        TableClassSummary={"TableClass": "STANDARD_INFREQUENT_ACCESS"},
        SSEDescription={"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": "arn:aws:kms:eu-central-1:1:key/k"},
        ttl={"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"},
    )
    _, entry, _ = entry_for(table, view())
    assert {k: v for k, v in entry.items() if k not in ("asFound", "adopt")} == {
        "name": "legacy",
        "hashKey": {"name": "pk", "type": "B"},
        "rangeKey": {"name": "sk", "type": "N"},
        "billingMode": "PROVISIONED",
        "readCapacity": 4,
        "writeCapacity": 2,
        "ttlAttribute": "exp",
        "streamViewType": "OLD_IMAGE",
        "tableClass": "STANDARD_INFREQUENT_ACCESS",
        "globalSecondaryIndexes": [
            {
                "name": "by-g",
                "hashKey": {"name": "g", "type": "S"},
                "projection": "INCLUDE",
                "nonKeyAttributes": ["b", "a"],
                "readCapacity": 1,
                "writeCapacity": 3,
            }
        ],
        "localSecondaryIndexes": [
            {"name": "by-g-local", "rangeKey": {"name": "g", "type": "S"}, "projection": "KEYS_ONLY"}
        ],
    }
    assert "serverSideEncryption" not in entry["asFound"]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"TableStatus": "UPDATING"}, "the table is UPDATING"),
        ({"OnDemandThroughput": {"MaxReadRequestUnits": 50, "MaxWriteRequestUnits": -1}}, "on-demand throughput"),
        (
            {
                "AttributeDefinitions": [
                    {"AttributeName": "id", "AttributeType": "S"},
                    {"AttributeName": "a", "AttributeType": "S"},
                    {"AttributeName": "b", "AttributeType": "S"},
                ],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "by-ab",
                        "KeySchema": [
                            {"AttributeName": "a", "KeyType": "HASH"},
                            {"AttributeName": "b", "KeyType": "HASH"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            },
            "index by-ab has a key of several attributes",
        ),
    ],
)
def test_what_safetynet_tables_cannot_say_is_refused_with_the_reason(extra: dict[str, Any], reason: str) -> None:
    with pytest.raises(Unrepresentable, match=reason):
        entry_for(live(**extra), view())


def test_a_tag_value_the_config_would_change_is_caught_by_the_comparison() -> None:
    # ConfigModel strips whitespace: the entry would declare "x", the table has " x"
    with pytest.raises(Unrepresentable, match="tags: declared"):
        entry_for(live(tags={"team": " x"}), view())


def test_global_tables_and_tables_of_the_stack_are_reported_not_adopted() -> None:
    stack = view(tables=[{"name": "orders", "hashKey": {"name": "id", "type": "S"}}])
    tables = [live("orders"), live("glob", Replicas=[{"RegionName": "eu-west-1"}])]
    plan = plan_adoption(tables, stack, Selector(prefixes=("",)))
    assert [(o.table, o.kind) for o in plan.outcomes] == [("glob", "replica"), ("orders", "present")]


# -- the asFound block -----------------------------------------------------------------------------

SPEC = {"name": "legacy", "hashKey": {"name": "id", "type": "S"}}


def test_as_found_needs_adopt() -> None:
    with pytest.raises(ConfigError, match=r"asFound .* needs adopt: true"):
        parse_stack_config({"environment": "prod", "tables": [{**SPEC, "asFound": {"pointInTimeRecovery": False}}]})


def test_as_found_true_is_refused_as_the_default() -> None:
    with pytest.raises(ConfigError, match="pointInTimeRecovery: true is what safetynet declares anyway"):
        parse_stack_config(
            {"environment": "prod", "tables": [{**SPEC, "adopt": True, "asFound": {"pointInTimeRecovery": True}}]}
        )


def test_as_found_settings_are_what_the_table_declares_and_removing_them_declares_protection() -> None:
    found = {"pointInTimeRecovery": False, "deletionProtection": False, "serverSideEncryption": False}
    kept = table_inputs(
        TableSpec.model_validate({**SPEC, "adopt": True, "asFound": found}), "legacy", deletion_protection=True
    )
    protected = table_inputs(TableSpec.model_validate({**SPEC, "adopt": True}), "legacy", deletion_protection=True)
    assert (kept["point_in_time_recovery"], kept["server_side_encryption"], kept["deletion_protection_enabled"]) == (
        {"enabled": False},
        {"enabled": False},
        False,
    )
    assert (
        protected["point_in_time_recovery"]["enabled"],
        protected["server_side_encryption"],
        protected["deletion_protection_enabled"],
    ) == (
        True,
        {"enabled": True},
        True,
    )


# -- the inventory's reading of DescribeTable ------------------------------------------------------


def test_settings_in_transition_or_switched_off_read_as_off() -> None:
    table = live(
        StreamSpecification={"StreamEnabled": False},
        SSEDescription={"Status": "DISABLED"},
        ttl={"TimeToLiveStatus": "DISABLING", "AttributeName": "exp"},
        OnDemandThroughput={"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1},
    )
    assert (table.stream_view_type, table.sse_type, table.ttl_attribute) == (None, None, None)
    assert (table.on_demand_max_read, table.on_demand_max_write) == (None, None)
    assert table.global_secondary_indexes == [] and table.read_capacity is None


def test_as_found_is_not_available_for_global_tables() -> None:
    with pytest.raises(ConfigError, match="not available for global tables"):
        parse_stack_config(
            {
                "environment": "prod",
                "tables": [{**SPEC, "adopt": True, "replicaRegions": ["eu-west-1"], "asFound": {"stackTags": False}}],
            }
        )


def test_a_table_the_stack_excludes_in_safetynet_coverage_is_not_adopted() -> None:
    cfg = parse_stack_config(
        {"environment": "prod", "coverage": {"exclude": [{"pattern": "etl-*", "reason": "rebuilt from S3"}]}}
    )
    plan = plan_adoption(
        [live("etl-1")], StackView(cfg=cfg, project="safetynet", stack="prod"), Selector(prefixes=("",))
    )
    assert [(o.kind, o.reason) for o in plan.outcomes] == [
        ("excluded", "excluded in safetynet:coverage (etl-*): rebuilt from S3")
    ]

"""Declared table inputs become the provider's API calls (the demo's and emulators' deploy)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from safetynet.local.deploy import LocalDeployError, create_table_request, deploy_table, import_table_request
from safetynet.synth import SynthResult
from tests.support.stacks import synth_stack


def inputs(result: SynthResult, name: str) -> dict[str, Any]:
    return result.one("aws:dynamodb/table:Table", f"{name}-table")["inputs"]


def test_create_request_matches_the_configured_schema(prod_synth: SynthResult) -> None:
    from components.config.loading import decode_pulumi_config, parse_stack_config
    from safetynet.synth import read_stack_config
    from tests.support.stacks import PROJECT_DIR

    cfg = parse_stack_config(decode_pulumi_config(read_stack_config(PROJECT_DIR, "prod")[0]))
    for spec in cfg.tables:
        req = create_table_request(inputs(prod_synth, spec.name))
        schema = spec.create_table_request(spec.name)
        for key in ("TableName", "KeySchema", "BillingMode", "TableClass"):
            assert req[key] == schema[key]
        assert sorted(req["AttributeDefinitions"], key=str) == sorted(schema["AttributeDefinitions"], key=str)
        assert req.get("GlobalSecondaryIndexes") == schema.get("GlobalSecondaryIndexes")
        assert req.get("LocalSecondaryIndexes") == schema.get("LocalSecondaryIndexes")
        assert req.get("StreamSpecification") == schema.get("StreamSpecification")
        assert req["DeletionProtectionEnabled"] is True
        assert {"Key": "safetynet:environment", "Value": "prod"} in req["Tags"]


def test_deploy_creates_the_table_with_pitr_ttl_and_protection(aws: None, prod_synth: SynthResult) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    assert deploy_table(ddb, inputs(prod_synth, "orders"), sleep=lambda _: None) == "created"
    desc = ddb.describe_table(TableName="orders")["Table"]
    assert desc["DeletionProtectionEnabled"] is True
    assert [i["IndexName"] for i in desc["LocalSecondaryIndexes"]] == ["by-created"]
    pitr = ddb.describe_continuous_backups(TableName="orders")["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    ttl = ddb.describe_time_to_live(TableName="orders")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiresAt"


def test_import_request_needs_a_declared_source(prod_synth: SynthResult) -> None:
    with pytest.raises(LocalDeployError, match="no importTable source declared"):
        import_table_request(inputs(prod_synth, "customers"))


def test_import_request_reads_the_exports_data_folder() -> None:
    url = "s3://vault-1/exports/customers/AWSDynamoDB/01700000000000-abcdef12/"
    result = synth_stack("prod", config_overrides={"restore": {"customers": {"export": url}}})
    req = import_table_request(inputs(result, "customers"))
    assert req["S3BucketSource"] == {
        "S3Bucket": "vault-1",
        "S3KeyPrefix": "exports/customers/AWSDynamoDB/01700000000000-abcdef12/data/",
    }
    assert req["InputFormat"] == "DYNAMODB_JSON"
    assert req["InputCompressionType"] == "GZIP"
    assert req["TableCreationParameters"]["TableName"] == "customers"
    assert req["TableCreationParameters"]["GlobalSecondaryIndexes"][0]["IndexName"] == "by-email"


def _stream(ddb: Any, name: str) -> dict[str, Any]:
    return ddb.describe_table(TableName=name)["Table"].get("StreamSpecification") or {}


def test_an_imported_table_gets_its_declared_stream_after_the_import(aws: None) -> None:
    # Given an export of orders and the program declaring orders (stream NEW_AND_OLD_IMAGES)
    # restored from it
    from handlers.exports import write_export

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="vault-1")
    ref = write_export(
        s3,
        bucket="vault-1",
        prefix="exports/inventory",
        table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/inventory",
        items=[{"sku": {"S": "s-1"}, "warehouse": {"N": "1"}}],
        export_time=datetime.now(UTC),
    )
    overrides = {"restore": {"inventory": {"export": ref.url}}}
    result = synth_stack("prod", config_overrides=overrides)
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    # (inventory declares no stream in Pulumi.prod.yaml; orders does, but has LSIs, which
    # ImportTable cannot create: the inputs of a table with both, as the program emits them)
    declared = {**inputs(result, "inventory"), "streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"}
    # When it is deployed (ImportTable carries no StreamSpecification)
    kind = deploy_table(ddb, declared, sleep=lambda _: None)
    # Then the item is there and the declared stream is on, as UpdateTable after the import sets it
    assert kind == "imported"
    assert ddb.scan(TableName="inventory")["Count"] == 1
    assert _stream(ddb, "inventory") == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_a_stream_can_be_turned_on_after_the_bulk_load(aws: None, prod_synth: SynthResult) -> None:
    from safetynet.local.deploy import enable_stream

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    orders = inputs(prod_synth, "orders")
    # created without its declared stream, the rest as declared (PITR included)
    deploy_table(ddb, orders, stream_later=True, sleep=lambda _: None)
    assert _stream(ddb, "orders") == {}
    pitr = ddb.describe_continuous_backups(TableName="orders")["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    # then the declared stream, once; a table that declares none is left alone
    assert enable_stream(ddb, orders) is True
    assert _stream(ddb, "orders") == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert enable_stream(ddb, orders) is False
    deploy_table(ddb, inputs(prod_synth, "inventory"), sleep=lambda _: None)
    assert enable_stream(ddb, inputs(prod_synth, "inventory")) is False
    assert _stream(ddb, "inventory") == {}

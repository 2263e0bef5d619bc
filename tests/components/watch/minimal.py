"""Minimal arguments for unit tests of DisasterWatch's parts, built alone under Pulumi's mocks
(tests/support/pulumi_mocks.py)."""

from __future__ import annotations

from typing import Any

import pulumi

from components.common.lambda_package import powertools_layer
from components.watch.parts import WatchedTableArgs
from tests.support.pulumi_mocks import REGION

ACCOUNT = "123456789012"
STACK = "unit"
STACK_TAG_VALUE = "safetynet/unit"
TAGS = {"team": "unit"}
BUCKET = "vault-unit"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/vault-key"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
DEPENDENCY_LAYER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:deps:1"
POWERTOOLS_LAYER = powertools_layer(REGION)


def table(name: str) -> WatchedTableArgs:
    """A table with a hash key only, named `unit-<name>` in AWS."""
    physical = f"unit-{name}"
    return WatchedTableArgs(
        name=name,
        physical_name=physical,
        arn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical}",
        export_prefix=f"exports/{physical}",
        schedule_arn=f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}-export-schedule-0a1b2c3",
        key_schema=[{"AttributeName": "id", "KeyType": "HASH"}],
        attribute_definitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )


TABLES = [table("orders"), table("customers")]


def code() -> pulumi.AssetArchive:
    """A stand-in for the tasks' code archive."""
    return pulumi.AssetArchive({"handlers/__init__.py": pulumi.StringAsset("")})


def task_fields(**overrides: Any) -> dict[str, Any]:
    """The fields every task part's args have (WatchTaskArgs), for two tables."""
    fields: dict[str, Any] = {
        "stack": STACK,
        "stack_tag": STACK_TAG_VALUE,
        "tables": TABLES,
        "bucket_arn": BUCKET_ARN,
        "kms_key_arn": KEY_ARN,
        "topic_arn": TOPIC_ARN,
        "code": code(),
        "dependency_layer_arn": DEPENDENCY_LAYER,
        "account_id": ACCOUNT,
        "region": REGION,
        "tags": TAGS,
    }
    return {**fields, **overrides}

"""Create DynamoDB tables in an emulator exactly as the program declares them.

Where no Pulumi engine or provider exists (the demo, end-to-end tests, DynamoDB Local), this
turns a synthesized `aws:dynamodb/table:Table`'s inputs (camelCase, as Pulumi sends them to the
AWS provider) into the API calls the provider makes: CreateTable, or ImportTable when the table
declares an `importTable` restore source, then the settings a create call does not carry (PITR,
TTL). It covers tables only; everything else stays Pulumi's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

Inputs = Mapping[str, Any]


class LocalDeployError(RuntimeError):
    """A declared table could not be created as declared."""


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    ks = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        ks.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return ks


def _projection(index: Inputs) -> dict[str, Any]:
    p: dict[str, Any] = {"ProjectionType": index["projectionType"]}
    if index.get("nonKeyAttributes"):
        p["NonKeyAttributes"] = list(index["nonKeyAttributes"])
    return p


def table_parameters(inputs: Inputs) -> dict[str, Any]:
    """Keys, attribute definitions, billing and GSIs: the part CreateTable and ImportTable's
    TableCreationParameters share."""
    params: dict[str, Any] = {
        "TableName": inputs["name"],
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
        ],
        "KeySchema": _key_schema(inputs["hashKey"], inputs.get("rangeKey")),
        "BillingMode": inputs.get("billingMode", "PROVISIONED"),
    }
    provisioned = params["BillingMode"] == "PROVISIONED"
    if provisioned:
        params["ProvisionedThroughput"] = {
            "ReadCapacityUnits": inputs["readCapacity"],
            "WriteCapacityUnits": inputs["writeCapacity"],
        }
    gsis = []
    for g in inputs.get("globalSecondaryIndexes") or []:
        gsi: dict[str, Any] = {
            "IndexName": g["name"],
            "KeySchema": _key_schema(g["hashKey"], g.get("rangeKey")),
            "Projection": _projection(g),
        }
        if provisioned:
            gsi["ProvisionedThroughput"] = {
                "ReadCapacityUnits": g["readCapacity"],
                "WriteCapacityUnits": g["writeCapacity"],
            }
        gsis.append(gsi)
    if gsis:
        params["GlobalSecondaryIndexes"] = gsis
    return params


def create_table_request(inputs: Inputs) -> dict[str, Any]:
    """The CreateTable request for declared table inputs."""
    req = table_parameters(inputs)
    lsis = [
        {
            "IndexName": i["name"],
            "KeySchema": _key_schema(inputs["hashKey"], i["rangeKey"]),
            "Projection": _projection(i),
        }
        for i in inputs.get("localSecondaryIndexes") or []
    ]
    if lsis:
        req["LocalSecondaryIndexes"] = lsis
    if inputs.get("streamEnabled"):
        req["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": inputs["streamViewType"]}
    if inputs.get("tableClass"):
        req["TableClass"] = inputs["tableClass"]
    if inputs.get("serverSideEncryption", {}).get("enabled"):
        req["SSESpecification"] = {"Enabled": True, "SSEType": "KMS"}
    req["DeletionProtectionEnabled"] = bool(inputs.get("deletionProtectionEnabled", False))
    tags = inputs.get("tags") or {}
    if tags:
        req["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return req


def import_table_request(inputs: Inputs) -> dict[str, Any]:
    """The ImportTable request for a table declared with an `importTable` restore source (what
    the AWS provider sends): the export's data folder, its format and compression, and the
    table's keys, attributes, billing and GSIs."""
    imp = inputs.get("importTable")
    if not imp:
        raise LocalDeployError(f"{inputs.get('name')}: no importTable source declared")
    return {
        "S3BucketSource": {
            "S3Bucket": imp["s3BucketSource"]["bucket"],
            "S3KeyPrefix": imp["s3BucketSource"]["keyPrefix"],
        },
        "InputFormat": imp["inputFormat"],
        "InputCompressionType": imp["inputCompressionType"],
        "TableCreationParameters": table_parameters(inputs),
    }


def _wait(check: Callable[[], bool], what: str, timeout: float, sleep: Callable[[float], None]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise LocalDeployError(f"timed out waiting for {what}")
        sleep(0.1)


def enable_stream(ddb: Any, inputs: Inputs) -> bool:
    """Turn on the declared stream when the table has none yet (after an import: ImportTable's
    TableCreationParameters have no StreamSpecification, and the provider sets it with
    UpdateTable afterwards). Returns whether it did."""
    if not inputs.get("streamEnabled"):
        return False
    name = inputs["name"]
    current = ddb.describe_table(TableName=name)["Table"].get("StreamSpecification") or {}
    if current.get("StreamEnabled"):
        return False
    stream = {"StreamEnabled": True, "StreamViewType": inputs["streamViewType"]}
    ddb.update_table(TableName=name, StreamSpecification=stream)
    return True


def without_stream(request: dict[str, Any]) -> dict[str, Any]:
    """A CreateTable request without its StreamSpecification (see `deploy_table`'s
    `stream_later`)."""
    return {k: v for k, v in request.items() if k != "StreamSpecification"}


def apply_settings(ddb: Any, inputs: Inputs, *, stream: bool = True) -> None:
    """What CreateTable/ImportTable do not carry: PITR with its period, TTL, and the declared
    stream when the table has none (after an import; `stream=False` leaves it for later)."""
    name = inputs["name"]
    if stream:
        enable_stream(ddb, inputs)
    pitr = inputs.get("pointInTimeRecovery") or {}
    if pitr.get("enabled"):
        spec: dict[str, Any] = {"PointInTimeRecoveryEnabled": True}
        if pitr.get("recoveryPeriodInDays"):
            spec["RecoveryPeriodInDays"] = int(pitr["recoveryPeriodInDays"])
        ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=spec)
    ttl = inputs.get("ttl") or {}
    if ttl.get("enabled"):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]}
        )


def deploy_table(
    ddb: Any,
    inputs: Inputs,
    *,
    stream_later: bool = False,
    timeout: float = 600,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Create one declared table (or import it from its declared export) and apply its
    settings. Returns "created" or "imported".

    `stream_later`: create it without its declared stream, which the caller turns on with
    `enable_stream` after a bulk load. The demo does this: moto keeps every write of a stream in
    memory with full images and serves them slowly, and the emulator exporter reads a stream from
    its start, so the 20,000 items of the load would cost it more than the rest of a step. The
    declared configuration is complete before anything reads the stream."""
    name = inputs["name"]
    if inputs.get("importTable"):
        started = ddb.import_table(**import_table_request(inputs))["ImportTableDescription"]
        arn = started["ImportArn"]
        state: dict[str, Any] = {}

        def imported() -> bool:
            state.update(ddb.describe_import(ImportArn=arn)["ImportTableDescription"])
            return state.get("ImportStatus") != "IN_PROGRESS"

        _wait(imported, f"the import into {name}", timeout, sleep)
        if state.get("ImportStatus") != "COMPLETED":
            reason = state.get("FailureMessage", "no reason given")
            raise LocalDeployError(f"import into {name} ended {state.get('ImportStatus')}: {reason}")
        arn_of_table = ddb.describe_table(TableName=name)["Table"]["TableArn"]
        tags = inputs.get("tags") or {}
        if tags:
            ddb.tag_resource(ResourceArn=arn_of_table, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        if inputs.get("deletionProtectionEnabled"):
            ddb.update_table(TableName=name, DeletionProtectionEnabled=True)
        kind = "imported"
    else:
        request = create_table_request(inputs)
        ddb.create_table(**(without_stream(request) if stream_later else request))
        kind = "created"
    _wait(
        lambda: ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE",
        f"{name} to be ACTIVE",
        timeout,
        sleep,
    )
    apply_settings(ddb, inputs, stream=not stream_later)
    return kind

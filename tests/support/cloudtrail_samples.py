"""Realistic CloudTrail management events as EventBridge delivers them ("AWS API Call via
CloudTrail"), for the DisasterWatch pattern and classifier tests.

Shapes follow CloudTrail's record format (eventVersion 1.09): `userIdentity` per identity type,
`requestParameters` as the caller sent them (DynamoDB and KMS lowerCamel, S3 with its XML bodies
decoded, `Host` and the sub-resource flag), `tlsDetails`, `eventCategory` Management. The
CreateTable record is the one the DynamoDB Developer Guide shows ("Understanding DynamoDB log
file entries": provisionedThroughput, keySchema, attributeDefinitions in the request, the
CREATING tableDescription in the response), with this module's identity, account and region.

Three families of samples: `sample` (the dangerous calls on this stack's resources: each reaches
its rule and alerts), `harmless_samples` (calls whose request parameters make them harmless, or
on another vault: no rule matches) and `other_stack_samples` (the dangerous calls on another
stack's table, backup or schedule: the rules match them by event name, the classifier, which
knows the stack's resources from its context, stays quiet).
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import replace
from typing import Any

import boto3

from conventions.watch import WatchContext, WatchedTable

ACCOUNT = "123456789012"
REGION = "eu-central-1"
TABLE = "orders"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
OTHER_TABLE = "orders-archive"
BUCKET = "vault-abc1234"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
SCHEDULE = "orders-export-schedule-9f1c2d3"
DRILL_SCHEDULE = "watch-drill-orders-5e6f7a8"
STACK_TAG_VALUE = "safetynet/prod"
NEW_TABLE = "reports"


def assumed_role(role: str = "ci-deploy", session: str = "gh-actions-1234", path: str = "/") -> dict[str, Any]:
    """An assumed-role session (CI runners, SSO users, Lambda roles)."""
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEROLEID:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLEKEY",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLEID",
                "arn": f"arn:aws:iam::{ACCOUNT}:role{path}{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-11-27T09:58:01Z", "mfaAuthenticated": "false"},
        },
    }


def iam_user(name: str = "alice") -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEUSERID",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAEXAMPLEKEY",
        "userName": name,
    }


def root() -> dict[str, Any]:
    return {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLEROOT",
        "sessionContext": {"attributes": {"creationDate": "2026-11-27T09:00:00Z", "mfaAuthenticated": "true"}},
    }


def _record(event_source: str, event_name: str, request: dict[str, Any], identity: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": "2026-11-27T10:02:03Z",
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.17",
        "userAgent": "aws-cli/2.15.30 md/Botocore#1.34.30 ua/2.0 os/linux#6.5.0 command/dynamodb.delete-table",
        "requestParameters": request,
        "responseElements": None,
        "requestID": "8VDM9BQ0FE4L1EXAMPLE",
        "eventID": "4e9ad1f2-2b40-4b3d-9f4a-0c6a1e2f3a4b",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{event_source.split('.', maxsplit=1)[0]}.{REGION}.amazonaws.com",
        },
    }


def _s3(name: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"bucketName": BUCKET, "Host": f"{BUCKET}.s3.{REGION}.amazonaws.com", **extra}


# eventName -> (EventBridge source, CloudTrail eventSource, requestParameters)
_WATCHED: dict[str, tuple[str, str, dict[str, Any]]] = {
    "DeleteTable": ("aws.dynamodb", "dynamodb.amazonaws.com", {"tableName": TABLE}),
    "UpdateTable": (
        "aws.dynamodb",
        "dynamodb.amazonaws.com",
        {"tableName": TABLE, "deletionProtectionEnabled": False},
    ),
    "UpdateContinuousBackups": (
        "aws.dynamodb",
        "dynamodb.amazonaws.com",
        {"tableName": TABLE, "pointInTimeRecoverySpecification": {"pointInTimeRecoveryEnabled": False}},
    ),
    "DeleteBackup": (
        "aws.dynamodb",
        "dynamodb.amazonaws.com",
        {"backupArn": f"{TABLE_ARN}/backup/01732699123456-a1b2c3d4"},
    ),
    "PutResourcePolicy": (
        "aws.dynamodb",
        "dynamodb.amazonaws.com",
        {
            "resourceArn": TABLE_ARN,
            "policy": '{"Version":"2012-10-17","Statement":[]}',
            "confirmRemoveSelfResourceAccess": False,
        },
    ),
    "DeleteResourcePolicy": (
        "aws.dynamodb",
        "dynamodb.amazonaws.com",
        {"resourceArn": f"{TABLE_ARN}/stream/2026-01-01T00:00:00.000"},
    ),
    "DeleteBucket": ("aws.s3", "s3.amazonaws.com", _s3("DeleteBucket", {})),
    "PutBucketPolicy": (
        "aws.s3",
        "s3.amazonaws.com",
        _s3("PutBucketPolicy", {"policy": "", "bucketPolicy": {"Version": "2012-10-17", "Statement": []}}),
    ),
    "DeleteBucketPolicy": ("aws.s3", "s3.amazonaws.com", _s3("DeleteBucketPolicy", {"policy": ""})),
    "PutBucketLifecycle": (
        "aws.s3",
        "s3.amazonaws.com",
        _s3(
            "PutBucketLifecycle",
            {
                "lifecycle": "",
                "LifecycleConfiguration": {
                    "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                    "Rule": {
                        "ID": "expire-now",
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "Expiration": {"Days": 1},
                    },
                },
            },
        ),
    ),
    "PutBucketVersioning": (
        "aws.s3",
        "s3.amazonaws.com",
        _s3(
            "PutBucketVersioning",
            {
                "versioning": "",
                "VersioningConfiguration": {
                    "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                    "Status": "Suspended",
                },
            },
        ),
    ),
    "PutObjectLockConfiguration": (
        "aws.s3",
        "s3.amazonaws.com",
        _s3(
            "PutObjectLockConfiguration",
            {
                "object-lock": "",
                "ObjectLockConfiguration": {
                    "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                    "ObjectLockEnabled": "Enabled",
                },
            },
        ),
    ),
    "ScheduleKeyDeletion": ("aws.kms", "kms.amazonaws.com", {"keyId": KEY_ID, "pendingWindowInDays": 7}),
    "DisableKey": ("aws.kms", "kms.amazonaws.com", {"keyId": KEY_ARN}),
    "DeleteSchedule": (
        "aws.scheduler",
        "scheduler.amazonaws.com",
        {"name": SCHEDULE, "groupName": "default", "clientToken": "6b1c0a4e-1111-2222-3333-444455556666"},
    ),
    "UpdateSchedule": (
        "aws.scheduler",
        "scheduler.amazonaws.com",
        {
            "name": SCHEDULE,
            "groupName": "default",
            "state": "DISABLED",
            "scheduleExpression": "cron(0 3 * * ? *)",
            "flexibleTimeWindow": {"mode": "OFF"},
            "target": {
                "arn": "arn:aws:scheduler:::aws-sdk:dynamodb:exportTableToPointInTime",
                "roleArn": "HIDDEN_DUE_TO_SECURITY_REASONS",
            },
        },
    ),
    "CreateTable": (
        "aws.dynamodb",
        "dynamodb.amazonaws.com",
        {
            "provisionedThroughput": {"writeCapacityUnits": 10, "readCapacityUnits": 10},
            "tableName": NEW_TABLE,
            "keySchema": [
                {"attributeName": "Artist", "keyType": "HASH"},
                {"attributeName": "SongTitle", "keyType": "RANGE"},
            ],
            "attributeDefinitions": [
                {"attributeType": "S", "attributeName": "Artist"},
                {"attributeType": "S", "attributeName": "SongTitle"},
            ],
        },
    ),
}

# What DynamoDB answers a CreateTable with (recorded in responseElements).
_CREATED = {
    "tableDescription": {
        "tableName": NEW_TABLE,
        "attributeDefinitions": [
            {"attributeType": "S", "attributeName": "Artist"},
            {"attributeType": "S", "attributeName": "SongTitle"},
        ],
        "itemCount": 0,
        "provisionedThroughput": {"writeCapacityUnits": 10, "numberOfDecreasesToday": 0, "readCapacityUnits": 10},
        "creationDateTime": "Nov 27, 2026 10:02:03 AM",
        "keySchema": [
            {"attributeName": "Artist", "keyType": "HASH"},
            {"attributeName": "SongTitle", "keyType": "RANGE"},
        ],
        "tableStatus": "CREATING",
        "tableSizeBytes": 0,
        "tableArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{NEW_TABLE}",
    }
}

# The rule each watched sample must reach (and only that one).
EXPECTED_RULE = {
    "DeleteTable": "table-deleted",
    "UpdateTable": "deletion-protection-off",
    "UpdateContinuousBackups": "pitr-off",
    "DeleteBackup": "backup-deleted",
    "PutResourcePolicy": "table-policy-changed",
    "DeleteResourcePolicy": "table-policy-changed",
    "DeleteBucket": "vault-changed",
    "PutBucketPolicy": "vault-changed",
    "DeleteBucketPolicy": "vault-changed",
    "PutBucketLifecycle": "vault-changed",
    "PutBucketVersioning": "vault-versioning-suspended",
    "PutObjectLockConfiguration": "vault-changed",
    "ScheduleKeyDeletion": "vault-key-disabled",
    "DisableKey": "vault-key-disabled",
    "DeleteSchedule": "schedule-deleted",
    "UpdateSchedule": "schedule-disabled",
    "CreateTable": "table-created",
}


def sample(event_name: str, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """The EventBridge event (as a target receives it) of one watched API call."""
    source, event_source, request = _WATCHED[event_name]
    event = {
        "version": "0",
        "id": "0f3b4a2c-6d7e-8f90-1a2b-3c4d5e6f7a8b",
        "detail-type": "AWS API Call via CloudTrail",
        "source": source,
        "account": ACCOUNT,
        "time": "2026-11-27T10:02:03Z",
        "region": REGION,
        "resources": [],
        "detail": _record(
            event_source, event_name, copy.deepcopy(request), identity or assumed_role("developer", "alice")
        ),
    }
    if event_name == "CreateTable":
        event["detail"]["responseElements"] = copy.deepcopy(_CREATED)
        event["detail"]["userAgent"] = "console.amazonaws.com"
    return event


def with_request(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of `event` with requestParameters changed."""
    out = copy.deepcopy(event)
    out["detail"]["requestParameters"].update(changes)
    return out


def created_table(
    name: str, *, tags: dict[str, str] | None = None, identity: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The CreateTable event of a table `name` (with `tags` in the request, as CloudTrail writes them)."""
    event = with_request(sample("CreateTable", identity), tableName=name)
    event["detail"]["responseElements"]["tableDescription"]["tableName"] = name
    if tags is not None:
        event["detail"]["requestParameters"]["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    return event


def harmless_samples() -> dict[str, dict[str, Any]]:
    """Calls of watched names that do not do the dangerous thing, or on another stack's vault:
    no rule matches them (and the classifier, handed one anyway, stays quiet)."""
    capacity = sample("UpdateTable")
    capacity["detail"]["requestParameters"] = {
        "tableName": TABLE,
        "provisionedThroughput": {"readCapacityUnits": 20, "writeCapacityUnits": 10},
    }
    # The DynamoDB Developer Guide's UpdateTable record: a capacity change that names no table.
    doc_capacity = sample("UpdateTable")
    doc_capacity["detail"]["requestParameters"] = {
        "provisionedThroughput": {"writeCapacityUnits": 25, "readCapacityUnits": 25}
    }
    return {
        "UpdateTable capacity": capacity,
        "UpdateTable capacity (developer guide record)": doc_capacity,
        "UpdateTable protection on": with_request(sample("UpdateTable"), deletionProtectionEnabled=True),
        "PITR on": with_request(
            sample("UpdateContinuousBackups"),
            pointInTimeRecoverySpecification={"pointInTimeRecoveryEnabled": True},
        ),
        "Versioning enabled": with_request(
            sample("PutBucketVersioning"),
            VersioningConfiguration={"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "Status": "Enabled"},
        ),
        "Policy on other bucket": with_request(sample("PutBucketPolicy"), bucketName="someone-elses-bucket"),
        "Other key disabled": with_request(sample("DisableKey"), keyId="ffffffff-0000-0000-0000-000000000000"),
        "Schedule enabled": with_request(sample("UpdateSchedule"), state="ENABLED"),
    }


def other_stack_samples() -> dict[str, dict[str, Any]]:
    """The dangerous calls on resources of another stack (or of none): the rules match them by
    event name and dangerous parameters, the classifier knows they are not this stack's."""
    other_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{OTHER_TABLE}"
    return {
        "DeleteTable other table": with_request(sample("DeleteTable"), tableName=OTHER_TABLE),
        "DeleteTable other table by ARN": with_request(sample("DeleteTable"), tableName=other_arn),
        "DeleteTable same name, other region": with_request(
            sample("DeleteTable"), tableName=TABLE_ARN.replace(REGION, "us-west-2")
        ),
        "DeleteTable drill scratch table": with_request(
            sample("DeleteTable"), tableName="safetynet-drill-orders-01732699123456-a1b2c3d4-20261127T050000"
        ),
        "protection off other table": with_request(sample("UpdateTable"), tableName=OTHER_TABLE),
        "PITR off other table": with_request(sample("UpdateContinuousBackups"), tableName=OTHER_TABLE),
        "DeleteBackup other table": with_request(
            sample("DeleteBackup"), backupArn=f"{other_arn}/backup/01732699123456-a1b2c3d4"
        ),
        "DeleteBackup of a table whose name starts alike": with_request(
            sample("DeleteBackup"), backupArn=f"{TABLE_ARN}-archive/backup/01732699123456-a1b2c3d4"
        ),
        "PutResourcePolicy other table": with_request(sample("PutResourcePolicy"), resourceArn=other_arn),
        "DeleteResourcePolicy other stream": with_request(
            sample("DeleteResourcePolicy"), resourceArn=f"{other_arn}/stream/2026-01-01T00:00:00.000"
        ),
        "Other schedule deleted": with_request(sample("DeleteSchedule"), name="someone-elses-schedule"),
        "Other schedule disabled": with_request(sample("UpdateSchedule"), name="someone-elses-schedule"),
        "Namesake schedule in another group": with_request(sample("DeleteSchedule"), groupName="team-etl"),
    }


def put_events_entry(event: dict[str, Any]) -> dict[str, Any]:
    """The PutEvents entry that makes EventBridge deliver `event`."""
    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
    }


def watched_event_names() -> list[str]:
    return list(_WATCHED)


def stack_context(**changes: Any) -> WatchContext:
    """The context (as DisasterWatch ships it with the classifier's code) of the stack these
    samples are about: `orders` and `customers`, the vault bucket and key, the stack tag and one
    coverage exclusion (`etl-scratch-*`)."""
    tables = [
        WatchedTable(
            name=TABLE,
            physical_name=TABLE,
            arn=TABLE_ARN,
            export_prefix=f"exports/{TABLE}",
            schedule_name=SCHEDULE,
            drill_schedule_name=DRILL_SCHEDULE,
        ),
        WatchedTable(
            name="customers",
            physical_name="customers",
            arn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/customers",
            export_prefix="exports/customers",
            schedule_name="customers-export-schedule-0a1b2c3",
            drill_schedule_name="watch-drill-customers-4d5e6f7",
        ),
    ]
    ctx = WatchContext(
        stack="prod",
        tables=tables,
        vault_bucket=BUCKET,
        kms_key_arn=KEY_ARN,
        stack_tag=STACK_TAG_VALUE,
        coverage_exclude=["etl-scratch-*"],
    )
    return replace(ctx, **changes)


def route(events: list[dict[str, Any]], patterns: dict[str, str]) -> dict[str, set[str]]:
    """Put every event on moto's default bus (needs the `aws` fixture) with one rule (-> its own
    queue) per pattern (JSON text by rule name); return, per event id (each event gets a fresh
    one), the rules whose queue received it."""
    events_client = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queues = {}
    for name, pattern in patterns.items():
        url = sqs.create_queue(QueueName=f"watch-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events_client.put_rule(Name=f"watch-{name}", EventPattern=pattern)
        events_client.put_targets(Rule=f"watch-{name}", Targets=[{"Id": "q", "Arn": arn}])
        queues[name] = url
    ids = []
    for event in events:
        event["detail"]["eventID"] = str(uuid.uuid4())
        ids.append(event["detail"]["eventID"])
    for i in range(0, len(events), 10):
        resp = events_client.put_events(Entries=[put_events_entry(e) for e in events[i : i + 10]])
        assert resp["FailedEntryCount"] == 0
    routed: dict[str, set[str]] = {i: set() for i in ids}
    for name, url in queues.items():
        while True:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                routed[json.loads(m["Body"])["detail"]["eventID"]].add(name)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return routed

"""DisasterWatch and a rewind: the management events a rewind causes match none of DisasterWatch's
rules, whoever runs it, so a rewind by the deploy principal (or anyone allowed to) raises no
alert; its record is its own notification (INFO, `classification: intended`) and the audit.

A rewind's calls: DescribeTable, DescribeContinuousBackups, ExportTableToPointInTime (an
INCREMENTAL_EXPORT into the vault's `rewinds/` prefix), DescribeExport, GetBucketEncryption,
ListTopics, ListTagsForResource, GetCallerIdentity are management events; BatchGetItem, GetItem,
PutItem, DeleteItem, the vault's GetObject/PutObject and SNS Publish are data events, which
DisasterWatch neither receives (its trail logs management events) nor matches."""

from __future__ import annotations

import copy
import json
from typing import Any

from components.watch.patterns import VaultResources, watch_patterns
from handlers.watch.classifier import classify
from handlers.watch.scope import ignore_reason
from tests.support.cloudtrail_samples import BUCKET, KEY_ARN, TABLE_ARN, assumed_role, route, sample, stack_context

DEPLOY = assumed_role("ci-deploy", "gh-actions-1234")
DEVELOPER = assumed_role("developer", "alice")


def call(
    source: str, event_source: str, name: str, request: dict[str, Any], identity: dict[str, Any]
) -> dict[str, Any]:
    """A CloudTrail event of `name` shaped like the watched samples (same record, other call)."""
    event = copy.deepcopy(sample("DeleteTable", identity))
    event["source"] = source
    event["detail"].update(
        eventSource=event_source,
        eventName=name,
        requestParameters=request,
        readOnly=name.startswith(("Describe", "Get", "List")),
    )
    return event


def rewind_calls(identity: dict[str, Any]) -> list[dict[str, Any]]:
    ddb = ("aws.dynamodb", "dynamodb.amazonaws.com")
    return [
        call(*ddb, "DescribeTable", {"tableName": "orders"}, identity),
        call(*ddb, "DescribeContinuousBackups", {"tableName": "orders"}, identity),
        call(
            *ddb,
            "ExportTableToPointInTime",
            {
                "tableArn": TABLE_ARN,
                "s3Bucket": BUCKET,
                "s3Prefix": "rewinds/orders/20261126T030000.000000Z_20261126T031000.000000Z",
                "exportFormat": "DYNAMODB_JSON",
                "exportType": "INCREMENTAL_EXPORT",
                "incrementalExportSpecification": {
                    "exportFromTime": "Nov 26, 2026, 3:00:00 AM",
                    "exportToTime": "Nov 26, 2026, 3:15:00 AM",
                    "exportViewType": "NEW_AND_OLD_IMAGES",
                },
            },
            identity,
        ),
        call(*ddb, "DescribeExport", {"exportArn": f"{TABLE_ARN}/export/01764126000000-abcdef12"}, identity),
        call("aws.s3", "s3.amazonaws.com", "GetBucketEncryption", {"bucketName": BUCKET, "encryption": ""}, identity),
        call("aws.sns", "sns.amazonaws.com", "ListTopics", {}, identity),
        call("aws.sts", "sts.amazonaws.com", "GetCallerIdentity", {}, identity),
    ]


def test_no_call_of_a_rewind_matches_a_disasterwatch_rule_whoever_runs_it(aws: None) -> None:
    patterns = {name: json.dumps(p) for name, p in watch_patterns(VaultResources(BUCKET, KEY_ARN)).items()}
    events = rewind_calls(DEPLOY) + rewind_calls(DEVELOPER)
    routed = route(events, patterns)
    assert routed and all(rules == set() for rules in routed.values())


def test_handed_a_rewind_call_anyway_the_classifier_calls_it_unwatched_and_never_alerts_on_it() -> None:
    ctx = stack_context(deploy_principals=["arn:aws:iam::123456789012:role/ci-deploy"])
    for event in rewind_calls(DEPLOY):
        verdict = classify(event, ctx.deploy_principals)
        assert verdict.label == "unknown" and "is not a watched call" in verdict.reason
        assert ignore_reason(event, ctx) is None  # not ignored either: the rules keep them out

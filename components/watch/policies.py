"""IAM documents of DisasterWatch, as pure functions returning dicts (see policies.py).

Every role gets exactly what its task calls, and no document grows with the number of tables
(IAM allows 10,240 characters of inline policy per role, whitespace excluded):

- DynamoDB tables by tag: `aws:ResourceTag/safetynet:stack` = the stack's `<project>/<stack>`
  (conventions.tags.STACK_TAG, on every table the stack declares), for each action whose `table`
  resource lists that condition key in the Service Authorization Reference ("Actions, resources,
  and condition keys for Amazon DynamoDB"). Where it lists none (the `export` and `import`
  resource types), the narrowest pattern that does not grow, said at each statement.
- The vault by prefix: `exports/*` and `drills/*` of the stack's own bucket.
- Drill scratch tables by name prefix (`safetynet-drill-*`): ImportTable creates them without tags.

The classifier reads PITR windows and the vault's exports and publishes to the alert topic; the
freshness task reads exports, drill records and the account's table names, and writes metrics in
the `safetynet` namespace only; drill tasks read live tables and scratch tables and record drills;
the state machine may import into, describe and delete scratch tables, invoke its tasks, read
manifest-files.json for its ValidateFiles map and run that map's child executions (of itself only).
"""

from __future__ import annotations

from typing import Any

from components.common.policies import distributed_map_statements
from conventions.tags import STACK_TAG
from conventions.vault import DRILL_RECORD_ROOT, EXPORTS_ROOT
from conventions.watch import METRIC_NAMESPACE, SCRATCH_PREFIX

Policy = dict[str, Any]


def _doc(*statements: dict[str, Any]) -> Policy:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def lambda_trust_policy() -> Policy:
    """Trust of a Lambda execution role. Lambda assumes the role itself on every invocation and
    does not document aws:SourceAccount/SourceArn for that, so the trust names the service only;
    who may *invoke* the function is limited by its resource policy (one permission per rule)."""
    return _doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})


def _logs(log_group_arn: str) -> dict[str, Any]:
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [f"{log_group_arn}:log-stream:*"],
    }


def tables_arn(region: str, account_id: str) -> str:
    """Every table of the account and region: only ever granted with `stack_tables`' condition."""
    return f"arn:aws:dynamodb:{region}:{account_id}:table/*"


def stack_tables(sid: str, actions: list[str], *, region: str, account_id: str, stack_tag: str) -> dict[str, Any]:
    """`actions` on the tables tagged `safetynet:stack=<stack_tag>`, whatever their number. Each
    action's `table` resource lists aws:ResourceTag/${TagKey} in the Service Authorization Reference.
    Tables untagged, or tagged for another stack, are not granted (with DynamoDB ABAC off in the
    account, which AWS has on by default, no table is: the tasks then report AccessDenied)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": [tables_arn(region, account_id)],
        "Condition": {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": stack_tag}},
    }


def _read_vault(bucket_arn: str, roots: list[str], kms_key_arn: str, region: str) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "ListVault",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": [f"{root}/*" for root in roots]}},
        },
        {
            "Sid": "ReadVault",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{bucket_arn}/{root}/*" for root in roots],
        },
        {
            "Sid": "DecryptVaultThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [kms_key_arn],
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        },
    ]


def _metrics() -> dict[str, Any]:
    # PutMetricData has no resource type; the namespace condition is its scope.
    return {
        "Sid": "PublishSafetynetMetrics",
        "Effect": "Allow",
        "Action": ["cloudwatch:PutMetricData"],
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
    }


def classifier_policy(
    *,
    topic_arn: str,
    topic_key_arn: str,
    stack_tag: str,
    bucket_arn: str,
    kms_key_arn: str,
    region: str,
    account_id: str,
    log_group_arn: str,
    dead_letter_arn: str,
) -> Policy:
    """The classifier: PITR windows of the stack's tables, the vault's export listing, publish
    alerts, hand events it failed on to the dead-letter queue (Lambda's on-failure destination)."""
    return _doc(
        {"Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic_arn]},
        {
            "Sid": "EncryptAlerts",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [topic_key_arn],
            "Condition": {"StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com"}},
        },
        stack_tables(
            "ReadPitrWindows",
            ["dynamodb:DescribeContinuousBackups"],
            region=region,
            account_id=account_id,
            stack_tag=stack_tag,
        ),
        *_read_vault(bucket_arn, [EXPORTS_ROOT], kms_key_arn, region),
        {
            "Sid": "DeadLetterFailedEvents",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [dead_letter_arn],
        },
        _logs(log_group_arn),
    )


def freshness_policy(
    *,
    stack_tag: str,
    bucket_arn: str,
    kms_key_arn: str,
    region: str,
    account_id: str,
    log_group_arn: str,
) -> Policy:
    """The freshness task: list and describe the stack's tables' exports, read the vault's exports
    and drill records, list the account's table names (the coverage count), put metrics."""
    return _doc(
        # ListExports names `table` as an optional resource with aws:ResourceTag; the task always
        # passes TableArn, so the stack's tables are all it needs.
        stack_tables(
            "ListTableExports", ["dynamodb:ListExports"], region=region, account_id=account_id, stack_tag=stack_tag
        ),
        {
            "Sid": "DescribeTableExports",
            "Effect": "Allow",
            # DescribeExport's `export` resource lists no condition keys in the Service
            # Authorization Reference, so no tag can scope it: every export of this account and
            # region. Read-only (state, item count, failure message), nothing of the data.
            "Action": ["dynamodb:DescribeExport"],
            "Resource": [f"{tables_arn(region, account_id)}/export/*"],
        },
        {
            "Sid": "CountTables",
            "Effect": "Allow",
            # ListTables has no resource type (Service Authorization Reference): "*" is the only
            # form IAM accepts. Names only; nothing is described.
            "Action": ["dynamodb:ListTables"],
            "Resource": "*",
        },
        *_read_vault(bucket_arn, [EXPORTS_ROOT, DRILL_RECORD_ROOT], kms_key_arn, region),
        _metrics(),
        _logs(log_group_arn),
    )


def scratch_table_arn(region: str, account_id: str) -> str:
    """ARN pattern of every drill scratch table."""
    return f"arn:aws:dynamodb:{region}:{account_id}:table/{SCRATCH_PREFIX}*"


def drill_task_policy(
    *,
    stack_tag: str,
    bucket_arn: str,
    kms_key_arn: str,
    region: str,
    account_id: str,
    log_group_arn: str,
) -> Policy:
    """Drill tasks: validate exports (read), sample scratch vs live tables (read), record the
    result under `drills/` (write), publish drill metrics."""
    return _doc(
        *_read_vault(bucket_arn, [EXPORTS_ROOT, DRILL_RECORD_ROOT], kms_key_arn, region),
        {
            "Sid": "RecordDrills",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket_arn}/{DRILL_RECORD_ROOT}/*"],
        },
        {
            "Sid": "EncryptDrillRecords",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey"],
            "Resource": [kms_key_arn],
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        },
        {
            "Sid": "SampleScratchTables",
            "Effect": "Allow",
            # Scratch tables carry no tags (ImportTable creates them untagged): by name prefix.
            "Action": ["dynamodb:Scan"],
            "Resource": [scratch_table_arn(region, account_id)],
        },
        stack_tables(
            "LookUpLiveItems", ["dynamodb:GetItem"], region=region, account_id=account_id, stack_tag=stack_tag
        ),
        _metrics(),
        _logs(log_group_arn),
    )


def drill_state_machine_policy(
    *,
    function_arns: list[str],
    state_machine_name: str,
    bucket_arn: str,
    kms_key_arn: str,
    region: str,
    account_id: str,
) -> Policy:
    """The drill state machine: invoke its tasks, ImportTable into scratch tables (reading the
    exports from the vault, logging import errors as DynamoDB does), describe and delete them;
    run the ValidateFiles Distributed Map (its ItemReader reads manifest-files.json from the
    vault's exports; its children are executions of this same state machine)."""
    scratch = scratch_table_arn(region, account_id)
    return _doc(
        {
            "Sid": "InvokeTasks",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": function_arns,
        },
        *distributed_map_statements(region=region, account_id=account_id, state_machine_name=state_machine_name),
        {
            "Sid": "ImportIntoScratchTables",
            "Effect": "Allow",
            # ImportTable, DeleteTable and DescribeTable list aws:ResourceTag for `table`, but the
            # scratch table ImportTable creates has no tags (TableCreationParameters take none):
            # by name prefix, which no stack table can have.
            "Action": ["dynamodb:ImportTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable"],
            "Resource": [scratch],
        },
        {
            "Sid": "WatchImports",
            "Effect": "Allow",
            # DescribeImport's `import` resource lists no condition keys: the scratch prefix.
            "Action": ["dynamodb:DescribeImport"],
            "Resource": [f"{scratch}/import/*"],
        },
        *_read_vault(bucket_arn, [EXPORTS_ROOT], kms_key_arn, region),
        {
            "Sid": "ImportErrorLogs",
            "Effect": "Allow",
            # ImportTable writes rejected items to CloudWatch Logs under /aws-dynamodb/.
            "Action": ["logs:CreateLogGroup", "logs:DescribeLogStreams", "logs:PutRetentionPolicy"],
            "Resource": [f"arn:aws:logs:{region}:{account_id}:log-group:/aws-dynamodb/*"],
        },
        {
            "Sid": "ImportErrorLogStreams",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"arn:aws:logs:{region}:{account_id}:log-group:/aws-dynamodb/*:log-stream:*"],
        },
        {
            "Sid": "FindImportLogGroup",
            "Effect": "Allow",
            # DescribeLogGroups has no resource type: "*" is the only form IAM accepts.
            "Action": ["logs:DescribeLogGroups"],
            "Resource": "*",
        },
    )


def start_drill_policy(state_machine_arn: str) -> Policy:
    """The drill schedule's role: start the drill state machine, nothing else."""
    return _doc(
        {
            "Sid": "StartDrill",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": [state_machine_arn],
        }
    )


def topic_key_policy(account_id: str, region: str) -> Policy:
    """Key policy of the alert topic's key: the account administers it (IAM decides who), and
    CloudWatch alarms of this account may encrypt messages to the topic."""
    return _doc(
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"},
            },
        },
    )


def dead_letter_queue_policy(queue_arn: str, rule_arns: list[str]) -> Policy:
    """The alert dead-letter queue: only this stack's DisasterWatch rules may send to it."""
    return _doc(
        {
            "Sid": "WatchRulesDeadLetter",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}},
        }
    )


def trail_bucket_policy(bucket_arn: str, trail_arn: str, account_id: str) -> Policy:
    """CloudTrail's documented bucket policy for one trail, plus TLS-only access."""
    return _doc(
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}},
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )

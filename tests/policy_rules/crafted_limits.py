"""One crafted violation per `limit-*` rule, like crafted.py's: an edit of the prod stack's records
that takes exactly one quantity just over its AWS limit, and a part of the message the rule must
report. (test_limits.py checks each rule at and just over its limit on crafted resources.)"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from policy_rules import quotas, sizes
from policy_rules.measure import iam_chars, json_bytes, json_chars
from policy_rules.model import SNS_TOPIC, TABLE
from tests.policy_rules.records import Records, add_resource, find

MB = 1024 * 1024


def _grow(text: str, measure: Callable[[str], int], target: int, place: Callable[[dict, str], None]) -> str:
    """The JSON document `text` with `place(doc, pad)` adding a pad that makes `measure` == target."""

    def with_pad(pad: str) -> str:
        doc = json.loads(text)
        place(doc, pad)
        return json.dumps(doc)

    base = measure(with_pad(""))
    return with_pad("a" * (target - base))


def _deny(doc: dict, pad: str) -> None:
    doc["Statement"].append(
        {"Sid": "Padding", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:x:{pad}"}
    )


def pattern_over(recs: Records) -> None:
    rule = find(recs, sizes.EVENT_RULE, "backup-deleted")["inputs"]
    limit = quotas.EVENT_PATTERN.value + 1
    rule["eventPattern"] = _grow(rule["eventPattern"], json_chars, limit, lambda doc, pad: doc.update(account=[pad]))


def target_input_over(recs: Records) -> None:
    find(recs, sizes.EVENT_TARGET, "backup-deleted")["inputs"]["input"] = "a" * (quotas.EVENT_TARGET_INPUT.value + 1)


def rules_over(recs: Records) -> None:
    existing = len([r for r in recs if r["type"] == sizes.EVENT_RULE])
    for i in range(quotas.EVENT_RULES_PER_BUS.value + 1 - existing):
        add_resource(recs, sizes.EVENT_RULE, f"extra-rule-{i}", {"eventPattern": '{"source": ["aws.s3"]}'})


def wildcard_rules_over(recs: Records) -> None:
    for i in range(quotas.EVENT_WILDCARD_RULES.value + 1):
        pattern = {"detail": {"object": {"key": [{"wildcard": f"exports/t{i}/*/manifest-summary.json"}]}}}
        add_resource(recs, sizes.EVENT_RULE, f"wildcard-rule-{i}", {"eventPattern": json.dumps(pattern)})


def targets_over(recs: Records) -> None:
    target = find(recs, sizes.EVENT_TARGET, "backup-deleted")
    for i in range(quotas.EVENT_TARGETS.value):
        add_resource(recs, sizes.EVENT_TARGET, f"extra-target-{i}", {"rule": target["inputs"]["rule"], "arn": "x"})


def bus_policy_over(recs: Records) -> None:
    policy = _grow(
        json.dumps({"Version": "2012-10-17", "Statement": []}), json_chars, quotas.EVENT_BUS_POLICY.value + 1, _deny
    )
    add_resource(recs, sizes.EVENT_BUS_POLICY_TYPE, "bus-policy", {"eventBusName": "default", "policy": policy})


def inline_policies_over(recs: Records) -> None:
    # A second policy on the drill task role: each alone under 10,240, both together one over.
    task = find(recs, sizes.ROLE_POLICY, "drill-task-policy")["inputs"]
    first = iam_chars(task["policy"])

    def place(doc: dict, pad: str) -> None:
        doc["Statement"] = [
            {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": f"arn:aws:logs:x:{pad}"}
        ]

    extra = _grow(task["policy"], lambda d: iam_chars(d) + first, quotas.IAM_ROLE_INLINE.value + 1, place)
    add_resource(recs, sizes.ROLE_POLICY, "drill-task-extra-policy", {"role": task["role"], "policy": extra})


def managed_policy_over(recs: Records) -> None:
    policy = _grow(
        json.dumps({"Version": "2012-10-17", "Statement": []}), iam_chars, quotas.IAM_MANAGED_POLICY.value + 1, _deny
    )
    add_resource(recs, sizes.MANAGED_POLICY, "readers", {"policy": policy})


def trust_policy_over(recs: Records) -> None:
    role = find(recs, sizes.ROLE, "watch-classifier-role")["inputs"]

    def place(doc: dict, pad: str) -> None:
        condition = {"StringEquals": {"aws:SourceArn": f"arn:aws:events:x:{pad}"}}
        doc["Statement"].append(
            {
                "Effect": "Deny",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }
        )

    role["assumeRolePolicy"] = _grow(role["assumeRolePolicy"], iam_chars, quotas.IAM_TRUST_POLICY.value + 1, place)


def roles_over(recs: Records) -> None:
    existing = len([r for r in recs if r["type"] == sizes.ROLE])
    for i in range(quotas.IAM_ROLES.value + 1 - existing):
        add_resource(recs, sizes.ROLE, f"extra-role-{i}", {})


def bucket_policy_over(recs: Records) -> None:
    policy = find(recs, sizes.BUCKET_POLICY_TYPE)["inputs"]
    policy["policy"] = _grow(policy["policy"], json_bytes, quotas.S3_BUCKET_POLICY.value + 1, _deny)


def key_policy_over(recs: Records) -> None:
    key = find(recs, sizes.KMS_KEY, "watch-topic-key")["inputs"]
    key["policy"] = _grow(key["policy"], json_bytes, quotas.KMS_KEY_POLICY.value + 1, _deny)


def topic_policy_over(recs: Records) -> None:
    doc = {"Version": "2012-10-17", "Statement": []}
    policy = _grow(json.dumps(doc), json_bytes, quotas.SNS_TOPIC_POLICY.value + 1, _deny)
    find(recs, SNS_TOPIC, "watch-alerts")["inputs"]["policy"] = policy


def queue_policy_over(recs: Records) -> None:
    policy = find(recs, sizes.SQS_QUEUE_POLICY_TYPE, "watch-undelivered")["inputs"]
    policy["policy"] = _grow(policy["policy"], json_bytes, quotas.SQS_QUEUE_POLICY.value + 1, _deny)


def environment_over(recs: Records) -> None:
    variables = find(recs, sizes.FUNCTION, "watch-classifier")["inputs"]["environment"]["variables"]
    base = json_bytes({**variables, "CONTEXT": ""})
    variables["CONTEXT"] = "a" * (quotas.LAMBDA_ENVIRONMENT.value + 1 - base)


def layers_over(recs: Records) -> None:
    layers = find(recs, sizes.FUNCTION, "watch-classifier")["inputs"]["layers"]
    layers += [f"arn:aws:lambda:eu-central-1:123456789012:layer:extra-{i}:1" for i in range(6 - len(layers))]


@cache
def _zip(name: str, mib: int, method: int) -> str:
    """A zip of `mib` MiB of zeros in the temp folder, made once per process."""
    path = Path(tempfile.mkdtemp(prefix="safetynet-limits-")) / name
    with zipfile.ZipFile(path, "w", method, compresslevel=1) as z, z.open("zeros.bin", "w", force_zip64=True) as f:
        for _ in range(mib):
            f.write(b"\0" * MB)
    return str(path)


def zipped_over(recs: Records) -> None:
    # 51 MiB stored: over the 50 MB upload, under the 250 MB unzipped.
    layer = find(recs, sizes.LAYER)["inputs"]
    layer["code"] = {"path": _zip("stored.zip", 51, zipfile.ZIP_STORED)}


def unzipped_over(recs: Records) -> None:
    # The classifier's code as 251 MiB of zeros, deflated to about a megabyte: the upload fits, the
    # unzipped size does not (the layer every function shares stays as it is).
    function = find(recs, sizes.FUNCTION, "watch-classifier")["inputs"]
    function["code"] = {"path": _zip("deflated.zip", 251, zipfile.ZIP_DEFLATED)}


def function_policy_over(recs: Records) -> None:
    invoke = find(recs, sizes.PERMISSION, "watch-table-deleted-invoke")
    for i in range(60):
        add_resource(recs, sizes.PERMISSION, f"extra-invoke-{i}", dict(invoke["inputs"], statementId=f"extra-{i}"))


def definition_over(recs: Records) -> None:
    machine = find(recs, sizes.STATE_MACHINE, "watch-drill")["inputs"]
    machine["definition"] = _grow(
        machine["definition"],
        len,
        quotas.SFN_DEFINITION.value + 1,
        lambda doc, pad: doc.update(Comment=doc["Comment"] + pad),
    )


def _dashboard_body(recs: Records, change: Callable[[dict], None]) -> None:
    dashboard = find(recs, sizes.DASHBOARD)["inputs"]
    body = json.loads(dashboard["dashboardBody"])
    change(body)
    dashboard["dashboardBody"] = json.dumps(body)


def widgets_over(recs: Records) -> None:
    def change(body: dict) -> None:
        text = {"type": "text", "x": 0, "y": 0, "width": 1, "height": 1, "properties": {"markdown": "x"}}
        body["widgets"] += [text] * (quotas.DASHBOARD_WIDGETS.value + 1 - len(body["widgets"]))

    _dashboard_body(recs, change)


def alarm_widget_over(recs: Records) -> None:
    def change(body: dict) -> None:
        alarms = next(w for w in body["widgets"] if w["type"] == "alarm")["properties"]["alarms"]
        alarms += [f"arn:aws:cloudwatch:x:1:alarm:extra-{i}" for i in range(101 - len(alarms))]

    _dashboard_body(recs, change)


def metrics_over(recs: Records) -> None:
    def change(body: dict) -> None:
        metrics = next(w for w in body["widgets"] if w["type"] == "metric")["properties"]["metrics"]
        metrics += [["safetynet", "ItemCount", "Table", f"t{i}"] for i in range(501 - len(metrics))]

    _dashboard_body(recs, change)


def tags_over(recs: Records) -> None:
    tags = find(recs, TABLE, "orders")["inputs"]["tags"]
    tags.update({f"extra-{i}": "x" for i in range(quotas.TAGS.value + 1 - len(tags))})


def tables_over(recs: Records) -> None:
    existing = len([r for r in recs if r["type"] == TABLE])
    for i in range(quotas.DYNAMODB_TABLES.value + 1 - existing):
        # Not prod tables (the table-* rules would ask for PITR and exports): a test environment's.
        add_resource(recs, TABLE, f"extra-{i}", {"name": f"extra-{i}", "tags": {"safetynet:environment": "test"}})


def schedule_groups_over(recs: Records) -> None:
    for i in range(quotas.SCHEDULE_GROUPS.value + 1):
        add_resource(recs, sizes.SCHEDULE_GROUP, f"group-{i}", {})


def _over(limit: quotas.Limit) -> str:
    return f"is {limit.value + 1:,} {limit.unit}, over the limit of {limit.value:,} {limit.unit}"


CRAFTED_LIMITS: dict[str, tuple[Callable[[Records], None], str]] = {
    "limit-eventbridge-pattern-size": (pattern_over, _over(quotas.EVENT_PATTERN)),
    "limit-eventbridge-target-input": (target_input_over, _over(quotas.EVENT_TARGET_INPUT)),
    "limit-eventbridge-rules-per-bus": (rules_over, _over(quotas.EVENT_RULES_PER_BUS)),
    "limit-eventbridge-wildcard-rules": (wildcard_rules_over, _over(quotas.EVENT_WILDCARD_RULES)),
    "limit-eventbridge-targets-per-rule": (targets_over, _over(quotas.EVENT_TARGETS)),
    "limit-eventbridge-bus-policy": (bus_policy_over, _over(quotas.EVENT_BUS_POLICY)),
    "limit-iam-role-inline-policies": (inline_policies_over, "its 2 inline policies together is 10,241"),
    "limit-iam-managed-policy": (managed_policy_over, _over(quotas.IAM_MANAGED_POLICY)),
    "limit-iam-trust-policy": (trust_policy_over, _over(quotas.IAM_TRUST_POLICY)),
    "limit-iam-roles": (roles_over, _over(quotas.IAM_ROLES)),
    "limit-s3-bucket-policy": (bucket_policy_over, _over(quotas.S3_BUCKET_POLICY)),
    "limit-kms-key-policy": (key_policy_over, _over(quotas.KMS_KEY_POLICY)),
    "limit-sns-topic-policy": (topic_policy_over, _over(quotas.SNS_TOPIC_POLICY)),
    "limit-sqs-queue-policy": (queue_policy_over, _over(quotas.SQS_QUEUE_POLICY)),
    "limit-lambda-environment": (environment_over, _over(quotas.LAMBDA_ENVIRONMENT)),
    "limit-lambda-layers": (layers_over, _over(quotas.LAMBDA_LAYERS)),
    "limit-lambda-code-zipped": (zipped_over, "over the limit of 52,428,800 bytes"),
    "limit-lambda-code-unzipped": (unzipped_over, "over the limit of 262,144,000 bytes"),
    "limit-lambda-resource-policy": (function_policy_over, "over the limit of 20,480 bytes"),
    "limit-sfn-definition": (definition_over, _over(quotas.SFN_DEFINITION)),
    "limit-dashboard-widgets": (widgets_over, _over(quotas.DASHBOARD_WIDGETS)),
    "limit-dashboard-alarm-widget": (alarm_widget_over, _over(quotas.DASHBOARD_ALARMS)),
    "limit-dashboard-metrics": (metrics_over, _over(quotas.DASHBOARD_WIDGET_METRICS)),
    "limit-tags": (tags_over, _over(quotas.TAGS)),
    "limit-dynamodb-tables": (tables_over, _over(quotas.DYNAMODB_TABLES)),
    "limit-scheduler-schedules": (schedule_groups_over, _over(quotas.SCHEDULE_GROUPS)),
}

"""Every limited quantity of the declared resources, measured: one function per quantity, returning
`Size`s (what was measured, how big, against which `Limit`). The `limit-*` rules in `limits`
report the sizes over their limit; the scale benchmark prints the largest of each.

Resource measures read one resource's inputs (`(resource_type, props)`); stack measures read the
whole resource list and relate resources through input values only (a RolePolicy's `role`, a
target's `rule`, a function's layer ARNs), so they work on the synth's fake ids and the engine's
real ones alike. Account-wide quotas (roles, tables, rules per bus, schedules) are measured on what
this stack alone declares: other stacks in the account count too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policy_rules.inputs import as_list, get, of_type, tags_of
from policy_rules.measure import (
    archive_sizes,
    compact_json,
    iam_chars,
    json_bytes,
    json_chars,
    parsed,
    statement_count,
    text_chars,
)
from policy_rules.model import SNS_TOPIC, SQS_QUEUE, TABLE, Props, Resource
from policy_rules.quotas import (
    DASHBOARD_ALARMS,
    DASHBOARD_METRICS,
    DASHBOARD_WIDGET_METRICS,
    DASHBOARD_WIDGETS,
    DYNAMODB_TABLES,
    EVENT_BUS_POLICY,
    EVENT_PATTERN,
    EVENT_RULES_PER_BUS,
    EVENT_TARGET_INPUT,
    EVENT_TARGETS,
    EVENT_WILDCARD_RULES,
    IAM_MANAGED_POLICY,
    IAM_ROLE_INLINE,
    IAM_ROLES,
    IAM_TRUST_POLICY,
    KMS_KEY_POLICY,
    LAMBDA_ENVIRONMENT,
    LAMBDA_LAYERS,
    LAMBDA_POLICY,
    LAMBDA_UNZIPPED,
    LAMBDA_ZIPPED,
    S3_BUCKET_POLICY,
    SCHEDULE_GROUPS,
    SCHEDULES,
    SFN_DEFINITION,
    SNS_POLICY_STATEMENTS,
    SNS_TOPIC_POLICY,
    SQS_POLICY_STATEMENTS,
    SQS_QUEUE_POLICY,
    TAG_KEY,
    TAG_VALUE,
    TAGS,
    Limit,
)

# -- the resource types these limits apply to ------------------------------------------------------

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
EVENT_BUS_POLICY_TYPE = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
EVENT_PERMISSION = "aws:cloudwatch/eventPermission:EventPermission"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
BUCKET_POLICY_TYPE = "aws:s3/bucketPolicy:BucketPolicy"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY_TYPE = "aws:kms/keyPolicy:KeyPolicy"
SNS_TOPIC_POLICY_TYPE = "aws:sns/topicPolicy:TopicPolicy"
SQS_QUEUE_POLICY_TYPE = "aws:sqs/queuePolicy:QueuePolicy"
FUNCTION = "aws:lambda/function:Function"
LAYER = "aws:lambda/layerVersion:LayerVersion"
PERMISSION = "aws:lambda/permission:Permission"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
SCHEDULE = "aws:scheduler/schedule:Schedule"
SCHEDULE_GROUP = "aws:scheduler/scheduleGroup:ScheduleGroup"

_KINDS = {
    EVENT_RULE: "EventBridge rule",
    EVENT_TARGET: "EventBridge target",
    ROLE: "IAM role",
    MANAGED_POLICY: "IAM policy",
    BUCKET_POLICY_TYPE: "S3 bucket policy",
    KMS_KEY: "KMS key",
    KMS_KEY_POLICY_TYPE: "KMS key policy",
    SNS_TOPIC: "SNS topic",
    SNS_TOPIC_POLICY_TYPE: "SNS topic policy",
    SQS_QUEUE: "SQS queue",
    SQS_QUEUE_POLICY_TYPE: "SQS queue policy",
    FUNCTION: "Lambda function",
    LAYER: "Lambda layer",
    STATE_MACHINE: "state machine",
    DASHBOARD: "CloudWatch dashboard",
    TABLE: "DynamoDB table",
}
_NAME_PROPS = ("name", "layerName", "dashboardName", "bucket", "queueUrl", "rule", "description", "arn")


def subject(resource_type: str, props: Props) -> str:
    """How a message names a resource from its inputs: its kind and the first naming input it has.
    (`synth --check` and the pack also show the resource's own name beside the message.)"""
    kind = _KINDS.get(resource_type, resource_type)
    for key in _NAME_PROPS:
        try:
            value = get(props, key)
        except Exception as exc:
            # During a preview a name may not be known yet (the policy SDK raises its
            # UnknownValueError): name the resource by another input rather than not check it.
            if type(exc).__name__ != "UnknownValueError":
                raise
            continue
        if isinstance(value, str) and value:
            return f"{kind} {value!r}"
    return kind


@dataclass(frozen=True)
class Size:
    """One measured quantity of one resource (or of the stack) against its limit."""

    limit: Limit
    subject: str
    what: str
    value: int
    resource: Resource | None = None

    @property
    def over(self) -> bool:
        return self.value > self.limit.value

    def message(self) -> str:
        """What a finding says: the resource, what was measured, its size and the limit."""
        return (
            f"{self.subject}: {self.what} is {self.value:,} {self.limit.unit}, "
            f"over the limit of {self.limit.describe()}"
        )


ResourceMeasure = Callable[[str, Props], list[Size]]
StackMeasure = Callable[[Sequence[Resource]], list[Size]]


# -- resource measures -----------------------------------------------------------------------------


def pattern_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type != EVENT_RULE or get(props, "eventPattern") is None:
        return []
    size = json_chars(get(props, "eventPattern"))
    return [Size(EVENT_PATTERN, subject(resource_type, props), "the event pattern (compact JSON, as sent)", size)]


def target_input_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type != EVENT_TARGET:
        return []
    sub = subject(resource_type, props)
    return [
        Size(EVENT_TARGET_INPUT, sub, what, text_chars(value))
        for what, value in (
            ("input", get(props, "input")),
            ("inputTransformer.inputTemplate", get(props, "inputTransformer", "inputTemplate")),
        )
        if value is not None
    ]


def managed_policy_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type != MANAGED_POLICY:
        return []
    what = "the policy (white space not counted)"
    return [Size(IAM_MANAGED_POLICY, subject(resource_type, props), what, iam_chars(get(props, "policy")))]


def trust_policy_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type != ROLE or get(props, "assumeRolePolicy") is None:
        return []
    what = "the trust policy (white space not counted)"
    return [Size(IAM_TRUST_POLICY, subject(resource_type, props), what, iam_chars(get(props, "assumeRolePolicy")))]


def _resource_policy(types: tuple[str, ...], limit: Limit, statements: Limit | None = None) -> ResourceMeasure:
    def measure(resource_type: str, props: Props) -> list[Size]:
        # The type first: reading an input the engine does not know yet makes the rule advisory.
        if resource_type not in types or (policy := get(props, "policy")) is None:
            return []
        sub = subject(resource_type, props)
        sizes = [Size(limit, sub, "the policy (compact JSON, UTF-8)", json_bytes(policy))]
        if statements is not None:
            sizes.append(Size(statements, sub, "the policy", statement_count(policy)))
        return sizes

    return measure


bucket_policy_sizes = _resource_policy((BUCKET_POLICY_TYPE,), S3_BUCKET_POLICY)
key_policy_sizes = _resource_policy((KMS_KEY, KMS_KEY_POLICY_TYPE), KMS_KEY_POLICY)
topic_policy_sizes = _resource_policy((SNS_TOPIC, SNS_TOPIC_POLICY_TYPE), SNS_TOPIC_POLICY, SNS_POLICY_STATEMENTS)
queue_policy_sizes = _resource_policy((SQS_QUEUE, SQS_QUEUE_POLICY_TYPE), SQS_QUEUE_POLICY, SQS_POLICY_STATEMENTS)


def environment_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type != FUNCTION or not isinstance(variables := get(props, "environment", "variables"), Mapping):
        return []
    what = "the environment variables (compact JSON, as Lambda measures them)"
    return [Size(LAMBDA_ENVIRONMENT, subject(resource_type, props), what, json_bytes(variables))]


def layer_count_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type != FUNCTION:
        return []
    return [Size(LAMBDA_LAYERS, subject(resource_type, props), "layers", len(as_list(get(props, "layers"))))]


def zipped_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type not in (FUNCTION, LAYER) or (code := get(props, "code")) is None:
        return []
    size = archive_sizes(code)
    what = f"the code archive ({size.files:,} files, zipped estimate)"
    return [Size(LAMBDA_ZIPPED, subject(resource_type, props), what, size.zipped)]


def definition_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type != STATE_MACHINE or get(props, "definition") is None:
        return []
    return [Size(SFN_DEFINITION, subject(resource_type, props), "the definition", text_chars(get(props, "definition")))]


def _widgets(props: Props) -> list[Mapping[str, Any]]:
    body = parsed(get(props, "dashboardBody"))
    widgets = body.get("widgets") if isinstance(body, Mapping) else None
    return [w for w in widgets or [] if isinstance(w, Mapping)]


def dashboard_widgets_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type != DASHBOARD:
        return []
    return [Size(DASHBOARD_WIDGETS, subject(resource_type, props), "the body", len(_widgets(props)))]


def dashboard_alarms_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type != DASHBOARD:
        return []
    sub = subject(resource_type, props)
    return [
        Size(DASHBOARD_ALARMS, sub, f"alarm widget {i} ({get(w, 'properties', 'title') or 'untitled'})", n)
        for i, w in enumerate(_widgets(props))
        if w.get("type") == "alarm"
        for n in [len(as_list(get(w, "properties", "alarms")))]
    ]


def dashboard_metrics_sizes(resource_type: str, props: Props) -> list[Size]:
    if resource_type != DASHBOARD:
        return []
    sub = subject(resource_type, props)
    sizes = [
        Size(DASHBOARD_WIDGET_METRICS, sub, f"metric widget {i} ({get(w, 'properties', 'title') or 'untitled'})", n)
        for i, w in enumerate(_widgets(props))
        if w.get("type") == "metric"
        for n in [len(as_list(get(w, "properties", "metrics")))]
    ]
    sizes.append(Size(DASHBOARD_METRICS, sub, "all its metric widgets", sum(s.value for s in sizes)))
    return sizes


def tags_sizes(resource_type: str, props: Props) -> list[Size]:
    tags = {str(k): v for k, v in tags_of(props).items() if not str(k).startswith("aws:")}
    if not tags:
        return []
    sub = subject(resource_type, props)
    sizes = [Size(TAGS, sub, "its tags", len(tags))]
    sizes += [Size(TAG_KEY, sub, f"tag key {k[:40]!r}", len(k)) for k in tags]
    sizes += [Size(TAG_VALUE, sub, f"the value of tag {k!r}", len(str(v))) for k, v in tags.items()]
    return sizes


# -- stack measures ----------------------------------------------------------------------------------


def _bus(props: Props) -> str:
    """The event bus a rule, target or permission is on (name or ARN), `default` when unset."""
    return str(get(props, "eventBusName") or "default").rsplit("/", 1)[-1]


def _count(limit: Limit, what: str, items: Sequence[Resource]) -> Size:
    return Size(limit, "this stack", what, len(items))


def rules_per_bus_sizes(resources: Sequence[Resource]) -> list[Size]:
    by_bus: dict[str, list[Resource]] = defaultdict(list)
    for r in of_type(resources, EVENT_RULE):
        by_bus[_bus(r.props)].append(r)
    return [_count(EVENT_RULES_PER_BUS, f"the rules on event bus {bus!r}", rules) for bus, rules in by_bus.items()]


def _has_wildcard(node: Any) -> bool:
    if isinstance(node, Mapping):
        return "wildcard" in node or any(_has_wildcard(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_wildcard(v) for v in node)
    return False


def wildcard_rules_sizes(resources: Sequence[Resource]) -> list[Size]:
    by_bus: dict[str, list[Resource]] = defaultdict(list)
    for r in of_type(resources, EVENT_RULE):
        if _has_wildcard(parsed(get(r.props, "eventPattern"))):
            by_bus[_bus(r.props)].append(r)
    what = "the rules with a wildcard filter on event bus {!r}"
    return [_count(EVENT_WILDCARD_RULES, what.format(bus), rules) for bus, rules in by_bus.items()]


def targets_per_rule_sizes(resources: Sequence[Resource]) -> list[Size]:
    by_rule: dict[tuple[str, str], list[Resource]] = defaultdict(list)
    for t in of_type(resources, EVENT_TARGET):
        by_rule[(_bus(t.props), str(get(t.props, "rule") or ""))].append(t)
    return [
        Size(EVENT_TARGETS, f"EventBridge rule {rule!r}", "its targets", len(ts), ts[-1])
        for (_, rule), ts in by_rule.items()
    ]


# Placeholders of the longest usual lengths for the parts of ARNs the inputs do not hold.
_REGION, _ACCOUNT = "xx-xxxxxxxxx-1", "123456789012"


def _permission_statement(props: Props) -> dict[str, Any]:
    """The statement EventBridge adds to the bus policy for an EventPermission (PutPermission)."""
    principal = str(get(props, "principal") or "")
    stmt: dict[str, Any] = {
        "Sid": str(get(props, "statementId") or ""),
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": str(get(props, "action") or "events:PutEvents"),
        "Resource": f"arn:aws:events:{_REGION}:{_ACCOUNT}:event-bus/{_bus(props)}",
    }
    condition = get(props, "condition")
    if isinstance(condition, Mapping):
        stmt["Condition"] = {
            str(get(condition, "type") or "StringEquals"): {str(get(condition, "key")): get(condition, "value")}
        }
    return stmt


def bus_policies_sizes(resources: Sequence[Resource]) -> list[Size]:
    sizes: dict[str, int] = defaultdict(int)
    last: dict[str, Resource] = {}
    for r in of_type(resources, EVENT_BUS_POLICY_TYPE):
        sizes[_bus(r.props)] += json_chars(get(r.props, "policy"))
        last[_bus(r.props)] = r
    permissions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in of_type(resources, EVENT_PERMISSION):
        permissions[_bus(r.props)].append(_permission_statement(r.props))
        last[_bus(r.props)] = r
    for bus, stmts in permissions.items():
        sizes[bus] += json_chars({"Version": "2012-10-17", "Statement": stmts})
    what = "the policy (its EventBusPolicy and EventPermission statements, compact JSON)"
    return [Size(EVENT_BUS_POLICY, f"event bus {bus!r}", what, size, last[bus]) for bus, size in sizes.items()]


_AUTONAME = re.compile(r"(?P<name>.+)-[0-9a-f]{7}")


def _inline_what(count: int) -> str:
    return "its inline policy" if count == 1 else f"its {count} inline policies together"


def _role_key(value: Any) -> str:
    """A RolePolicy's `role` (a name, or an ARN) as the role's name."""
    return str(value or "").rsplit("/", 1)[-1]


def inline_policies_sizes(resources: Sequence[Resource]) -> list[Size]:
    """Per role: every inline policy (RolePolicy resources and the role's own `inlinePolicies`)."""
    roles = of_type(resources, ROLE)
    by_name = {str(get(r.props, "name")): r for r in roles if get(r.props, "name")}
    # A role without a `name` input is auto-named `<logical name>-<7 hex digits>` (Pulumi's
    # auto-naming; the synth's fake ids follow it too): that is the name a RolePolicy holds.
    by_logical = {r.name: r for r in roles if not get(r.props, "name")}
    total: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    owner: dict[str, Resource] = {}
    for rp in of_type(resources, ROLE_POLICY):
        key = _role_key(get(rp.props, "role"))
        total[key] += iam_chars(get(rp.props, "policy"))
        count[key] += 1
        auto = _AUTONAME.fullmatch(key)
        owner[key] = by_name.get(key) or (by_logical.get(auto["name"]) if auto else None) or rp
    for role in roles:
        inline = as_list(get(role.props, "inlinePolicies"))
        if not inline:
            continue
        key = next((k for k, o in owner.items() if o is role), str(get(role.props, "name") or role.name))
        total[key] += sum(iam_chars(get(p, "policy")) for p in inline)
        count[key] += len(inline)
        owner[key] = role
    return [
        Size(IAM_ROLE_INLINE, f"IAM role {key!r}", _inline_what(count[key]), total[key], owner[key]) for key in total
    ]


def roles_sizes(resources: Sequence[Resource]) -> list[Size]:
    return [_count(IAM_ROLES, "its IAM roles (the quota counts every role of the account)", of_type(resources, ROLE))]


def tables_sizes(resources: Sequence[Resource]) -> list[Size]:
    what = "its DynamoDB tables (the quota counts every table of the account in the Region)"
    return [_count(DYNAMODB_TABLES, what, of_type(resources, TABLE))]


def schedules_sizes(resources: Sequence[Resource]) -> list[Size]:
    return [
        _count(SCHEDULES, "its schedules (the quota counts the whole account)", of_type(resources, SCHEDULE)),
        _count(SCHEDULE_GROUPS, "its schedule groups", of_type(resources, SCHEDULE_GROUP)),
    ]


def _layer_of(arn: str, layers: Sequence[Resource]) -> Resource | None:
    """The declared LayerVersion a function's layer ARN names: `...:layer:<layerName>:<version>`,
    or (the synth's fake ids) an ARN ending in the layer's logical name."""
    for layer in layers:
        if f":layer:{get(layer.props, 'layerName')}:" in arn or arn.endswith(f":{layer.name}"):
            return layer
    return None


def unzipped_sizes(resources: Sequence[Resource]) -> list[Size]:
    layers = of_type(resources, LAYER)
    layer_bytes = {id(layer): archive_sizes(get(layer.props, "code")).unzipped for layer in layers}
    sizes = []
    for fn in of_type(resources, FUNCTION):
        if get(fn.props, "code") is None:
            continue
        total = archive_sizes(get(fn.props, "code")).unzipped
        declared = [layer for arn in as_list(get(fn.props, "layers")) if (layer := _layer_of(str(arn), layers))]
        total += sum(layer_bytes[id(layer)] for layer in declared)
        others = len(as_list(get(fn.props, "layers"))) - len(declared)
        what = f"the code with its {len(declared)} declared layer(s)" + (
            f" ({others} layer(s) from outside the stack not counted)" if others else ""
        )
        sizes.append(Size(LAMBDA_UNZIPPED, subject(FUNCTION, fn.props), what, total, fn))
    return sizes


def _lambda_statement(props: Props) -> dict[str, Any]:
    """The statement Lambda adds to the function policy for a Permission (AddPermission)."""
    principal = str(get(props, "principal") or "")
    stmt: dict[str, Any] = {
        # Without a statementId the provider generates one ("terraform-" + 26 characters).
        "Sid": str(get(props, "statementId") or "x" * 36),
        "Effect": "Allow",
        "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
        "Action": str(get(props, "action") or "lambda:InvokeFunction"),
        "Resource": f"arn:aws:lambda:{_REGION}:{_ACCOUNT}:function:{get(props, 'function')}",
    }
    condition: dict[str, Any] = {}
    if get(props, "sourceAccount"):
        condition["StringEquals"] = {"AWS:SourceAccount": str(get(props, "sourceAccount"))}
    if get(props, "sourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": str(get(props, "sourceArn"))}
    if condition:
        stmt["Condition"] = condition
    return stmt


def function_policies_sizes(resources: Sequence[Resource]) -> list[Size]:
    by_function: dict[str, list[Resource]] = defaultdict(list)
    for p in of_type(resources, PERMISSION):
        by_function[str(get(p.props, "function") or "")].append(p)
    sizes = []
    for function, perms in by_function.items():
        doc = {"Version": "2012-10-17", "Id": "default", "Statement": [_lambda_statement(p.props) for p in perms]}
        text = compact_json(doc) or ""
        what = f"its resource-based policy ({len(perms)} permissions, estimated as Lambda writes it)"
        sizes.append(Size(LAMBDA_POLICY, f"Lambda function {function!r}", what, len(text.encode()), perms[-1]))
    return sizes

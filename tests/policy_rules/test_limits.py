"""Rules `limit-*` (policy_rules/limits.py): each passes on a resource exactly at its AWS limit and
fails, naming the size and the limit, on one just over it; and each measures what the service
counts (compact JSON for patterns and resource policies, IAM without white space, all inline
policies of a role together, Lambda archives as zipped and uploaded)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import policy_rules as pr
from policy_rules import limits, quotas, sizes
from policy_rules.measure import archive_sizes, iam_chars, json_bytes, json_chars
from policy_rules.model import TABLE, Finding, Props, Resource
from policy_rules.quotas import Limit

ROLE, ROLE_POLICY = sizes.ROLE, sizes.ROLE_POLICY


def pad_to(make: Callable[[str], Any], measure: Callable[[Any], int], n: int) -> Any:
    """`make(pad)` with the pad that makes `measure` exactly n (measures grow one per pad char)."""
    base = measure(make(""))
    assert base <= n, f"the smallest input already measures {base}"
    built = make("a" * (n - base))
    assert measure(built) == n
    return built


def doc(pad: str, *, indent: int | None = 2, action: str = "s3:GetObject") -> str:
    """A policy document as declared (pretty-printed: its white space must not count)."""
    stmt = {"Sid": "Read", "Effect": "Allow", "Action": action, "Resource": f"arn:aws:s3:::bucket/{pad}"}
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]}, indent=indent)


def statements(n: int) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": f"S{i}", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": "*"}
                for i in range(n)
            ],
        }
    )


def dashboard(widgets: list[dict[str, Any]]) -> dict[str, Any]:
    return {"dashboardName": "safetynet-prod", "dashboardBody": json.dumps({"widgets": widgets})}


def metric_widget(n: int) -> dict[str, Any]:
    return {
        "type": "metric",
        "properties": {"title": "t", "metrics": [["NS", "M", "Table", f"t{i}"] for i in range(n)]},
    }


def res(typ: str, name: str, props: dict[str, Any]) -> Resource:
    return Resource(type=typ, name=name, props=props)


# -- resource rules: (type, props) of exactly n -------------------------------------------------------

ResourceCase = tuple[Limit, Callable[[int], tuple[str, Props]]]


def _pattern(n: int) -> tuple[str, Props]:
    make = lambda p: json.dumps({"source": ["aws.dynamodb"], "detail": {"tableName": [{"prefix": p}]}}, indent=2)  # noqa: E731
    return sizes.EVENT_RULE, {"description": "watch", "eventPattern": pad_to(make, json_chars, n)}


def _policy_of(typ: str, measure: Callable[[Any], int]) -> Callable[[int], tuple[str, Props]]:
    return lambda n: (typ, {"name": "p", "policy": pad_to(doc, measure, n)})


def _environment(n: int) -> tuple[str, Props]:
    make = lambda p: {"POWERTOOLS_SERVICE_NAME": "safetynet-classifier", "CONTEXT": p}  # noqa: E731
    return sizes.FUNCTION, {"name": "f", "environment": {"variables": pad_to(make, json_bytes, n)}}


def _tags(n: int) -> dict[str, Any]:
    return {"name": "t", "tags": {f"key-{i}": "v" for i in range(n)} | {"aws:cloudformation:stack-name": "ignored"}}


RESOURCE_CASES: dict[str, ResourceCase] = {
    "limit-eventbridge-pattern-size": (quotas.EVENT_PATTERN, _pattern),
    "limit-eventbridge-target-input": (
        quotas.EVENT_TARGET_INPUT,
        lambda n: (sizes.EVENT_TARGET, {"rule": "watch-table-deleted", "input": "a" * n}),
    ),
    "limit-iam-managed-policy": (quotas.IAM_MANAGED_POLICY, _policy_of(sizes.MANAGED_POLICY, iam_chars)),
    "limit-iam-trust-policy": (
        quotas.IAM_TRUST_POLICY,
        lambda n: (ROLE, {"name": "r", "assumeRolePolicy": pad_to(doc, iam_chars, n)}),
    ),
    "limit-s3-bucket-policy": (quotas.S3_BUCKET_POLICY, _policy_of(sizes.BUCKET_POLICY_TYPE, json_bytes)),
    "limit-kms-key-policy": (quotas.KMS_KEY_POLICY, _policy_of(sizes.KMS_KEY_POLICY_TYPE, json_bytes)),
    "limit-sns-topic-policy": (quotas.SNS_TOPIC_POLICY, _policy_of(sizes.SNS_TOPIC_POLICY_TYPE, json_bytes)),
    "limit-sqs-queue-policy": (quotas.SQS_QUEUE_POLICY, _policy_of(sizes.SQS_QUEUE_POLICY_TYPE, json_bytes)),
    "limit-lambda-environment": (quotas.LAMBDA_ENVIRONMENT, _environment),
    "limit-lambda-layers": (
        quotas.LAMBDA_LAYERS,
        lambda n: (sizes.FUNCTION, {"name": "f", "layers": [f"arn:aws:lambda:r:1:layer:l{i}:1" for i in range(n)]}),
    ),
    "limit-sfn-definition": (
        quotas.SFN_DEFINITION,
        lambda n: (sizes.STATE_MACHINE, {"name": "m", "definition": "a" * n}),
    ),
    "limit-dashboard-widgets": (
        quotas.DASHBOARD_WIDGETS,
        lambda n: (sizes.DASHBOARD, dashboard([{"type": "text", "properties": {"markdown": "x"}}] * n)),
    ),
    "limit-dashboard-alarm-widget": (
        quotas.DASHBOARD_ALARMS,
        lambda n: (
            sizes.DASHBOARD,
            dashboard(
                [{"type": "alarm", "properties": {"title": "Alarms", "alarms": [f"arn:a{i}" for i in range(n)]}}]
            ),
        ),
    ),
    "limit-dashboard-metrics": (
        quotas.DASHBOARD_WIDGET_METRICS,
        lambda n: (sizes.DASHBOARD, dashboard([metric_widget(n)])),
    ),
    "limit-tags": (quotas.TAGS, lambda n: (TABLE, _tags(n))),
}
"""Per resource rule: the limit it checks and a builder of a resource measuring exactly n."""


def run_resource_rule(rule_id: str, typ: str, props: Props) -> list[Finding]:
    rule = pr.RULES_BY_ID[rule_id]
    assert rule.kind == "resource"
    return rule.check(typ, props)


@pytest.mark.parametrize("rule_id", sorted(RESOURCE_CASES))
def test_resource_rule_passes_at_its_limit(rule_id: str) -> None:
    limit, build = RESOURCE_CASES[rule_id]
    assert run_resource_rule(rule_id, *build(limit.value)) == []


@pytest.mark.parametrize("rule_id", sorted(RESOURCE_CASES))
def test_resource_rule_fails_one_over_its_limit(rule_id: str) -> None:
    limit, build = RESOURCE_CASES[rule_id]
    typ, props = build(limit.value + 1)
    (finding,) = run_resource_rule(rule_id, typ, props)
    assert f" is {limit.value + 1:,} {limit.unit}, over the limit of {limit.describe()}" in finding.message
    assert finding.message.startswith(sizes.subject(typ, props))
    assert finding.fix


# -- stack rules: resource lists of exactly n ---------------------------------------------------------

StackCase = tuple[Limit, Callable[[int], list[Resource]]]


def _inline_policies(n: int) -> list[Resource]:
    """One auto-named role with two inline policies, neither alone near the limit."""
    first = doc("b" * 4000)
    second = pad_to(doc, lambda d: iam_chars(d) + iam_chars(first), n)
    return [
        res(ROLE, "task-role", {"assumeRolePolicy": doc("")}),
        res(ROLE_POLICY, "task-policy", {"role": "task-role-1a2b3c4", "policy": first}),
        res(ROLE_POLICY, "task-extra-policy", {"role": "task-role-1a2b3c4", "policy": second}),
    ]


def _bus_policy(n: int) -> list[Resource]:
    make = lambda p: {"eventBusName": "default", "policy": doc(p, action="events:PutEvents")}  # noqa: E731
    return [res(sizes.EVENT_BUS_POLICY_TYPE, "bus-policy", pad_to(make, lambda d: json_chars(d["policy"]), n))]


def _function_policy(n: int) -> list[Resource]:
    def make(pad: str) -> list[Resource]:
        return [
            res(
                sizes.PERMISSION,
                f"invoke-{i}",
                {
                    "function": "watch-classifier-628d2e1",
                    "principal": "events.amazonaws.com",
                    "action": "lambda:InvokeFunction",
                    "statementId": f"rule-{i}",
                    "sourceArn": f"arn:aws:events:eu-central-1:123456789012:rule/watch-{i}{pad if i == 0 else ''}",
                },
            )
            for i in range(40)
        ]

    def measure(rs: list[Resource]) -> int:
        return sum(s.value for s in sizes.function_policies_sizes(rs))

    built: list[Resource] = pad_to(make, measure, n)
    return built


def _schedules(n: int) -> list[Resource]:
    # Ten million schedules: one resource listed n times (the count is all the rule reads).
    return [res(sizes.SCHEDULE, "export", {})] * n


STACK_CASES: dict[str, StackCase] = {
    "limit-eventbridge-rules-per-bus": (
        quotas.EVENT_RULES_PER_BUS,
        lambda n: [res(sizes.EVENT_RULE, f"r{i}", {"eventPattern": '{"source": ["aws.s3"]}'}) for i in range(n)],
    ),
    "limit-eventbridge-wildcard-rules": (
        quotas.EVENT_WILDCARD_RULES,
        lambda n: [
            res(sizes.EVENT_RULE, f"r{i}", {"eventPattern": json.dumps({"detail": {"key": [{"wildcard": f"{i}/*"}]}})})
            for i in range(n)
        ],
    ),
    "limit-eventbridge-targets-per-rule": (
        quotas.EVENT_TARGETS,
        lambda n: [
            res(sizes.EVENT_TARGET, f"t{i}", {"rule": "watch-table-deleted", "arn": f"arn:{i}"}) for i in range(n)
        ],
    ),
    "limit-eventbridge-bus-policy": (quotas.EVENT_BUS_POLICY, _bus_policy),
    "limit-iam-role-inline-policies": (quotas.IAM_ROLE_INLINE, _inline_policies),
    "limit-iam-roles": (quotas.IAM_ROLES, lambda n: [res(ROLE, f"role-{i}", {}) for i in range(n)]),
    "limit-lambda-resource-policy": (quotas.LAMBDA_POLICY, _function_policy),
    "limit-dynamodb-tables": (
        quotas.DYNAMODB_TABLES,
        lambda n: [res(TABLE, f"t{i}", {"name": f"t{i}"}) for i in range(n)],
    ),
    "limit-scheduler-schedules": (quotas.SCHEDULES, _schedules),
}
"""Per stack rule (but the Lambda code sizes, below): the limit and a builder of resources measuring n."""


def run_stack_rule(rule_id: str, resources: Sequence[Resource]) -> list[Finding]:
    rule = pr.RULES_BY_ID[rule_id]
    assert rule.kind == "stack"
    return rule.check(resources)


@pytest.mark.parametrize("rule_id", sorted(STACK_CASES))
def test_stack_rule_passes_at_its_limit(rule_id: str) -> None:
    limit, build = STACK_CASES[rule_id]
    assert run_stack_rule(rule_id, build(limit.value)) == []


@pytest.mark.parametrize("rule_id", sorted(STACK_CASES))
def test_stack_rule_fails_one_over_its_limit(rule_id: str) -> None:
    limit, build = STACK_CASES[rule_id]
    (finding,) = run_stack_rule(rule_id, build(limit.value + 1))
    assert f" is {limit.value + 1:,} {limit.unit}, over the limit of {limit.describe()}" in finding.message
    assert finding.fix


def test_every_limit_rule_has_an_at_and_over_case_and_a_measure() -> None:
    limit_rules = {r.id for r in pr.RULES if r.id.startswith("limit-")}
    code_size_rules = {"limit-lambda-code-zipped", "limit-lambda-code-unzipped"}  # below, with real archives
    assert set(RESOURCE_CASES) | set(STACK_CASES) | code_size_rules == limit_rules
    assert {pr.RULES_BY_ID[i].check for i in limit_rules} == set(limits.MEASURES)


# -- the second limit of two-limit rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_id", "typ", "limit"),
    [
        ("limit-sns-topic-policy", sizes.SNS_TOPIC_POLICY_TYPE, quotas.SNS_POLICY_STATEMENTS),
        ("limit-sqs-queue-policy", sizes.SQS_QUEUE_POLICY_TYPE, quotas.SQS_POLICY_STATEMENTS),
    ],
)
def test_policy_statement_counts(rule_id: str, typ: str, limit: Limit) -> None:
    assert run_resource_rule(rule_id, typ, {"policy": statements(limit.value)}) == []
    (finding,) = run_resource_rule(rule_id, typ, {"policy": statements(limit.value + 1)})
    assert f"is {limit.value + 1:,} statements, over the limit of {limit.value:,}" in finding.message


def test_dashboard_metrics_count_the_whole_dashboard() -> None:
    # Six widgets of 400 and one of 100 metrics: each widget fits, the dashboard has 2,500; one more is over.
    at = dashboard([metric_widget(400)] * 6 + [metric_widget(100)])
    assert run_resource_rule("limit-dashboard-metrics", sizes.DASHBOARD, at) == []
    over = dashboard([metric_widget(400)] * 6 + [metric_widget(101)])
    (finding,) = run_resource_rule("limit-dashboard-metrics", sizes.DASHBOARD, over)
    assert "all its metric widgets is 2,501 metrics, over the limit of 2,500" in finding.message


@pytest.mark.parametrize(
    ("limit", "key", "value"), [(quotas.TAG_KEY, "k" * 129, "v"), (quotas.TAG_VALUE, "k", "v" * 257)]
)
def test_tag_key_and_value_lengths(limit: Limit, key: str, value: str) -> None:
    assert run_resource_rule("limit-tags", TABLE, {"tags": {key[:-1]: value[:-1] or "v"}}) == []
    (finding,) = run_resource_rule("limit-tags", TABLE, {"tags": {key: value}})
    assert f"is {limit.value + 1} characters, over the limit of {limit.value}" in finding.message


def test_schedule_groups_are_counted() -> None:
    groups = [res(sizes.SCHEDULE_GROUP, f"g{i}", {}) for i in range(quotas.SCHEDULE_GROUPS.value + 1)]
    (finding,) = run_stack_rule("limit-scheduler-schedules", groups)
    assert "its schedule groups is 501 schedule groups, over the limit of 500" in finding.message
    assert run_stack_rule("limit-scheduler-schedules", groups[:-1]) == []


# -- what each service counts ----------------------------------------------------------------------------


def test_the_pattern_is_measured_as_the_provider_sends_it_compact() -> None:
    # Declared with indentation it is far longer than 2,048; the provider re-serializes it compactly.
    typ, props = _pattern(quotas.EVENT_PATTERN.value)
    assert len(props["eventPattern"]) > quotas.EVENT_PATTERN.value
    assert limits.eventbridge_pattern_size(typ, props) == []


def test_iam_does_not_count_white_space() -> None:
    pretty = pad_to(doc, iam_chars, quotas.IAM_MANAGED_POLICY.value)
    assert len(pretty) > quotas.IAM_MANAGED_POLICY.value
    assert limits.iam_managed_policy(sizes.MANAGED_POLICY, {"policy": pretty}) == []


def test_resource_policies_count_utf8_bytes() -> None:
    # Two two-byte characters: at 20,480 bytes the policy has 20,478 characters and fits; one byte
    # more is over, though its 20,479 characters would fit a count of characters.
    make = lambda p: doc("éé" + p)  # noqa: E731
    limit = quotas.S3_BUCKET_POLICY.value
    at, over = pad_to(make, json_bytes, limit), pad_to(make, json_bytes, limit + 1)
    assert (json_chars(at), json_chars(over)) == (limit - 2, limit - 1)
    assert limits.s3_bucket_policy(sizes.BUCKET_POLICY_TYPE, {"policy": at}) == []
    assert len(limits.s3_bucket_policy(sizes.BUCKET_POLICY_TYPE, {"policy": over})) == 1


def test_the_lambda_environment_is_measured_as_compact_json_with_the_names() -> None:
    # Lambda's error shows what it measures: `String measured: {"KEY":"value",...}`.
    assert sizes.environment_sizes(sizes.FUNCTION, {"environment": {"variables": {"A": "b", "CD": "é"}}})[
        0
    ].value == len('{"A":"b","CD":"é"}'.encode())


def test_two_inline_policies_of_one_role_over_together_each_under_alone() -> None:
    resources = _inline_policies(quotas.IAM_ROLE_INLINE.value + 1)
    policies = [r for r in resources if r.type == ROLE_POLICY]
    assert all(iam_chars(p.props["policy"]) < quotas.IAM_ROLE_INLINE.value for p in policies)
    (finding,) = limits.iam_role_inline_policies(resources)
    assert finding.resource is resources[0], "reported on the role the policies belong to"
    assert finding.message.startswith("IAM role 'task-role-1a2b3c4': its 2 inline policies together is 10,241")
    # The same two policies on two roles: each role is far under the limit.
    policies[1].props = {**policies[1].props, "role": "other-role-7e8f9a0"}
    assert limits.iam_role_inline_policies(resources) == []


def test_a_roles_own_inline_policies_count_with_its_role_policies() -> None:
    resources = _inline_policies(quotas.IAM_ROLE_INLINE.value - 100)
    assert limits.iam_role_inline_policies(resources) == []
    resources[0].props = {**resources[0].props, "inlinePolicies": [{"name": "more", "policy": doc("c" * 150)}]}
    (finding,) = limits.iam_role_inline_policies(resources)
    assert "its 3 inline policies together" in finding.message


def test_an_event_permission_adds_its_statement_to_the_bus_policy() -> None:
    props = {"principal": "222222222222", "statementId": "prod-exports", "action": "events:PutEvents"}
    (size,) = sizes.bus_policies_sizes([res(sizes.EVENT_PERMISSION, "p", props)])
    expected = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "prod-exports",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                "Action": "events:PutEvents",
                "Resource": "arn:aws:events:xx-xxxxxxxxx-1:123456789012:event-bus/default",
            }
        ],
    }
    assert size.value == json_chars(expected)


def test_only_wildcard_filters_count_as_wildcard_rules() -> None:
    prefix = [res(sizes.EVENT_RULE, f"r{i}", {"eventPattern": '{"k": [{"prefix": "a"}]}'}) for i in range(31)]
    assert limits.eventbridge_wildcard_rules(prefix) == []


def test_rules_are_counted_per_event_bus() -> None:
    per_bus = quotas.EVENT_RULES_PER_BUS.value
    rules = [res(sizes.EVENT_RULE, f"a{i}", {}) for i in range(per_bus)]
    rules += [res(sizes.EVENT_RULE, f"b{i}", {"eventBusName": "staging"}) for i in range(per_bus)]
    assert limits.eventbridge_rules_per_bus(rules) == []


def test_aws_reserved_tags_are_not_counted() -> None:
    typ, props = TABLE, _tags(quotas.TAGS.value)
    assert len(props["tags"]) == quotas.TAGS.value + 1
    assert limits.resource_tags(typ, props) == []


# -- Lambda code sizes, from real archives ------------------------------------------------------------------


def stored_zip(path: Path, size: int) -> Path:
    """A zip whose one member, stored uncompressed, makes the archive estimate exactly `size`."""
    name = "big.bin"
    data_size = size - archive_sizes({"path": str(_empty_zip(path.parent / "empty.zip", name))}).zipped
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z, z.open(name, "w", force_zip64=True) as f:
        for chunk in range(0, data_size, 1 << 20):
            f.write(b"\0" * min(1 << 20, data_size - chunk))
    assert archive_sizes({"path": str(path)}).zipped == size
    return path


def _empty_zip(path: Path, name: str) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(name, b"")
    return path


@pytest.mark.parametrize(("over", "found"), [(0, 0), (1, 1)])
def test_a_function_archive_over_the_direct_upload_size_fails(tmp_path: Path, over: int, found: int) -> None:
    archive = stored_zip(tmp_path / "code.zip", quotas.LAMBDA_ZIPPED.value + over)
    findings = limits.lambda_code_zipped(sizes.FUNCTION, {"name": "f", "code": {"path": str(archive)}})
    assert len(findings) == found
    if found:
        assert "is 52,428,801 bytes, over the limit of 52,428,800 bytes" in findings[0].message


@pytest.fixture(scope="module")
def big_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layer archive of 200 MiB of zeros (deflated to a few hundred KB)."""
    path = tmp_path_factory.mktemp("layer") / "layer.zip"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z,
        z.open("python/zeros.bin", "w", force_zip64=True) as f,
    ):
        for _ in range(200):
            f.write(b"\0" * (1 << 20))
    return path


def _function_with_layer(layer_zip: Path, total: int) -> list[Resource]:
    layer_bytes = archive_sizes({"path": str(layer_zip)}).unzipped
    code = {"archive": {"handlers/context.json": {"text": "a" * (total - layer_bytes)}}}
    layer = res(
        sizes.LAYER, "lambda-deps", {"layerName": "safetynet-prod-lambda-deps", "code": {"path": str(layer_zip)}}
    )
    arns = [
        "arn:aws:lambda:eu-central-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27",
        "arn:aws:lambda:eu-central-1:123456789012:layer:safetynet-prod-lambda-deps:3",
    ]
    return [layer, res(sizes.FUNCTION, "classifier", {"name": "classifier", "code": code, "layers": arns})]


@pytest.mark.parametrize(("over", "found"), [(0, 0), (1, 1)])
def test_code_and_declared_layers_over_the_unzipped_size_fail(big_layer: Path, over: int, found: int) -> None:
    resources = _function_with_layer(big_layer, quotas.LAMBDA_UNZIPPED.value + over)
    findings = limits.lambda_code_unzipped(resources)
    assert len(findings) == found
    if found:
        assert findings[0].resource is resources[1]
        assert "its 1 declared layer(s) (1 layer(s) from outside the stack not counted)" in findings[0].message
        assert "is 262,144,001 bytes, over the limit of 262,144,000 bytes" in findings[0].message


def test_the_zip_estimate_is_close_to_a_real_zip(tmp_path: Path) -> None:
    # Given a folder of code-like files; When Python zips it at deflate level 6 (as Go's default)
    src = tmp_path / "src"
    for i in range(30):
        (src / f"pkg{i % 3}").mkdir(parents=True, exist_ok=True)
        (src / f"pkg{i % 3}" / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n" * (50 + i))
    real = tmp_path / "real.zip"
    with zipfile.ZipFile(real, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for p in sorted(src.rglob("*.py")):
            z.write(p, p.relative_to(src).as_posix())
    # Then the estimate is that zip plus a 16-byte data descriptor per file (Go's zip writer, which
    # Pulumi uses, streams each entry and writes one; Python's seeks back instead), within 1%,
    # and the unzipped size is exact
    estimate = archive_sizes({"path": str(src)})
    expected = real.stat().st_size + 16 * 30
    assert abs(estimate.zipped - expected) / expected < 0.01
    assert estimate.unzipped == sum(p.stat().st_size for p in src.rglob("*.py"))
    assert estimate.files == 30


def test_archives_are_read_in_the_engines_shape_too(tmp_path: Path) -> None:
    # The pack sees pulumi assets, not the synth's records.
    import pulumi

    (tmp_path / "a.py").write_text("x = 1\n")
    engine = pulumi.AssetArchive(
        {"handlers/a.py": pulumi.FileAsset(str(tmp_path / "a.py")), "handlers/c.json": pulumi.StringAsset("{}")}
    )
    record = {"archive": {"handlers/a.py": {"path": str(tmp_path / "a.py")}, "handlers/c.json": {"text": "{}"}}}
    assert archive_sizes(engine) == archive_sizes(record)
    assert archive_sizes(engine).unzipped == 8


def test_unreadable_archives_are_named_not_guessed() -> None:
    size = archive_sizes({"archive": {"x.py": {"path": "/nonexistent/x.py"}}})
    assert size.files == 0 and size.unmeasured == ("x.py (/nonexistent/x.py)",)


class UnknownValueError(Exception):
    """Named like the policy SDK's: what its proxies raise on reading a value unknown in a preview."""


class PreviewProps(dict[str, Any]):
    """Inputs of a resource during a preview, its `rule` not known yet."""

    def __getitem__(self, key: str) -> Any:
        if key == "rule":
            raise UnknownValueError(key)
        return super().__getitem__(key)


def test_a_name_unknown_in_a_preview_does_not_stop_the_check() -> None:
    props = PreviewProps(rule="?", input="a" * (quotas.EVENT_TARGET_INPUT.value + 1), arn="arn:aws:states:x")
    (finding,) = limits.eventbridge_target_input(sizes.EVENT_TARGET, props)
    assert finding.message.startswith("EventBridge target 'arn:aws:states:x': input is 8,193 characters")

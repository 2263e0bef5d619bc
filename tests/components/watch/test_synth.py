"""DisasterWatch as the program declares it (offline synth of the prod stack), its IAM linted,
its state machine validated, its dashboard and alarms checked."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.common.lambda_package import archive_files, handler_files
from components.watch.patterns import RULE_NAMES
from components.watch.state_machine import FILE_CONCURRENCY, drill_definition
from conventions.watch import WatchContext
from handlers.watch import entrypoints as watch_lambdas
from handlers.watch.drill_files import run_folder
from tests.support.iam_lint import assert_clean
from tests.support.stacks import PROJECT_DIR, synth_stack

WATCH = "safetynet:watch:DisasterWatch::watch"
# DisasterWatch declares nothing in AWS itself: its parts do (components/watch/component.py).
PARTS = ["AlertTopic", "AlertRouting", "ExportFreshness", "RestoreDrill", "WatchDashboard"]


# 40 tables with long names: what no longer fits in a Lambda environment, patterns or policies.
MANY_TABLES = [
    {"name": f"a-rather-long-table-name-number-{i:02d}", "hashKey": {"name": "id", "type": "S"}} for i in range(40)
]


@pytest.fixture(scope="module")
def many_tables() -> Any:
    return synth_stack("prod", config_overrides={"tables": MANY_TABLES, "alerts": ALERTS})


ALERTS = {
    "deployPrincipals": ["arn:aws:iam::123456789012:role/ci-deploy"],
    "email": ["oncall@example.com"],
    "https": ["https://hooks.example.com/safetynet"],
    "createTrail": True,
}


@pytest.fixture(scope="module")
def prod() -> Any:
    return synth_stack("prod", config_overrides={"alerts": ALERTS})


def _children(result: Any, typ: str) -> list[dict[str, Any]]:
    """The resources of type `typ` that the DisasterWatch declares (through its parts)."""
    parts = {f"{r['type']}::{r['name']}" for r in result.resources if r["parent"] == WATCH}
    return [r for r in result.of_type(typ) if r["parent"] in parts]


def test_prod_has_one_disaster_watch(prod: Any) -> None:
    assert len(prod.of_type("safetynet:watch:DisasterWatch")) == 1
    assert set(prod.outputs["watch"]) == {"topicArn", "drillStateMachineArn", "dashboardName", "alarmPrefix"}


def test_disaster_watch_is_composed_of_its_parts(prod: Any, prod_synth: Any) -> None:
    def parts(result: Any) -> list[tuple[str, str, bool]]:
        return sorted((r["type"], r["name"], r["custom"]) for r in result.resources if r["parent"] == WATCH)

    # Each part takes the DisasterWatch's name (its children keep theirs); the trail only on request
    assert parts(prod_synth) == sorted((f"safetynet:watch:{p}", "watch", False) for p in PARTS)
    assert parts(prod) == sorted((f"safetynet:watch:{p}", "watch", False) for p in [*PARTS, "AuditTrail"])
    # What the parts declare keeps the URN it had as the DisasterWatch's own child (tests/stacks/
    # test_upgrade.py checks the shipped stacks; this config adds the trail and subscriptions).
    moved = [r for r in prod.resources if r["custom"] and (r["parent"] or "").startswith("safetynet:watch:")]
    assert {r["parent"] for r in moved} == {f"safetynet:watch:{p}::watch" for p in [*PARTS, "AuditTrail"]}
    for r in moved:
        old_urn = f"urn:pulumi:prod::safetynet::safetynet:watch:DisasterWatch${r['type']}::{r['name']}"
        assert old_urn in r["options"]["aliases"], r["urn"]


def test_other_environments_have_none() -> None:
    dev = synth_stack("prod", config_overrides={"environment": "dev"})
    assert dev.of_type("safetynet:watch:DisasterWatch") == []
    assert "watch" not in dev.outputs


def test_one_rule_per_danger_naming_only_the_vault(prod: Any) -> None:
    rules = {
        r["name"]: r for r in _children(prod, "aws:cloudwatch/eventRule:EventRule") if "eventPattern" in r["inputs"]
    }
    assert sorted(rules) == sorted(f"watch-{n}" for n in RULE_NAMES)
    deleted = json.loads(rules["watch-table-deleted"]["inputs"]["eventPattern"])
    assert deleted["detail"] == {"eventSource": ["dynamodb.amazonaws.com"], "eventName": ["DeleteTable"]}
    vault = json.loads(rules["watch-vault-changed"]["inputs"]["eventPattern"])
    assert vault["detail"]["requestParameters"]["bucketName"] == [prod.outputs["vaultBucketName"]]
    key = json.loads(rules["watch-vault-key-disabled"]["inputs"]["eventPattern"])
    assert prod.outputs["kmsKeyArn"] in key["detail"]["requestParameters"]["keyId"]
    every = " ".join(r["inputs"]["eventPattern"] for r in rules.values())
    assert not any(t["arn"] in every or name in every for name, t in prod.outputs["tables"].items())
    # A pattern widened to every table takes effect only once the classifier that keeps the
    # stack's own is deployed
    assert all("watch-classifier" in r["options"]["dependsOn"] for r in rules.values())


def test_the_context_names_each_tables_export_and_drill_schedule(prod: Any) -> None:
    # The schedule rules match DeleteSchedule/UpdateSchedule by name; the classifier keeps the
    # stack's schedules, which its context names.
    [fn] = [f for f in _children(prod, "aws:lambda/function:Function") if f["name"] == "watch-classifier"]
    ctx = WatchContext.from_json(fn["inputs"]["code"]["archive"]["handlers/watch/watch_context.json"]["text"])
    export_names = {n: t["exportScheduleArn"].rsplit("/", 1)[-1] for n, t in prod.outputs["tables"].items()}
    assert {t.name: t.schedule_name for t in ctx.tables} == export_names
    # The drill schedules are auto-named by the provider from their resource names
    assert {t.name: (t.drill_schedule_name or "").rsplit("-", 1)[0] for t in ctx.tables} == {
        n: f"watch-drill-{n}" for n in export_names
    }
    assert ctx.stack_tag == "safetynet/prod"


def test_every_rule_targets_the_classifier_with_retries_and_dead_letter(prod: Any) -> None:
    targets = [
        t
        for t in _children(prod, "aws:cloudwatch/eventTarget:EventTarget")
        if t["name"] != "watch-freshness-schedule-target"
    ]
    classifier = prod.one("aws:lambda/function:Function", "watch-classifier")
    assert len(targets) == len(RULE_NAMES)
    for t in targets:
        assert t["inputs"]["arn"].endswith(":watch-classifier")
        assert t["inputs"]["retryPolicy"] == {"maximumRetryAttempts": 185, "maximumEventAgeInSeconds": 86400}
        assert ":watch-undelivered" in t["inputs"]["deadLetterConfig"]["arn"]
    assert classifier["inputs"]["handler"] == "handlers.watch.entrypoints.classify_handler"
    perms = [p for p in _children(prod, "aws:lambda/permission:Permission") if p["name"].endswith("-invoke")]
    assert all(p["inputs"]["principal"] == "events.amazonaws.com" and p["inputs"]["sourceArn"] for p in perms)


def test_failed_classifications_go_to_the_dead_letter_queue(prod: Any) -> None:
    cfg = prod.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")["inputs"]
    assert cfg["maximumRetryAttempts"] == 2
    assert ":watch-undelivered" in cfg["destinationConfig"]["onFailure"]["destination"]
    policy = json.loads(prod.one("aws:iam/rolePolicy:RolePolicy", "watch-classifier-policy")["inputs"]["policy"])
    [dead_letter] = [s for s in policy["Statement"] if s["Sid"] == "DeadLetterFailedEvents"]
    assert dead_letter["Resource"] == [cfg["destinationConfig"]["onFailure"]["destination"]]


def test_topic_is_encrypted_and_subscribed_from_config(prod: Any) -> None:
    topic = prod.one("aws:sns/topic:Topic", "watch-alerts")
    assert topic["inputs"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    subs = {
        (s["inputs"]["protocol"], s["inputs"]["endpoint"])
        for s in _children(prod, "aws:sns/topicSubscription:TopicSubscription")
    }
    assert subs == {("email", "oncall@example.com"), ("https", "https://hooks.example.com/safetynet")}


def test_lambda_handlers_exist_and_read_their_context(prod: Any) -> None:
    fns = _children(prod, "aws:lambda/function:Function")
    assert {f["name"] for f in fns} == {
        "watch-classifier",
        "watch-freshness",
        "watch-drill-prepare",
        "watch-drill-validate-file",
        "watch-drill-verify",
    }
    for f in fns:
        module, func = f["inputs"]["handler"].rsplit(".", 1)
        assert module == "handlers.watch.entrypoints" and callable(getattr(watch_lambdas, func))
        ctx = WatchContext.from_json(f["inputs"]["code"]["archive"]["handlers/watch/watch_context.json"]["text"])
        assert [t.name for t in ctx.tables] == ["orders", "customers", "inventory"]
        assert (ctx.stack_tag, ctx.coverage_exclude) == ("safetynet/prod", [])
        assert ctx.deploy_principals == ["arn:aws:iam::123456789012:role/ci-deploy"]
        assert ctx.schedule_hours + ctx.freshness_grace_hours == 30
        assert f["inputs"]["layers"][0].startswith("arn:aws:lambda:eu-central-1:017000801446:layer:AWSLambdaPowertools")
        # The Lambda environment is limited to 4 KB in total.
        assert len(json.dumps(f["inputs"]["environment"]["variables"])) < 4096


def test_lambda_package_holds_every_handler_module() -> None:
    names = {p.relative_to(PROJECT_DIR / "handlers").as_posix() for p in handler_files()}
    assert {
        "watch/entrypoints.py",
        "watch/classifier.py",
        "watch/drill.py",
        "watch/freshness.py",
        "exports/__init__.py",
        "staging/entrypoints.py",
        "__init__.py",
    } <= names
    assert all(p.suffix == ".py" for p in handler_files())


def test_alarms_per_table_with_configured_limits(prod: Any) -> None:
    alarms = {a["inputs"]["name"]: a["inputs"] for a in _children(prod, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    stale = alarms["safetynet-prod-orders-export-stale"]
    assert (stale["metricName"], stale["threshold"], stale["treatMissingData"]) == (
        "ExportAgeHours",
        30,
        "breaching",
    )
    assert alarms["safetynet-prod-orders-items-dropped"]["threshold"] == 0.2
    assert alarms["safetynet-prod-orders-export-failed"]["metricName"] == "ExportFailed"
    restore = alarms["safetynet-prod-orders-restore-unverified"]
    assert (restore["metricName"], restore["threshold"]) == ("LastVerifiedRestoreAgeHours", 8 * 24)
    assert len([n for n in alarms if n.startswith("safetynet-prod-orders-")]) == 5
    assert {
        "safetynet-prod-alerts-undelivered",
        "safetynet-prod-classifier-errors",
        "safetynet-prod-unprotected-tables",
    } <= set(alarms)
    assert len(alarms) == 3 * 5 + 3
    topic = prod.outputs["watch"]["topicArn"]
    assert all(a["alarmActions"] == [topic] for a in alarms.values())


def test_drill_schedules_start_the_state_machine_weekly(prod: Any) -> None:
    schedules = _children(prod, "aws:scheduler/schedule:Schedule")
    assert [json.loads(s["inputs"]["target"]["input"]) for s in schedules] == [
        {"table": "customers"},
        {"table": "inventory"},
        {"table": "orders"},
    ]
    assert all(s["inputs"]["scheduleExpression"] == "cron(0 5 ? * SUN *)" for s in schedules)
    assert all(s["inputs"]["target"]["arn"] == prod.outputs["watch"]["drillStateMachineArn"] for s in schedules)


def test_trail_is_declared_only_on_request(prod: Any, prod_synth: Any) -> None:
    trail = prod.one("aws:cloudtrail/trail:Trail")
    assert trail["inputs"]["isMultiRegionTrail"] and trail["inputs"]["enableLogFileValidation"]
    assert prod_synth.of_type("aws:cloudtrail/trail:Trail") == []


def test_dashboard_shows_the_stack_wide_alarms_and_numbers(prod: Any) -> None:
    body = json.loads(prod.one("aws:cloudwatch/dashboard:Dashboard")["inputs"]["dashboardBody"])
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    alarms = {a["inputs"]["name"]: a for a in _children(prod, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    names = [n for n in alarms if not n.startswith(("safetynet-prod-orders", "safetynet-prod-customers"))]
    assert sorted(n for n in names if not n.startswith("safetynet-prod-inventory")) == [
        "safetynet-prod-alerts-undelivered",
        "safetynet-prod-classifier-errors",
        "safetynet-prod-unprotected-tables",
    ]
    assert len(alarm_widget["properties"]["alarms"]) == 3
    assert len(body["widgets"]) == 8


def test_the_dashboard_is_the_same_for_3_tables_or_40(prod: Any, many_tables: Any) -> None:
    def body(result: Any) -> str:
        return str(result.one("aws:cloudwatch/dashboard:Dashboard")["inputs"]["dashboardBody"])

    assert body(many_tables) == body(prod)


# -- IAM ----------------------------------------------------------------------------------------


def test_every_watch_role_policy_is_least_privilege(prod: Any) -> None:
    policies = _children(prod, "aws:iam/rolePolicy:RolePolicy")
    assert len(policies) == 5
    for p in policies:
        doc = json.loads(p["inputs"]["policy"])
        assert_clean(doc)
        for stmt in doc["Statement"]:
            if stmt["Resource"] == "*":
                # Only actions IAM cannot scope to a resource; metrics are scoped by namespace.
                assert stmt["Action"] in (
                    ["cloudwatch:PutMetricData"],
                    ["dynamodb:ListTables"],
                    ["logs:DescribeLogGroups"],
                ), stmt
                if stmt["Action"] == ["cloudwatch:PutMetricData"]:
                    assert stmt["Condition"] == {"StringEquals": {"cloudwatch:namespace": "safetynet"}}


def test_resource_policies_are_clean(prod: Any) -> None:
    assert_clean(
        json.loads(prod.one("aws:sqs/queuePolicy:QueuePolicy", "watch-undelivered-policy")["inputs"]["policy"]),
        resource_policy=True,
    )
    assert_clean(
        json.loads(prod.one("aws:s3/bucketPolicy:BucketPolicy", "watch-trail-bucket-policy")["inputs"]["policy"]),
        resource_policy=True,
    )


def _statements(prod: Any, policy: str) -> list[dict[str, Any]]:
    doc = json.loads(prod.one("aws:iam/rolePolicy:RolePolicy", policy)["inputs"]["policy"])
    return list(doc["Statement"])


def _allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    return any(
        action in s["Action"] and any(fnmatch.fnmatchcase(resource, r) for r in s["Resource"]) for s in statements
    )


def test_drill_machine_runs_only_its_own_map_children_and_reads_only_export_manifests(prod: Any) -> None:
    stmts = _statements(prod, "watch-drill-sfn-policy")
    machine = prod.outputs["watch"]["drillStateMachineArn"]
    assert machine == "arn:aws:states:eu-central-1:123456789012:stateMachine:safetynet-prod-drill"
    execution = machine.replace(":stateMachine:", ":execution:")
    # The Distributed Map starts, describes and stops children of this machine only
    states = [s for s in stmts if any(a.startswith("states:") for a in s["Action"])]
    assert {a: s["Resource"] for s in states for a in s["Action"]} == {
        "states:StartExecution": [machine],
        "states:DescribeExecution": [f"{execution}/*", f"{execution.replace(':execution:', ':express:')}:*:*"],
        "states:StopExecution": [f"{execution}/*", f"{execution.replace(':execution:', ':express:')}:*:*"],
    }
    assert _allows(stmts, "states:DescribeExecution", f"{execution}/ValidateFiles:0f1e2d3c")
    assert not _allows(stmts, "states:StartExecution", machine.replace("-drill", "-staging"))
    # Its ItemReader may read every table's manifest-files.json, and nothing outside the exports
    bucket = f"arn:aws:s3:::{prod.outputs['vaultBucketName']}"
    for table in ("orders", "customers", "inventory"):
        manifest = f"{bucket}/exports/{table}/AWSDynamoDB/01795762800000-abc/manifest-files.json"
        assert _allows(stmts, "s3:GetObject", manifest)
    assert not _allows(stmts, "s3:GetObject", f"{bucket}/drills/orders/latest.json")
    # And it invokes exactly the drill's three tasks
    [invoke] = [s for s in stmts if s["Action"] == ["lambda:InvokeFunction"]]
    assert [arn.rsplit(":", 1)[-1].rsplit("-", 1)[0] for arn in invoke["Resource"]] == [
        "watch-drill-prepare",
        "watch-drill-validate-file",
        "watch-drill-verify",
    ]


def test_map_children_may_record_rejected_files_only_under_their_tables_drill_folder(prod: Any) -> None:
    stmts = _statements(prod, "watch-drill-task-policy")
    bucket = f"arn:aws:s3:::{prod.outputs['vaultBucketName']}"
    folder = run_folder("orders", "safetynet-drill-orders-01795762800000-abc-20261127T120000")
    assert _allows(stmts, "s3:PutObject", f"{bucket}/{folder}0123abcd.json")
    assert not _allows(stmts, "s3:PutObject", f"{bucket}/exports/orders/AWSDynamoDB/x/manifest-files.json")
    [listing] = [s for s in stmts if s["Action"] == ["s3:ListBucket"]]
    assert any(fnmatch.fnmatchcase(folder, p) for p in listing["Condition"]["StringLike"]["s3:prefix"])


# -- the state machine --------------------------------------------------------------------------

DEF = drill_definition(
    prepare_arn="arn:aws:lambda:eu-central-1:123456789012:function:prepare",
    validate_file_arn="arn:aws:lambda:eu-central-1:123456789012:function:validate-file",
    verify_arn="arn:aws:lambda:eu-central-1:123456789012:function:verify",
)


def test_definition_is_valid_asl() -> None:
    validator = PROJECT_DIR / "node_modules" / ".bin" / "asl-validator"
    if not validator.exists():
        pytest.fail("asl-validator missing: run `make setup` (npm ci)")
    out = subprocess.run(
        [str(validator), "--json-definition", json.dumps(DEF)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _reachable(start: str, states: dict[str, Any]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        s = todo.pop()
        if s in seen:
            continue
        seen.add(s)
        st = states[s]
        todo += [n for n in [st.get("Next"), st.get("Default")] if n]
        todo += [c["Next"] for c in st.get("Catch", []) + st.get("Choices", [])]
    return seen


def test_waiting_for_the_import_happens_in_the_state_machine() -> None:
    states = DEF["States"]
    assert states["WaitForImport"]["Type"] == "Wait"
    assert states["DescribeImport"]["Resource"] == "arn:aws:states:::aws-sdk:dynamodb:describeImport"
    loop = states["ImportDone?"]["Choices"][0]
    assert loop["Next"] == "WaitForImport"


def test_every_path_after_the_import_starts_deletes_the_scratch_table() -> None:
    states = DEF["States"]
    for start in ("StartImport", "DescribeImport", "Verify"):
        for catch in states[start].get("Catch", []):
            assert "DeleteScratchTable" in _reachable(catch["Next"], states)
    assert "DeleteScratchTable" in _reachable("StartImport", states)
    # A failed Prepare or data file check never created a table: it records the failure and fails.
    for start in ("Prepare", "ValidateFiles"):
        assert _reachable(states[start]["Catch"][0]["Next"], states) == {"RecordPrepareFailure", "DrillFailed"}


def test_validate_files_checks_each_data_file_in_its_own_child() -> None:
    vf = DEF["States"]["ValidateFiles"]
    assert DEF["States"]["Unwrap"]["Next"] == "ValidateFiles" and vf["Next"] == "StartImport"
    assert (vf["Type"], vf["ItemProcessor"]["ProcessorConfig"]["Mode"]) == ("Map", "DISTRIBUTED")
    # manifest-files.json is read by Step Functions from S3, one JSON line per child
    assert vf["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSONL"},
        "Parameters": {"Bucket.$": "$.prepare.manifestFiles.bucket", "Key.$": "$.prepare.manifestFiles.key"},
    }
    assert vf["ItemSelector"] == {"table.$": "$.table", "plan.$": "$.prepare", "file.$": "$$.Map.Item.Value"}
    # One damaged file fails the drill; children run in bounded numbers; no results pile up in the state
    assert vf["ToleratedFailurePercentage"] == 0 and vf["MaxConcurrency"] == FILE_CONCURRENCY
    assert vf["ResultPath"] is None
    [child] = vf["ItemProcessor"]["States"].values()
    assert child["Parameters"] == {
        "FunctionName": "arn:aws:lambda:eu-central-1:123456789012:function:validate-file",
        "Payload.$": "$",
    }


def test_outcome_fails_the_execution_when_the_drill_failed() -> None:
    outcome = DEF["States"]["Outcome"]
    assert outcome["Choices"] == [{"Variable": "$.result.value.ok", "BooleanEquals": True, "Next": "DrillPassed"}]
    assert outcome["Default"] == "DrillFailed" and DEF["States"]["DrillFailed"]["Type"] == "Fail"


def test_handler_package_has_no_pulumi_import() -> None:
    for path in archive_files().values():
        text = Path(path).read_text()
        assert "import pulumi" not in text and "from pulumi" not in text, path


def test_many_tables_ship_their_context_with_the_code_not_in_the_environment(many_tables: Any) -> None:
    # 40 tables: a context of ~20 KB, far past Lambda's 4 KB environment.
    for f in many_tables.of_type("aws:lambda/function:Function"):
        if not f["name"].startswith("watch-"):
            continue  # the chain task ships its own context (handlers/backup/chain_context.json)
        doc = f["inputs"]["code"]["archive"]["handlers/watch/watch_context.json"]["text"]
        assert len(doc) > 4096
        assert [t.name for t in WatchContext.from_json(doc).tables] == [t["name"] for t in MANY_TABLES]
        assert len(json.dumps(f["inputs"]["environment"]["variables"])) < 4096


def test_patterns_and_policies_do_not_grow_with_the_tables(prod: Any, many_tables: Any) -> None:
    def sizes(result: Any) -> dict[str, int]:
        rules = {
            r["name"]: len(r["inputs"]["eventPattern"])
            for r in _children(result, "aws:cloudwatch/eventRule:EventRule")
            if "eventPattern" in r["inputs"]
        }
        docs = {p["name"]: len(p["inputs"]["policy"]) for p in _children(result, "aws:iam/rolePolicy:RolePolicy")}
        return {**rules, **docs}

    assert sizes(many_tables) == sizes(prod)


def test_the_context_knows_the_coverage_exclusions_and_restored_copies() -> None:
    # Given exclusions and a table restored beside its original
    result = synth_stack(
        "prod",
        config_overrides={
            "coverage": {"exclude": [{"pattern": "etl-scratch-*", "reason": "rebuilt from S3 every night"}]},
            "restore": {"orders": {"latestRestorableTime": True, "targetSuffix": "-restored"}},
        },
    )
    fn = result.one("aws:lambda/function:Function", "watch-freshness")
    ctx = WatchContext.from_json(fn["inputs"]["code"]["archive"]["handlers/watch/watch_context.json"]["text"])
    # Then neither counts as unprotected, and the rest of the account still does
    assert ctx.coverage_exclude == ["etl-scratch-*"]
    # (and the chain's ledger, a table of the stack's own: Pulumi.prod.yaml turns the chain on)
    assert ctx.owned_table_names == ["orders-restored", "safetynet-chain-ledger-prod"]
    assert [n for n in ("orders-restored", "etl-scratch-1", "reports") if ctx.coverage_of(n) is None] == ["reports"]

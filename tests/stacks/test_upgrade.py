"""The upgrade model: `pulumi up` of a stack deployed from the recorded baseline replaces no stateful
resource, removes only what is listed below and adds only what is listed below.

The baseline (`tests/data/synth_baseline/<stack>.json`) is `safetynet synth <stack>` recorded before
the re-layout, project paths made relative. For each shipped stack, every declared resource of
today is matched to the baseline by URN, or by an alias that resolves to a baseline URN (a moved
resource: `pulumi up` renames it in the state instead of replacing it). Then:

(a) KEPT: every stateful resource of the baseline (the types in REPLACED_BY) that is not an allowed
    removal is still declared, same type and name (the name an auto-named resource's physical
    name derives from), with the same values of the inputs that force a replacement in the AWS
    provider (REPLACED_BY; inputs the resource ignores on update do not count), the same provider,
    and protect / retainOnDelete not weakened.
(b) REMOVED: the baseline's AWS resources that are no longer declared are exactly those matching
    ALLOWED_REMOVALS.
(c) ADDED: AWS resources declared today that the baseline lacks are exactly those matching
    ALLOWED_ADDITIONS (new ComponentResources create nothing in AWS and are free). Each row of both
    tables must match something, so the tables say what an upgrade does, not what it might do.
(d) Everything else may change its inputs (policies, patterns, alarms, descriptions, code): an
    update in place. The Lambda functions' `handler` may change only as HANDLER_MOVES says, and
    their archive keeps its data files (e.g. the watch context) where the code reads them.

A change that adds or removes AWS resources on purpose adds its rows to the tables below, with
the reason; nothing else in this file needs to change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import pytest

from components.common.lambda_package import archive_files
from tests.support.stacks import PROJECT_DIR, shipped_synth

PROTECTED = ("prod", "dr")
"""The stacks built by build_protected_stack (vault, backed-up tables, DisasterWatch)."""


@dataclass(frozen=True)
class Change:
    """One row of an allow-list: resources of `type` whose name matches `name` (fnmatch), in `stacks`."""

    stacks: tuple[str, ...]
    type: str
    name: str
    why: str

    def matches(self, stack: str, resource: dict[str, Any]) -> bool:
        return stack in self.stacks and resource["type"] == self.type and fnmatchcase(resource["name"], self.name)


# (c) AWS resources an upgrade may add. Extend with one row per new resource (or name pattern).
# stacks     | type                             | name                     | why
ALLOWED_ADDITIONS: tuple[Change, ...] = (
    Change(PROTECTED, "aws:iam/role:Role", "nightly-exports-role",
           "backup: one EventBridge Scheduler role for every table's nightly export, scoped by the stack tag"),
    Change(PROTECTED, "aws:iam/rolePolicy:RolePolicy", "nightly-exports-policy",
           "backup: that role's inline policy (stack-tagged tables, vault exports/*, vault key, the queue)"),
    Change(PROTECTED, "aws:sqs/queue:Queue", "nightly-exports-dlq",
           "backup: one encrypted dead-letter queue for every table's failed export invocations"),
    Change(PROTECTED, "aws:cloudwatch/eventRule:EventRule", "watch-table-created",
           "watch: CreateTable of any table reaches the classifier (unprotected table created)"),
    Change(PROTECTED, "aws:cloudwatch/eventTarget:EventTarget", "watch-table-created-target",
           "watch: that rule's target, the classifier"),
    Change(PROTECTED, "aws:lambda/permission:Permission", "watch-table-created-invoke",
           "watch: the permission for that rule, and no other, to invoke the classifier"),
    Change(PROTECTED, "aws:cloudwatch/metricAlarm:MetricAlarm", "watch-unprotected-tables",
           "watch: tables nobody protects for more than a day (UnprotectedTables, one per stack)"),
    # issue 15: prod's chain of incremental exports (one schedule and one task for every table)
    Change(("prod",), "aws:dynamodb/table:Table", "chain-ledger",
           "chain: the ledger, one item per table (the chain's end, the windows in flight)"),
    Change(("prod",), "aws:scheduler/schedule:Schedule", "chain-ledger-backup-schedule",
           "chain: the ledger's nightly export, like every table of a prod stack (table-nightly-export)"),
    Change(("prod",), "aws:lambda/function:Function", "chain-task",
           "chain: the task that starts due windows and records completed ones"),
    Change(("prod",), "aws:cloudwatch/logGroup:LogGroup", "chain-logs",
           "chain: the task's log group (/safetynet/<stack>/chain)"),
    Change(("prod",), "aws:iam/role:Role", "chain-*-role",
           "chain: the task's role and the schedule's role"),
    Change(("prod",), "aws:iam/rolePolicy:RolePolicy", "chain-*-policy",
           "chain: their inline policies (stack-tagged tables, the vault's incremental folders, the ledger)"),
    Change(("prod",), "aws:scheduler/schedule:Schedule", "chain-schedule",
           "chain: the one schedule, at the smallest window (rate(15 minutes) in prod)"),
    Change(("prod",), "aws:sqs/queue:Queue", "chain-dlq",
           "chain: one encrypted dead-letter queue for undelivered or failed runs"),
    Change(("prod",), "aws:cloudwatch/metricAlarm:MetricAlarm", "chain-*",
           "chain: chain-failed (a window failed) and chain-late (a chain fell behind), to the alert topic"),
    # issue 15 part 7: prod turns its vault replica on (eu-west-1), which the dr stack restores from
    Change(("prod",), "pulumi:providers:aws", "vault-replica-provider",
           "replica: the provider of the replica's region"),
    Change(("prod",), "aws:s3/bucket:Bucket", "vault-replica-bucket",
           "replica: the bucket in the other region"),
    Change(("prod",), "aws:kms/key:Key", "vault-replica-key",
           "replica: its own KMS key in the other region"),
    Change(("prod",), "aws:kms/alias:Alias", "vault-replica-key-alias",
           "replica: the key's alias"),
    Change(("prod",), "aws:s3/bucketVersioning:BucketVersioning", "vault-replica-versioning",
           "replica: versioning of the replica bucket (replication needs it on both sides)"),
    Change(("prod",), "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
           "vault-replica-encryption", "replica: SSE-KMS with the replica's key"),
    Change(("prod",), "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "vault-replica-lifecycle",
           "replica: the vault's retention and cold storage, on the replicas"),
    Change(("prod",), "aws:s3/bucketPolicy:BucketPolicy", "vault-replica-policy",
           "replica: the vault's TLS-only and no-delete policy"),
    Change(("prod",), "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "vault-replica-ownership",
           "replica: bucket owner enforced"),
    Change(("prod",), "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "vault-replica-public-access",
           "replica: no public access"),
    Change(("prod",), "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "vault-replica-replication",
           "replica: the vault's replication rule (exports/ to the replica bucket), a new setting of the vault"),
    Change(("prod",), "aws:iam/role:Role", "vault-replica-role",
           "replica: the replication role"),
    Change(("prod",), "aws:iam/rolePolicy:RolePolicy", "vault-replica-role-policy",
           "replica: its policy (read exports/ of the vault, write replicas, each key through S3 only)"),
    Change(("prod",), "aws:cloudwatch/metricAlarm:MetricAlarm", "vault-replica-failed-replication",
           "replica: failed replication, to the alert topic"),
    # issue 16 part 4: rewind at scale, one state machine and one task per stack (prod and dr)
    Change(PROTECTED, "aws:sfn/stateMachine:StateMachine", "rewind-machine",
           "rewind: the state machine large rewinds run on (safetynet-<stack>-rewind)"),
    Change(PROTECTED, "aws:lambda/function:Function", "rewind-task",
           "rewind: its task (prepare, one data file per map child, record a problem, summarize)"),
    Change(PROTECTED, "aws:cloudwatch/logGroup:LogGroup", "rewind-*logs",
           "rewind: the task's log group and the machine's (/safetynet/<stack>/rewind, /aws/vendedlogs/states/...)"),
    Change(PROTECTED, "aws:iam/role:Role", "rewind-*-role",
           "rewind: the task's role and the machine's role"),
    Change(PROTECTED, "aws:iam/rolePolicy:RolePolicy", "rewind-*-policy",
           "rewind: their inline policies (stack-tagged tables, the vault's rewinds/, the alert topic)"),
    Change(("test",), "aws:cloudwatch/eventRule:EventRule", "staging-trigger",
           "staging: one rule for every prod export, replacing the per-table triggers"),
    Change(("test",), "aws:cloudwatch/eventTarget:EventTarget", "staging-start",
           "staging: its target, the state machine started with the event's bucket and key"),
    Change(("test",), "aws:dynamodb/tableItem:TableItem", "*-target",
           "staging: each staged table's target, an item of the staging ledger keyed by its export prefix"),
)  # fmt: skip

# (b) AWS resources an upgrade may delete. Extend with one row per removed resource (or pattern).
ALLOWED_REMOVALS: tuple[Change, ...] = (
    Change(PROTECTED, "aws:iam/role:Role", "*-export-role",
           "backup: the per-table scheduler roles, replaced by nightly-exports-role"),
    Change(PROTECTED, "aws:iam/rolePolicy:RolePolicy", "*-export-policy",
           "backup: their inline policies, replaced by nightly-exports-policy"),
    Change(PROTECTED, "aws:sqs/queue:Queue", "*-export-dlq",
           "backup: the per-table dead-letter queues, replaced by nightly-exports-dlq (drain them first)"),
    Change(("test",), "aws:cloudwatch/eventRule:EventRule", "*-trigger",
           "staging: the per-table triggers, replaced by staging-trigger"),
    Change(("test",), "aws:cloudwatch/eventTarget:EventTarget", "*-start",
           "staging: their targets (each table's target document moved to its ledger item)"),
)  # fmt: skip

# (a) The stateful types, each with the inputs whose change makes the AWS provider replace the
# resource (ForceNew in the Terraform AWS provider's schema, which pulumi-aws bridges; for tables
# also its CustomizeDiff: a new restore source forces a new table).
REPLACED_BY: dict[str, tuple[str, ...]] = {
    "aws:dynamodb/table:Table": (
        "name", "hashKey", "rangeKey", "localSecondaryIndexes", "importTable",
        "restoreSourceName", "restoreSourceTableArn", "restoreDateTime", "restoreToLatestTime",
    ),
    "aws:dynamodb/tableItem:TableItem": ("tableName", "hashKey", "rangeKey"),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId"),
    "aws:kms/alias:Alias": ("name", "namePrefix"),
    "aws:scheduler/schedule:Schedule": ("name", "namePrefix", "groupName"),
    "aws:sfn/stateMachine:StateMachine": ("name", "namePrefix", "type"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "namePrefix", "logGroupClass"),
    "aws:sns/topic:Topic": ("name", "namePrefix", "fifoTopic"),
    "aws:sqs/queue:Queue": ("name", "namePrefix", "fifoQueue"),
    "aws:secretsmanager/secret:Secret": ("name", "namePrefix"),
}  # fmt: skip

# The provider modules whose resources hold data or identity, and their types that are settings
# of another resource (updated or re-put in place, never holding data themselves).
STATEFUL_MODULES = {"dynamodb", "s3", "kms", "scheduler", "sfn", "cloudwatch", "sns", "sqs", "secretsmanager"}
SETTINGS = {
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:kms/keyPolicy:KeyPolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketNotification:BucketNotification",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:sqs/queuePolicy:QueuePolicy",
}

BASELINE = PROJECT_DIR / "tests" / "data" / "synth_baseline"
FUNCTION = "aws:lambda/function:Function"
HANDLER_MOVES = {
    "handlers.staging_tasks.handler": "handlers.staging.entrypoints.handler",
    **{
        f"handlers.watch_lambdas.{fn}": f"handlers.watch.entrypoints.{fn}"
        for fn in (
            "classify_handler",
            "freshness_handler",
            "drill_prepare_handler",
            "drill_validate_file_handler",
            "drill_verify_handler",
        )
    },
}
CONTEXT_MOVES = {"handlers/watch_context.json": "handlers/watch/watch_context.json"}


@dataclass
class Upgrade:
    """One stack's baseline and today's declaration, matched."""

    stack: str
    before: dict[str, dict[str, Any]]
    """Baseline resources by URN."""
    after: dict[str, dict[str, Any]]
    """Today's resources by URN."""
    kept: dict[str, str]
    """Today's URN -> the baseline URN it continues (same URN or an alias)."""
    outputs: tuple[Any, Any]
    """(baseline, today) stack outputs."""

    @property
    def removed(self) -> list[dict[str, Any]]:
        gone = set(self.before) - set(self.kept.values())
        return [r for urn, r in self.before.items() if urn in gone]

    @property
    def added(self) -> list[dict[str, Any]]:
        return [r for urn, r in self.after.items() if urn not in self.kept]


def _relative(value: Any) -> Any:
    """The synth document with the project's absolute path removed (as the baseline was stored)."""
    return json.loads(json.dumps(value, default=str).replace(f"{PROJECT_DIR}/", ""))


def _match(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for urn, r in after.items():
        if urn in before:
            found[urn] = urn
            continue
        hits = [a for a in r["options"]["aliases"] if a in before]
        assert len(hits) <= 1, f"{urn} aliases several baseline resources: {hits}"
        if hits:
            found[urn] = hits[0]
    return found


@pytest.fixture(scope="module", params=["prod", "test", "dr"])
def upgrade(request: pytest.FixtureRequest) -> Iterator[Upgrade]:
    stack = request.param
    baseline = json.loads((BASELINE / f"{stack}.json").read_text())
    today = _relative(shipped_synth(stack).to_json())
    before = {r["urn"]: r for r in baseline["resources"]}
    after = {r["urn"]: r for r in today["resources"]}
    yield Upgrade(stack, before, after, _match(before, after), (baseline["outputs"], today["outputs"]))


def _listing(resources: list[dict[str, Any]], title: str) -> str:
    lines = sorted(f"  {r['type']}  {r['name']}" for r in resources)
    return f"{title} ({len(lines)}):\n" + ("\n".join(lines) or "  (none)")


def _model(u: Upgrade) -> str:
    """The upgrade of one stack, readable: what goes away and what is new (AWS resources only)."""
    aws = [r for r in u.removed if r["custom"]], [r for r in u.added if r["custom"]]
    kept = len([urn for urn in u.kept if u.after[urn]["custom"]])
    return "\n".join(
        [
            f"upgrade of {u.stack}: {kept} AWS resources kept",
            _listing(aws[0], "removed"),
            _listing(aws[1], "added"),
        ]
    )


def _unused_rows(rows: tuple[Change, ...], stack: str, candidates: list[dict[str, Any]]) -> list[Change]:
    return [row for row in rows if stack in row.stacks and not any(row.matches(stack, r) for r in candidates)]


# -- (a) kept ----------------------------------------------------------------------------------


def _comparable(value: Any) -> Any:
    """Inputs as the provider compares them: sets of named blocks (indexes) in any order."""
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        return sorted(value, key=lambda v: v["name"])
    return value


def test_every_stateful_resource_is_kept_with_the_inputs_that_would_replace_it(upgrade: Upgrade) -> None:
    u = upgrade
    removable = {r["urn"] for r in u.before.values() if any(c.matches(u.stack, r) for c in ALLOWED_REMOVALS)}
    stateful = [urn for urn, r in u.before.items() if r["type"] in REPLACED_BY and urn not in removable]
    continued = {old: new for new, old in u.kept.items()}
    problems: list[str] = []
    for old_urn in stateful:
        old = u.before[old_urn]
        label = f"{old['type']} {old['name']}"
        if old_urn not in continued:
            problems.append(f"{label}: no longer declared (pulumi up would delete it)")
            continue
        new = u.after[continued[old_urn]]
        if (new["type"], new["name"]) != (old["type"], old["name"]):
            problems.append(f"{label}: now {new['type']} {new['name']}")
        ignored = set(new["options"]["ignoreChanges"])
        for key in REPLACED_BY[old["type"]]:
            a, b = _comparable(old["inputs"].get(key)), _comparable(new["inputs"].get(key))
            if key not in ignored and a != b:
                problems.append(f"{label}: {key} {a!r} -> {b!r} (forces a replacement)")
        if new["options"]["provider"] != old["options"]["provider"]:
            problems.append(f"{label}: provider {old['options']['provider']} -> {new['options']['provider']}")
        for opt in ("protect", "retainOnDelete"):
            if old["options"][opt] and not new["options"][opt]:
                problems.append(f"{label}: {opt} turned off")
    assert stateful, f"{u.stack}: the baseline has stateful resources"
    assert not problems, "\n".join(problems) + "\n\n" + _model(u)


def test_the_replacement_table_covers_every_stateful_type_the_stacks_declare(upgrade: Upgrade) -> None:
    # A stateful resource of a type missing from REPLACED_BY would go unchecked (a new DynamoDB,
    # bucket, key, schedule, state machine, log group, topic, queue or secret type).
    declared = {r["type"] for r in [*upgrade.before.values(), *upgrade.after.values()] if r["custom"]}
    stateful = {t for t in declared if t.split(":")[1].split("/")[0] in STATEFUL_MODULES and t not in SETTINGS}
    assert stateful <= set(REPLACED_BY), sorted(stateful - set(REPLACED_BY))


def test_moved_resources_keep_their_name_and_type_and_alias_their_old_urn(upgrade: Upgrade) -> None:
    u = upgrade
    for new_urn, old_urn in u.kept.items():
        new, old = u.after[new_urn], u.before[old_urn]
        assert (new["type"], new["name"]) == (old["type"], old["name"]), new_urn
        if new_urn == old_urn:
            # The provider's own type aliases (e.g. BucketV2 -> Bucket) stay as they were; the
            # baseline's recorder kept only their count.
            assert len(new["options"]["aliases"]) == len(old["options"]["aliases"]), new_urn
        else:
            assert old_urn in new["options"]["aliases"]


# -- (b) removed, (c) added --------------------------------------------------------------------


def test_removed_aws_resources_are_exactly_the_allowed_removals(upgrade: Upgrade) -> None:
    u = upgrade
    removed = [r for r in u.removed if r["custom"]]
    allowed = [r for r in u.before.values() if r["custom"] and any(c.matches(u.stack, r) for c in ALLOWED_REMOVALS)]
    assert sorted(r["urn"] for r in removed) == sorted(r["urn"] for r in allowed), (
        _listing(removed, "removed") + "\n" + _listing(allowed, "allowed by ALLOWED_REMOVALS") + "\n\n" + _model(u)
    )
    assert not _unused_rows(ALLOWED_REMOVALS, u.stack, removed), "rows of ALLOWED_REMOVALS that remove nothing"


def test_added_aws_resources_are_exactly_the_allowed_additions(upgrade: Upgrade) -> None:
    u = upgrade
    added = [r for r in u.added if r["custom"]]
    unexpected = [r for r in added if not any(c.matches(u.stack, r) for c in ALLOWED_ADDITIONS)]
    assert not unexpected, _listing(unexpected, "added but not in ALLOWED_ADDITIONS") + "\n\n" + _model(u)
    unused = _unused_rows(ALLOWED_ADDITIONS, u.stack, added)
    assert not unused, f"rows of ALLOWED_ADDITIONS that add nothing in {u.stack}: {unused}\n\n{_model(u)}"


def test_the_backup_side_upgrade_replaces_three_per_table_resources_by_three_per_stack(upgrade: Upgrade) -> None:
    # The model, stated for the shipped stacks (3 tables each in prod and dr, none in test).
    u = upgrade
    tables = [r["name"] for r in u.before.values() if r["type"] == "safetynet:dynamodb:BackedUpTable"]
    removed = sorted(r["name"] for r in u.removed if r["custom"] and "-export-" in r["name"])
    assert removed == sorted(f"{t}-export-{kind}" for t in tables for kind in ("role", "policy", "dlq")), _model(u)
    added = sorted(r["name"] for r in u.added if r["custom"] and r["name"].startswith("nightly-exports"))
    assert added == (["nightly-exports-dlq", "nightly-exports-policy", "nightly-exports-role"] if tables else [])


# -- (d) everything else: updates in place ----------------------------------------------------


def _code(archive: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    files = {name for name, asset in archive.items() if "path" in asset}
    data = {CONTEXT_MOVES.get(name, name): asset["text"] for name, asset in archive.items() if "text" in asset}
    return files, data


def test_functions_moved_their_handlers_only_as_listed_and_kept_their_data_file_paths(upgrade: Upgrade) -> None:
    u = upgrade
    for new_urn, old_urn in u.kept.items():
        old, new = u.before[old_urn], u.after[new_urn]
        if old["type"] != FUNCTION:
            continue
        assert HANDLER_MOVES[old["inputs"]["handler"]] == new["inputs"]["handler"], new["name"]
        _old_files, old_data = _code(old["inputs"]["code"]["archive"])
        new_files, new_data = _code(new["inputs"]["code"]["archive"])
        # The data files the code reads are where it looks for them (their content is the stack's
        # to change), and the archive is exactly the handlers and conventions packages.
        assert set(old_data) == set(new_data), f"{u.stack} {new['name']}: the archive's data files moved"
        assert new_files == set(archive_files())


def _lost(old: Any, new: Any, path: str = "") -> list[str]:
    """Paths of the baseline's outputs that are gone or changed in today's (new keys are fine)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [p for k, v in old.items() for p in _lost(v, new.get(k, _MISSING), f"{path}.{k}")]
    return [] if old == new else [path or "."]


_MISSING = object()


def test_every_baseline_output_is_still_there_unchanged(upgrade: Upgrade) -> None:
    # Readers of the outputs (the test stack's StackReference, operators) keep working; outputs
    # may be added.
    before, after = upgrade.outputs
    assert _lost(before, after) == []

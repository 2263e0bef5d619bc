"""The safety-net rules: pure functions over declared resources.

One copy of every rule, run in two places:

- offline by `safetynet synth <stack> --check`, over the resources of the mocked program run
  (`from_synth`), and
- by the Pulumi engine through the policy pack in `policy/` (`pulumi preview --policy-pack
  policy`), over the resources the engine hands to the pack (`from_policy_resources`).

A resource rule is `check(resource_type, props) -> list[Finding]` over one resource's inputs
(camelCase, as Pulumi sends them). A stack rule is `check(resources) -> list[Finding]` over the
whole resource list; it relates resources through input values only (a schedule's `TableArn`
names the table, an S3 child's `bucket` names its bucket), so it works on the offline synth
(fake ids) and on the engine's view (real ids) alike. Nothing here imports Pulumi.

During `pulumi preview` of resources not created yet, some values are unknown; the pack's
property proxies raise on reading them and the policy framework reports "can't run policy
during preview" as advisory. Rules read only what they need so that known values still decide.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from conventions.tags import ENVIRONMENT_TAG, PRODUCTION_ENVIRONMENTS, STACK_TAG, STAGING_TARGET_TAG
from conventions.vault import EXPORTS_ROOT

Props = Mapping[str, Any]

# -- conventions shared with the components ----------------------------------------------------

PROTECTED_ENVIRONMENTS = frozenset(PRODUCTION_ENVIRONMENTS)
"""Tables in these environments must carry the full safety net. A table without the
environment tag is treated as protected too: removing a tag must not switch the rules off."""
STAGING_MODULE = "staging"
"""Resources under a `safetynet:staging:*` component are the staging pipeline's."""
EXPORTS_PREFIX = f"{EXPORTS_ROOT}/"
"""Where the vault keeps native exports."""
MIN_EXPORT_RETENTION_DAYS = 35
"""N: exports are kept at least this long. 35 days is the longest PITR window, so the nightly
exports always reach further back than point-in-time recovery can."""
EXPORT_TARGET_SUFFIX = ":dynamodb:exportTableToPointInTime"
"""EventBridge Scheduler's universal target for a native export (the NightlyExport schedule)."""

TABLE = "aws:dynamodb/table:Table"
SCHEDULE = "aws:scheduler/schedule:Schedule"
SNS_TOPIC = "aws:sns/topic:Topic"
SQS_QUEUE = "aws:sqs/queue:Queue"
PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
BUCKET_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
VERSIONING = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
# IAM identity policies and the resource policies of S3, SNS and SQS. KMS key policies are left
# out on purpose: the standard key policy grants `kms:*` to the account root by design.
POLICY_DOCUMENT_PROPS: dict[str, tuple[str, ...]] = {
    "aws:iam/role:Role": ("assumeRolePolicy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy",),
    "aws:sns/topic:Topic": ("policy",),
    "aws:sns/topicPolicy:TopicPolicy": ("policy",),
    "aws:sqs/queue:Queue": ("policy",),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy",),
}
DYNAMODB_ITEM_WRITE_ACTIONS = frozenset(
    a.lower()
    for a in (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:TransactWriteItems",
    )
)
# What changes a table's data or existence (a staging role must only do this to staging targets).
DYNAMODB_WRITE_ACTIONS = frozenset(
    a.lower()
    for a in (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:TransactWriteItems",
        "dynamodb:PartiQLInsert",
        "dynamodb:PartiQLUpdate",
        "dynamodb:PartiQLDelete",
        "dynamodb:CreateTable",
        "dynamodb:DeleteTable",
        "dynamodb:UpdateTable",
        "dynamodb:ImportTable",
        "dynamodb:RestoreTableFromBackup",
        "dynamodb:RestoreTableToPointInTime",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:UpdateContinuousBackups",
    )
)


# -- the resource model --------------------------------------------------------------------------


@dataclass(eq=False)
class Resource:
    """One declared resource: its type token, logical name, inputs and parent."""

    type: str
    name: str
    props: Props
    parent: Resource | None = None
    urn: str | None = None

    @property
    def label(self) -> str:
        """`type::name`, the way `safetynet synth` names a resource."""
        return f"{self.type}::{self.name}"

    def lineage(self) -> Iterator[Resource]:
        """This resource, then its parent, grandparent, ..."""
        r: Resource | None = self
        while r is not None:
            yield r
            r = r.parent


@dataclass(frozen=True)
class Finding:
    """One failed check: why it fails and how to fix it (and, for stack rules, where)."""

    message: str
    fix: str
    resource: Resource | None = None


ResourceCheck = Callable[[str, Props], list[Finding]]
StackCheck = Callable[[Sequence[Resource]], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """A named rule. `check` is the pure function; `kind` says which signature it has."""

    id: str
    description: str
    kind: Literal["resource", "stack"]
    check: Callable[..., list[Finding]]
    mandatory: bool = True


@dataclass(frozen=True)
class Violation:
    """A finding of a rule on a resource, as reported by `synth --check`."""

    rule: str
    resource: str
    message: str
    fix: str
    mandatory: bool = True
    urn: str | None = field(default=None, compare=False)


# -- small readers ------------------------------------------------------------------------------


def _get(props: Any, *path: str) -> Any:
    """Nested lookup that returns None for anything missing (props may be proxies, not dicts)."""
    cur = props
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    return list(value)


def _tags(props: Props) -> Mapping[str, Any]:
    tags = _get(props, "tags")
    return tags if isinstance(tags, Mapping) else {}


def _document(value: Any) -> Mapping[str, Any] | None:
    """A policy document given as JSON text or as a mapping; None when it is not one."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.strip():
        try:
            doc = json.loads(value)
        except ValueError:
            return None
        return doc if isinstance(doc, Mapping) else None
    return None


def _statements(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(doc.get("Statement")) if isinstance(s, Mapping)]


def _policy_documents(resource_type: str, props: Props) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, document) for every policy document a resource declares."""
    docs: list[tuple[str, Mapping[str, Any]]] = []
    for key in POLICY_DOCUMENT_PROPS.get(resource_type, ()):
        doc = _document(_get(props, key))
        if doc is not None:
            docs.append((key, doc))
    if resource_type == "aws:iam/role:Role":
        for i, inline in enumerate(_as_list(_get(props, "inlinePolicies"))):
            doc = _document(_get(inline, "policy"))
            if doc is not None:
                docs.append((f"inlinePolicies[{i}] ({_get(inline, 'name') or 'unnamed'})", doc))
    return docs


def _is_protected_table(props: Props) -> bool:
    env = _tags(props).get(ENVIRONMENT_TAG)
    return env is None or str(env) in PROTECTED_ENVIRONMENTS


def _is_staging_target(props: Props) -> bool:
    """Tagged as a staging target of its own stack, and not a prod table."""
    tags = _tags(props)
    value = tags.get(STAGING_TARGET_TAG)
    if value is None or str(value).strip().lower() in ("", "false") or _is_protected_table(props):
        return False
    stack = tags.get(STACK_TAG)
    return stack is None or str(value) in (str(stack), "true")


def _table_name_of_arn(arn: str) -> str | None:
    """`arn:...:table/NAME[/index/...|/stream/...]` -> NAME; None for anything else."""
    if ":table/" not in arn:
        return None
    return arn.split(":table/", 1)[1].split("/", 1)[0]


def _bucket_key(props: Props) -> str | None:
    bucket = _get(props, "bucket")
    return str(bucket) if isinstance(bucket, str) and bucket else None


# -- resource rules -------------------------------------------------------------------------------


def table_pitr(resource_type: str, props: Props) -> list[Finding]:
    """A protected table has point-in-time recovery on."""
    if resource_type != TABLE or not _is_protected_table(props):
        return []
    if _get(props, "pointInTimeRecovery", "enabled") is True:
        return []
    return [
        Finding(
            "point-in-time recovery is off on a prod table: accidental writes and deletes of the last "
            "35 days could not be undone",
            "declare the table through BackedUpTable (it sets pointInTimeRecovery.enabled: true); "
            "never turn PITR off in prod",
        )
    ]


def table_deletion_protection(resource_type: str, props: Props) -> list[Finding]:
    """A protected table has DynamoDB deletion protection on."""
    if resource_type != TABLE or not _is_protected_table(props):
        return []
    if _get(props, "deletionProtectionEnabled") is True:
        return []
    return [
        Finding(
            "deletion protection is off on a prod table: one DeleteTable call (console, script, "
            "`pulumi destroy`) removes it",
            "set deletionProtectionEnabled: true (BackedUpTable does so when safetynet:environment is prod)",
        )
    ]


def table_encryption(resource_type: str, props: Props) -> list[Finding]:
    """A protected table uses server-side encryption with a KMS key."""
    if resource_type != TABLE or not _is_protected_table(props):
        return []
    if _get(props, "serverSideEncryption", "enabled") is True:
        return []
    return [
        Finding(
            "server-side encryption with a KMS key is not enabled: key use is not logged in CloudTrail "
            "and access cannot be revoked through the key",
            "set serverSideEncryption: {enabled: true} (optionally with kmsKeyArn)",
        )
    ]


def no_wildcard_actions(resource_type: str, props: Props) -> list[Finding]:
    """No Allow statement of an IAM or S3/SNS/SQS resource policy grants `*` actions or NotAction."""
    findings = []
    for where, doc in _policy_documents(resource_type, props):
        for i, stmt in enumerate(_statements(doc)):
            if stmt.get("Effect") != "Allow":
                continue
            sid = stmt.get("Sid") or f"Statement[{i}]"
            wild = [str(a) for a in _as_list(stmt.get("Action")) if "*" in str(a)]
            if wild:
                findings.append(
                    Finding(
                        f"{where} statement {sid} allows wildcard actions {', '.join(wild)}",
                        "list the exact actions the principal needs (least privilege)",
                    )
                )
            if "NotAction" in stmt:
                findings.append(
                    Finding(
                        f"{where} statement {sid} allows NotAction: every action except a few",
                        "replace NotAction by the exact Action list the principal needs",
                    )
                )
    return findings


def sns_topic_encrypted(resource_type: str, props: Props) -> list[Finding]:
    """An SNS topic is encrypted with a KMS key."""
    if resource_type != SNS_TOPIC or _get(props, "kmsMasterKeyId"):
        return []
    return [
        Finding(
            "the SNS topic is not encrypted at rest: alert contents (table names, principals) are stored in the clear",
            "set kmsMasterKeyId ('alias/aws/sns', or a customer key whose policy lets the publishers use it)",
        )
    ]


def sqs_queue_encrypted(resource_type: str, props: Props) -> list[Finding]:
    """An SQS queue is encrypted (SSE-SQS or SSE-KMS)."""
    if resource_type != SQS_QUEUE:
        return []
    if _get(props, "sqsManagedSseEnabled") is True or _get(props, "kmsMasterKeyId"):
        return []
    return [
        Finding(
            "the SQS queue is not encrypted at rest (neither sqsManagedSseEnabled nor kmsMasterKeyId)",
            "set sqsManagedSseEnabled: true, or kmsMasterKeyId for a customer key",
        )
    ]


# -- stack rules ------------------------------------------------------------------------------------


def _of_type(resources: Iterable[Resource], types: str | tuple[str, ...]) -> list[Resource]:
    wanted = (types,) if isinstance(types, str) else types
    return [r for r in resources if r.type in wanted]


def _export_schedules(resources: Sequence[Resource]) -> list[tuple[Resource, Mapping[str, Any]]]:
    """(schedule, export request) for every enabled schedule that runs a native export."""
    found = []
    for r in _of_type(resources, SCHEDULE):
        if str(_get(r.props, "state") or "ENABLED") == "DISABLED":
            continue
        if not str(_get(r.props, "target", "arn") or "").endswith(EXPORT_TARGET_SUFFIX):
            continue
        request = _document(_get(r.props, "target", "input"))
        if request is not None:
            found.append((r, request))
    return found


def table_nightly_export(resources: Sequence[Resource]) -> list[Finding]:
    """Every protected table is the TableArn of an enabled NightlyExport schedule."""
    exported = set()
    for _, request in _export_schedules(resources):
        name = _table_name_of_arn(str(request.get("TableArn") or ""))
        if name:
            exported.add(name)
    findings = []
    for t in _of_type(resources, TABLE):
        if not _is_protected_table(t.props):
            continue
        name = _get(t.props, "name")
        if name not in exported:
            findings.append(
                Finding(
                    f"no enabled export schedule targets table {name!r}: it has no nightly backup",
                    "declare the table with BackedUpTable (it bundles the NightlyExport schedule) and keep "
                    "the schedule's state ENABLED",
                    t,
                )
            )
    return findings


def _is_vault_component(r: Resource) -> bool:
    """BackupVault, VaultReplica, ...: any safetynet component whose type name says Vault."""
    return r.type.startswith("safetynet:") and "Vault" in r.type.rsplit(":", 1)[-1]


REPLICATION = ("aws:s3/bucketReplicationConfig:BucketReplicationConfig",)


def vault_buckets(resources: Sequence[Resource]) -> dict[str, Resource]:
    """The vault buckets of this stack, by bucket name (as S3 child resources reference them):
    buckets under a `safetynet:*:*Vault*` component, and buckets an export schedule or a vault
    replication writes to, when this stack manages that bucket. Value: a resource that
    represents the bucket."""
    s3_children: dict[str, Resource] = {}
    for r in resources:
        key = _bucket_key(r.props) if r.type.startswith("aws:s3/") else None
        if key and key not in s3_children:
            s3_children[key] = r
    vaults: dict[str, Resource] = {}
    for key, r in s3_children.items():
        if any(_is_vault_component(a) for a in r.lineage()):
            vaults[key] = r
    for r in _of_type(resources, REPLICATION):
        if _bucket_key(r.props) not in vaults:
            continue
        for rule in _as_list(_get(r.props, "rules")):
            dest = str(_get(rule, "destination", "bucket") or "").removeprefix("arn:aws:s3:::")
            if dest in s3_children:
                vaults.setdefault(dest, s3_children[dest])
    for schedule, request in _export_schedules(resources):
        bucket = str(request.get("S3Bucket") or "")
        if bucket in s3_children:
            vaults.setdefault(bucket, s3_children[bucket])
        elif bucket and any(_is_vault_component(a) for a in schedule.lineage()):
            vaults.setdefault(bucket, schedule)
    return vaults


def _children(resources: Sequence[Resource], types: tuple[str, ...], bucket: str) -> list[Resource]:
    return [r for r in _of_type(resources, types) if _bucket_key(r.props) == bucket]


def vault_blocks_public_access(resources: Sequence[Resource]) -> list[Finding]:
    """Every vault bucket has a public access block with all four settings on."""
    findings = []
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket, where in vault_buckets(resources).items():
        blocks = _children(resources, PUBLIC_ACCESS_BLOCK, bucket)
        if not blocks:
            findings.append(
                Finding(
                    f"vault bucket {bucket} has no public access block",
                    "declare aws.s3.BucketPublicAccessBlock for it with all four settings true",
                    where,
                )
            )
        for b in blocks:
            off = [f for f in flags if _get(b.props, f) is not True]
            if off:
                findings.append(
                    Finding(
                        f"vault bucket {bucket}: public access block leaves {', '.join(off)} off",
                        "set all four flags true (block/ignore public ACLs, block/restrict public policy)",
                        b,
                    )
                )
    return findings


def _denies_insecure_transport(stmt: Mapping[str, Any]) -> bool:
    if stmt.get("Effect") != "Deny":
        return False
    principal = stmt.get("Principal")
    if principal != "*" and _get(principal, "AWS") != "*":
        return False
    if not any(a in ("*", "s3:*") for a in _as_list(stmt.get("Action"))):
        return False
    secure = _get(stmt, "Condition", "Bool", "aws:SecureTransport")
    if str(secure).lower() != "false":
        return False
    return any(str(res) == "*" or str(res).endswith("/*") for res in _as_list(stmt.get("Resource")))


def vault_denies_insecure_transport(resources: Sequence[Resource]) -> list[Finding]:
    """Every vault bucket's policy denies all S3 actions over plain HTTP to everyone."""
    findings = []
    for bucket, where in vault_buckets(resources).items():
        ok = False
        for p in _children(resources, BUCKET_POLICY, bucket):
            doc = _document(_get(p.props, "policy"))
            if doc is not None and any(_denies_insecure_transport(s) for s in _statements(doc)):
                ok = True
        if not ok:
            findings.append(
                Finding(
                    f"vault bucket {bucket}: no bucket policy statement denies requests without TLS",
                    "add a Deny statement: Principal '*', Action 's3:*', Resource the bucket and bucket/*, "
                    "Condition {Bool: {aws:SecureTransport: 'false'}} (see vault_bucket_policy)",
                    where,
                )
            )
    return findings


def vault_versioned(resources: Sequence[Resource]) -> list[Finding]:
    """Every vault bucket has versioning Enabled."""
    findings = []
    for bucket, where in vault_buckets(resources).items():
        configs = _children(resources, VERSIONING, bucket)
        statuses = [str(_get(v.props, "versioningConfiguration", "status")) for v in configs]
        if "Enabled" not in statuses:
            findings.append(
                Finding(
                    f"vault bucket {bucket} is not versioned (status: {', '.join(statuses) or 'none'}): "
                    "an overwritten or deleted export is gone",
                    "declare aws.s3.BucketVersioning with versioningConfiguration.status 'Enabled'",
                    configs[0] if configs else where,
                )
            )
    return findings


def vault_kms_encrypted(resources: Sequence[Resource]) -> list[Finding]:
    """Every vault bucket encrypts by default with a KMS key (SSE-KMS or DSSE-KMS)."""
    findings = []
    for bucket, where in vault_buckets(resources).items():
        algorithms = [
            str(_get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"))
            for c in _children(resources, ENCRYPTION, bucket)
            for rule in _as_list(_get(c.props, "rules"))
        ]
        if not any(a in ("aws:kms", "aws:kms:dsse") for a in algorithms):
            findings.append(
                Finding(
                    f"vault bucket {bucket} is not KMS-encrypted by default "
                    f"(algorithms: {', '.join(algorithms) or 'none declared'})",
                    "declare aws.s3.BucketServerSideEncryptionConfiguration with sseAlgorithm 'aws:kms' and "
                    "the vault key",
                    where,
                )
            )
    return findings


def _rule_prefix(rule: Any) -> str | None:
    """The key prefix a lifecycle rule applies to ('' = whole bucket); None if it cannot tell."""
    for path in (("filter", "prefix"), ("filter", "and", "prefix"), ("prefix",)):
        value = _get(rule, *path)
        if isinstance(value, str):
            return value
    return ""


def _touches_exports(prefix: str | None) -> bool:
    p = prefix or ""
    return EXPORTS_PREFIX.startswith(p) or p.startswith(EXPORTS_PREFIX)


def vault_keeps_exports(resources: Sequence[Resource]) -> list[Finding]:
    """No enabled lifecycle rule of a vault bucket that reaches objects under `exports/` expires
    them before MIN_EXPORT_RETENTION_DAYS, or on a fixed date."""
    findings = []
    n = MIN_EXPORT_RETENTION_DAYS
    for bucket in vault_buckets(resources):
        for lc in _children(resources, LIFECYCLE, bucket):
            for i, rule in enumerate(_as_list(_get(lc.props, "rules"))):
                if str(_get(rule, "status")) != "Enabled" or not _touches_exports(_rule_prefix(rule)):
                    continue
                rid = _get(rule, "id") or f"rules[{i}]"
                days = _get(rule, "expiration", "days")
                date = _get(rule, "expiration", "date")
                if isinstance(days, int | float) and days < n:
                    findings.append(
                        Finding(
                            f"vault bucket {bucket}: lifecycle rule {rid} expires exports after {int(days)} "
                            f"days, fewer than the required {n}",
                            f"set safetynet:backup.retentionDays to at least {n}, and give no other rule an "
                            "earlier expiration that reaches exports/",
                            lc,
                        )
                    )
                if date:
                    findings.append(
                        Finding(
                            f"vault bucket {bucket}: lifecycle rule {rid} expires exports on a date ({date})",
                            f"expire exports by age (expiration.days >= {n}), never by date",
                            lc,
                        )
                    )
    return findings


def _under_staging_component(r: Resource) -> bool:
    for a in r.lineage():
        parts = a.type.split(":")
        if a.type.startswith("safetynet:") and len(parts) == 3 and parts[1] == STAGING_MODULE:
            return True
    return False


def _is_staging(r: Resource) -> bool:
    return _under_staging_component(r) or "staging" in r.name.lower()


def _is_staging_state(table: Resource, writes: Sequence[str]) -> bool:
    """The pipeline's own bookkeeping table (e.g. its ledger of staged exports): declared inside a
    staging component, not a prod table, and written item by item only (never deleted,
    recreated or imported into)."""
    return (
        _under_staging_component(table)
        and not _is_protected_table(table.props)
        and all(w.lower() in DYNAMODB_ITEM_WRITE_ACTIONS for w in writes)
    )


def _writes(stmt: Mapping[str, Any]) -> list[str]:
    """The DynamoDB write/delete actions an Allow statement grants (wildcards included)."""
    if stmt.get("Effect") != "Allow":
        return []
    if "NotAction" in stmt:
        return ["NotAction"]
    out = []
    for a in _as_list(stmt.get("Action")):
        action = str(a).lower()
        if action == "*" or (action.startswith("dynamodb:") and ("*" in action or action in DYNAMODB_WRITE_ACTIONS)):
            out.append(str(a))
    return out


def _tag_gated(stmt: Mapping[str, Any]) -> bool:
    """The statement only applies to resources tagged as staging targets."""
    key = f"aws:ResourceTag/{STAGING_TARGET_TAG}"
    for op in ("StringEquals", "StringEqualsIgnoreCase"):
        values = _as_list(_get(stmt, "Condition", op, key))
        if values and all(str(v).strip().lower() not in ("", "false") for v in values):
            return True
    return False


def _why_not_a_target(name: str | None, table: Resource | None) -> str:
    if not name:
        return "resources beyond named tables"
    if "*" in name:
        return "a table name pattern"
    if table is None:
        return "a table not declared in this stack"
    return f"table {name!r}, not tagged as a staging target of its stack ({STAGING_TARGET_TAG})"


def staging_writes_only_staging_targets(resources: Sequence[Resource]) -> list[Finding]:
    """No staging role's policy allows writing or deleting a table that is not declared in this
    stack with the staging-target tag (unless the statement is gated on that tag). The one
    exception: item writes to the pipeline's own non-prod bookkeeping tables."""
    tables = {_get(t.props, "name"): t for t in _of_type(resources, TABLE)}
    findings = []
    for r in resources:
        if not _is_staging(r):
            continue
        for where, doc in _policy_documents(r.type, r.props):
            if where == "assumeRolePolicy":
                continue
            for i, stmt in enumerate(_statements(doc)):
                writes = _writes(stmt)
                if not writes or _tag_gated(stmt):
                    continue
                sid = stmt.get("Sid") or f"Statement[{i}]"
                for res in _as_list(stmt.get("Resource")) or ["(no Resource)"]:
                    arn = str(res)
                    name = _table_name_of_arn(arn)
                    table = tables.get(name) if name and "*" not in name else None
                    if table is not None and (_is_staging_target(table.props) or _is_staging_state(table, writes)):
                        continue
                    why = _why_not_a_target(name, table)
                    findings.append(
                        Finding(
                            f"{where} statement {sid} lets a staging role {', '.join(writes)} {arn}: {why}",
                            f"scope the statement to the ARNs of this stack's staging-target tables and add "
                            f"Condition StringEquals aws:ResourceTag/{STAGING_TARGET_TAG}: '<project/stack>'",
                            r,
                        )
                    )
    return findings


# -- registry and evaluation ------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule("table-pitr", "Prod tables have point-in-time recovery on.", "resource", table_pitr),
    Rule(
        "table-deletion-protection",
        "Prod tables have DynamoDB deletion protection on.",
        "resource",
        table_deletion_protection,
    ),
    Rule("table-encryption", "Prod tables use server-side encryption with KMS.", "resource", table_encryption),
    Rule(
        "table-nightly-export",
        "Every prod table is the target of an enabled NightlyExport schedule.",
        "stack",
        table_nightly_export,
    ),
    Rule(
        "vault-public-access-block",
        "The backup vault blocks all public access.",
        "stack",
        vault_blocks_public_access,
    ),
    Rule(
        "vault-tls-only",
        "The backup vault's policy denies requests without TLS.",
        "stack",
        vault_denies_insecure_transport,
    ),
    Rule("vault-versioning", "The backup vault is versioned.", "stack", vault_versioned),
    Rule("vault-kms-encryption", "The backup vault is KMS-encrypted by default.", "stack", vault_kms_encrypted),
    Rule(
        "vault-export-retention",
        f"The backup vault keeps exports at least {MIN_EXPORT_RETENTION_DAYS} days; no lifecycle rule "
        "expires them sooner.",
        "stack",
        vault_keeps_exports,
    ),
    Rule(
        "staging-writes-only-staging-targets",
        "Staging roles may write or delete only tables tagged as staging targets.",
        "stack",
        staging_writes_only_staging_targets,
    ),
    Rule(
        "iam-no-wildcard-actions",
        "No IAM or resource policy allows `*` actions (or NotAction).",
        "resource",
        no_wildcard_actions,
    ),
    Rule("sns-topic-encrypted", "SNS topics are encrypted with KMS.", "resource", sns_topic_encrypted),
    Rule("sqs-queue-encrypted", "SQS queues are encrypted.", "resource", sqs_queue_encrypted),
)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def run_rule(rule: Rule, resources: Sequence[Resource]) -> list[tuple[Resource | None, Finding]]:
    """One rule over a resource list: (resource, finding) pairs."""
    if rule.kind == "stack":
        return [(f.resource, f) for f in rule.check(resources)]
    return [(r, f) for r in resources for f in rule.check(r.type, r.props)]


def evaluate(resources: Sequence[Resource], rules: Iterable[Rule] = RULES) -> list[Violation]:
    """Every rule over a resource list, as violations in rule order."""
    out = []
    for rule in rules:
        for r, f in run_rule(rule, resources):
            out.append(
                Violation(
                    rule=rule.id,
                    resource=r.label if r is not None else "(stack)",
                    message=f.message,
                    fix=f.fix,
                    mandatory=rule.mandatory,
                    urn=r.urn if r is not None else None,
                )
            )
    return out


# -- adapters ---------------------------------------------------------------------------------------


def from_synth(records: Sequence[Mapping[str, Any]]) -> list[Resource]:
    """Resources from `safetynet synth` records (`{type, name, parent, inputs, urn}`), parents linked
    through the `type::name` parent labels."""
    resources = [
        Resource(type=str(r["type"]), name=str(r["name"]), props=r.get("inputs") or {}, urn=r.get("urn"))
        for r in records
    ]
    by_label = {res.label: res for res in resources}
    for res, rec in zip(resources, records, strict=True):
        parent = rec.get("parent")
        res.parent = by_label.get(parent) if parent else None
    return resources


def from_policy_resources(items: Sequence[Any]) -> list[Resource]:
    """Resources from the policy SDK's `PolicyResource` objects (`resource_type`, `name`, `props`,
    `urn`, `parent`), parents linked. Duck-typed so this module stays free of Pulumi imports."""
    made: dict[int, Resource] = {}

    def convert(item: Any) -> Resource:
        if id(item) not in made:
            made[id(item)] = Resource(type=str(item.resource_type), name=str(item.name), props=item.props, urn=item.urn)
            parent = getattr(item, "parent", None)
            made[id(item)].parent = convert(parent) if parent is not None else None
        return made[id(item)]

    return [convert(i) for i in items]

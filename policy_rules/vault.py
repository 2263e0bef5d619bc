"""Rules `vault-*`: every bucket that holds exports (the vault, and its replica where one is
configured) blocks public access, denies requests without TLS, is versioned, is KMS-encrypted by
default and keeps exports at least MIN_EXPORT_RETENTION_DAYS.

Which buckets are vault buckets is decided here once (`vault_buckets`); every rule checks each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conventions.vault import EXPORTS_ROOT
from policy_rules.inputs import as_list, document, get, of_type, statements
from policy_rules.model import (
    BUCKET_POLICY,
    ENCRYPTION,
    LIFECYCLE,
    PUBLIC_ACCESS_BLOCK,
    REPLICATION,
    VERSIONING,
    Finding,
    Props,
    Resource,
)
from policy_rules.tables import export_schedules

EXPORTS_PREFIX = f"{EXPORTS_ROOT}/"
"""Where the vault keeps native exports."""
MIN_EXPORT_RETENTION_DAYS = 35
"""N: exports are kept at least this long. 35 days is the longest PITR window, so the nightly
exports always reach further back than point-in-time recovery can."""


# -- which buckets are the vault's -----------------------------------------------------------------


def _bucket_key(props: Props) -> str | None:
    bucket = get(props, "bucket")
    return str(bucket) if isinstance(bucket, str) and bucket else None


def _is_vault_component(r: Resource) -> bool:
    """BackupVault, VaultReplica, ...: any safetynet component whose type name says Vault."""
    return r.type.startswith("safetynet:") and "Vault" in r.type.rsplit(":", 1)[-1]


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
    for r in of_type(resources, REPLICATION):
        if _bucket_key(r.props) not in vaults:
            continue
        for rule in as_list(get(r.props, "rules")):
            dest = str(get(rule, "destination", "bucket") or "").removeprefix("arn:aws:s3:::")
            if dest in s3_children:
                vaults.setdefault(dest, s3_children[dest])
    for schedule, request in export_schedules(resources):
        bucket = str(request.get("S3Bucket") or "")
        if bucket in s3_children:
            vaults.setdefault(bucket, s3_children[bucket])
        elif bucket and any(_is_vault_component(a) for a in schedule.lineage()):
            vaults.setdefault(bucket, schedule)
    return vaults


def _children(resources: Sequence[Resource], types: tuple[str, ...], bucket: str) -> list[Resource]:
    return [r for r in of_type(resources, types) if _bucket_key(r.props) == bucket]


# -- stack rules -----------------------------------------------------------------------------------


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
            off = [f for f in flags if get(b.props, f) is not True]
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
    if principal != "*" and get(principal, "AWS") != "*":
        return False
    if not any(a in ("*", "s3:*") for a in as_list(stmt.get("Action"))):
        return False
    secure = get(stmt, "Condition", "Bool", "aws:SecureTransport")
    if str(secure).lower() != "false":
        return False
    return any(str(res) == "*" or str(res).endswith("/*") for res in as_list(stmt.get("Resource")))


def vault_denies_insecure_transport(resources: Sequence[Resource]) -> list[Finding]:
    """Every vault bucket's policy denies all S3 actions over plain HTTP to everyone."""
    findings = []
    for bucket, where in vault_buckets(resources).items():
        ok = False
        for p in _children(resources, BUCKET_POLICY, bucket):
            doc = document(get(p.props, "policy"))
            if doc is not None and any(_denies_insecure_transport(s) for s in statements(doc)):
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
        statuses = [str(get(v.props, "versioningConfiguration", "status")) for v in configs]
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
            str(get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"))
            for c in _children(resources, ENCRYPTION, bucket)
            for rule in as_list(get(c.props, "rules"))
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
        value = get(rule, *path)
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
            for i, rule in enumerate(as_list(get(lc.props, "rules"))):
                if str(get(rule, "status")) != "Enabled" or not _touches_exports(_rule_prefix(rule)):
                    continue
                rid = get(rule, "id") or f"rules[{i}]"
                days = get(rule, "expiration", "days")
                date = get(rule, "expiration", "date")
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

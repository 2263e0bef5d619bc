"""One crafted violation per rule: an edit of the prod stack's records that breaks exactly that
rule, and a part of the message the rule must report."""

from __future__ import annotations

from collections.abc import Callable

from policy_rules.model import (
    BUCKET_POLICY,
    ENCRYPTION,
    LIFECYCLE,
    PUBLIC_ACCESS_BLOCK,
    SCHEDULE,
    SNS_TOPIC,
    SQS_QUEUE,
    TABLE,
    VERSIONING,
)
from tests.policy_rules.records import TABLE_ARN, Records, add_resource, add_staging_policy, edit_policy, find


def pitr_off(recs: Records) -> None:
    find(recs, TABLE, "orders")["inputs"]["pointInTimeRecovery"]["enabled"] = False


def deletion_protection_off(recs: Records) -> None:
    find(recs, TABLE, "orders")["inputs"]["deletionProtectionEnabled"] = False


def encryption_off(recs: Records) -> None:
    del find(recs, TABLE, "orders")["inputs"]["serverSideEncryption"]


def schedule_removed(recs: Records) -> None:
    recs.remove(find(recs, SCHEDULE, "orders"))


def public_access_open(recs: Records) -> None:
    find(recs, PUBLIC_ACCESS_BLOCK[0])["inputs"]["restrictPublicBuckets"] = False


def tls_statement_removed(recs: Records) -> None:
    edit_policy(
        find(recs, BUCKET_POLICY[0]),
        "policy",
        lambda d: d.update(Statement=[s for s in d["Statement"] if s.get("Sid") != "DenyInsecureTransport"]),
    )


def versioning_suspended(recs: Records) -> None:
    find(recs, VERSIONING[0])["inputs"]["versioningConfiguration"]["status"] = "Suspended"


def sse_s3(recs: Records) -> None:
    rule = find(recs, ENCRYPTION[0])["inputs"]["rules"][0]
    rule["applyServerSideEncryptionByDefault"] = {"sseAlgorithm": "AES256"}


def short_retention(recs: Records) -> None:
    rules = find(recs, LIFECYCLE[0])["inputs"]["rules"]
    next(r for r in rules if r["id"] == "exports-retention")["expiration"]["days"] = 10


def staging_writes_prod_table(recs: Records) -> None:
    add_staging_policy(
        recs,
        {
            "Sid": "Refill",
            "Effect": "Allow",
            "Action": ["dynamodb:BatchWriteItem"],
            "Resource": [TABLE_ARN + "orders"],
        },
    )


def wildcard_action(recs: Records) -> None:
    edit_policy(
        find(recs, "aws:iam/rolePolicy:RolePolicy", "nightly-exports"),
        "policy",
        lambda d: d["Statement"].append(
            {"Sid": "Everything", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}
        ),
    )


def plain_topic(recs: Records) -> None:
    add_resource(recs, SNS_TOPIC, "alerts", {"name": "alerts"})


def plain_queue(recs: Records) -> None:
    find(recs, SQS_QUEUE, "nightly-exports")["inputs"]["sqsManagedSseEnabled"] = False


CRAFTED: dict[str, tuple[Callable[[Records], None], str]] = {
    "table-pitr": (pitr_off, "point-in-time recovery is off on a prod table"),
    "table-deletion-protection": (deletion_protection_off, "deletion protection is off on a prod table"),
    "table-encryption": (encryption_off, "server-side encryption with a KMS key is not enabled"),
    "table-nightly-export": (schedule_removed, "no enabled export schedule targets table 'orders'"),
    "vault-public-access-block": (
        public_access_open,
        "public access block leaves restrictPublicBuckets off",
    ),
    "vault-tls-only": (tls_statement_removed, "no bucket policy statement denies requests without TLS"),
    "vault-versioning": (versioning_suspended, "is not versioned (status: Suspended)"),
    "vault-kms-encryption": (sse_s3, "is not KMS-encrypted by default (algorithms: AES256)"),
    "vault-export-retention": (short_retention, "expires exports after 10 days, fewer than the required 35"),
    "staging-writes-only-staging-targets": (
        staging_writes_prod_table,
        f"staging role dynamodb:BatchWriteItem {TABLE_ARN}orders: table 'orders', not tagged as a staging",
    ),
    "iam-no-wildcard-actions": (wildcard_action, "statement Everything allows wildcard actions dynamodb:*"),
    "sns-topic-encrypted": (plain_topic, "the SNS topic is not encrypted at rest"),
    "sqs-queue-encrypted": (plain_queue, "the SQS queue is not encrypted at rest"),
}

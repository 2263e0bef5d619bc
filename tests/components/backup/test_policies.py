"""The backup flow's policy documents, linted with parliament: the nightly exports' role (the stack's
tagged tables, the exports prefix, the vault key, the dead-letter queue; the same size for 1 or
1,000 tables), the vault's bucket policy (TLS only, no deletes),
and the replica's (the replication role and the cross-account destination policies: scoped to the
export prefix, the two buckets and the two keys, never able to delete)."""

from __future__ import annotations

from typing import Any

import pytest

from components.backup.policies import (
    OWNER_OVERRIDE_ACTION,
    nightly_exports_policy,
    replica_destination_bucket_policy,
    replica_destination_key_statement,
    replication_role_policy,
    vault_bucket_policy,
)
from tests.support.iam_eval import allows, resource_tags
from tests.support.iam_lint import assert_clean
from tests.support.policies import statement

SRC = "arn:aws:s3:::vault-abc"
DST = "arn:aws:s3:::vault-replica-def"
SRC_KEY = "arn:aws:kms:eu-central-1:123456789012:key/aaaaaaaa-0000-0000-0000-000000000000"
DST_KEY = "arn:aws:kms:eu-west-1:123456789012:key/bbbbbbbb-0000-0000-0000-000000000000"
ROLE = "arn:aws:iam::123456789012:role/vault-replica-role"
TABLE = "arn:aws:dynamodb:eu-central-1:123456789012:table/orders"
DLQ = "arn:aws:sqs:eu-central-1:123456789012:nightly-exports-dlq"
STACK = "safetynet/prod"
OURS = {"safetynet:stack": STACK, "safetynet:table": "orders"}
EXPORT = "dynamodb:ExportTableToPointInTime"


def all_actions(policy: dict[str, Any]) -> set[str]:
    return {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


# -- the nightly export and the vault ------------------------------------------------------------


def exports_policy(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "region": "eu-central-1",
        "account_id": "123456789012",
        "stack_tag": STACK,
        "bucket_arn": SRC,
        "kms_key_arn": SRC_KEY,
        "dlq_arn": DLQ,
    }
    return nightly_exports_policy(**{**args, **changes})


def test_the_exports_role_policy_is_lint_clean_and_only_allows() -> None:
    policy = exports_policy()
    assert_clean(policy)
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    assert not any(a.startswith(("s3:Delete", "s3:Get", "dynamodb:Delete")) for a in all_actions(policy))


def test_the_exports_role_may_export_the_tables_tagged_with_its_stack_and_no_other() -> None:
    policy = exports_policy()
    assert statement(policy, "ExportThisStacksTables")["Resource"] == [
        "arn:aws:dynamodb:eu-central-1:123456789012:table/*"
    ]
    # Given tables of this account and region
    assert allows(policy, EXPORT, TABLE, resource_tags(OURS))
    assert allows(policy, EXPORT, TABLE.replace("orders", "added-later"), resource_tags({"safetynet:stack": STACK}))
    # When a table lacks the stack's tag, or carries another stack's, it is not granted
    assert not allows(policy, EXPORT, TABLE)
    assert not allows(policy, EXPORT, TABLE, resource_tags({"safetynet:stack": "safetynet/test"}))
    assert not allows(policy, EXPORT, TABLE, resource_tags({"safetynet:stack": "safetynet/prod-other"}))
    assert not allows(policy, EXPORT, TABLE, resource_tags({"safetynet:environment": "prod", "team": STACK}))
    # nor a tagged table of another region or account
    assert not allows(policy, EXPORT, TABLE.replace("eu-central-1", "eu-west-1"), resource_tags(OURS))
    assert not allows(policy, EXPORT, TABLE.replace("123456789012", "210987654321"), resource_tags(OURS))
    # nor any other DynamoDB action on a tagged table
    for action in ("dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:RestoreTableToPointInTime"):
        assert not allows(policy, action, TABLE, resource_tags(OURS))


def test_the_exports_role_writes_only_under_the_exports_prefix_of_the_vault() -> None:
    policy = exports_policy()
    assert statement(policy, "WriteExports")["Resource"] == [f"{SRC}/exports/*"]
    for action in ("s3:PutObject", "s3:AbortMultipartUpload", "s3:PutObjectAcl"):
        assert allows(policy, action, f"{SRC}/exports/orders/AWSDynamoDB/0170-abc/manifest-summary.json")
    # Not outside exports/, not a look-alike prefix, not another bucket, never a delete or a read
    for resource in (
        f"{SRC}/drills/orders/latest.json",
        f"{SRC}/exports-old/orders/x",
        f"{SRC}/exports",
        f"{DST}/exports/orders/x",
        SRC,
    ):
        assert not allows(policy, "s3:PutObject", resource), resource
    assert not allows(policy, "s3:DeleteObject", f"{SRC}/exports/orders/x")
    assert not allows(policy, "s3:GetObject", f"{SRC}/exports/orders/x")


def test_the_exports_role_encrypts_with_the_vault_key_and_dead_letters_into_its_queue_only() -> None:
    policy = exports_policy()
    assert allows(policy, "kms:GenerateDataKey", SRC_KEY)
    assert not allows(policy, "kms:GenerateDataKey", DST_KEY)
    assert not allows(policy, "kms:Encrypt", SRC_KEY)
    assert allows(policy, "sqs:SendMessage", DLQ)
    assert not allows(policy, "sqs:SendMessage", DLQ + "-other")
    assert not allows(policy, "sqs:ReceiveMessage", DLQ)


def test_the_evaluator_refuses_what_it_does_not_understand() -> None:
    # The least-privilege tests are only as good as the evaluator (tests/support/iam_eval.py): it
    # must not guess.
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}
    not_resource = {"Statement": [{"Effect": "Allow", "Action": EXPORT, "NotResource": "*"}]}
    other_operator = {
        "Statement": [
            {"Effect": "Allow", "Action": EXPORT, "Resource": "*", "Condition": {"NumericLessThan": {"k": "1"}}}
        ]
    }
    for policy in (not_action, not_resource, other_operator):
        with pytest.raises(NotImplementedError):
            allows(policy, EXPORT, TABLE)


def test_the_evaluator_lets_a_matching_deny_win() -> None:
    allow = {"Effect": "Allow", "Action": EXPORT, "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": TABLE}
    assert allows({"Statement": [allow]}, EXPORT, TABLE)
    assert not allows({"Statement": [allow, deny]}, EXPORT, TABLE)
    assert allows({"Statement": [allow, deny]}, EXPORT, TABLE.replace("orders", "other"))


def test_the_vault_policy_denies_plain_http_and_deleting_backups_to_everyone() -> None:
    policy = vault_bucket_policy(SRC)
    assert_clean(policy, resource_policy=True)
    tls = statement(policy, "DenyInsecureTransport")
    assert (tls["Effect"], tls["Principal"], tls["Resource"]) == ("Deny", "*", [SRC, f"{SRC}/*"])
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    delete = statement(policy, "DenyDeletingBackups")
    assert (delete["Effect"], delete["Principal"], delete["Resource"]) == ("Deny", "*", [f"{SRC}/*"])
    assert delete["Action"] == ["s3:DeleteObject", "s3:DeleteObjectVersion"]


# -- the replica --------------------------------------------------------------------------------


def role_policy(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "source_bucket_arn": SRC,
        "source_key_arn": SRC_KEY,
        "source_region": "eu-central-1",
        "replica_bucket_arn": DST,
        "replica_key_arn": DST_KEY,
        "replica_region": "eu-west-1",
        "prefix": "exports",
        "source_locked": False,
        "owner_override": False,
    }
    args.update(changes)
    return replication_role_policy(**args)


@pytest.mark.parametrize(("locked", "override"), [(False, False), (True, False), (True, True)])
def test_replication_role_policy_is_lint_clean(locked: bool, override: bool) -> None:
    assert_clean(role_policy(source_locked=locked, owner_override=override))


def test_role_reads_only_export_versions_of_the_vault() -> None:
    read = statement(role_policy(), "ReadExportVersions")
    assert read["Resource"] == [f"{SRC}/exports/*"]
    assert "s3:GetObjectVersionForReplication" in read["Action"]


def test_role_writes_only_replicas_under_the_export_prefix_of_the_replica() -> None:
    write = statement(role_policy(), "WriteReplicas")
    assert write["Resource"] == [f"{DST}/exports/*"]
    assert write["Action"] == ["s3:ReplicateObject", "s3:ReplicateTags"]


def test_role_can_never_delete_or_replicate_deletes() -> None:
    actions = all_actions(role_policy(source_locked=True, owner_override=True))
    assert not {a for a in actions if "Delete" in a}


def test_lock_metadata_is_read_only_from_a_locked_vault() -> None:
    assert "s3:GetObjectRetention" not in all_actions(role_policy(source_locked=False))
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= all_actions(role_policy(source_locked=True))


def test_ownership_override_only_cross_account() -> None:
    assert OWNER_OVERRIDE_ACTION not in all_actions(role_policy(owner_override=False))
    assert OWNER_OVERRIDE_ACTION in statement(role_policy(owner_override=True), "WriteReplicas")["Action"]


def test_each_key_is_usable_only_through_s3_in_its_region_for_its_bucket() -> None:
    policy = role_policy()
    decrypt = statement(policy, "DecryptExports")
    encrypt = statement(policy, "EncryptReplicas")
    assert decrypt["Resource"] == [SRC_KEY]
    assert decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-central-1.amazonaws.com"}
    assert decrypt["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] == [SRC, f"{SRC}/exports/*"]
    assert encrypt["Resource"] == [DST_KEY]
    assert encrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    assert encrypt["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] == [DST, f"{DST}/exports/*"]


def test_destination_bucket_policy_is_lint_clean_and_keeps_the_vault_rules() -> None:
    policy = replica_destination_bucket_policy(replica_bucket_arn=DST, role_arn=ROLE, prefix="exports")
    assert_clean(policy, resource_policy=True)
    sids = [s["Sid"] for s in policy["Statement"]]
    assert {"DenyInsecureTransport", "DenyDeletingBackups"} <= set(sids)
    allow = statement(policy, "AllowReplicationFromSafetynetVault")
    assert allow["Principal"] == {"AWS": ROLE}
    assert allow["Resource"] == [f"{DST}/exports/*"]
    assert OWNER_OVERRIDE_ACTION in allow["Action"]


def test_destination_key_statement_allows_only_the_role_through_s3_for_the_bucket() -> None:
    stmt = replica_destination_key_statement(role_arn=ROLE, replica_region="eu-west-1", replica_bucket_arn=DST)
    assert_clean({"Version": "2012-10-17", "Statement": [stmt]}, resource_policy=True)
    assert stmt["Principal"] == {"AWS": ROLE}
    assert stmt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    assert set(stmt["Action"]) == {"kms:Encrypt", "kms:GenerateDataKey"}

"""BackupVault, declared alone from minimal arguments under Pulumi's mocks."""

from __future__ import annotations

import json
from typing import Any

from components.backup.policies import vault_bucket_policy
from components.backup.vault import BackupVault, BackupVaultArgs
from components.config.backup import BackupSpec
from components.staging.policies import StagingReader, staging_reader_grants, vault_key_policy
from tests.support.pulumi_mocks import REGION, RecordingMocks
from tests.support.pulumi_run import declared, resolved

ACCOUNT = "123456789012"
OWN_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000aaaa-1111-2222-3333-444455556666"
READER = StagingReader(
    where="safetynet:stagingReaders[0]",
    account="222222222222",
    role_arns=("arn:aws:iam::222222222222:role/staging-task",),
    prefixes=("exports/orders",),
)
BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"


def declare(**changes: Any) -> dict[str, Any]:
    """Declare the vault `vault` (prod, default backup settings unless changed) and resolve what it exposes."""
    vault_args = BackupVaultArgs(**{"backup": BackupSpec(), "tags": {"team": "unit"}, "protect": True, **changes})

    def build() -> dict[str, Any]:
        vault = BackupVault("vault", vault_args)
        return {
            "bucket_name": vault.bucket_name,
            "bucket_arn": vault.bucket_arn,
            "kms_key_arn": vault.kms_key_arn,
            "versioning_id": vault.versioning.id,
            "reader_key_statements": vault.reader_key_statements,
        }

    return resolved(build)


def inputs(mocks: RecordingMocks, typ: str, name: str) -> dict[str, Any]:
    return mocks.one(typ, name).inputs


def test_a_vault_is_a_hardened_bucket_with_its_own_key(pulumi_mocks: RecordingMocks) -> None:
    declare()
    assert declared(pulumi_mocks) == sorted(
        [
            ("safetynet:backup:BackupVault", "vault"),
            (KEY, "vault-key"),
            ("aws:kms/alias:Alias", "vault-key-alias"),
            (BUCKET, "vault-bucket"),
            ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "vault-public-access"),
            ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "vault-ownership"),
            ("aws:s3/bucketVersioning:BucketVersioning", "vault-versioning"),
            (
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                "vault-encryption",
            ),
            ("aws:s3/bucketPolicy:BucketPolicy", "vault-policy"),
            ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "vault-lifecycle"),
            ("aws:s3/bucketNotification:BucketNotification", "vault-events"),
        ]
    )


def test_what_it_exposes_resolves(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    assert out["bucket_name"].startswith("vault-")
    assert out["bucket_arn"] == f"arn:aws:s3:::{out['bucket_name']}"
    assert out["kms_key_arn"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")
    assert out["versioning_id"]
    assert out["reader_key_statements"] is None


def test_the_key_rotates_and_encrypts_the_bucket_with_a_bucket_key(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    assert inputs(pulumi_mocks, KEY, "vault-key")["enableKeyRotation"] is True
    assert inputs(pulumi_mocks, "aws:kms/alias:Alias", "vault-key-alias")["name"] == "alias/safetynet/vault"
    encryption = pulumi_mocks.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    assert encryption["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": out["kms_key_arn"]},
            "bucketKeyEnabled": True,
        }
    ]


def test_the_bucket_blocks_public_access_and_is_never_force_destroyed(pulumi_mocks: RecordingMocks) -> None:
    declare()
    bucket = inputs(pulumi_mocks, BUCKET, "vault-bucket")
    assert bucket["forceDestroy"] is False
    assert "objectLockEnabled" not in bucket  # objectLock off by default
    access = inputs(pulumi_mocks, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "vault-public-access")
    assert all(access[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"))
    assert access["restrictPublicBuckets"] is True
    assert pulumi_mocks.of_type(LOCK) == []


def test_the_bucket_policy_denies_plain_http_and_deletes(pulumi_mocks: RecordingMocks) -> None:
    out = declare()
    policy = json.loads(inputs(pulumi_mocks, "aws:s3/bucketPolicy:BucketPolicy", "vault-policy")["policy"])
    assert policy == vault_bucket_policy(out["bucket_arn"])


def test_exports_expire_after_the_retention(pulumi_mocks: RecordingMocks) -> None:
    declare(backup=BackupSpec(retention_days=40, cold_storage_after_days=10))
    rules = inputs(pulumi_mocks, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "vault-lifecycle")
    exports = next(r for r in rules["rules"] if r["id"] == "exports-retention")
    assert exports["filter"] == {"prefix": "exports/"}
    assert exports["expiration"] == {"days": 40}
    assert exports["transitions"] == [{"days": 10, "storageClass": "GLACIER_IR"}]


def test_s3_events_go_to_eventbridge(pulumi_mocks: RecordingMocks) -> None:
    declare()
    assert inputs(pulumi_mocks, "aws:s3/bucketNotification:BucketNotification", "vault-events")["eventbridge"] is True


def test_object_lock_sets_a_default_retention(pulumi_mocks: RecordingMocks) -> None:
    declare(backup=BackupSpec(object_lock="governance", object_lock_days=30))
    assert inputs(pulumi_mocks, BUCKET, "vault-bucket")["objectLockEnabled"] is True
    lock = inputs(pulumi_mocks, LOCK, "vault-object-lock")
    assert lock["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 30}}


def test_a_configured_key_is_used_and_none_is_created(pulumi_mocks: RecordingMocks) -> None:
    out = declare(backup=BackupSpec(kms_key_arn=OWN_KEY))
    assert out["kms_key_arn"] == OWN_KEY
    assert pulumi_mocks.of_type(KEY) == []
    encryption = pulumi_mocks.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    assert encryption["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == OWN_KEY


def test_staging_readers_are_granted_on_the_bucket_and_on_the_vaults_own_key(pulumi_mocks: RecordingMocks) -> None:
    # Given a reader in another account, when the vault manages its key
    out = declare(staging_readers=[READER], account_id=ACCOUNT)
    grants = staging_reader_grants(bucket_arn=out["bucket_arn"], key_arn=out["kms_key_arn"], readers=[READER])
    # Then the bucket policy adds the reader's read and list grants after the baseline
    policy = json.loads(inputs(pulumi_mocks, "aws:s3/bucketPolicy:BucketPolicy", "vault-policy")["policy"])
    assert policy["Statement"] == [*vault_bucket_policy(out["bucket_arn"])["Statement"], *grants["bucketPolicy"]]
    # and the key gets a policy of its own: KMS's default statement, then the reader's decrypt grant
    key_policy = inputs(pulumi_mocks, KEY_POLICY, "vault-key-policy")
    assert out["kms_key_arn"].endswith(f"/{key_policy['keyId']}")
    assert json.loads(key_policy["policy"]) == vault_key_policy(account_id=ACCOUNT, statements=grants["keyPolicy"])
    assert out["reader_key_statements"] is None


def test_with_a_configured_key_the_readers_key_statements_are_exposed_instead(pulumi_mocks: RecordingMocks) -> None:
    out = declare(backup=BackupSpec(kms_key_arn=OWN_KEY), staging_readers=[READER], account_id=ACCOUNT)
    grants = staging_reader_grants(bucket_arn=out["bucket_arn"], key_arn=OWN_KEY, readers=[READER])
    assert pulumi_mocks.of_type(KEY_POLICY) == []
    assert out["reader_key_statements"] == grants["keyPolicy"]

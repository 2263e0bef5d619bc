"""`safetynet:backup.replica` and `safetynet:tables[i].replicaRegions`: keeping copies of the
data out of the blast radius of one region (and optionally one account).

- The vault replica: S3 replication of every export (`exports/`) into a bucket in another region,
  optionally owned by another account. Bad writes and deletes in prod cannot reach it: only new
  export objects replicate, delete markers do not.
- Global tables (`replicaRegions`): the table itself is replicated within seconds. That survives a
  region outage with near-zero data loss, but every bad write or delete replicates too; PITR and the
  exports are what undo those.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from components.config.base import ConfigModel

REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
ACCOUNT_RE = re.compile(r"^\d{12}$")
ReplicaLockMode = Literal["off", "governance", "compliance"]


def check_region(value: str, where: str) -> str:
    """A region code such as eu-west-1; the message says what to write."""
    if not REGION_RE.match(value):
        raise ValueError(f"{where} '{value}' is not an AWS region code; write e.g. eu-west-1")
    return value


class ReplicaSpec(ConfigModel):
    """`safetynet:backup.replica`: where the vault's exports are replicated to.

    Without `accountId` the stack creates the replica bucket (own KMS key, versioning, the vault's
    hardening and lifecycle) in `region` through its own provider. With `accountId` the bucket
    belongs to that account: its owners create it (their admins, not prod's, can delete it) and
    apply the bucket and key policy this stack emits as `vaultReplica.destinationPolicies`; the
    stack then needs `bucketName` and `kmsKeyArn` of that bucket.
    """

    region: str = Field(description="Region of the replica bucket (not the stack's own region).")
    account_id: str | None = Field(
        default=None, description="Another account that owns the replica bucket (12 digits)."
    )
    bucket_name: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="With accountId: the other account's replica bucket.",
    )
    kms_key_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$",
        description="With accountId: the other account's KMS key (in `region`) for the replicas.",
    )
    object_lock: ReplicaLockMode = Field(
        default="off", description="Default Object Lock retention mode of the replica bucket."
    )
    object_lock_days: int | None = Field(default=None, ge=1, description="Replica Object Lock retention days.")
    replication_time_control: bool = Field(
        default=False,
        description="S3 Replication Time Control: 99.99% of objects within 15 minutes (extra cost).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ReplicaSpec:
        problems: list[str] = []
        try:
            check_region(self.region, "region")
        except ValueError as exc:
            problems.append(str(exc))
        if self.account_id is not None and not ACCOUNT_RE.match(self.account_id):
            problems.append(f"accountId '{self.account_id}' must be the 12-digit account id, e.g. 210987654321")
        if self.account_id is None:
            if self.bucket_name or self.kms_key_arn:
                problems.append(
                    "bucketName/kmsKeyArn name another account's bucket: set accountId too, or remove them "
                    "and the stack creates the replica bucket and key itself"
                )
        else:
            if not (self.bucket_name and self.kms_key_arn):
                problems.append(
                    "with accountId the other account owns the replica bucket: add bucketName and kmsKeyArn "
                    "(see README 'Vault replica in another account')"
                )
            if self.kms_key_arn and (
                f":kms:{self.region}:" not in self.kms_key_arn or f":{self.account_id}:" not in self.kms_key_arn
            ):
                problems.append(
                    f"kmsKeyArn must be a key of account {self.account_id} in {self.region} (S3 encrypts the "
                    "replicas with a key in the destination region)"
                )
            if self.object_lock != "off":
                problems.append(
                    "objectLock configures a replica bucket this stack creates; with accountId the other "
                    "account sets Object Lock on its own bucket: remove objectLock/objectLockDays"
                )
        if self.object_lock != "off" and self.object_lock_days is None:
            problems.append(f"objectLock {self.object_lock} needs objectLockDays, or set objectLock: off")
        if self.object_lock == "off" and self.object_lock_days is not None:
            problems.append("objectLockDays is set but objectLock is off; set objectLock: governance|compliance")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def cross_account(self) -> bool:
        """The replica bucket belongs to another account."""
        return self.account_id is not None

    def check_against_vault(self, *, retention_days: int) -> list[str]:
        """Rules that need the vault's settings (called by BackupSpec)."""
        if self.object_lock_days is not None and self.object_lock_days > retention_days:
            return [
                f"replica.objectLockDays {self.object_lock_days} is longer than retentionDays "
                f"{retention_days}: locked replicas could not expire; lower replica.objectLockDays"
            ]
        return []


def check_replica_regions(regions: list[str]) -> list[str]:
    """`replicaRegions` entries: region codes, each once."""
    problems = []
    for r in regions:
        try:
            check_region(r, "replicaRegions entry")
        except ValueError as exc:
            problems.append(str(exc))
    dupes = sorted({r for r in regions if regions.count(r) > 1})
    if dupes:
        problems.append(f"replicaRegions lists {', '.join(dupes)} more than once")
    return problems


class DisasterRecoverySpec(ConfigModel):
    """`safetynet:disasterRecovery` of a DR stack: where its tables' data comes from when the
    source stack's region (or account) is lost. Read by `safetynet restore-plan` and `status`;
    written down before a disaster, because the source stack's state may be unreachable then."""

    replica_bucket: str = Field(
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="The vault replica bucket (source stack output vaultReplica.bucketName).",
    )
    source_region: str = Field(description="The source stack's region (where the exported tables lived).")
    source_account_id: str | None = Field(
        default=None, description="The source stack's account, when it is not this stack's account."
    )
    source_stack: str = Field(default="prod", description="The stack whose exports are replicated.")

    @model_validator(mode="after")
    def _valid(self) -> DisasterRecoverySpec:
        problems = []
        try:
            check_region(self.source_region, "sourceRegion")
        except ValueError as exc:
            problems.append(str(exc))
        if self.source_account_id is not None and not ACCOUNT_RE.match(self.source_account_id):
            problems.append(f"sourceAccountId '{self.source_account_id}' must be a 12-digit account id")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def source_table_arn(self, physical_name: str, account_id: str) -> str:
        """The ARN the replicated exports name as their source table (checked by validation)."""
        acct = self.source_account_id or account_id
        return f"arn:aws:dynamodb:{self.source_region}:{acct}:table/{physical_name}"

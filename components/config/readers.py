"""`safetynet:stagingReaders`: test stacks in OTHER accounts that stage this stack's exports.

    safetynet:stagingReaders:
      - account: "222222222222"            # the test stack's account
        roleArns:                          # its outputs taskRoleArn and stateMachineRoleArn
          - arn:aws:iam::222222222222:role/staging-task-role-1a2b3c4
          - arn:aws:iam::222222222222:role/staging-machine-role-5d6e7f8
        tables: [orders, customers]        # optional: default every table
        region: eu-central-1               # optional: the test stack's region (default: this one)

For each reader the stack grants those roles read access to exactly the selected tables' export
prefixes (vault bucket policy) and decryption through S3 (vault key policy), and forwards the
exports' `manifest-summary.json` "Object Created" events to the reader account's default event
bus. Without `tables`, the whole `exports/` prefix is granted and forwarded: a fixed size, however
many tables the stack has (a selection grows with its tables, and must fit EventBridge's pattern
size: components/staging/readers.py). A test stack in this stack's own account needs none of it:
its role policies suffice and it sees the S3 events on the shared default bus.

Like every config module this one imports no Pulumi.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import Field, field_validator, model_validator

from components.config.base import ConfigModel
from components.config.replica import ACCOUNT_RE, check_region

# An IAM role ARN (paths allowed); group 2 is the account. Names: IAM's own character set.
ROLE_ARN_RE = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
WILDCARDS = ("*", "?")
OUTPUTS_HINT = "copy the test stack's outputs taskRoleArn and stateMachineRoleArn (`pulumi stack output`)"


def _role_arn_problem(arn: str, account: str) -> str | None:
    """Why `arn` cannot name a staging role of `account` (None when it can)."""
    if any(w in arn for w in WILDCARDS):
        return (
            f"'{arn}' contains a wildcard; bucket and key policies name exact roles (AWS stores them "
            f"as the role's unique id): {OUTPUTS_HINT}"
        )
    m = ROLE_ARN_RE.match(arn)
    if not m:
        if ":sts::" in arn and ":assumed-role/" in arn:
            hint = "a session ARN changes with every session; write the role's ARN arn:aws:iam::ACCOUNT:role/NAME"
        else:
            hint = f"write an IAM role ARN arn:aws:iam::{account}:role/NAME; {OUTPUTS_HINT}"
        return f"'{arn}' is not an IAM role ARN: {hint}"
    if m.group(2) != account:
        return (
            f"'{arn}' is a role of account {m.group(2)}, not of this reader's account {account}; "
            "list each account's roles under its own entry"
        )
    return None


class StagingReaderSpec(ConfigModel):
    """One test stack in another account that may read (and is told about) these exports."""

    account: str = Field(description="The test stack's 12-digit account id (quoted in YAML).")
    role_arns: list[str] = Field(description="The test stack's outputs taskRoleArn and stateMachineRoleArn.")
    tables: list[str] | None = Field(
        default=None, description="Logical table names; default every table (the whole exports prefix)."
    )
    region: str | None = Field(default=None, description="The test stack's region; default this stack's.")

    @field_validator("account", mode="before")
    @classmethod
    def _account(cls, v: Any) -> Any:
        if isinstance(v, int):
            # An unquoted account id reaches us as a number and loses leading zeros.
            raise ValueError(f'quote the account id: account: "{v:012d}" (YAML reads unquoted digits as a number)')
        if isinstance(v, str) and not ACCOUNT_RE.match(v.strip()):
            raise ValueError(f"'{v}' is not a 12-digit account id; write e.g. account: \"222222222222\"")
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return None if v is None else check_region(v, "region")

    @model_validator(mode="after")
    def _roles_and_tables(self) -> StagingReaderSpec:
        problems: list[str] = []
        if not self.role_arns:
            problems.append(f"roleArns is empty: {OUTPUTS_HINT}")
        for i, arn in enumerate(self.role_arns):
            problem = _role_arn_problem(arn, self.account)
            if problem:
                problems.append(f"roleArns[{i}]: {problem}")
        dupes = sorted({a for a in self.role_arns if self.role_arns.count(a) > 1})
        if dupes:
            problems.append(f"roleArns lists {', '.join(dupes)} more than once")
        if self.tables is not None:
            if not self.tables:
                problems.append("tables is empty, which grants nothing: list tables, or omit tables for every table")
            for i, name in enumerate(self.tables):
                if any(w in name for w in WILDCARDS):
                    problems.append(
                        f"tables[{i}] '{name}': wildcards are not allowed; list the tables, or omit tables for "
                        "every table"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def selected(self, configured: Iterable[str]) -> list[str]:
        """The logical names this reader may stage, in the stack's table order."""
        names = list(configured)
        return names if self.tables is None else [n for n in names if n in self.tables]


def check_staging_readers(readers: list[StagingReaderSpec], tables: Iterable[Any], *, is_test_stack: bool) -> list[str]:
    """Cross-section rules: the selected tables exist, each account once, a vault to grant on.
    `tables` are TableSpecs."""
    if not readers:
        return []
    if is_test_stack:
        return [
            "stagingReaders: this is a test stack (safetynet:staging is set) and has no vault to grant; "
            "set stagingReaders in the config of the prod stack the test stack stages from"
        ]
    names = [t.name for t in tables]
    problems = []
    if not names:
        problems.append("stagingReaders: safetynet:tables is empty, so there are no exports to grant")
    for i, reader in enumerate(readers):
        for j, name in enumerate(reader.tables or []):
            if not any(w in name for w in WILDCARDS) and name not in names:
                problems.append(
                    f"stagingReaders[{i}].tables[{j}]: no table '{name}' in safetynet:tables; "
                    f"use one of {', '.join(sorted(names)) or '(none configured)'}"
                )
    accounts = [r.account for r in readers]
    for account in sorted({a for a in accounts if accounts.count(a) > 1}):
        problems.append(
            f"stagingReaders: account {account} is listed more than once; merge its roleArns and tables into one entry"
        )
    return problems


def reader_path(index: int) -> str:
    """The config path of the reader at `index`, as messages name it."""
    return f"safetynet:stagingReaders[{index}]"


def same_account_problem(where: str, reader_account: str, own_account: str) -> str | None:
    """Known only at deploy time (the provider's account): a reader in this stack's own account.
    `where` is the reader's config path (`reader_path`)."""
    if reader_account != own_account:
        return None
    return (
        f"{where}.account {reader_account} is this stack's own account: a test stack "
        "in the same account needs no bucket or key grant (its role policies suffice) and sees the S3 events "
        "on the shared default event bus; remove the entry"
    )

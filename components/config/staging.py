"""`safetynet:staging`: the test stack's staging of prod exports into its own tables.

    safetynet:staging:
      from: acme/safetynet/prod          # the prod stack (org/project/stack) whose exports we stage
      mode: replace                      # replace (ImportTable) | refill (BatchWriteItem)
      maxConcurrency: 10                 # data files processed in parallel (Distributed Map)
      tables:                            # per-table overrides
        orders: {mode: refill}
      mask:                              # per table, per attribute path
        customers:
          email: hash
          name: fake
          address.street: {action: redact, value: "1 Example Street"}
      crossAccount:                      # prod vault in another account (optional)
        vaultAccountId: "111111111111"
    safetynet:maskingKey: {secure: ...}  # HMAC key for hash/fake (a Pulumi secret)

Like every config module this one imports no Pulumi; rule syntax and key-attribute checks reuse
`handlers.staging.masking`, the code that applies the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from components.config.base import ConfigModel
from conventions.masking import ACTIONS, MaskingError, MaskRule, parse_path, validate_rules

StagingMode = Literal["replace", "refill"]
MaskAction = Literal["drop", "redact", "hash", "fake"]
STACK_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class MaskActionSpec(ConfigModel):
    """The long form of a rule: `{action: redact, value: "..."}`."""

    action: MaskAction = Field(description="drop | redact | hash | fake.")
    value: str | None = Field(default=None, description="The fixed replacement for redact.")


class TableStagingSpec(ConfigModel):
    """Per-table overrides under `safetynet:staging.tables.<name>`."""

    mode: StagingMode | None = Field(default=None, description="replace | refill for this table.")


class CrossAccountSpec(ConfigModel):
    """The prod vault lives in another account: the test stack's staging role is granted there."""

    vault_account_id: str = Field(pattern=r"^\d{12}$", description="Account of the prod vault and key.")


class StagingSpec(ConfigModel):
    """`safetynet:staging`: where prod exports come from and how they are staged."""

    from_: str = Field(alias="from", description="The prod stack, org/project/stack.")
    mode: StagingMode = Field(default="replace", description="Default staging mode.")
    max_concurrency: int = Field(default=10, ge=1, le=1000, description="Parallel data files.")
    tables: dict[str, TableStagingSpec] = Field(default_factory=dict, description="Per-table overrides.")
    mask: dict[str, dict[str, MaskAction | MaskActionSpec]] = Field(
        default_factory=dict, description="Per table: attribute path -> action."
    )
    cross_account: CrossAccountSpec | None = Field(default=None, description="Prod vault in another account.")

    @field_validator("from_")
    @classmethod
    def _stack_name(cls, v: str) -> str:
        if not STACK_NAME_RE.match(v):
            raise ValueError(
                f"'{v}' is not a fully qualified stack name; write org/project/stack, e.g. acme/safetynet/prod"
            )
        return v

    @field_validator("mask")
    @classmethod
    def _paths(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        problems = []
        for table, rules in v.items():
            for path in rules:
                try:
                    parse_path(path)
                except MaskingError as exc:
                    problems.append(f"{table}.{path}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return v

    def mode_for(self, table: str) -> StagingMode:
        """The table's staging mode (its override, else the default)."""
        override = self.tables.get(table)
        return override.mode if override and override.mode else self.mode

    def rules_for(self, table: str) -> list[MaskRule]:
        """The table's masking rules in config order."""
        out = []
        for path, spec in self.mask.get(table, {}).items():
            if isinstance(spec, MaskActionSpec):
                out.append(MaskRule(path, spec.action, spec.value))
            else:
                out.append(MaskRule(path, spec))
        return out

    @property
    def needs_key(self) -> bool:
        """Whether any rule hashes or fakes (and so needs safetynet:maskingKey)."""
        return any(r.action in ("hash", "fake") for t in self.mask for r in self.rules_for(t))


def check_staging(staging: StagingSpec | None, tables: Iterable[Any], masking_key_set: bool) -> list[str]:
    """Cross-section rules: masked and overridden tables exist, key attributes are only hashed,
    and a masking key is configured when rules need one. `tables` are TableSpecs."""
    if staging is None:
        return []
    by_name: Mapping[str, Any] = {t.name: t for t in tables}
    problems = []
    for section, names in (("tables", staging.tables), ("mask", staging.mask)):
        for name in names:
            if name not in by_name:
                problems.append(
                    f"staging.{section}.{name}: no table '{name}' in safetynet:tables; "
                    f"use one of {', '.join(sorted(by_name)) or '(none configured)'}"
                )
    for name in staging.mask:
        if name in by_name:
            keys = {a["AttributeName"]: a["AttributeType"] for a in by_name[name].attribute_definitions()}
            problems += validate_rules(staging.rules_for(name), keys, where=f"staging.mask.{name}.")
    if staging.needs_key and not masking_key_set:
        problems.append(
            "maskingKey: hash and fake rules need a key; run "
            "`pulumi config set --secret safetynet:maskingKey $(openssl rand -hex 32)`"
        )
    return problems


__all__ = ["ACTIONS", "StagingMode", "StagingSpec", "check_staging"]

"""The typed stack config of the `safetynet` namespace: StackConfig, one field per section.

Everything a stack can be told is parsed and validated once, before any resource is declared
(components.config.loading turns Pulumi's config into a StackConfig). Components receive these
models (or values derived from them) and never read `pulumi.Config` themselves. Each section
lives in its own module (tables, backup, replica, alerts, restore, staging, readers); this one
holds what spans sections: physical table names and the rules between sections.

YAML keys are camelCase, as Pulumi users write them; Python attributes are snake_case.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from components.config.alerts import AlertsSpec, DrillSpec
from components.config.backup import BackupSpec
from components.config.base import SECRET_PLACEHOLDER, ConfigModel
from components.config.coverage import CoverageSpec
from components.config.readers import StagingReaderSpec, check_staging_readers
from components.config.replica import DisasterRecoverySpec
from components.config.restore import RestoreField
from components.config.staging import StagingSpec, check_staging
from components.config.tables import TABLE_NAME_RE, TableSpec
from conventions.tags import PRODUCTION_ENVIRONMENTS


class StackConfig(ConfigModel):
    """Everything under the `safetynet` namespace of one stack."""

    environment: str = Field(pattern=r"^[a-z][a-z0-9-]{0,19}$", description="e.g. prod, test.")
    table_name_pattern: str | None = Field(
        default=None,
        description="Physical table names, with {name} and {environment}; default {name} in prod, "
        "{name}-{environment} elsewhere.",
    )
    tables: list[TableSpec] = Field(default_factory=list, description="The protected tables.")
    backup: BackupSpec = Field(default_factory=BackupSpec, description="Nightly export and vault.")
    disaster_recovery: DisasterRecoverySpec | None = Field(
        default=None, description="DR stack: the replicated vault its tables are restored from."
    )
    alerts: AlertsSpec = Field(default_factory=AlertsSpec, description="Disaster recognition alerts.")
    drill: DrillSpec = Field(default_factory=DrillSpec, description="Scheduled restore drill.")
    restore: RestoreField = Field(
        default_factory=dict, description="Restore sources per table (written by `safetynet restore-plan`)."
    )
    staging: StagingSpec | None = Field(default=None, description="Test stack: stage prod's exports here.")
    masking_key: SecretStr | None = Field(default=None, description="HMAC key of hash/fake masking (secret).")
    staging_readers: list[StagingReaderSpec] = Field(
        default_factory=list, description="Prod stack: test stacks in other accounts that stage its exports."
    )
    coverage: CoverageSpec = Field(
        default_factory=CoverageSpec, description="Tables of the account knowingly left without safetynet."
    )

    @property
    def is_prod(self) -> bool:
        """Prod, and dr (the stack that takes over prod's traffic in another region), get Pulumi
        protect, retain-on-delete, deletion protection and prod's own table names."""
        return self.environment in PRODUCTION_ENVIRONMENTS

    def physical_name(self, table: TableSpec) -> str:
        """The table's name in AWS for this environment."""
        pattern = self.table_name_pattern or ("{name}" if self.is_prod else "{name}-{environment}")
        return pattern.format(name=table.name, environment=self.environment)

    @field_validator("table_name_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if not v:  # Pulumi.yaml declares "" as the default: use the environment's convention
            return None
        if "{name}" not in v:
            raise ValueError("tableNamePattern must contain {name}, e.g. '{name}-{environment}'")
        try:
            v.format(name="x", environment="y")
        except (KeyError, IndexError, ValueError):
            raise ValueError("tableNamePattern may only use {name} and {environment}") from None
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> StackConfig:
        problems = []
        logical = [t.name for t in self.tables]
        dup = sorted({n for n in logical if logical.count(n) > 1})
        if dup:
            problems.append(f"duplicate table names: {', '.join(dup)}; each table is configured once")
        physical = [self.physical_name(t) for t in self.tables]
        for t, p in zip(self.tables, physical, strict=True):
            if not TABLE_NAME_RE.match(p):
                problems.append(f"table '{t.name}' gets the invalid physical name '{p}' from tableNamePattern")
        pdup = sorted({p for p in physical if physical.count(p) > 1} - set(dup))
        if pdup:
            problems.append(f"tableNamePattern maps several tables to {', '.join(pdup)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _staging_matches_tables(self) -> StackConfig:
        problems = check_staging(self.staging, self.tables, masking_key_set=self.masking_key is not None)
        problems += check_staging_readers(self.staging_readers, self.tables, is_test_stack=self.staging is not None)
        key = self.masking_key.get_secret_value() if self.masking_key else None
        if key is not None and key != SECRET_PLACEHOLDER and len(key.encode()) < 16:
            problems.append("maskingKey must be at least 16 bytes; use `openssl rand -hex 32`")
        if problems:
            raise ValueError("; ".join(problems))
        return self

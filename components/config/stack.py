"""The typed stack config of the `safetynet` namespace.

Everything a stack can be told lives here, parsed and validated once, before any resource is
declared. Components receive these models (or values derived from them) and never read
`pulumi.Config` themselves.

This module does not import Pulumi: the CLI, the handlers' tests and the demo build tables from
the same models (see `TableSpec.create_table_request`) without a Pulumi runtime.

YAML keys are camelCase, as Pulumi users write them; Python attributes are snake_case.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from components.config.alerts import AlertsSpec, DrillSpec
from components.config.base import ConfigError, ConfigModel
from components.config.readers import StagingReaderSpec, check_staging_readers
from components.config.replica import DisasterRecoverySpec, ReplicaSpec, check_replica_regions
from components.config.restore import RestoreField
from components.config.staging import StagingSpec, check_staging
from conventions.tags import NAMESPACE, PRODUCTION_ENVIRONMENTS

KeyType = Literal["S", "N", "B"]
Projection = Literal["ALL", "KEYS_ONLY", "INCLUDE"]
BillingMode = Literal["PAY_PER_REQUEST", "PROVISIONED"]
StreamViewType = Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]
TableClass = Literal["STANDARD", "STANDARD_INFREQUENT_ACCESS"]
ObjectLockMode = Literal["off", "governance", "compliance"]
ColdStorageClass = Literal["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER"]

# DynamoDB service quotas that cannot be raised.
MAX_GSIS = 20
MAX_LSIS = 5
TABLE_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
INDEX_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
# EventBridge Scheduler expressions: at(), rate() and six-field cron().
_AT_RE = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")
_RATE_RE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON_RE = re.compile(r"^cron\(([^()]+)\)$")


class KeyAttribute(ConfigModel):
    """A key attribute: its name and DynamoDB scalar type."""

    name: str = Field(min_length=1, max_length=255, description="Attribute name.")
    type: KeyType = Field(description="S (string), N (number) or B (binary).")


class GlobalSecondaryIndex(ConfigModel):
    """A global secondary index."""

    name: str = Field(pattern=INDEX_NAME_RE.pattern, description="Index name.")
    hash_key: KeyAttribute = Field(description="Partition key of the index.")
    range_key: KeyAttribute | None = Field(default=None, description="Sort key of the index.")
    projection: Projection = Field(default="ALL", description="Attributes copied into the index.")
    non_key_attributes: list[str] = Field(
        default_factory=list, description="Projected attributes when projection is INCLUDE."
    )
    read_capacity: int | None = Field(default=None, ge=1, description="RCUs (PROVISIONED tables).")
    write_capacity: int | None = Field(default=None, ge=1, description="WCUs (PROVISIONED tables).")

    @model_validator(mode="after")
    def _include_needs_attributes(self) -> GlobalSecondaryIndex:
        if self.projection == "INCLUDE" and not self.non_key_attributes:
            raise ValueError("projection INCLUDE needs nonKeyAttributes: [attr, ...]")
        if self.projection != "INCLUDE" and self.non_key_attributes:
            raise ValueError("nonKeyAttributes is only valid with projection: INCLUDE")
        return self


class LocalSecondaryIndex(ConfigModel):
    """A local secondary index (shares the table's partition key)."""

    name: str = Field(pattern=INDEX_NAME_RE.pattern, description="Index name.")
    range_key: KeyAttribute = Field(description="Alternative sort key.")
    projection: Projection = Field(default="ALL", description="Attributes copied into the index.")
    non_key_attributes: list[str] = Field(default_factory=list, description="With projection INCLUDE.")

    @model_validator(mode="after")
    def _include_needs_attributes(self) -> LocalSecondaryIndex:
        if self.projection == "INCLUDE" and not self.non_key_attributes:
            raise ValueError("projection INCLUDE needs nonKeyAttributes: [attr, ...]")
        return self


class TableSpec(ConfigModel):
    """One protected DynamoDB table, as configured under `safetynet:tables`."""

    name: str = Field(description="Logical table name; the physical name in prod.")
    hash_key: KeyAttribute = Field(description="Partition key: {name, type: S|N|B}.")
    range_key: KeyAttribute | None = Field(default=None, description="Sort key.")
    billing_mode: BillingMode = Field(default="PAY_PER_REQUEST", description="Capacity mode.")
    read_capacity: int | None = Field(default=None, ge=1, description="RCUs when PROVISIONED.")
    write_capacity: int | None = Field(default=None, ge=1, description="WCUs when PROVISIONED.")
    ttl_attribute: str | None = Field(default=None, min_length=1, description="TTL attribute name.")
    stream_view_type: StreamViewType | None = Field(default=None, description="Enables streams.")
    global_secondary_indexes: list[GlobalSecondaryIndex] = Field(default_factory=list)
    local_secondary_indexes: list[LocalSecondaryIndex] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict, description="Extra tags on the table.")
    point_in_time_recovery_days: int = Field(
        default=35, ge=1, le=35, description="PITR recovery period in days (1-35)."
    )
    table_class: TableClass = Field(default="STANDARD", description="Storage class.")
    adopt: bool = Field(default=False, description="Import an existing table of this name instead of creating one.")
    replica_regions: list[str] = Field(
        default_factory=list,
        description="Global table replicas (each with PITR, deletion protection in prod); needs streams "
        "NEW_AND_OLD_IMAGES (set automatically when streamViewType is unset).",
    )

    @model_validator(mode="before")
    @classmethod
    def _global_table_streams(cls, data: Any) -> Any:
        # Global tables replicate through the table's stream, which must carry both images.
        if isinstance(data, dict) and data.get("replicaRegions", data.get("replica_regions")):
            view = data.get("streamViewType", data.get("stream_view_type"))
            if view is None:
                return {**data, "streamViewType": "NEW_AND_OLD_IMAGES"}
            if view != "NEW_AND_OLD_IMAGES":
                raise ValueError(
                    "replicaRegions make a global table, which replicates through a NEW_AND_OLD_IMAGES "
                    f"stream; streamViewType is {view}: write streamViewType: NEW_AND_OLD_IMAGES "
                    "(or remove it)"
                )
        return data

    @field_validator("replica_regions")
    @classmethod
    def _replica_regions(cls, v: list[str]) -> list[str]:
        problems = check_replica_regions(v)
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @field_validator("name")
    @classmethod
    def _name_is_valid(cls, v: str) -> str:
        if not TABLE_NAME_RE.match(v):
            raise ValueError("table names are 3-255 characters of a-z A-Z 0-9 _ - .")
        return v

    @model_validator(mode="after")
    def _cross_field_rules(self) -> TableSpec:
        problems: list[str] = []
        if self.billing_mode == "PROVISIONED":
            if self.read_capacity is None or self.write_capacity is None:
                problems.append(
                    "billingMode PROVISIONED needs readCapacity and writeCapacity (e.g. readCapacity: 5, "
                    "writeCapacity: 5), or use billingMode: PAY_PER_REQUEST"
                )
            for gsi in self.global_secondary_indexes:
                if gsi.read_capacity is None or gsi.write_capacity is None:
                    problems.append(
                        f"globalSecondaryIndexes '{gsi.name}': a PROVISIONED table needs readCapacity and "
                        "writeCapacity on every index"
                    )
        elif self.read_capacity is not None or self.write_capacity is not None:
            problems.append("readCapacity/writeCapacity are only valid with billingMode: PROVISIONED; remove them")
        if self.local_secondary_indexes and self.range_key is None:
            problems.append(
                "localSecondaryIndexes need a table with a rangeKey (an LSI is an alternative sort key); "
                "add rangeKey: {name, type} or make the index a globalSecondaryIndex"
            )
        if len(self.global_secondary_indexes) > MAX_GSIS:
            problems.append(
                f"{len(self.global_secondary_indexes)} globalSecondaryIndexes: DynamoDB allows at most {MAX_GSIS}"
            )
        if len(self.local_secondary_indexes) > MAX_LSIS:
            problems.append(
                f"{len(self.local_secondary_indexes)} localSecondaryIndexes: DynamoDB allows at most {MAX_LSIS}"
            )
        index_names = [i.name for i in self.global_secondary_indexes] + [i.name for i in self.local_secondary_indexes]
        dupes = sorted({n for n in index_names if index_names.count(n) > 1})
        if dupes:
            problems.append(f"index names must be unique per table; duplicated: {', '.join(dupes)}")
        types: dict[str, tuple[str, str]] = {}
        for where, attr in self._key_attributes():
            seen = types.setdefault(attr.name, (attr.type, where))
            if seen[0] != attr.type:
                problems.append(
                    f"key attribute '{attr.name}' is type {seen[0]} in {seen[1]} but {attr.type} in {where}; "
                    "an attribute has one type per table: use the same type everywhere"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _key_attributes(self) -> Iterable[tuple[str, KeyAttribute]]:
        yield "hashKey", self.hash_key
        if self.range_key:
            yield "rangeKey", self.range_key
        for g in self.global_secondary_indexes:
            yield f"index {g.name} hashKey", g.hash_key
            if g.range_key:
                yield f"index {g.name} rangeKey", g.range_key
        for lsi in self.local_secondary_indexes:
            yield f"index {lsi.name} rangeKey", lsi.range_key

    # -- schema helpers shared by components, handlers, the CLI and tests ---------------------

    def attribute_definitions(self) -> list[dict[str, str]]:
        """Every key attribute once, in first-seen order (DynamoDB's AttributeDefinitions)."""
        out: dict[str, str] = {}
        for _, attr in self._key_attributes():
            out.setdefault(attr.name, attr.type)
        return [{"AttributeName": n, "AttributeType": t} for n, t in out.items()]

    def key_attribute_names(self) -> set[str]:
        """Table and index key attributes: masking may hash them but never drop or retype them."""
        return {attr.name for _, attr in self._key_attributes()}

    def key_schema(self) -> list[dict[str, str]]:
        """The table's primary key in DynamoDB's KeySchema shape."""
        ks = [{"AttributeName": self.hash_key.name, "KeyType": "HASH"}]
        if self.range_key:
            ks.append({"AttributeName": self.range_key.name, "KeyType": "RANGE"})
        return ks

    def create_table_request(self, physical_name: str) -> dict[str, Any]:
        """The boto3 `create_table` keyword arguments for this schema (keys, indexes, billing).

        This is the table schema in AWS's own shape: exported as a stack output, used by tests
        and the demo to build moto tables, and by staging to import into a test table.
        """
        req: dict[str, Any] = {
            "TableName": physical_name,
            "KeySchema": self.key_schema(),
            "AttributeDefinitions": self.attribute_definitions(),
            "BillingMode": self.billing_mode,
            "TableClass": self.table_class,
        }
        if self.billing_mode == "PROVISIONED":
            req["ProvisionedThroughput"] = {
                "ReadCapacityUnits": self.read_capacity,
                "WriteCapacityUnits": self.write_capacity,
            }
        if self.global_secondary_indexes:
            req["GlobalSecondaryIndexes"] = [_gsi_request(g, self.billing_mode) for g in self.global_secondary_indexes]
        if self.local_secondary_indexes:
            req["LocalSecondaryIndexes"] = [
                {
                    "IndexName": lsi.name,
                    "KeySchema": [
                        {"AttributeName": self.hash_key.name, "KeyType": "HASH"},
                        {"AttributeName": lsi.range_key.name, "KeyType": "RANGE"},
                    ],
                    "Projection": _projection(lsi.projection, lsi.non_key_attributes),
                }
                for lsi in self.local_secondary_indexes
            ]
        if self.stream_view_type:
            req["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream_view_type}
        return req


def _projection(kind: str, non_key: list[str]) -> dict[str, Any]:
    p: dict[str, Any] = {"ProjectionType": kind}
    if kind == "INCLUDE":
        p["NonKeyAttributes"] = list(non_key)
    return p


def _gsi_request(g: GlobalSecondaryIndex, billing_mode: str) -> dict[str, Any]:
    ks = [{"AttributeName": g.hash_key.name, "KeyType": "HASH"}]
    if g.range_key:
        ks.append({"AttributeName": g.range_key.name, "KeyType": "RANGE"})
    out: dict[str, Any] = {
        "IndexName": g.name,
        "KeySchema": ks,
        "Projection": _projection(g.projection, g.non_key_attributes),
    }
    if billing_mode == "PROVISIONED":
        out["ProvisionedThroughput"] = {
            "ReadCapacityUnits": g.read_capacity,
            "WriteCapacityUnits": g.write_capacity,
        }
    return out


def validate_schedule_expression(expr: str) -> str:
    """Accept EventBridge Scheduler's at(), rate() and six-field cron() expressions."""
    if _AT_RE.match(expr):
        return expr
    m = _RATE_RE.match(expr)
    if m:
        value, unit = int(m.group(1)), m.group(2)
        if value < 1:
            raise ValueError("rate() needs a positive value, e.g. rate(1 day)")
        if (value == 1) != (not unit.endswith("s")):
            raise ValueError(f"write rate({value} {unit.rstrip('s')}{'' if value == 1 else 's'})")
        return expr
    m = _CRON_RE.match(expr)
    if m:
        fields = m.group(1).split()
        if len(fields) != 6:
            raise ValueError(
                f"cron() takes 6 fields (minutes hours day-of-month month day-of-week year), got "
                f"{len(fields)}; e.g. cron(0 3 * * ? *)"
            )
        dom, dow = fields[2], fields[4]
        if "?" not in (dom, dow):
            raise ValueError("cron(): one of day-of-month or day-of-week must be '?', e.g. cron(0 3 * * ? *)")
        return expr
    raise ValueError(
        "a schedule is cron(0 3 * * ? *), rate(1 day) or at(2030-01-01T03:00:00) (EventBridge Scheduler syntax)"
    )


class BackupSpec(ConfigModel):
    """`safetynet:backup`: the nightly native export and the vault that keeps it."""

    schedule: str = Field(default="cron(0 3 * * ? *)", description="EventBridge Scheduler expression.")
    timezone: str = Field(default="UTC", description="IANA time zone of the schedule.")
    flexible_window_minutes: int = Field(
        default=0, ge=0, le=1440, description="Let the scheduler spread start times (0 = off)."
    )
    retention_days: int = Field(default=90, ge=1, description="Exports expire after this many days.")
    cold_storage_after_days: int | None = Field(
        default=None, ge=1, description="Move exports to coldStorageClass after this many days."
    )
    cold_storage_class: ColdStorageClass = Field(default="GLACIER_IR", description="Colder S3 class.")
    noncurrent_version_days: int = Field(
        default=30, ge=1, description="Overwritten or expired object versions are kept this long."
    )
    object_lock: ObjectLockMode = Field(default="off", description="S3 Object Lock default retention mode.")
    object_lock_days: int | None = Field(default=None, ge=1, description="Object Lock retention in days.")
    kms_key_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$",
        description="Customer KMS key; default: a key created by the stack, rotation on.",
    )
    max_retry_attempts: int = Field(default=5, ge=0, le=185, description="Scheduler retries.")
    max_event_age_seconds: int = Field(default=3600, ge=60, le=86400, description="Give up after.")
    replica: ReplicaSpec | None = Field(
        default=None, description="Replicate the exports to another region (and optionally account)."
    )

    @model_validator(mode="after")
    def _replica_fits_vault(self) -> BackupSpec:
        replica = self.replica
        problems = replica.check_against_vault(retention_days=self.retention_days) if replica else []
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        return validate_schedule_expression(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{v}'; use an IANA name such as UTC or Europe/Berlin") from None
        return v

    @model_validator(mode="after")
    def _lock_and_lifecycle(self) -> BackupSpec:
        if self.object_lock != "off":
            if self.object_lock_days is None:
                raise ValueError(
                    f"objectLock {self.object_lock} needs objectLockDays (at most retentionDays="
                    f"{self.retention_days}), or set objectLock: off"
                )
            if self.object_lock_days > self.retention_days:
                raise ValueError(
                    f"objectLockDays {self.object_lock_days} is longer than retentionDays {self.retention_days}: "
                    "locked exports could not expire; lower objectLockDays or raise retentionDays"
                )
        elif self.object_lock_days is not None:
            raise ValueError("objectLockDays is set but objectLock is off; set objectLock: governance|compliance")
        if self.cold_storage_after_days is not None and self.cold_storage_after_days >= self.retention_days:
            raise ValueError(
                f"coldStorageAfterDays {self.cold_storage_after_days} must be below retentionDays "
                f"{self.retention_days}, or exports expire before they move"
            )
        return self


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


# -- loading ---------------------------------------------------------------------------------

# A placeholder for secret values where a secret's real value must not appear (synth output).
SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 (a placeholder, not a credential)


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = f"{NAMESPACE}:"
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("" if i == 0 else ".") + str(part)
    return out


# A message that starts with a key path, e.g. `staging.tables.orders: ...`, `stagingReaders[0]: ...`.
_KEY_PATH_RE = re.compile(r"^[A-Za-z][\w.\[\]]*: ")

_HINTS = {
    "missing": "add it",
    "extra_forbidden": "unknown key (a typo?); remove it or check the configuration reference in README.md",
    "literal_error": "use one of the allowed values",
}


def _describe(err: Mapping[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    # pydantic puts the name of a model validator's model in the loc; it adds nothing for users.
    path = _loc_to_path(loc)
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    hint = _HINTS.get(str(err.get("type")), "")
    if err.get("type") == "missing":
        msg = "is required"
        if loc and loc[-1] in ("hashKey", "hash_key"):
            hint = "write hashKey: {name: id, type: S}"
    if not loc:
        # StackConfig's cross-section rules: most messages start with their own key path.
        return f"{NAMESPACE}:{msg}" if _KEY_PATH_RE.match(msg) else f"{NAMESPACE}: {msg}"
    return f"{path}: {msg}" + (f" — {hint}" if hint else "")


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate already-decoded config values (keys without the namespace) into a StackConfig.

    Raises ConfigError listing every problem with its config path.
    """
    try:
        return StackConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError([_describe(e) for e in exc.errors(include_url=False)]) from None


def decode_pulumi_config(all_config: Mapping[str, str]) -> dict[str, Any]:
    """Turn Pulumi's flat `namespace:key -> string` config into decoded values of our namespace.

    Structured keys arrive as JSON text; scalar keys as plain strings. Keys of other namespaces
    (aws:region, ...) are ignored here.
    """
    problems: list[str] = []
    out: dict[str, Any] = {}
    for full_key, value in all_config.items():
        ns, _, key = full_key.partition(":")
        if ns != NAMESPACE:
            continue
        # Pulumi hands structured values (lists, objects) to programs as JSON text; a plain
        # string where an object belongs is reported by the model with its path.
        # The synth placeholder of a secret starts with "[" but is a plain string.
        if value != SECRET_PLACEHOLDER and value.lstrip()[:1] in ("[", "{"):
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError as exc:
                problems.append(f"{full_key}: not valid structured config ({exc.msg}); check the YAML indentation")
                continue
        else:
            out[key] = value
    if problems:
        raise ConfigError(problems)
    return out


def load_from_pulumi() -> StackConfig:
    """Read this stack's `safetynet:*` config through the Pulumi runtime (only __main__ calls this)."""
    # Pulumi is imported only where the engine runs us. The language host hands config to the
    # program through set_all_config (CONFIG); older hosts used the PULUMI_CONFIG variable.
    from pulumi.runtime.config import CONFIG, get_config_env

    return parse_stack_config(decode_pulumi_config({**get_config_env(), **CONFIG.get()}))

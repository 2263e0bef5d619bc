"""Adopting existing tables: which live tables a selector picks, and the `safetynet:tables` entry
that imports each one with no difference.

An entry carries the table's live settings wherever safetynet:tables can say them (keys, indexes,
billing, TTL, streams, table class, PITR period, tags) and, under `asFound`, the live value of each
protection setting the stack would otherwise change (PITR off, deletion protection, the AWS owned
key, no stack tags). A table the entry cannot describe exactly is reported with the reason and
never half-written. Before an entry is accepted, the program's own `table_inputs` is run on it
and compared field by field with the live table as the AWS provider compares them on import.

Pure: the command reads the tables (`inventory`) and writes the file (`stack_yaml`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal

from conventions.tags import ENVIRONMENT_TAG, MANAGED_BY, MANAGED_BY_TAG, STACK_TAG, stack_tag_value
from safetynet.coverage.comparison import (
    AWS_TAG_PREFIX,
    DEFAULT_PITR_DAYS,
    Unrepresentable,
    compare,
    declared_inputs,
    live_inputs,
    policy_findings,
)
from safetynet.coverage.inventory import LiveTable

if TYPE_CHECKING:
    from components.config.stack import StackConfig
    from components.config.tables import TableSpec

# The tag BackedUpTable adds to every table: its logical name.
TABLE_TAG = "safetynet:table"
# Keys written in flow style, as in the shipped stack files (`hashKey: {name: id, type: S}`).
FLOW_KEYS = frozenset({"hashKey", "rangeKey", "nonKeyAttributes"})

Kind = Literal["adopt", "present", "excluded", "replica", "unrepresentable"]


# -- selecting ----------------------------------------------------------------------------------


def parse_tag(text: str) -> tuple[str, str]:
    """`KEY=VALUE` of `--tag`; the value may be empty or contain `=`."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--tag {text!r}: write KEY=VALUE, e.g. --tag team=payments")
    return key.strip(), value


@dataclass(frozen=True)
class Selector:
    """Which live tables to adopt: every `tags` pair must match, the name must start with one of
    `prefixes` or be one of `names` (when either is given), and match none of `excludes`."""

    tags: Mapping[str, str] = field(default_factory=dict)
    prefixes: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.tags or self.prefixes or self.names)

    def by_name(self, name: str) -> bool:
        if not (self.prefixes or self.names):
            return True
        return name in self.names or any(name.startswith(p) for p in self.prefixes)

    def by_tags(self, tags: Mapping[str, str]) -> bool:
        return all(tags.get(k) == v for k, v in self.tags.items())

    def exclusion(self, name: str) -> str | None:
        """The first --exclude pattern that matches the name (fnmatch, case-sensitive)."""
        return next((p for p in self.excludes if fnmatchcase(name, p)), None)

    def describe(self) -> str:
        parts = [f"tag {k}={v}" for k, v in self.tags.items()]
        parts += [f"prefix {p!r}" for p in self.prefixes]
        parts += [f"table {n}" for n in self.names]
        text = ", ".join(parts)
        if self.excludes:
            text += " minus " + ", ".join(self.excludes)
        return text


# -- the stack ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackView:
    """What adoption needs to know of the stack: its config, project and name."""

    cfg: StackConfig
    project: str
    stack: str

    @property
    def stack_tags(self) -> dict[str, str]:
        """The tags the program puts on every resource (components.stack.stack_tags)."""
        return {
            ENVIRONMENT_TAG: self.cfg.environment,
            STACK_TAG: stack_tag_value(self.project, self.stack),
            MANAGED_BY_TAG: MANAGED_BY,
        }

    @property
    def name_pattern(self) -> str:
        """tableNamePattern as StackConfig.physical_name applies it."""
        return self.cfg.table_name_pattern or ("{name}" if self.cfg.is_prod else "{name}-{environment}")

    def physical_names(self) -> dict[str, str]:
        """physical name -> logical name of the tables already in the stack file."""
        return {self.cfg.physical_name(t): t.name for t in self.cfg.tables}

    def logical_name(self, physical: str) -> str | None:
        """The logical name whose physical name (tableNamePattern) is `physical`, or None."""
        regex, seen = "", False
        for literal, field_name, _, _ in _format_parts(self.name_pattern):
            regex += re.escape(literal)
            if field_name == "name":
                regex += "(?P=name)" if seen else "(?P<name>.+?)"
                seen = True
            elif field_name == "environment":
                regex += re.escape(self.cfg.environment)
        match = re.fullmatch(regex, physical)
        if match is None:
            return None
        logical = match.group("name")
        rebuilt = self.name_pattern.format(name=logical, environment=self.cfg.environment)
        return logical if rebuilt == physical else None


def _format_parts(pattern: str) -> Iterable[tuple[str, str | None, str | None, str | None]]:
    return string.Formatter().parse(pattern)


# -- the plan -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What adopt does with one selected table."""

    table: str
    """Physical name."""
    kind: Kind
    reason: str = ""
    """Why it is skipped; for an adopted table, the settings kept as found."""
    logical: str | None = None
    entry: dict[str, Any] | None = None
    """The `safetynet:tables` entry (camelCase, in the order a person writes it)."""
    policy: list[str] = field(default_factory=list)
    """Mandatory pull-request rules (policy_rules) the adopted table fails until asFound goes."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"table": self.table, "kind": self.kind, "reason": self.reason}
        if self.logical is not None:
            out["name"] = self.logical
        return out


@dataclass
class AdoptionPlan:
    """Every table the selector picked, in name order, with what adopt does with it."""

    outcomes: list[Outcome]

    @property
    def adopted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == "adopt"]

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind != "adopt"]

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [o.entry for o in self.adopted if o.entry is not None]


def plan_adoption(tables: Iterable[LiveTable], view: StackView, selector: Selector) -> AdoptionPlan:
    """The outcome for each live table the selector picks (tables it does not pick are left out)."""
    present = view.physical_names()
    coverage = getattr(view.cfg, "coverage", None)
    outcomes = []
    for live in sorted(tables, key=lambda t: t.name):
        if not (selector.by_name(live.name) and selector.by_tags(live.tags)):
            continue
        outcomes.append(_outcome(live, view, selector, present, coverage))
    return AdoptionPlan(outcomes)


def _outcome(
    live: LiveTable, view: StackView, selector: Selector, present: Mapping[str, str], coverage: Any
) -> Outcome:
    pattern = selector.exclusion(live.name)
    if pattern is not None:
        return Outcome(live.name, "excluded", f"matches --exclude {pattern}")
    if live.name in present:
        return Outcome(live.name, "present", f"already in the stack as '{present[live.name]}'", present[live.name])
    rule = coverage.exclusion_for(live.name) if coverage is not None else None
    if rule is not None:
        return Outcome(live.name, "excluded", f"excluded in safetynet:coverage ({rule.pattern}): {rule.reason}")
    if live.replica_regions:
        return Outcome(
            live.name,
            "replica",
            f"a global table (replicas in {', '.join(live.replica_regions)}): safetynet declares replicas "
            "itself (replicaRegions) and cannot import existing ones; adopt it by hand",
        )
    try:
        logical, entry, kept = entry_for(live, view)
    except Unrepresentable as exc:
        return Outcome(live.name, "unrepresentable", str(exc))
    reason = "as found: " + ", ".join(kept) if kept else "matches the stack's protection"
    return Outcome(live.name, "adopt", reason, logical, entry, policy_findings(_validated(entry), view))


# -- one entry ------------------------------------------------------------------------------------


def entry_for(live: LiveTable, view: StackView) -> tuple[str, dict[str, Any], list[str]]:
    """(logical name, entry, settings kept as found) for a live table; raises Unrepresentable."""
    if live.status != "ACTIVE":
        raise Unrepresentable(f"the table is {live.status}; adopt it once it is ACTIVE")
    logical = view.logical_name(live.name)
    if logical is None:
        raise Unrepresentable(
            f"its name does not follow this stack's tableNamePattern '{view.name_pattern}' "
            f"(environment {view.cfg.environment}): adopt it into the stack whose pattern it follows"
        )
    _refuse_unsupported(live)
    entry = _schema_entry(live, logical)
    own_tags, keep_stack_tags = _tags(live, view, logical)
    if own_tags:
        entry["tags"] = own_tags
    entry["adopt"] = True
    as_found, kept = _as_found(live, view, keep_stack_tags)
    if as_found:
        entry["asFound"] = as_found
    spec = _validated(entry)
    differences = compare(declared_inputs(spec, view), live_inputs(live))
    if differences:
        raise Unrepresentable("the stack would declare it differently: " + "; ".join(differences))
    return logical, entry, kept


def _schema_entry(live: LiveTable, logical: str) -> dict[str, Any]:
    """Keys, billing, TTL, streams, PITR period, table class and indexes, as the table has them."""
    entry: dict[str, Any] = {"name": logical}
    types = live.attribute_types
    entry["hashKey"] = _key(live.hash_key, types)
    if live.range_key:
        entry["rangeKey"] = _key(live.range_key, types)
    if live.billing_mode == "PROVISIONED":
        entry.update(billingMode="PROVISIONED", readCapacity=live.read_capacity, writeCapacity=live.write_capacity)
    if live.ttl_attribute:
        entry["ttlAttribute"] = live.ttl_attribute
    if live.stream_view_type:
        entry["streamViewType"] = live.stream_view_type
    if live.pitr_enabled and live.pitr_recovery_days not in (None, DEFAULT_PITR_DAYS):
        entry["pointInTimeRecoveryDays"] = live.pitr_recovery_days
    if live.table_class != "STANDARD":
        entry["tableClass"] = live.table_class
    if live.global_secondary_indexes:
        entry["globalSecondaryIndexes"] = [_gsi(g, types, live.billing_mode) for g in live.global_secondary_indexes]
    if live.local_secondary_indexes:
        entry["localSecondaryIndexes"] = [_lsi(i, types) for i in live.local_secondary_indexes]
    return entry


def _refuse_unsupported(live: LiveTable) -> None:
    if live.on_demand_max_read or live.on_demand_max_write:
        raise Unrepresentable(
            "it has a maximum on-demand throughput (OnDemandThroughput), which safetynet:tables cannot "
            "declare: the import would remove it"
        )
    for g in live.global_secondary_indexes:
        keys = g.get("KeySchema", [])
        if [k["KeyType"] for k in keys] not in (["HASH"], ["HASH", "RANGE"]):
            raise Unrepresentable(
                f"index {g['IndexName']} has a key of several attributes; safetynet:tables declares one "
                "partition key and at most one sort key per index"
            )
        limits = g.get("OnDemandThroughput") or {}
        if any(isinstance(v, int) and v > 0 for v in limits.values()):
            raise Unrepresentable(
                f"index {g['IndexName']} has a maximum on-demand throughput, which safetynet:tables cannot declare"
            )


def _key(name: str, types: Mapping[str, str]) -> dict[str, str]:
    return {"name": name, "type": types[name]}


def _projection(index: Mapping[str, Any]) -> dict[str, Any]:
    projection = index.get("Projection") or {}
    kind = projection.get("ProjectionType", "ALL")
    out: dict[str, Any] = {"projection": kind}
    if kind == "INCLUDE":
        out["nonKeyAttributes"] = list(projection.get("NonKeyAttributes", []))
    return out


def _gsi(index: Mapping[str, Any], types: Mapping[str, str], billing_mode: str) -> dict[str, Any]:
    keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
    out: dict[str, Any] = {"name": index["IndexName"], "hashKey": _key(keys["HASH"], types)}
    if "RANGE" in keys:
        out["rangeKey"] = _key(keys["RANGE"], types)
    out.update(_projection(index))
    if billing_mode == "PROVISIONED":
        throughput = index.get("ProvisionedThroughput") or {}
        out["readCapacity"] = throughput.get("ReadCapacityUnits")
        out["writeCapacity"] = throughput.get("WriteCapacityUnits")
    return out


def _lsi(index: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any]:
    keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
    return {"name": index["IndexName"], "rangeKey": _key(keys["RANGE"], types), **_projection(index)}


def _tags(live: LiveTable, view: StackView, logical: str) -> tuple[dict[str, str], bool]:
    """(the entry's own tags, whether the stack's tags are already on the table)."""
    tags = {k: v for k, v in live.tags.items() if not k.startswith(AWS_TAG_PREFIX)}
    program = {**view.stack_tags, TABLE_TAG: logical}
    clashes = sorted(k for k, v in program.items() if k in tags and tags[k] != v)
    if clashes:
        owner = "another tool manages it" if MANAGED_BY_TAG in clashes else "another safetynet stack manages it"
        found = ", ".join(f"{k}={tags[k]}" for k in clashes)
        raise Unrepresentable(f"tagged {found}: {owner}; two owners of one table would undo each other's changes")
    has_program_tags = all(tags.get(k) == v for k, v in program.items())
    own = {k: v for k, v in tags.items() if not (has_program_tags and k in program)}
    return own, has_program_tags


def _as_found(live: LiveTable, view: StackView, has_stack_tags: bool) -> tuple[dict[str, Any], list[str]]:
    """The protection settings the stack would change, with their live values."""
    found: dict[str, Any] = {}
    kept: list[str] = []
    if not live.pitr_enabled:
        found["pointInTimeRecovery"] = False
        kept.append("PITR off")
    if live.deletion_protection != view.cfg.is_prod:
        found["deletionProtection"] = live.deletion_protection
        kept.append(f"deletion protection {'on' if live.deletion_protection else 'off'}")
    if live.sse_type != "KMS":
        found["serverSideEncryption"] = False
        kept.append("AWS owned key")
    if not has_stack_tags:
        found["stackTags"] = False
        kept.append("no stack tags")
    return found, kept


def _validated(entry: Mapping[str, Any]) -> TableSpec:
    from pydantic import ValidationError

    from components.config.tables import TableSpec

    try:
        return TableSpec.model_validate(dict(entry))
    except ValidationError as exc:
        problems = "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())
        raise Unrepresentable(f"safetynet:tables cannot describe it: {problems}") from None

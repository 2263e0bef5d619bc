"""What the rules see and say: declared resources, the type tokens they look for, findings, rules
and violations, and the two adapters that build resources from what each path hands over.

Nothing here imports Pulumi: the policy SDK's objects are read duck-typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Props = Mapping[str, Any]
"""A resource's inputs, camelCase as Pulumi sends them (a dict offline, a proxy in the pack)."""

# -- resource type tokens the rules read ----------------------------------------------------------

TABLE = "aws:dynamodb/table:Table"
SCHEDULE = "aws:scheduler/schedule:Schedule"
SNS_TOPIC = "aws:sns/topic:Topic"
SQS_QUEUE = "aws:sqs/queue:Queue"
# S3 bucket children: tuples, since pulumi-aws declares some of them under a V2 token as well.
PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
BUCKET_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
VERSIONING = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
REPLICATION = ("aws:s3/bucketReplicationConfig:BucketReplicationConfig",)


# -- the resource model --------------------------------------------------------------------------


@dataclass(eq=False)
class Resource:
    """One declared resource: its type token, logical name, inputs and parent."""

    type: str
    name: str
    props: Props
    parent: Resource | None = None
    urn: str | None = None

    @property
    def label(self) -> str:
        """`type::name`, the way `safetynet synth` names a resource."""
        return f"{self.type}::{self.name}"

    def lineage(self) -> Iterator[Resource]:
        """This resource, then its parent, grandparent, ..."""
        r: Resource | None = self
        while r is not None:
            yield r
            r = r.parent


@dataclass(frozen=True)
class Finding:
    """One failed check: why it fails and how to fix it (and, for stack rules, where)."""

    message: str
    fix: str
    resource: Resource | None = None


ResourceCheck = Callable[[str, Props], list[Finding]]
StackCheck = Callable[[Sequence[Resource]], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """A named rule. `check` is the pure function; `kind` says which signature it has."""

    id: str
    description: str
    kind: Literal["resource", "stack"]
    check: Callable[..., list[Finding]]
    mandatory: bool = True


@dataclass(frozen=True)
class Violation:
    """A finding of a rule on a resource, as reported by `synth --check`."""

    rule: str
    resource: str
    message: str
    fix: str
    mandatory: bool = True
    urn: str | None = field(default=None, compare=False)


# -- adapters: one per path ------------------------------------------------------------------------


def from_synth(records: Sequence[Mapping[str, Any]]) -> list[Resource]:
    """Resources from `safetynet synth` records (`{type, name, parent, inputs, urn}`), parents linked
    through the `type::name` parent labels."""
    resources = [
        Resource(type=str(r["type"]), name=str(r["name"]), props=r.get("inputs") or {}, urn=r.get("urn"))
        for r in records
    ]
    by_label = {res.label: res for res in resources}
    for res, rec in zip(resources, records, strict=True):
        parent = rec.get("parent")
        res.parent = by_label.get(parent) if parent else None
    return resources


def from_policy_resources(items: Sequence[Any]) -> list[Resource]:
    """Resources from the policy SDK's `PolicyResource` objects (`resource_type`, `name`, `props`,
    `urn`, `parent`), parents linked. Duck-typed so this module stays free of Pulumi imports."""
    made: dict[int, Resource] = {}

    def convert(item: Any) -> Resource:
        if id(item) not in made:
            made[id(item)] = Resource(type=str(item.resource_type), name=str(item.name), props=item.props, urn=item.urn)
            parent = getattr(item, "parent", None)
            made[id(item)].parent = convert(parent) if parent is not None else None
        return made[id(item)]

    return [convert(i) for i in items]

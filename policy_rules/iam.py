"""Rule `iam-no-wildcard-actions`, and where the policy documents of a resource are
(`policy_documents`, which the staging rule reads too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy_rules.inputs import as_list, document, get, statements
from policy_rules.model import Finding, Props

# IAM identity policies and the resource policies of S3, SNS and SQS. KMS key policies are left
# out on purpose: the standard key policy grants `kms:*` to the account root by design.
POLICY_DOCUMENT_PROPS: dict[str, tuple[str, ...]] = {
    "aws:iam/role:Role": ("assumeRolePolicy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy",),
    "aws:sns/topic:Topic": ("policy",),
    "aws:sns/topicPolicy:TopicPolicy": ("policy",),
    "aws:sqs/queue:Queue": ("policy",),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy",),
}


def policy_documents(resource_type: str, props: Props) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, document) for every policy document a resource declares."""
    docs: list[tuple[str, Mapping[str, Any]]] = []
    for key in POLICY_DOCUMENT_PROPS.get(resource_type, ()):
        doc = document(get(props, key))
        if doc is not None:
            docs.append((key, doc))
    if resource_type == "aws:iam/role:Role":
        for i, inline in enumerate(as_list(get(props, "inlinePolicies"))):
            doc = document(get(inline, "policy"))
            if doc is not None:
                docs.append((f"inlinePolicies[{i}] ({get(inline, 'name') or 'unnamed'})", doc))
    return docs


def no_wildcard_actions(resource_type: str, props: Props) -> list[Finding]:
    """No Allow statement of an IAM or S3/SNS/SQS resource policy grants `*` actions or NotAction."""
    findings = []
    for where, doc in policy_documents(resource_type, props):
        for i, stmt in enumerate(statements(doc)):
            if stmt.get("Effect") != "Allow":
                continue
            sid = stmt.get("Sid") or f"Statement[{i}]"
            wild = [str(a) for a in as_list(stmt.get("Action")) if "*" in str(a)]
            if wild:
                findings.append(
                    Finding(
                        f"{where} statement {sid} allows wildcard actions {', '.join(wild)}",
                        "list the exact actions the principal needs (least privilege)",
                    )
                )
            if "NotAction" in stmt:
                findings.append(
                    Finding(
                        f"{where} statement {sid} allows NotAction: every action except a few",
                        "replace NotAction by the exact Action list the principal needs",
                    )
                )
    return findings

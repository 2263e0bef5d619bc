"""Reading and editing `safetynet synth` records in the policy-rule tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import policy_rules as pr

TABLE_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/"

Records = list[dict[str, Any]]


def find(recs: Records, typ: str, name_part: str = "") -> dict[str, Any]:
    return next(r for r in recs if r["type"] == typ and name_part in r["name"])


def messages(rule_id: str, recs: Records) -> list[str]:
    """What one rule reports on the records (message + fix per finding)."""
    rule = pr.RULES_BY_ID[rule_id]
    return [f"{f.message} | {f.fix}" for _, f in pr.run_rule(rule, pr.from_synth(recs))]


def edit_policy(res: dict[str, Any], key: str, change: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads(res["inputs"][key])
    change(doc)
    res["inputs"][key] = json.dumps(doc)


def add_resource(recs: Records, typ: str, name: str, inputs: dict[str, Any], parent: str | None = None) -> None:
    recs.append({"type": typ, "name": name, "parent": parent, "inputs": inputs, "urn": f"urn:test::{name}"})


def add_staging_policy(recs: Records, statement: dict[str, Any]) -> None:
    """A staging component with a role policy holding one statement."""
    add_resource(recs, "safetynet:staging:StagingPipeline", "staging", {})
    add_resource(
        recs,
        "aws:iam/rolePolicy:RolePolicy",
        "staging-task-policy",
        {
            "role": "staging-task-role",
            "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        },
        parent="safetynet:staging:StagingPipeline::staging",
    )

"""The safety-net rules: pure functions over declared resources.

One copy of every rule, run in two places:

- offline by `safetynet synth <stack> --check`, over the resources of the mocked program run
  (`from_synth`), and
- by the Pulumi engine through the policy pack in `policy/` (`pulumi preview --policy-pack
  policy`), over the resources the engine hands to the pack (`from_policy_resources`).

A resource rule is `check(resource_type, props) -> list[Finding]` over one resource's inputs
(camelCase, as Pulumi sends them). A stack rule is `check(resources) -> list[Finding]` over the
whole resource list; it relates resources through input values only (a schedule's `TableArn`
names the table, an S3 child's `bucket` names its bucket), so it works on the offline synth
(fake ids) and on the engine's view (real ids) alike. Nothing here imports Pulumi.

During `pulumi preview` of resources not created yet, some values are unknown; the pack's
property proxies raise on reading them and the policy framework reports "can't run policy
during preview" as advisory. Rules read only what they need so that known values still decide.

Modules: `model` (resources, findings, rules, violations, type tokens, the two adapters),
`inputs` (readers of resource inputs), one module per rule family named like its rule ids
(`tables`, `vault`, `staging`, `iam`, `messaging`, `limits`), and `registry` (RULES in order,
`evaluate`). The `limit-*` family builds on `quotas` (AWS's documented numbers and their sources),
`measure` (how each service counts a document or an archive) and `sizes` (each limited quantity
of the declared resources, measured).
"""

from __future__ import annotations

from policy_rules.model import Finding, Resource, Rule, Violation, from_policy_resources, from_synth
from policy_rules.registry import RULES, RULES_BY_ID, evaluate, run_rule

__all__ = [
    "RULES",
    "RULES_BY_ID",
    "Finding",
    "Resource",
    "Rule",
    "Violation",
    "evaluate",
    "from_policy_resources",
    "from_synth",
    "run_rule",
]

"""The safetynet policy pack (Pulumi CrossGuard, mandatory enforcement).

Each policy wraps one rule of `policy_rules`: resource rules become
ResourceValidationPolicies over `(resource_type, props)`, stack rules become
StackValidationPolicies over the whole resource list. There is no rule logic here, so the
offline check (`safetynet synth <stack> --check`) and the engine check cannot drift apart.
The pack imports only `policy_rules` and `pulumi_policy`, never the safetynet CLI.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

import policy_rules
from policy_rules import Finding, Rule

PACK_NAME = "safetynet"


def _text(finding: Finding) -> str:
    return f"{finding.message}. How to fix: {finding.fix}."


class ResourceRuleValidator:
    """Calls a resource rule on one resource and reports each finding."""

    def __init__(self, rule: Rule):
        self.rule = rule

    def __call__(self, args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for finding in self.rule.check(args.resource_type, args.props):
            report_violation(_text(finding), None)


class StackRuleValidator:
    """Calls a stack rule on every resource of the stack and reports each finding on its URN."""

    def __init__(self, rule: Rule):
        self.rule = rule

    def __call__(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = policy_rules.from_policy_resources(args.resources)
        for finding in self.rule.check(resources):
            urn = finding.resource.urn if finding.resource is not None else None
            report_violation(_text(finding), urn)


def _level(rule: Rule) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if rule.mandatory else EnforcementLevel.ADVISORY


def _validator(rule: Rule) -> ResourceRuleValidator | StackRuleValidator:
    return ResourceRuleValidator(rule) if rule.kind == "resource" else StackRuleValidator(rule)


VALIDATORS = {rule.id: _validator(rule) for rule in policy_rules.RULES}
"""The callables the policies run, by rule id; each holds the rules-module Rule it calls."""


def build_policies() -> list[Any]:
    """One policy per rule, named by the rule's id."""
    policies: list[Any] = []
    for rule in policy_rules.RULES:
        validator = VALIDATORS[rule.id]
        if isinstance(validator, ResourceRuleValidator):
            policies.append(
                ResourceValidationPolicy(
                    name=rule.id,
                    description=rule.description,
                    validate=validator,
                    enforcement_level=_level(rule),
                )
            )
        else:
            policies.append(
                StackValidationPolicy(
                    name=rule.id,
                    description=rule.description,
                    validate=validator,
                    enforcement_level=_level(rule),
                )
            )
    return policies


POLICIES = build_policies()

if __name__ == "__main__":
    # Serves the pack to the engine (blocks); only when Pulumi runs this folder.
    PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)

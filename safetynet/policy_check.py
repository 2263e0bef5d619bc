"""`safetynet synth <stack> --check`: the policy rules over the offline synth, as a Rich report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from policy_rules import RULES, Rule, Violation, evaluate, from_synth


def check_synth_doc(doc: Mapping[str, Any], rules: Sequence[Rule] = RULES) -> list[Violation]:
    """Every rule over a `safetynet synth` JSON document."""
    return evaluate(from_synth(doc["resources"]), rules)


def report(
    doc: Mapping[str, Any], violations: Sequence[Violation], console: Console, rules: Sequence[Rule] = RULES
) -> int:
    """Print the violations (rule, resource, why, how to fix) and return the exit code: 1 when a
    mandatory rule fails, else 0."""
    where = f"{doc['project']}/{doc['stack']}"
    failed_rules = {v.rule for v in violations}
    if violations:
        table = Table(title=f"Policy violations in {where}", show_lines=True, expand=True)
        table.add_column("rule", style="bold red", no_wrap=True)
        table.add_column("resource", style="cyan", overflow="fold")
        table.add_column("why", overflow="fold")
        table.add_column("how to fix", style="green", overflow="fold")
        for v in violations:
            rule = v.rule if v.mandatory else f"{v.rule} (advisory)"
            table.add_row(rule, v.resource, v.message, v.fix)
        console.print(table)
    mandatory = [v for v in violations if v.mandatory]
    passed = len(rules) - len(failed_rules)
    status = "[bold red]FAILED[/]" if mandatory else "[bold green]OK[/]"
    console.print(
        f"{status} {where}: {passed}/{len(rules)} rules pass over {len(doc['resources'])} resources; "
        f"{len(mandatory)} mandatory violation(s), {len(violations) - len(mandatory)} advisory"
    )
    return 1 if mandatory else 0

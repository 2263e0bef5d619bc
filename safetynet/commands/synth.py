"""`safetynet synth -s <stack>`: the program under Pulumi's mocks, as JSON or a readable tree.

Offline: no AWS call, no credentials. Exit 0 (with --check: no violation), 1 a policy violation,
2 a usage or config error (a stack file that is not YAML names file:line:column).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.tree import Tree

from safetynet.commands.common import ProjectDirOption, StackArgument, StackOption, fail, resolve_stack
from safetynet.paths import default_project_dir

NEEDS = "no AWS access (synth runs offline)"


def _summary_tree(doc: dict[str, Any]) -> Tree:
    root = Tree(f"[bold]{doc['project']}/{doc['stack']}[/]  ({len(doc['resources'])} resources)")
    nodes: dict[str | None, Tree] = {None: root}
    for r in doc["resources"]:
        label = f"{r['type']} [cyan]{r['name']}[/]"
        opts = r.get("options", {})
        flags = [f for f in ("protect", "retainOnDelete") if opts.get(f)]
        if opts.get("importId"):
            flags.append(f"import={opts['importId']}")
        if flags:
            label += f"  [yellow]{' '.join(flags)}[/]"
        parent = nodes.get(r["parent"], root)
        nodes[f"{r['type']}::{r['name']}"] = parent.add(label)
    return root


def synth(
    stack_arg: StackArgument = None,
    stack_opt: StackOption = None,
    project_dir: ProjectDirOption = None,
    summary: Annotated[bool, typer.Option("--summary", help="Print a readable tree instead of JSON.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Apply the policy rules (policy/) instead of printing JSON; exit 1 on a violation.",
        ),
    ] = False,
) -> None:
    """Run the Pulumi program offline under mocks and print every declared resource."""
    from safetynet.synth import SynthError
    from safetynet.synth import synth as run_synth

    stack = resolve_stack("synth", stack_arg, stack_opt)
    try:
        result = run_synth(project_dir or default_project_dir(), stack)
    except SynthError as exc:
        raise fail("synth", str(exc)) from None
    doc = result.to_json()
    if summary:
        Console().print(_summary_tree(doc))
    if check:
        from safetynet.policy_check import check_synth_doc, report

        raise typer.Exit(report(doc, check_synth_doc(doc), Console()))
    if not summary:
        json.dump(doc, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")

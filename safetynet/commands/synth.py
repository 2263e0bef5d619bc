"""`safetynet synth <stack>`: the program under Pulumi's mocks, as JSON or a readable tree."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.tree import Tree

from safetynet.paths import default_project_dir


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
    stack: Annotated[str, typer.Argument(help="Stack name: reads Pulumi.<stack>.yaml.")],
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", help="Folder with Pulumi.yaml (default: this project)."),
    ] = None,
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

    try:
        result = run_synth(project_dir or default_project_dir(), stack)
    except SynthError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    doc = result.to_json()
    if summary:
        Console().print(_summary_tree(doc))
    if check:
        from safetynet.policy_check import check_synth_doc, report

        raise typer.Exit(report(doc, check_synth_doc(doc), Console()))
    if not summary:
        json.dump(doc, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")

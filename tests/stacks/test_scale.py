"""Every stack kind at 1, 50, 500 and 1,000 tables passes every policy rule, AWS's size and count
limits (`limit-*`) included: nothing a stack declares may grow past what AWS accepts as tables are
added.

The stacks are tests/support/scale.py's (the benchmark's too): realistic tables (composite keys, a
GSI, TTL and streams on half, two tags each); prod with a vault replica and two cross-account
staging readers; test with masking rules on every table, staging from prod's outputs at the same
size (its StackReference); dr. Each is synthesized once per session in its own process, within a
CPU time budget (`synth_budget`: 30 s plus 150 ms per table); once a size runs over, the bigger
sizes of that stack kind fail at once instead of running for an hour.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from policy_rules.model import TABLE
from safetynet.policy_check import check_synth_doc
from tests.support.scale import PROD_PROJECT_STACK, ScaleSynthTooSlowError, synth_scaled

SIZES = [1, 50, 500, pytest.param(1000, marks=pytest.mark.slow)]
KINDS = ["prod", "test", "dr"]


@dataclass
class Checked:
    """What the tests need of one synthesized stack (the document itself is not kept: at 1,000
    tables it holds tens of thousands of resources)."""

    violations: list[tuple[str, str, str]]
    """(rule, resource, message) of every mandatory violation."""
    tables: int
    resources: int
    outputs: dict[str, Any] = field(repr=False)


class ScaleStacks:
    """Each (stack kind, table count) synthesized and checked once per session."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.checked: dict[tuple[str, int], Checked] = {}
        self.failed: dict[tuple[str, int], Exception] = {}

    def get(self, kind: str, n: int) -> Checked:
        key = (kind, n)
        if key in self.failed:
            raise self.failed[key]
        if key not in self.checked:
            try:
                self.checked[key] = self._check(kind, n)
            except Exception as exc:
                self.failed[key] = exc
                raise
        return self.checked[key]

    def _check(self, kind: str, n: int) -> Checked:
        slow = sorted(
            m for (k, m), e in self.failed.items() if k == kind and m < n and isinstance(e, ScaleSynthTooSlowError)
        )
        if slow:
            raise ScaleSynthTooSlowError(
                f"not attempted: the {kind} stack already ran over its time budget at {slow[0]:,} tables"
            )
        references = None
        if kind == "test":
            references = {PROD_PROJECT_STACK: self.get("prod", n).outputs}
        doc = synth_scaled(kind, n, self.workdir, references=references)
        violations = [(v.rule, v.resource, v.message) for v in check_synth_doc(doc) if v.mandatory]
        return Checked(
            violations=violations,
            tables=sum(1 for r in doc["resources"] if r["type"] == TABLE),
            resources=len(doc["resources"]),
            outputs=doc["outputs"],
        )


@pytest.fixture(scope="session")
def scale_stacks(tmp_path_factory: pytest.TempPathFactory) -> ScaleStacks:
    return ScaleStacks(tmp_path_factory.mktemp("scale"))


def summary(violations: list[tuple[str, str, str]]) -> str:
    """Violations by rule: how many, and the first of each."""
    counts = Counter(rule for rule, _, _ in violations)
    first: dict[str, tuple[str, str]] = {}
    for rule, resource, message in violations:
        first.setdefault(rule, (resource, message))
    return "\n".join(f"{rule} x{n}, e.g. {first[rule][0]}: {first[rule][1]}" for rule, n in counts.items())


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_stack_declares_every_table(scale_stacks: ScaleStacks, kind: str, n: int) -> None:
    # Guards the rule check below against passing vacuously on a stack that dropped its tables.
    checked = scale_stacks.get(kind, n)
    assert checked.tables >= n


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_stack_passes_every_policy_rule(scale_stacks: ScaleStacks, kind: str, n: int) -> None:
    checked = scale_stacks.get(kind, n)
    if checked.violations:
        pytest.fail(
            f"{len(checked.violations)} violation(s) in the {kind} stack with {n:,} tables "
            f"({checked.resources:,} resources):\n{summary(checked.violations)}",
            pytrace=False,
        )

"""A rewind's counts and samples: what the plan shows and the summary keeps, bounded in size.

Counts are kept per kind and outcome; a few samples per kind (an attribute-level diff of the
version before the window, the one it left and, where read, the live one) and the first conflicts
and failures are kept for the report. Everything else about every key goes to the audit's outcome
lines (`handlers.rewind.audit`), never into memory. Tallies of several data files merge (the
Distributed Map's children each return one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handlers.rewind.apply import KeyResult
from handlers.rewind.images import diff_rows, encode
from handlers.rewind.plan import CONFLICT, FAILED, KINDS, OUTCOMES, REVERTED, Outcome

SAMPLES_PER_KIND = 2
LISTED = 20  # conflicts and failures listed by the report (all of them are in the audit)
CELL = 120  # characters of a value shown in a sample


def _cell(text: str) -> str:
    return text if len(text) <= CELL else text[: CELL - 1] + "…"


def sample(result: KeyResult) -> dict[str, Any]:
    """One key for a report: its key, outcome and attribute-level diff (before, bad, now)."""
    change = result.change
    rows = diff_rows(
        change.old_image, change.new_image, result.now if result.now_read else None, skip=tuple(change.keys)
    )
    doc: dict[str, Any] = {
        "key": encode(change.keys),
        "kind": result.kind.value,
        "outcome": result.outcome.value,
        "writeMicros": change.write_micros,
        "nowRead": result.now_read,
        "diff": [[name, _cell(b), _cell(bad), _cell(now) if result.now_read else "?"] for name, b, bad, now in rows],
    }
    if result.guard:
        doc["guard"] = result.guard
    if result.error:
        doc["error"] = result.error
    if result.overridden:
        doc["overridden"] = True
    return doc


@dataclass
class Tally:
    """Counts per kind and outcome, samples, the first conflicts and failures."""

    n: dict[tuple[str, str], int] = field(default_factory=dict)
    """Keys per (kind, outcome); see `counts` for the nested form."""
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k.value: [] for k in KINDS})
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    partial_guards: int = 0
    overridden: int = 0

    def add(self, result: KeyResult) -> None:
        """Count one key (and keep it as a sample, a listed conflict or failure while room is left)."""
        pair = (result.kind, result.outcome)  # StrEnum members: hash and compare as their text
        self.n[pair] = self.n.get(pair, 0) + 1
        outcome = result.outcome
        if outcome is REVERTED:
            if len(self.samples[result.kind]) < SAMPLES_PER_KIND:
                self.samples[result.kind].append(sample(result))
            if result.overridden:
                self.overridden += 1
            if result.guard.startswith("partial"):
                self.partial_guards += 1
        elif outcome is CONFLICT and len(self.conflicts) < LISTED:
            self.conflicts.append(sample(result))
        elif outcome is FAILED and len(self.failures) < LISTED:
            self.failures.append(sample(result))

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """{kind: {outcome: keys}} for every kind (outcomes with keys only)."""
        out: dict[str, dict[str, int]] = {k.value: {} for k in KINDS}
        for (kind, outcome), n in self.n.items():
            out.setdefault(str(kind), {})[str(outcome)] = n
        return out

    def merge(self, other: Tally) -> None:
        """Add another tally (another data file's) into this one."""
        for pair, n in other.n.items():
            self.n[pair] = self.n.get(pair, 0) + n
        for kind, docs in other.samples.items():
            room = SAMPLES_PER_KIND - len(self.samples.setdefault(kind, []))
            self.samples[kind].extend(docs[: max(room, 0)])
        self.conflicts.extend(other.conflicts[: max(LISTED - len(self.conflicts), 0)])
        self.failures.extend(other.failures[: max(LISTED - len(self.failures), 0)])
        self.partial_guards += other.partial_guards
        self.overridden += other.overridden

    def by_outcome(self) -> dict[str, int]:
        """Keys per outcome, over every kind (every outcome listed, zeros included)."""
        totals = {o.value: 0 for o in OUTCOMES}
        for (_kind, outcome), n in self.n.items():
            totals[str(outcome)] = totals.get(str(outcome), 0) + n
        return totals

    def by_kind(self, *, acted_on: bool = False) -> dict[str, int]:
        """Keys per kind; `acted_on`: only those neither filtered nor outside the window."""
        skip = {Outcome.FILTERED.value, Outcome.OUTSIDE_WINDOW.value} if acted_on else set()
        return {k: sum(n for o, n in v.items() if o not in skip) for k, v in self.counts.items()}

    @property
    def total(self) -> int:
        return sum(self.by_outcome().values())

    def count(self, outcome: Outcome) -> int:
        return self.by_outcome()[outcome.value]

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "byOutcome": self.by_outcome(),
            "byKind": self.by_kind(),
            "counts": self.counts,
            "samples": self.samples,
            "conflicts": self.conflicts,
            "failures": self.failures,
            "partialGuards": self.partial_guards,
            "overridden": self.overridden,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Tally:
        """The Tally `to_json` wrote (a Distributed Map child's result)."""
        return cls(
            n={
                (kind, outcome): n
                for kind, outcomes in doc.get("counts", {}).items()
                for outcome, n in outcomes.items()
            },
            samples={k: list(v) for k, v in doc.get("samples", {}).items()},
            conflicts=list(doc.get("conflicts", [])),
            failures=list(doc.get("failures", [])),
            partial_guards=int(doc.get("partialGuards", 0)),
            overridden=int(doc.get("overridden", 0)),
        )

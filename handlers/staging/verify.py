"""Verify a staged table against its export: the exact count, and a sample of exported items read
back and compared exactly (numbers by value, sets unordered)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.exports.items import Item
from handlers.staging.compare import key_digest, key_of, normalize_item
from handlers.staging.count import count_items
from handlers.staging.exceptions import VerificationFailed

DEFAULT_SAMPLE_SIZE = 100


def reservoir_sample(items: Iterable[Item], k: int, seed: str) -> list[Item]:
    """k items chosen uniformly in one pass with bounded memory (deterministic for a seed)."""
    rng = random.Random(seed)  # noqa: S311 (sampling, not cryptography)
    sample: list[Item] = []
    for i, it in enumerate(items):
        if i < k:
            sample.append(it)
        else:
            j = rng.randint(0, i)
            if j < k:
                sample[j] = it
    return sample


@dataclass(frozen=True)
class Verification:
    """The verify step's findings."""

    table_count: int
    export_count: int
    sampled: int
    mismatches: list[str]

    @property
    def ok(self) -> bool:
        return self.table_count == self.export_count and not self.mismatches


def verify_table(
    ddb: Any,
    table: str,
    key_names: Sequence[str],
    export_items: Iterable[Item],
    export_count: int,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: str = "",
    table_count: int | None = None,
) -> Verification:
    """Count check plus a sample of exported items read back and compared exactly. The count is
    `table_count` when the caller counted already (the state machine's CountTable map), else
    one consistent COUNT scan here."""
    if table_count is None:
        table_count = count_items(ddb, table)
    sample = reservoir_sample(export_items, sample_size, seed)
    mismatches = []
    for it in sample:
        key = key_of(it, key_names)
        got = ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        if got is None:
            mismatches.append(f"missing item {key_digest(it, key_names):016x} (key {_short(key)})")
        elif normalize_item(got) != normalize_item(it):
            mismatches.append(f"item with key {_short(key)} differs from the export")
    return Verification(table_count, export_count, len(sample), mismatches)


def _short(key: Mapping[str, Any]) -> str:
    text = repr({k: next(iter(v.values())) for k, v in key.items()})
    return text if len(text) < 120 else text[:117] + "..."


def require_verified(v: Verification, table: str) -> None:
    """Raise VerificationFailed with every finding."""
    if v.ok:
        return
    problems = []
    if v.table_count != v.export_count:
        problems.append(f"{table} holds {v.table_count} items, the export {v.export_count}")
    problems += v.mismatches[:20]
    raise VerificationFailed(f"{table} does not match the export:\n" + "\n".join(f"  - {p}" for p in problems))

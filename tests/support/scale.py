"""Realistic stack configs at any table count, shared by the scale tests (tests/stacks/test_scale.py)
and the synth benchmark (bench/synth_scale.py), so both measure the same stacks.

Each function returns `config_overrides` for `safetynet.synth.synth` (the `safetynet:*` keys,
decoded); everything else comes from the repository's `Pulumi.<stack>.yaml`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROD_PROJECT_STACK = "acme/safetynet/prod"
"""`safetynet:staging.from` of Pulumi.test.yaml: the name the test stack's StackReference uses."""
READER_ACCOUNTS = ("222222222222", "333333333333")
"""Two other accounts whose test stacks stage prod's exports (`safetynet:stagingReaders`)."""
READER_TABLES = 10
"""How many tables the first reader selects; the second reads every table (the default)."""


def table_name(i: int) -> str:
    """The name of the i-th generated table."""
    return f"table-{i:04d}"


def tables(n: int) -> list[dict[str, Any]]:
    """n realistic tables (`safetynet:tables`): composite keys, a GSI, TTL and streams on every other
    one, two tags each."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        t: dict[str, Any] = {
            "name": table_name(i),
            "hashKey": {"name": "pk", "type": "S"},
            "rangeKey": {"name": "sk", "type": "S"},
            "globalSecondaryIndexes": [{"name": "by-gsi1", "hashKey": {"name": "gsi1pk", "type": "S"}}],
            "tags": {"team": f"team-{i % 7}", "cost-center": f"cc-{i % 13:02d}"},
        }
        if i % 2:
            t["ttlAttribute"] = "expiresAt"
            t["streamViewType"] = "NEW_AND_OLD_IMAGES"
        out.append(t)
    return out


def prod_config(n: int) -> dict[str, Any]:
    """The prod stack with n tables, a vault replica in another region, the chain of incremental
    exports every 15 minutes (every third table every hour, NEW_IMAGE) and two cross-account staging
    readers (one selecting a few tables, one every table, in its own region)."""
    readers: list[dict[str, Any]] = [
        {
            "account": READER_ACCOUNTS[0],
            "roleArns": [
                f"arn:aws:iam::{READER_ACCOUNTS[0]}:role/staging-task-role-1a2b3c4",
                f"arn:aws:iam::{READER_ACCOUNTS[0]}:role/staging-machine-role-5d6e7f8",
            ],
            "tables": [table_name(i) for i in range(min(n, READER_TABLES))],
        },
        {
            "account": READER_ACCOUNTS[1],
            "roleArns": [f"arn:aws:iam::{READER_ACCOUNTS[1]}:role/staging-task-role-9z8y7x6"],
            "region": "eu-west-1",
        },
    ]
    chained = [
        {**t, "incremental": {"every": "1h", "view": "NEW_IMAGE"}} if i % 3 == 2 else t for i, t in enumerate(tables(n))
    ]
    config: dict[str, Any] = {
        "tables": chained,
        "backup": {
            "schedule": "cron(0 3 * * ? *)",
            "timezone": "UTC",
            "retentionDays": 90,
            "coldStorageAfterDays": 30,
            "objectLock": "governance",
            "objectLockDays": 30,
            "replica": {"region": "eu-west-1"},
            "incremental": {"every": "15m"},
        },
    }
    if n:
        # A reader needs tables to read (the config rejects a reader of an empty stack's exports).
        config["stagingReaders"] = readers
    return config


def test_config(n: int) -> dict[str, Any]:
    """The test stack with the same n tables, staging from prod, every table masked (an e-mail
    hashed, a name faked, a phone dropped, a street redacted) and every other one refilled."""
    mask = {
        table_name(i): {
            "email": "hash",
            "name": "fake",
            "phone": "drop",
            "address.street": {"action": "redact", "value": "1 Example Street"},
        }
        for i in range(n)
    }
    return {
        "tables": tables(n),
        "staging": {
            "from": PROD_PROJECT_STACK,
            "mode": "replace",
            "maxConcurrency": 10,
            "tables": {table_name(i): {"mode": "refill"} for i in range(0, n, 2)},
            "mask": mask,
        },
    }


def dr_config(n: int) -> dict[str, Any]:
    """The DR stack with the same n tables (Pulumi.dr.yaml's disaster-recovery and backup sections)."""
    return {"tables": tables(n)}


CONFIGS = {"prod": prod_config, "test": test_config, "dr": dr_config}
"""Stack kind -> its config at n tables."""


# -- synthesizing big stacks -------------------------------------------------------------------------

SECONDS_PER_TABLE_BUDGET = 0.15
"""A scale synth may use 30 s of CPU plus this per table: 180 s at 1,000 tables, three times the
benchmark's target of 60 s (bench/synth_scale.py). CPU time, not wall time, so load on a shared
machine does not fail it; a synth that grows faster than linearly stops instead of holding the
suite for an hour."""
SECONDS_BUDGET_FLOOR = 30.0
WALL_CLOCK_FACTOR = 4
"""The wall-clock backstop, as a multiple of the CPU budget (a child waiting on nothing)."""


class ScaleSynthTooSlowError(AssertionError):
    """A scale synth did not finish within its time budget."""


def synth_budget(n: int) -> float:
    """The CPU time budget of a synth with n tables, in seconds."""
    return SECONDS_BUDGET_FLOOR + SECONDS_PER_TABLE_BUDGET * n


def synth_scaled(kind: str, n: int, workdir: Path, *, references: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `safetynet synth` document of stack `kind` with n tables (CONFIGS), synthesized in a
    separate process (its memory and Pulumi's event loop stay its own) within `synth_budget(n)` of
    CPU time. `references` are the StackReference outputs (the test stack's: prod's)."""
    from tests.support.stacks import PROJECT_DIR

    budget = synth_budget(n)
    args = workdir / f"{kind}-{n}-args.json"
    out = workdir / f"{kind}-{n}.json"
    args.write_text(json.dumps({"kind": kind, "n": n, "references": references, "out": str(out)}))
    code = (
        # The kernel stops the child with SIGXCPU once it has used `budget` seconds of CPU.
        f"import resource; resource.setrlimit(resource.RLIMIT_CPU, ({int(budget)}, {int(budget) + 10})); "
        "import json, sys; from safetynet.synth import synth; from tests.support.scale import CONFIGS; "
        "a = json.load(open(sys.argv[1])); "
        f"r = synth({str(PROJECT_DIR)!r}, a['kind'], config_overrides=CONFIGS[a['kind']](a['n']), "
        "stack_references=a['references']); "
        "json.dump(r.to_json(), open(a['out'], 'w'))"
    )
    too_slow = ScaleSynthTooSlowError(
        f"the {kind} stack with {n:,} tables did not synthesize within {budget:.0f} s of CPU "
        f"(budget: {SECONDS_BUDGET_FLOOR:.0f} s + {SECONDS_PER_TABLE_BUDGET * 1000:.0f} ms per table)"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(args)],
            capture_output=True,
            text=True,
            check=False,
            cwd=PROJECT_DIR,
            timeout=budget * WALL_CLOCK_FACTOR,
        )
    except subprocess.TimeoutExpired:
        raise too_slow from None
    if proc.returncode == -signal.SIGXCPU:
        raise too_slow
    assert proc.returncode == 0, f"synth of the {kind} stack with {n:,} tables failed:\n{proc.stderr[-4000:]}"
    return dict(json.loads(out.read_text()))

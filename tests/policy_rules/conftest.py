"""The shipped stacks' synth records for the policy-rule tests, as deep copies a test may edit
(the session fixtures `prod_synth`, `test_synth`, `dr_synth` are shared and read only)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.policy_rules.records import Records
from tests.support.stacks import SHIPPED_STACKS


@pytest.fixture
def prod_records(prod_synth: Any) -> Records:
    """The prod stack's records, free to mutate."""
    return copy.deepcopy(prod_synth.resources)


@pytest.fixture(params=SHIPPED_STACKS)
def shipped_stack(request: pytest.FixtureRequest) -> str:
    """Each shipped stack (a Pulumi.<stack>.yaml of the repository) in turn."""
    return str(request.param)


@pytest.fixture
def shipped_records(shipped_stack: str, request: pytest.FixtureRequest) -> Records:
    """That stack's records from its session synth fixture (`<stack>_synth`), free to mutate."""
    return copy.deepcopy(request.getfixturevalue(f"{shipped_stack}_synth").resources)

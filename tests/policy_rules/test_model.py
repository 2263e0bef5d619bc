"""The resource model (policy_rules/model.py): both adapters link each resource to its parent."""

from __future__ import annotations

from typing import Any

import policy_rules as pr
from policy_rules.model import SCHEDULE
from policy_rules.staging import is_staging


def test_from_synth_links_parents(prod_synth: Any) -> None:
    res = {r.label: r for r in pr.from_synth(prod_synth.resources)}
    sched = res[f"{SCHEDULE}::orders-export-schedule"]
    assert [a.type for a in sched.lineage()] == [
        SCHEDULE,
        "safetynet:backup:NightlyExport",
        "safetynet:dynamodb:BackedUpTable",
    ]


def test_from_policy_resources_links_parents() -> None:
    class Item:
        def __init__(self, typ: str, name: str, parent: Any = None):
            self.resource_type, self.name, self.props, self.urn, self.parent = (
                typ,
                name,
                {},
                f"urn:{name}",
                parent,
            )

    parent = Item("safetynet:staging:StagingPipeline", "p")
    child = Item("aws:iam/rolePolicy:RolePolicy", "c", parent)
    converted = pr.from_policy_resources([child, parent])
    assert converted[0].parent is converted[1]
    assert is_staging(converted[0])

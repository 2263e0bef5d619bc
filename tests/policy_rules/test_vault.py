"""Rules `vault-*` (policy_rules/vault.py): every vault bucket is checked, and lifecycle rules
count only when enabled and reaching exports/."""

from __future__ import annotations

import copy

import pytest

import policy_rules as pr
from policy_rules.model import LIFECYCLE, PUBLIC_ACCESS_BLOCK, VERSIONING
from policy_rules.vault import vault_buckets
from tests.policy_rules.records import Records, find, messages


def test_missing_public_access_block_is_reported(prod_records: Records) -> None:
    prod_records.remove(find(prod_records, PUBLIC_ACCESS_BLOCK[0]))
    assert any("has no public access block" in m for m in messages("vault-public-access-block", prod_records))


def test_catch_all_lifecycle_rule_expiring_early_is_reported(prod_records: Records) -> None:
    rules = find(prod_records, LIFECYCLE[0])["inputs"]["rules"]
    rules.append({"id": "cleanup", "status": "Enabled", "filter": {}, "expiration": {"days": 7}})
    found = messages("vault-export-retention", prod_records)
    assert any("rule cleanup expires exports after 7 days" in m for m in found)


def test_lifecycle_rule_on_other_prefix_or_disabled_is_fine(prod_records: Records) -> None:
    rules = find(prod_records, LIFECYCLE[0])["inputs"]["rules"]
    rules.append({"id": "tmp", "status": "Enabled", "filter": {"prefix": "tmp/"}, "expiration": {"days": 1}})
    rules.append({"id": "off", "status": "Disabled", "filter": {}, "expiration": {"days": 1}})
    assert messages("vault-export-retention", prod_records) == []


def test_lifecycle_rule_expiring_on_a_date_is_reported(prod_records: Records) -> None:
    rules = find(prod_records, LIFECYCLE[0])["inputs"]["rules"]
    rules.append(
        {
            "id": "d",
            "status": "Enabled",
            "filter": {"prefix": "exports/orders/"},
            "expiration": {"date": "2027-01-01"},
        }
    )
    assert any("on a date" in m for m in messages("vault-export-retention", prod_records))


def test_every_vault_bucket_of_a_stack_is_checked(shipped_stack: str, shipped_records: Records) -> None:
    # Each vault bucket (the vault, and a replica where configured) gets the same hardening rules:
    # suspending its versioning is reported for exactly that bucket.
    buckets = vault_buckets(pr.from_synth(shipped_records))
    if not buckets:
        pytest.skip(f"stack {shipped_stack} keeps no vault")
    for bucket in buckets:
        recs = copy.deepcopy(shipped_records)
        versioning = next(r for r in recs if r["type"] in VERSIONING and r["inputs"].get("bucket") == bucket)
        versioning["inputs"]["versioningConfiguration"]["status"] = "Suspended"
        found = messages("vault-versioning", recs)
        assert len(found) == 1 and f"vault bucket {bucket} is not versioned" in found[0]

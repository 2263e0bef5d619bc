"""Rules `table-*` (policy_rules/tables.py): which tables are protected, and what counts as a
nightly export."""

from __future__ import annotations

import json

from conventions.tags import ENVIRONMENT_TAG
from policy_rules.model import SCHEDULE, TABLE
from policy_rules.tables import table_deletion_protection, table_encryption, table_pitr
from tests.policy_rules.records import TABLE_ARN, Records, find, messages


def test_table_rules_skip_non_prod_tables() -> None:
    props = {"tags": {ENVIRONMENT_TAG: "test"}, "name": "orders-test"}
    assert table_pitr(TABLE, props) == []
    assert table_deletion_protection(TABLE, props) == []
    assert table_encryption(TABLE, props) == []


def test_table_without_environment_tag_counts_as_prod() -> None:
    # Dropping the tag must not switch the rules off.
    assert table_deletion_protection(TABLE, {"name": "orders"})


def test_disabled_schedule_is_no_backup(prod_records: Records) -> None:
    find(prod_records, SCHEDULE, "orders")["inputs"]["state"] = "DISABLED"
    assert any("'orders'" in m for m in messages("table-nightly-export", prod_records))


def test_schedule_for_another_table_does_not_count(prod_records: Records) -> None:
    sched = find(prod_records, SCHEDULE, "orders")
    request = json.loads(sched["inputs"]["target"]["input"])
    request["TableArn"] = TABLE_ARN + "customers"
    sched["inputs"]["target"]["input"] = json.dumps(request)
    assert any("'orders'" in m for m in messages("table-nightly-export", prod_records))

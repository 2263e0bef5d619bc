"""Categorization (safetynet/coverage/report.py), pure: live tables, the stack's tables and their
freshness in, every table in exactly one category out."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from components.config.coverage import CoverageSpec
from handlers.watch.freshness import FreshnessReport
from safetynet.coverage.inventory import LiveTable
from safetynet.coverage.report import CATEGORIES, CoverageReport, StackTable, categorize

LIMIT = 30.0  # a daily schedule plus the default 6h grace


def live(name: str, *, pitr: bool = True, deletion_protection: bool = True, status: str = "ACTIVE") -> LiveTable:
    """A table as the inventory reads it; only what coverage judges varies."""
    return LiveTable(
        name=name,
        arn=f"arn:aws:dynamodb:eu-central-1:123456789012:table/{name}",
        status=status,
        key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        attribute_definitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        billing_mode="PAY_PER_REQUEST",
        read_capacity=None,
        write_capacity=None,
        global_secondary_indexes=[],
        local_secondary_indexes=[],
        stream_view_type=None,
        ttl_attribute=None,
        pitr_enabled=pitr,
        pitr_recovery_days=35 if pitr else None,
        deletion_protection=deletion_protection,
        table_class="STANDARD",
        sse_type=None,
        kms_key_arn=None,
        replica_regions=[],
        tags={},
    )


def fresh(name: str, age_hours: float | None = 2.0, *, failed: list[str] | None = None) -> FreshnessReport:
    """What freshness.assess says of a table whose newest export is `age_hours` old (None: none)."""
    report = FreshnessReport(table=name, physical_name=name, limit_hours=LIMIT, failed_exports=failed or [])
    if age_hours is not None:
        report.last_export_id = f"01700000000000-{name}"
        report.age_hours = age_hours
    return report


def exclusions(*rules: tuple[str, str]) -> CoverageSpec:
    return CoverageSpec.model_validate({"exclude": [{"pattern": p, "reason": r} for p, r in rules]})


def run(
    live_tables: list[LiveTable],
    stack_tables: dict[str, float | None],
    *,
    coverage: CoverageSpec | None = None,
    require_deletion_protection: bool = True,
    **kwargs: Any,
) -> CoverageReport:
    """Categorize; `stack_tables` maps each of the stack's table names to its export age."""
    return categorize(
        stack="prod",
        region="eu-central-1",
        live_tables=live_tables,
        stack_tables=[StackTable(n, n) for n in stack_tables],
        freshness={n: fresh(n, age) for n, age in stack_tables.items()},
        coverage=coverage or CoverageSpec(),
        require_deletion_protection=require_deletion_protection,
        **kwargs,
    )


def one(report: CoverageReport, name: str) -> Any:
    (table,) = [t for t in report.tables if t.name == name]
    return table


def test_the_stacks_table_with_pitr_deletion_protection_and_a_fresh_export_is_protected() -> None:
    report = run([live("orders")], {"orders": 2.0})
    orders = one(report, "orders")
    assert (orders.category, orders.reasons, orders.stack_table) == (
        "protected",
        ["newest export 2.0h old (limit 30h)"],
        "orders",
    )
    assert report.ok


def test_each_failed_check_is_a_reason_of_a_degraded_table() -> None:
    report = run(
        [
            live("pitr-off", pitr=False),
            live("unguarded", deletion_protection=False),
            live("stale"),
            live("never-exported"),
            live("everything-wrong", pitr=False, deletion_protection=False),
        ],
        {"pitr-off": 1.0, "unguarded": 1.0, "stale": 40.0, "never-exported": None, "everything-wrong": 31.0},
    )
    assert {t.name: t.reasons for t in report.tables} == {
        "pitr-off": ["point-in-time recovery is off"],
        "unguarded": ["deletion protection is off"],
        "stale": ["newest export is 40.0h old (limit 30h)"],
        "never-exported": ["no complete export in the vault"],
        "everything-wrong": [
            "point-in-time recovery is off",
            "deletion protection is off",
            "newest export is 31.0h old (limit 30h)",
        ],
    }
    assert {t.category for t in report.tables} == {"degraded"}
    assert not report.ok


def test_an_export_exactly_at_the_limit_is_still_fresh() -> None:
    assert one(run([live("orders")], {"orders": LIMIT}), "orders").category == "protected"


def test_a_stack_table_missing_from_the_account_is_degraded() -> None:
    report = run([], {"orders": 3.0})
    orders = one(report, "orders")
    assert (orders.category, orders.exists, orders.reasons) == ("degraded", False, ["table does not exist"])
    assert report.counts["total"] == 1


def test_deletion_protection_is_only_required_where_the_program_turns_it_on() -> None:
    report = run([live("orders", deletion_protection=False)], {"orders": 1.0}, require_deletion_protection=False)
    assert one(report, "orders").category == "protected"


def test_a_matching_pattern_excludes_with_its_reason_and_the_first_match_wins() -> None:
    coverage = exclusions(("etl-*", "rebuilt from S3 nightly"), ("etl-scratch-*", "never reached"))
    report = run([live("etl-scratch-1", pitr=False)], {}, coverage=coverage)
    table = one(report, "etl-scratch-1")
    assert (table.category, table.reasons, table.excluded_by) == ("excluded", ["rebuilt from S3 nightly"], "etl-*")
    assert report.ok


def test_a_stack_table_is_judged_as_the_stacks_even_when_a_pattern_matches_it() -> None:
    report = run([live("orders", pitr=False)], {"orders": 1.0}, coverage=exclusions(("ord*", "legacy")))
    orders = one(report, "orders")
    assert (orders.category, orders.excluded_by) == ("degraded", None)


def test_drill_scratch_tables_are_excluded_without_config() -> None:
    report = run([live("safetynet-drill-orders-0170-1", pitr=False)], {})
    scratch = report.tables[0]
    assert (scratch.category, scratch.excluded_by) == ("excluded", "safetynet-drill-*")
    assert "restore drill" in scratch.reasons[0]


def test_any_other_table_is_unprotected_whatever_its_settings() -> None:
    report = run(
        [live("ledger"), live("orders-archive", pitr=False)], {"orders": 1.0}, coverage=exclusions(("x-*", "x"))
    )
    assert [(t.name, t.category) for t in report.tables] == [
        ("orders", "degraded"),  # declared, not in the account
        ("ledger", "unprotected"),
        ("orders-archive", "unprotected"),
    ]
    assert one(report, "ledger").reasons == ["not a table of stack prod; no coverage.exclude pattern matches"]


def test_read_problems_and_failed_exports_are_notes_not_reasons() -> None:
    report = categorize(
        stack="prod",
        region="eu-central-1",
        live_tables=[live("orders")],
        stack_tables=[StackTable("orders", "orders")],
        freshness={"orders": fresh("orders", 1.0, failed=["arn:...:export/1 (S3 access denied)"])},
        coverage=CoverageSpec(),
        require_deletion_protection=True,
        read_problems={"orders": ["drill record unreadable: AccessDenied"]},
    )
    orders = one(report, "orders")
    assert orders.category == "protected"
    assert orders.notes == [
        "drill record unreadable: AccessDenied",
        "failed export: arn:...:export/1 (S3 access denied)",
    ]


def test_logical_and_physical_names_differ_under_a_table_name_pattern() -> None:
    report = categorize(
        stack="prod",
        region="eu-central-1",
        live_tables=[live("shop-orders"), live("orders")],
        stack_tables=[StackTable("orders", "shop-orders")],
        freshness={"shop-orders": fresh("shop-orders", 1.0)},
        coverage=CoverageSpec(),
        require_deletion_protection=True,
    )
    assert [(t.name, t.category, t.stack_table) for t in report.tables] == [
        ("shop-orders", "protected", "orders"),
        ("orders", "unprotected", None),
    ]


def test_json_is_camel_case_with_counts() -> None:
    report = run(
        [live("orders"), live("tmp-1"), live("other")],
        {"orders": 2.5},
        coverage=exclusions(("tmp-*", "scratch")),
    )
    doc = report.to_json()
    assert doc["counts"] == {"protected": 1, "excluded": 1, "degraded": 0, "unprotected": 1, "total": 3}
    assert doc["ok"] is False
    assert doc["tables"][0] == {
        "name": "orders",
        "category": "protected",
        "reasons": ["newest export 2.5h old (limit 30h)"],
        "stackTable": "orders",
        "excludedBy": None,
        "exists": True,
        "status": "ACTIVE",
        "pitr": True,
        "deletionProtection": True,
        "lastExportId": "01700000000000-orders",
        "lastExportAgeHours": 2.5,
        "freshnessLimitHours": 30.0,
        "notes": [],
    }
    assert doc["tables"][1]["excludedBy"] == "tmp-*" and "lastExportId" not in doc["tables"][1]


_names = st.text(alphabet="abcdefgh-", min_size=3, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    account=st.dictionaries(_names, st.tuples(st.booleans(), st.booleans()), max_size=12),
    stack=st.dictionaries(_names, st.one_of(st.none(), st.floats(min_value=0, max_value=100)), max_size=6),
    patterns=st.lists(st.sampled_from(["a*", "*-b", "c?d*", "[ef]*"]), unique=True, max_size=3),
)
def test_every_table_lands_in_exactly_one_category(
    account: dict[str, tuple[bool, bool]], stack: dict[str, float | None], patterns: list[str]
) -> None:
    # Given any account, any stack tables (some missing from the account) and any exclusions
    live_tables = [live(n, pitr=p, deletion_protection=d) for n, (p, d) in account.items()]
    report = run(live_tables, stack, coverage=exclusions(*((p, f"reason {p}") for p in patterns)))
    # Then every live table and every stack table appears exactly once, in a known category
    names = [t.name for t in report.tables]
    assert sorted(names) == sorted(set(account) | set(stack))
    assert all(t.category in CATEGORIES for t in report.tables)
    # the stack's are protected or degraded, the others excluded exactly when a pattern matches
    for t in report.tables:
        if t.name in stack:
            assert t.category in ("protected", "degraded") and t.stack_table == t.name
        else:
            matched = any(fnmatchcase(t.name, p) for p in patterns)
            assert t.category == ("excluded" if matched else "unprotected")
    # and the counts and the verdict agree with the rows, listed by category then name
    counts = report.counts
    assert sum(counts[c] for c in CATEGORIES) == counts["total"] == len(names)
    assert report.ok == (counts["degraded"] == counts["unprotected"] == 0)
    order = [(CATEGORIES.index(t.category), t.name) for t in report.tables]
    assert order == sorted(order)

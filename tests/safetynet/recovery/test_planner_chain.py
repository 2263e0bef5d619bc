"""Planning a restore from the vault's chain (full export + incremental windows), over hand-made
manifests: what the chain reaches, which windows are validated, what a damaged window or anchor
does, `--at` inside a window or beyond a gap, and the replay command that follows `pulumi up`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.exports import ExportRef, ManifestSummary, ValidationReport
from handlers.exports.layout import INCREMENTAL_EXPORT
from safetynet.recovery.dr_risk import assess
from safetynet.recovery.planner import BackupFact, PlanRequest, TableFacts, plan_table
from safetynet.recovery.vault_chain import explain, replay_command

ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/customers"
KEYS = [{"AttributeName": "customerId", "KeyType": "HASH"}]
DAY = datetime(2026, 11, 27, tzinfo=UTC)
T3 = DAY.replace(hour=3)  # the nightly export
_ids = iter(range(10_000))


def _ref(at: datetime, sub: str = "") -> ExportRef:
    n = next(_ids)
    return ExportRef("vault", f"exports/customers/{sub}AWSDynamoDB/{int(at.timestamp() * 1000):014d}-{n:08x}/")


def full(at: datetime) -> tuple[ExportRef, ManifestSummary]:
    ref = _ref(at)
    return ref, ManifestSummary(table_arn=ARN, export_time=at, manifest_files_s3_key=ref.key("m"), item_count=10)


def window(start: datetime, minutes: int = 15) -> tuple[ExportRef, ManifestSummary]:
    end = start + timedelta(minutes=minutes)
    ref = _ref(end, "incremental/")
    summary = ManifestSummary(
        table_arn=ARN,
        export_time=end,
        manifest_files_s3_key=ref.key("m"),
        item_count=3,
        export_type=INCREMENTAL_EXPORT,
        version="2023-08-01",
        export_from_time=start,
        export_to_time=end,
        output_view="NEW_AND_OLD_IMAGES",
    )
    return ref, summary


def windows(start: datetime, count: int) -> list[tuple[ExportRef, ManifestSummary]]:
    return [window(start + timedelta(minutes=15 * i)) for i in range(count)]


def deleted(*exports: tuple[ExportRef, ManifestSummary], **kw: object) -> TableFacts:
    base: dict[str, object] = {
        "logical": "customers",
        "physical": "customers",
        "table_arn": ARN,
        "has_lsis": False,
        "exists": False,
        "exports": list(exports),
        "key_schema": KEYS,
    }
    base.update(kw)
    return TableFacts(**base)  # type: ignore[arg-type]


class Validator:
    """Records (ref, type) validated; `bad` refs fail."""

    def __init__(self, *bad: ExportRef) -> None:
        self.bad = set(bad)
        self.seen: list[tuple[ExportRef, str]] = []

    def __call__(self, ref: ExportRef, table_arn: str, export_type: str) -> ValidationReport:
        assert table_arn == ARN
        self.seen.append((ref, export_type))
        report = ValidationReport(ref=ref, item_count=10)
        if ref in self.bad:
            report.problems.append("data file x: MD5 mismatch")
        return report


NOW = T3 + timedelta(hours=2)


def test_the_chain_reaches_its_last_window_and_every_part_is_validated_in_order() -> None:
    # Given last night's export and four 15-minute windows after it
    anchor, ws = full(T3), windows(T3, 4)
    validator = Validator()
    plan = plan_table(deleted(anchor, *ws), PlanRequest(), validator, now=NOW)
    # Then the vault chain is chosen: the table is created from the anchor, replayed to 04:00
    c = plan.chosen
    assert c is not None and c.kind == "vault" and c.chain is not None
    assert c.entry == {"export": anchor[0].url}
    assert c.time == T3 + timedelta(hours=1) == c.chain.recovery_point
    assert validator.seen == [(anchor[0], "FULL_EXPORT")] + [(w[0], INCREMENTAL_EXPORT) for w in ws]
    assert plan.status(c) == "chosen" and c.validated
    # and the anchor's own row shows it was validated (by the chain), not "not checked"
    anchor_row = next(x for x in plan.candidates if x.kind == "export")
    assert plan.status(anchor_row) == "valid"
    assert replay_command("prod", "customers", c.chain) == (
        f"safetynet replay -s prod --table customers --vault-bucket vault --anchor {anchor[0].url} "
        "--to 2026-11-27T04:00:00Z"
    )


def test_at_inside_a_window_stops_before_it_and_names_both_reachable_minutes() -> None:
    anchor, ws = full(T3), windows(T3, 4)
    at = T3 + timedelta(minutes=37)  # inside 03:30 .. 03:45
    plan = plan_table(deleted(anchor, *ws), PlanRequest(at=at), Validator(), now=NOW)
    c = plan.chosen
    assert c is not None and c.chain is not None
    assert c.chain.recovery_point == T3 + timedelta(minutes=30)
    assert len(c.chain.links) == 2
    text = " ".join(explain(c.chain))
    assert "--at 2026-11-27 03:37Z falls inside the window 2026-11-27 03:30Z .. 2026-11-27 03:45Z" in text
    assert "reachable are 2026-11-27 03:30Z (7m before --at, planned)" in text
    assert "or 2026-11-27 03:45Z (--at 2026-11-27T03:45:00Z" in text


def test_a_corrupt_window_ends_the_chain_before_it_and_says_so() -> None:
    anchor, ws = full(T3), windows(T3, 4)
    validator = Validator(ws[2][0])
    plan = plan_table(deleted(anchor, *ws), PlanRequest(), validator, now=NOW)
    c = plan.chosen
    assert c is not None and c.kind == "vault" and c.chain is not None
    assert c.chain.recovery_point == T3 + timedelta(minutes=30)
    assert [link.ref for link in c.chain.links] == [ws[0][0], ws[1][0]]
    lines = explain(c.chain)
    assert any(f"left out {ws[2][0].export_id}: window corrupt: data file x: MD5 mismatch" in line for line in lines)
    assert any("the chain stops at a break (gap:" in line for line in lines)


def test_a_corrupt_window_with_a_duplicate_is_replaced_by_it() -> None:
    # Given a window exported twice (a retried run), the first copy damaged
    anchor, ws = full(T3), windows(T3, 3)
    dup = window(T3 + timedelta(minutes=15))
    validator = Validator(ws[1][0])
    plan = plan_table(deleted(anchor, *ws, dup), PlanRequest(), validator, now=NOW)
    c = plan.chosen
    assert c is not None and c.chain is not None
    assert c.chain.recovery_point == T3 + timedelta(minutes=45)
    assert [link.ref for link in c.chain.links] == [ws[0][0], dup[0], ws[2][0]]


def test_a_corrupt_anchor_falls_back_to_the_previous_nights_export() -> None:
    # Given two nightly exports, windows contiguous across both, the newer export damaged
    older, newer = full(T3 - timedelta(days=1)), full(T3)
    ws = windows(T3 - timedelta(days=1), 4 * 24 + 4)
    plan = plan_table(deleted(older, newer, *ws), PlanRequest(), Validator(newer[0]), now=NOW)
    c = plan.chosen
    assert c is not None and c.chain is not None
    assert c.chain.anchor == older[0] and c.entry == {"export": older[0].url}
    assert c.chain.recovery_point == T3 + timedelta(hours=1)
    newer_row = next(x for x in plan.candidates if x.export_ref == newer[0] and x.kind == "export")
    assert newer_row.unusable == "corrupt: data file x: MD5 mismatch"


def test_a_chain_that_reaches_less_far_than_promised_loses_to_a_fresher_backup() -> None:
    # Given a live table with an on-demand backup at 03:40 and windows promising 04:00,
    # the 03:30 .. 03:45 window damaged
    anchor, ws = full(T3), windows(T3, 4)
    b = BackupFact(
        arn=f"{ARN}/backup/01700000000000-aaaaaaaa",
        name="b",
        created=T3 + timedelta(minutes=40),
        backup_type="USER",
        status="AVAILABLE",
        key_schema=KEYS,
    )
    f = deleted(anchor, *ws, exists=True, backups=[b])
    plan = plan_table(f, PlanRequest(), Validator(ws[2][0]), now=NOW)
    # Then the chain (03:30 after all) ranks below the backup, which is chosen
    assert plan.chosen is not None and plan.chosen.kind == "backup"
    vault = next(c for c in plan.candidates if c.kind == "vault")
    assert vault.time == T3 + timedelta(minutes=30) and plan.status(vault) == "valid"


def test_source_vault_without_windows_takes_the_full_export() -> None:
    anchor = full(T3)
    plan = plan_table(deleted(anchor), PlanRequest(source="vault"), Validator(), now=NOW)
    assert plan.chosen is not None and plan.chosen.kind == "export" and plan.chosen.validated


def test_source_export_ignores_the_windows() -> None:
    anchor, ws = full(T3), windows(T3, 2)
    plan = plan_table(deleted(anchor, *ws), PlanRequest(source="export"), Validator(), now=NOW)
    assert plan.chosen is not None and plan.chosen.kind == "export" and plan.chosen.chain is None


def test_a_table_with_lsis_gets_no_chain_and_the_refill_route() -> None:
    anchor, ws = full(T3), windows(T3, 2)
    plan = plan_table(deleted(anchor, *ws, has_lsis=True), PlanRequest(stack="dr"), Validator(), now=NOW)
    assert plan.chosen is None
    [hint] = [h for h in plan.hints if "safetynet refill -s dr --table customers" in h]
    assert hint.endswith("and `safetynet replay -s dr --table customers --latest` the windows after it")


def test_region_down_risk_is_chain_interval_plus_replication_lag() -> None:
    replica_point = T3 + timedelta(minutes=45)
    risk = assess(
        "customers",
        replica_point=replica_point,
        interval_seconds=900,
        source_point=T3 + timedelta(hours=1),
        source_note=None,
        now=T3 + timedelta(hours=1, minutes=5),
    )
    assert risk.lag_seconds == 900 and risk.expected_seconds == 1800
    assert risk.since_seconds == 20 * 60
    assert risk.text() == (
        "data at risk 30m = chain interval 15m + replication lag 15m; the replica reaches 2026-11-27 03:45:00Z, 20m ago"
    )
    unknown = assess(
        "customers",
        replica_point=replica_point,
        interval_seconds=900,
        source_point=None,
        source_note="source vault unreadable",
        now=T3 + timedelta(hours=1),
    )
    assert unknown.lag_seconds is None and unknown.expected_seconds is None
    assert "replication lag (unknown: source vault unreadable)" in unknown.text()

"""The pure restore planning logic over hand-made facts: ranking, flags, lazy validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.exports import ExportRef, ManifestSummary, ValidationReport
from handlers.exports.layout import human_age
from safetynet.recovery.planner import (
    BackupFact,
    PitrWindow,
    PlanError,
    PlanRequest,
    TableFacts,
    data_at_risk,
    plan_table,
    restore_entry,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/customers"
KEYS = [{"AttributeName": "customerId", "KeyType": "HASH"}]


def export(age: timedelta, items: int = 10) -> tuple[ExportRef, ManifestSummary]:
    at = NOW - age
    ref = ExportRef("vault", f"exports/customers/AWSDynamoDB/{int(at.timestamp() * 1000):014d}-abcdef12/")
    summary = ManifestSummary(
        table_arn=ARN, export_time=at, manifest_files_s3_key=ref.key("manifest-files.json"), item_count=items
    )
    return ref, summary


def backup(age: timedelta, kind: str = "USER", arn_id: str = "01700000000000-aaaaaaaa") -> BackupFact:
    return BackupFact(
        arn=f"{ARN}/backup/{arn_id}",
        name=f"b-{kind}",
        created=NOW - age,
        backup_type=kind,
        status="AVAILABLE",
        item_count=10,
        key_schema=KEYS,
    )


def facts(**kw: object) -> TableFacts:
    base: dict[str, object] = {
        "logical": "customers",
        "physical": "customers",
        "table_arn": ARN,
        "has_lsis": False,
        "exists": True,
        "item_count": 12,
        "pitr": PitrWindow(True, NOW - timedelta(days=35), NOW - timedelta(minutes=5)),
        "key_schema": KEYS,
    }
    base.update(kw)
    return TableFacts(**base)  # type: ignore[arg-type]


class Validator:
    """Records which exports were validated; `bad` ones fail with a reason."""

    def __init__(self, *bad: ExportRef) -> None:
        self.bad = set(bad)
        self.seen: list[ExportRef] = []

    def __call__(self, ref: ExportRef, table_arn: str, export_type: str = "FULL_EXPORT") -> ValidationReport:
        self.seen.append(ref)
        report = ValidationReport(ref=ref, item_count=10)
        if ref in self.bad:
            report.problems.append("data file x: MD5 mismatch")
        return report


def test_freshest_usable_source_wins_and_pitr_needs_a_suffix_on_a_live_table() -> None:
    e1 = export(timedelta(hours=9))
    f = facts(exports=[e1], backups=[backup(timedelta(days=1))])
    plan = plan_table(f, PlanRequest(), Validator(), now=NOW)
    assert plan.chosen is not None and plan.chosen.entry == {"export": e1[0].url}
    pitr = next(c for c in plan.candidates if c.kind == "pitr")
    assert pitr.unusable is not None and "--target-suffix" in pitr.unusable
    # with a suffix the PITR latest restorable time (5 minutes ago) is fresher
    plan = plan_table(f, PlanRequest(target_suffix="-r"), Validator(), now=NOW)
    assert plan.chosen is not None and plan.chosen.entry == {"latestRestorableTime": True}
    assert restore_entry(plan, "-r") == {"latestRestorableTime": True, "targetSuffix": "-r"}


def test_only_exports_that_could_be_chosen_are_validated() -> None:
    new, mid, old = export(timedelta(hours=1)), export(timedelta(days=1)), export(timedelta(days=2))
    validator = Validator(new[0])
    plan = plan_table(facts(exports=[old, new, mid]), PlanRequest(source="latest"), validator, now=NOW)
    assert validator.seen == [new[0], mid[0]]
    assert plan.chosen is not None and plan.chosen.export_ref == mid[0] and plan.chosen.validated
    skipped = next(c for c in plan.candidates if c.export_ref == new[0])
    assert skipped.unusable == "corrupt: data file x: MD5 mismatch"


def test_at_selects_pitr_time_or_the_newest_source_before_it() -> None:
    at = NOW - timedelta(hours=30)
    e_new, e_old = export(timedelta(hours=2)), export(timedelta(days=2))
    f = facts(exports=[e_new, e_old])
    plan = plan_table(f, PlanRequest(source="export", at=at), Validator(), now=NOW)
    assert plan.chosen is not None and plan.chosen.export_ref == e_old[0]
    plan = plan_table(f, PlanRequest(source="pitr", at=at, target_suffix="-r"), Validator(), now=NOW)
    assert plan.chosen is not None and plan.chosen.entry == {"pointInTime": "2026-11-26T06:00:00Z"}


def test_a_time_outside_the_pitr_window_is_not_usable() -> None:
    at = NOW - timedelta(days=40)
    plan = plan_table(facts(), PlanRequest(source="pitr", at=at, target_suffix="-r"), Validator(), now=NOW)
    assert plan.chosen is None
    assert "before the earliest restorable time" in (plan.candidates[0].unusable or "")
    assert plan.problem == "customers: no usable PITR"


def test_lsi_tables_never_get_an_export() -> None:
    f = facts(has_lsis=True, exports=[export(timedelta(hours=1))])
    plan = plan_table(f, PlanRequest(), Validator(), now=NOW)
    assert plan.chosen is None  # the export cannot be used and PITR needs a suffix
    exp = next(c for c in plan.candidates if c.kind == "export")
    assert exp.unusable == "table has LSIs: ImportTable cannot create them"
    # the way out for such a table: created empty, then refilled
    assert any("safetynet refill" in h for h in plan.hints)


def test_a_deleted_table_measures_data_at_risk_from_its_deletion() -> None:
    system = backup(timedelta(hours=3), kind="SYSTEM", arn_id="01700000000000-bbbbbbbb")
    e = export(timedelta(hours=27), items=7)
    f = facts(exists=False, item_count=None, pitr=None, exports=[e], backups=[system])
    plan = plan_table(f, PlanRequest(), Validator(), now=NOW)
    assert plan.chosen is not None and plan.chosen.entry == {"backupArn": system.arn}
    exp = next(c for c in plan.candidates if c.kind == "export")
    # 24h of writes between the export and the deletion; 3 items fewer than at deletion
    assert data_at_risk(plan, exp) == "1d 0h, -3 items"


def test_advanced_aws_backup_points_are_listed_but_not_chosen() -> None:
    rp = BackupFact(
        arn="arn:aws:backup:eu-central-1:123456789012:recovery-point:abc",
        name="vault",
        created=NOW - timedelta(minutes=1),
        backup_type="AWS_BACKUP",
        status="AVAILABLE",
    )
    plan = plan_table(facts(backups=[rp]), PlanRequest(source="backup"), Validator(), now=NOW)
    assert plan.chosen is None
    assert "start-restore-job" in (plan.candidates[0].unusable or "")


def test_unknown_source_is_refused() -> None:
    with pytest.raises(PlanError):
        plan_table(facts(), PlanRequest(source="snapshot"), Validator(), now=NOW)


def test_human_age() -> None:
    assert [human_age(s) for s in (5, 300, 7500, 90000)] == ["5s", "5m", "2h 5m", "1d 1h"]


def test_a_source_is_usable_only_once_validated_the_others_are_not_checked() -> None:
    # Given three exports of a deleted table, the newest valid
    new, mid, old = export(timedelta(hours=1)), export(timedelta(days=1)), export(timedelta(days=2))
    f = facts(exists=False, item_count=None, pitr=None, exports=[new, mid, old])
    plan = plan_table(f, PlanRequest(), Validator(), now=NOW)
    # Then only the chosen one was read; the two older ones are "not checked", never "usable"
    assert plan.chosen is not None and plan.chosen.export_ref == new[0]
    assert [plan.status(c) for c in plan.candidates if c.kind == "export"] == ["chosen", "not checked", "not checked"]


def test_a_deleted_table_is_never_told_to_use_a_target_suffix() -> None:
    # Given a deleted table whose only export is corrupt
    e = export(timedelta(hours=5))
    f = facts(exists=False, item_count=None, pitr=None, exports=[e])
    plan = plan_table(f, PlanRequest(), Validator(e[0]), now=NOW)
    # Then nothing is chosen and no hint talks about a PITR restore beside a live table
    assert plan.chosen is None
    assert plan.problem == "customers: no usable source"
    assert not any("--target-suffix" in h for h in plan.hints)
    pitr = next(c for c in plan.candidates if c.kind == "pitr")
    assert pitr.unusable is not None and "--target-suffix" not in pitr.unusable


def test_a_live_table_without_a_source_is_told_about_pitr_beside_it() -> None:
    plan = plan_table(facts(), PlanRequest(source="pitr"), Validator(), now=NOW)
    assert plan.chosen is None
    assert plan.hints == ["restore beside the live table from PITR: --target-suffix -restored"]


def test_hints_name_only_other_sources_that_exist() -> None:
    # Given a deleted table with its system backup, asked for PITR
    system = backup(timedelta(hours=1), kind="SYSTEM", arn_id="01700000000000-cccccccc")
    f = facts(exists=False, item_count=None, pitr=None, backups=[system])
    plan = plan_table(f, PlanRequest(source="pitr"), Validator(), now=NOW)
    # Then the hint is the backup that exists (not exports, which do not)
    assert plan.chosen is None
    assert plan.hints == ["another --source: backup (listed above)"]


def test_an_at_before_every_source_suggests_a_later_at() -> None:
    e = export(timedelta(hours=2))
    f = facts(exists=False, item_count=None, pitr=None, exports=[e])
    plan = plan_table(f, PlanRequest(source="export", at=NOW - timedelta(days=3)), Validator(), now=NOW)
    assert plan.chosen is None
    assert plan.problem == "customers: no usable export at or before 2026-11-24 12:00:00Z"
    assert plan.hints == ["a later --at: the oldest such source is from 2026-11-27 10:00:00Z"]

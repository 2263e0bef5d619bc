"""The demo's tables and panels at 80 columns: no line wider than the terminal, every row on one
line (nothing squeezed into unreadable columns); and the Lambda code's structured log goes to a
file, not into the story."""

from __future__ import annotations

import io
import json
import logging
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.cells import cell_len
from rich.console import Console, RenderableType

from handlers.exports import ExportRef, ManifestSummary, ValidationReport
from safetynet.local.demo_report import (
    DemoReport,
    StepResult,
    alert_panel,
    backup_table,
    masking_table,
    summary_table,
)
from safetynet.local.demo_run import DemoRun
from safetynet.recovery.plan_report import candidate_table
from safetynet.recovery.planner import BackupFact, PlanRequest, TableFacts, plan_table

WIDTH = 80


def render(thing: RenderableType) -> list[str]:
    console = Console(width=WIDTH, record=True, file=io.StringIO(), color_system=None)
    console.print(thing)
    return console.export_text().splitlines()


def assert_fits(lines: list[str]) -> None:
    wide = [line for line in lines if cell_len(line.rstrip()) > WIDTH]
    assert not wide, "\n".join(wide)


def one_line_each(lines: list[str], *rows: tuple[str, ...]) -> None:
    """Every row's cells are found together on one line, in order."""
    for cells in rows:
        matches = [line for line in lines if all(c in line for c in cells)]
        assert matches, f"no single line holds {cells}:\n" + "\n".join(lines)
        line = matches[0]
        positions = [line.index(c) for c in cells]
        assert positions == sorted(positions), line


def test_the_summary_fits_with_long_failures_and_extra_figures() -> None:
    report = DemoReport(items_loaded=20_000, items_backed_up=20_000, items_staged=20_000, masked_attributes=5)
    report.alert_classification = "unexpected"
    report.items_restored = 6_667
    report.extra_figures = {"changes captured by the chain (3 windows)": 412, "items rewound": 330}
    report.steps = [
        StepResult("deploy", 29.4, 20_000),
        StepResult("backup", 16.2, 20_000),
        StepResult("stage", 44.0, 20_000),
        StepResult("accident", 0.4),
        StepResult("restore", 14.8, 6_667),
        StepResult("chain", 6.1, 412, ok=False, detail="DemoFailure: " + "a long reason that wraps " * 5),
    ]
    lines = render(summary_table(report))
    assert_fits(lines)
    one_line_each(
        lines,
        ("items loaded into prod", "20,000"),
        ("changes captured by the chain (3 windows)", "412"),
        ("deploy", "ok", "29.4 s", "20,000", "680"),
        ("restore", "ok", "14.8 s", "6,667", "450"),
        ("chain", "failed", "6.1 s", "412"),
    )


def test_backup_and_masking_tables_fit() -> None:
    rows = [("customers-with-a-long-name", "01796015466038-96d2481c", 5, 6_667)] * 3
    lines = render(backup_table(rows, "vault-14ff856-a-long-bucket-name"))
    assert_fits(lines)
    one_line_each(lines, ("customers-with-a-long-name", "01796015466038-96d2481c", "5", "6,667", "yes"))
    rules = [
        {"path": "email", "action": "hash"},
        {"path": "address.street", "action": "redact"},
        {"path": "orders[*].email", "action": "hash"},
        {"path": "phone", "action": "drop"},
    ]
    original = {
        "email": {"S": "søren.müller0@example.com"},
        "address": {"M": {"street": {"S": "52 Rue de Rivoli"}}},
        "orders": {"L": [{"M": {"email": {"S": "søren.müller0@example.com"}}}]},
        "phone": {"S": "+49 30 8018694"},
    }
    masked = {
        "email": {"S": "9f3155e45756cb5430081f8877f4a29f4209" * 2},
        "address": {"M": {"street": {"S": "1 Example Street"}}},
        "orders": {"L": [{"M": {"email": {"S": "9f3155e45756cb54"}}}]},
    }
    lines = render(masking_table(rules, original, masked, "customers"))
    assert_fits(lines)
    one_line_each(
        lines,
        ("address.street", "redact", "52 Rue de Rivoli", "1 Example Street"),
        ("orders[*].email", "hash", "søren", "9f3155e45756cb54"),
        ("phone", "drop", "+49 30 8018694", "(dropped)"),
    )


def test_the_alert_is_sentences_not_json() -> None:
    body = json.dumps(
        {
            "classification": "unexpected",
            "severity": "HIGH",
            "reason": "caller arn:aws:sts::123456789012:assumed-role/DeveloperAdmin/alice@example.com is not a "
            "deploy principal",
            "event": {"name": "DeleteTable", "resource": "customers", "region": "eu-central-1"},
            "who": {"principal": "arn:aws:sts::123456789012:assumed-role/DeveloperAdmin/alice@example.com"},
            "next": ["safetynet restore-plan prod --table customers --vault-bucket vault-14ff856"],
        }
    )
    lines = render(alert_panel(body, None))
    assert_fits(lines)
    text = "\n".join(lines)
    assert "SNS alert: UNEXPECTED, HIGH severity" in text
    one_line_each(lines, ("what", "DeleteTable on customers (eu-central-1)"))
    assert "{" not in text and '"classification"' not in text
    assert "the classifier's JSON log:" in text and "(kept with --keep)" in text


def test_restore_plan_candidates_are_one_line_each_at_80_columns() -> None:
    now = datetime(2026, 11, 30, 5, 11, tzinfo=UTC)
    arn = "arn:aws:dynamodb:eu-central-1:123456789012:table/customers"
    exports = []
    for days in (1, 2, 3):
        at = now - timedelta(days=days)
        ref = ExportRef("vault", f"exports/customers/AWSDynamoDB/{int(at.timestamp() * 1000):014d}-abcdef1{days}/")
        exports.append((ref, ManifestSummary(arn, at, ref.key("m"), 6_667)))
    backup = BackupFact(
        f"{arn}/backup/01700000000000-aaaaaaaa", "before-the-big-migration-of-2026", now, "USER", "AVAILABLE"
    )
    facts = TableFacts(
        logical="customers",
        physical="customers",
        table_arn=arn,
        has_lsis=False,
        exists=False,
        exports=exports,
        backups=[backup],
    )

    def validate(ref: ExportRef, table_arn: str, export_type: str) -> ValidationReport:
        report = ValidationReport(ref=ref, item_count=6_667)
        if ref == exports[0][0]:
            report.problems.append("data file data/x.json.gz: MD5 mismatch " + "and a long explanation " * 4)
        return report

    plan = plan_table(facts, PlanRequest(source="export"), validate, now=now)
    lines = render(candidate_table(plan, now))
    assert_fits(lines)
    one_line_each(
        lines,
        ("backup before-the-big", "Nov 30 05:11", " - ", "0s", "available"),
        ("export abcdef11", "Nov 29 05:11", "6,667", "1d 0h", "corrupt [1]"),
        (">>", "export abcdef12", "Nov 28 05:11", "6,667", "2d 0h", "chosen, valid"),
        ("export abcdef13", "Nov 27 05:11", "6,667", "3d 0h", "not checked"),
        ("PITR", "not usable [2]"),
    )
    assert any(line.startswith("  [1] corrupt: data file data/x.json.gz: MD5 mismatch") for line in lines)


def test_a_wide_terminal_gets_whole_export_ids() -> None:
    now = datetime(2026, 11, 30, 5, 11, tzinfo=UTC)
    arn = "arn:aws:dynamodb:eu-central-1:123456789012:table/customers"
    ref = ExportRef("vault", "exports/customers/AWSDynamoDB/01796015466038-96d2481c/")
    facts = TableFacts("customers", "customers", arn, False, False, exports=[(ref, ManifestSummary(arn, now, "m", 1))])

    def validate(ref: ExportRef, table_arn: str, export_type: str) -> ValidationReport:
        return ValidationReport(ref=ref, item_count=1)

    plan = plan_table(facts, PlanRequest(), validate, now=now)
    console = Console(width=140, record=True, file=io.StringIO(), color_system=None)
    console.print(candidate_table(plan, now, width=140))
    assert "export 01796015466038-96d2481c" in console.export_text()
    assert "export 96d2481c" in "\n".join(render(candidate_table(plan, now)))


def test_the_lambda_codes_structured_log_goes_to_a_file_not_to_the_story(tmp_path: Path) -> None:
    # Given the classifier's Powertools logger configured as in Lambda (JSON lines on stdout)
    import handlers.watch.entrypoints  # noqa: F401 (creates the parent logger with its stdout handler)
    from handlers.watch import alert

    run = DemoRun(tmp_path, items=3, seed=1, console=Console(file=io.StringIO()), region="eu-central-1", fault=None)
    watch = logging.getLogger("safetynet-watch")
    before = (list(watch.handlers), watch.propagate)
    out = io.StringIO()
    # When the demo runs code that logs, inside its log context
    with redirect_stdout(out), redirect_stderr(out), run.lambda_logs() as path:
        alert.logger.info("event classified", extra={"classification": "unexpected"})
        logging.getLogger("handlers.exports.listing").warning("export skipped", extra={"export": "s3://v/x/"})
    # Then nothing reached the terminal, and the file holds both as JSON lines
    assert out.getvalue() == ""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["level"], r["message"]) for r in records] == [
        ("INFO", "event classified"),
        ("WARNING", "export skipped"),
    ]
    assert records[0]["classification"] == "unexpected"
    # and afterwards the loggers are as they were
    assert (list(watch.handlers), watch.propagate) == before

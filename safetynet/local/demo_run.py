"""The plumbing of one demo run: its console, AWS clients and progress bars, the timed steps that
fill the report, the stacks it synthesized and what it reads back from the emulator. The story
itself, step by step, is `safetynet/local/demo.py`."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from handlers import clients
from safetynet.local.demo_report import DemoReport, StepResult
from safetynet.synth import SynthResult

TABLE_TYPE = "aws:dynamodb/table:Table"
# The loggers of the code the demo runs: the Lambda tasks' Powertools loggers (JSON on stdout in
# Lambda, where CloudWatch collects them) and the standard loggers of handlers/ and safetynet/.
LAMBDA_LOGGERS = ("safetynet-watch", "safetynet-staging", "handlers", "safetynet")
LOG_FILE = "lambda-logs.jsonl"


class DemoFailure(Exception):
    """A step failed; the demo stops and exits non-zero."""


class DemoRun:
    """One run of the demo: what its steps share. `Demo` (demo.py) adds the steps."""

    def __init__(
        self,
        project_dir: Path,
        *,
        items: int,
        seed: int,
        console: Console,
        region: str,
        fault: str | None,
        keep_workdir: bool = False,
    ) -> None:
        self.project_dir = project_dir
        self.items = items
        self.seed = seed
        self.console = console
        self.region = region
        self.fault = fault
        self.report = DemoReport()
        self.workdir = Path(tempfile.mkdtemp(prefix="safetynet-demo-"))
        self.keep_workdir = keep_workdir
        """Keep the work dir (the project copy, the Lambda code's log) after the run (`--keep`)."""
        self.log_path = self.workdir / LOG_FILE
        # Set by the steps as the story goes: the synthesized stacks (deploy), the items loaded
        # per logical table (deploy), each table's export (backup) and the alert topic (accident).
        self.prod: SynthResult
        self.test: SynthResult
        self.counts: dict[str, int] = {}
        self.exports: dict[str, Any] = {}
        self.alert_topic: str | None = None
        self._specs: dict[str, Any] = {}

    # -- tools of every step -----------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A client of the emulator, in the demo's region."""
        return clients.client(service, self.region)

    def progress(self) -> Progress:
        """Progress bars in the demo's layout (each task carries a `rate` field)."""
        return Progress(
            TextColumn("  {task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>14}"),
            TimeRemainingColumn(),
            console=self.console,
        )

    @contextmanager
    def step(self, name: str, title: str) -> Iterator[StepResult]:
        """A numbered step under its title, timed, and added to the report (failed if it raises)."""
        self.console.rule(f"[bold cyan]{title}")
        result = StepResult(name)
        start = time.perf_counter()
        try:
            yield result
        except Exception as exc:
            result.ok = False
            result.detail = result.detail or f"{type(exc).__name__}: {exc}"
            raise
        finally:
            result.seconds = time.perf_counter() - start
            self.report.steps.append(result)

    @contextmanager
    def lambda_logs(self) -> Iterator[Path]:
        """Send the structured logs of the code the demo runs to `log_path` (JSON lines), not
        into the story: in Lambda they go to CloudWatch, here to a file beside the run."""
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setFormatter(LambdaPowertoolsFormatter())  # the JSON lines Lambda writes
        saved = []
        for name in LAMBDA_LOGGERS:
            logger = logging.getLogger(name)
            saved.append((logger, list(logger.handlers), logger.propagate, logger.level))
            logger.handlers = [handler]
            logger.propagate = False
            logger.setLevel(logging.INFO)
        try:
            yield self.log_path
        finally:
            for logger, handlers, propagate, level in saved:
                logger.handlers, logger.propagate = handlers, propagate
                logger.setLevel(level)
            handler.close()

    # -- the synthesized stacks --------------------------------------------------------------------

    def prod_tables(self) -> list[dict[str, Any]]:
        """The prod stack's protected tables (it also declares the incremental chain's ledger)."""
        return [t for t in self.prod.of_type(TABLE_TYPE) if "safetynet:table" in (t["inputs"].get("tags") or {})]

    def test_tables(self) -> list[dict[str, Any]]:
        """The staged tables (the test stack also declares its staging ledger table)."""
        return [t for t in self.test.of_type(TABLE_TYPE) if "safetynet:table" in (t["inputs"].get("tags") or {})]

    def logical(self, table: dict[str, Any]) -> str:
        """A declared table's logical name (`safetynet:tables[i].name`)."""
        return str(table["inputs"]["tags"]["safetynet:table"])

    def spec(self, logical: str) -> Any:
        """The table's typed config (`safetynet:tables[i]` of Pulumi.prod.yaml), read once."""
        if not self._specs:
            from components.config.loading import decode_pulumi_config, parse_stack_config
            from safetynet.synth import read_stack_config

            flat, _ = read_stack_config(self.project_dir, "prod")
            self._specs = {t.name: t for t in parse_stack_config(decode_pulumi_config(flat)).tables}
        return self._specs[logical]

    def masked_bucket(self) -> str:
        """The test stack's bucket for masked copies of the exports."""
        [bucket] = [
            r for r in self.test.of_type("aws:s3/bucket:Bucket") if r["parent"].startswith("safetynet:staging:")
        ]
        return str(
            self.test.outputs.get("maskedBucketName") or bucket["inputs"].get("bucket") or "safetynet-demo-masked"
        )


# -- what the steps read back and compare ------------------------------------------------------


def canonical(item: dict[str, Any]) -> Any:
    """An item in a comparable form: sets are unordered in DynamoDB, binary may be str or bytes."""

    def value(av: dict[str, Any]) -> Any:
        ((kind, v),) = av.items()
        if kind in ("SS", "NS"):
            return kind, tuple(sorted(v))
        if kind == "BS":
            return kind, tuple(sorted(bytes(x) for x in v))
        if kind == "B":
            return kind, bytes(v)
        if kind == "M":
            return kind, tuple(sorted((k, value(x)) for k, x in v.items()))
        if kind == "L":
            return kind, tuple(value(x) for x in v)
        return kind, v

    return tuple(sorted((k, value(v)) for k, v in item.items()))


def scan_all(ddb: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every item of a table, page by page."""
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def target_from_trigger(result: SynthResult, logical: str) -> dict[str, Any]:
    """The TargetTable document the test stack registers for the table (its StagedTable's target
    item in the staging ledger), which the state machine stages into."""
    from handlers.staging.targets import target_document

    [item] = [r for r in result.of_type("aws:dynamodb/tableItem:TableItem") if r["name"] == f"{logical}-target"]
    doc = target_document(json.loads(item["inputs"]["item"]))
    assert doc is not None, f"{logical}-target holds no target"
    return doc

"""`safetynet demo`: the whole safety net, end to end, on an embedded AWS emulator.

Every step runs the product's own code against moto's server on 127.0.0.1 (nothing else is
reached; no account and no Pulumi CLI): the program is synthesized offline and its declared
tables are created from the declared inputs; the nightly backup is the scan exporter writing
AWS's exact layout (moto's own export writes no manifests) and the full validator; staging is
the pipeline's own task code with the test stack's masking rules; the accident is classified by
the DisasterWatch classifier; the restore is planned by `safetynet restore-plan` and created
with the ImportTable parameters the program declares.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from typing import Any

from rich.panel import Panel
from rich.progress import Progress

from safetynet.local.demo_data import cloudtrail_delete_table, demo_item, demo_items
from safetynet.local.demo_later import LaterSteps
from safetynet.local.demo_report import DemoReport, alert_panel, backup_table, masking_table
from safetynet.local.demo_run import TABLE_TYPE, DemoFailure, DemoRun, canonical, scan_all, target_from_trigger
from safetynet.synth import synth

DEMO_MASKING_KEY = b"safetynet-demo-masking-key-0123456789"
ACCIDENT_PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/DeveloperAdmin/alice@example.com"
ACCIDENT_TABLE = "customers"
# Items the test tables hold from "yesterday's" staging, so "untouched" is visible.
PREVIOUS_TEST_ITEMS = 50
FAULTS = ("corrupt-data-file",)


class Demo(LaterSteps, DemoRun):
    """The demo's steps, in order; `run` returns the report."""

    def run(self) -> DemoReport:
        try:
            with self.lambda_logs():
                self.deploy()
                self.backup()
                self.stage()
                self.accident()
                self.recover()
                self.chain()
                self.rewind()
        except Exception as exc:  # noqa: BLE001 (every failure ends the demo with its reason, exit 1)
            self.report.failure = f"{type(exc).__name__}: {exc}"
        finally:
            if not self.keep_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
        return self.report

    def deploy(self) -> None:
        from handlers.exports.batch_writer import DynamoDBSink, write_items
        from safetynet.local.deploy import deploy_table, enable_stream

        with self.step("deploy", "1. Deploy prod and test stacks (offline synth -> emulator) and load data") as r:
            self.prod = synth(self.project_dir, "prod")
            # The test stack reads prod's outputs through a StackReference: hand it this synth's.
            self.test = synth(self.project_dir, "test", stack_references={"prod": self.prod.outputs})
            ddb, s3 = self.client("dynamodb"), self.client("s3")
            for bucket in (self.prod.outputs["vaultBucketName"], self.masked_bucket()):
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            # Prod tables get their declared streams once loaded (deploy_table's `stream_later`).
            for t in self.prod.of_type(TABLE_TYPE):
                deploy_table(ddb, t["inputs"], stream_later=True)
            for t in self.test.of_type(TABLE_TYPE):
                deploy_table(ddb, t["inputs"])
            names = ", ".join(t["inputs"]["name"] for t in self.prod_tables())
            self.console.print(f"  prod tables (PITR, deletion protection): {names}")
            self.console.print(
                "  test tables (staging targets): " + ", ".join(t["inputs"]["name"] for t in self.test_tables())
            )
            tables = self.prod_tables()
            base, extra = divmod(self.items, len(tables))
            with self.progress() as progress:
                for i, t in enumerate(tables):
                    logical, name = self.logical(t), t["inputs"]["name"]
                    n = base + (1 if i < extra else 0)
                    self.counts[logical] = n
                    task = progress.add_task(f"load {name}", total=n, rate="")
                    start = time.perf_counter()

                    def advance(k: int, task: Any = task, start: float = start) -> None:
                        progress.advance(task, k)
                        done = progress.tasks[task].completed
                        progress.update(task, rate=f"{done / max(time.perf_counter() - start, 1e-6):,.0f} items/s")

                    written = write_items(
                        DynamoDBSink(ddb, name), demo_items(self.spec(logical), n, self.seed), on_progress=advance
                    )
                    enable_stream(ddb, t["inputs"])
                    r.items += written
            # Yesterday's staged data in the test tables: what a rejected export must leave alone.
            for t in self.test_tables():
                logical = self.logical(t)
                old = (
                    {**demo_item(self.spec(logical), i, self.seed + 1), "stagedFrom": {"S": "yesterday"}}
                    for i in range(PREVIOUS_TEST_ITEMS)
                )
                write_items(DynamoDBSink(ddb, t["inputs"]["name"]), old)
            self.report.items_loaded = r.items
            r.detail = f"{len(tables)} prod + {len(self.test_tables())} test tables"

    def backup(self) -> None:
        from handlers.exports import validate_export
        from safetynet.backup.scan_export import scan_export

        vault = self.prod.outputs["vaultBucketName"]
        with self.step("backup", "2. Nightly backup: export every prod table into the vault, then validate") as r:
            ddb, s3 = self.client("dynamodb"), self.client("s3")
            with self.progress() as progress:
                for t in self.prod_tables():
                    logical, name = self.logical(t), t["inputs"]["name"]
                    task = progress.add_task(f"export {name}", total=self.counts[logical], rate="")
                    start = time.perf_counter()

                    def exported(done: int, task: Any = task, start: float = start) -> None:
                        # the exporter reports its running count, not a delta
                        rate = f"{done / max(time.perf_counter() - start, 1e-6):,.0f} items/s"
                        progress.update(task, completed=done, rate=rate)

                    ref = scan_export(
                        ddb,
                        s3,
                        table_name=name,
                        bucket=vault,
                        prefix=self.prod.outputs["tables"][logical]["exportPrefix"],
                        items_per_file=max(1000, self.counts[logical] // 4),
                        on_item=exported,
                    )
                    self.exports[logical] = ref
            rows = []
            for t in self.prod_tables():
                logical = self.logical(t)
                ref = self.exports[logical]
                report = validate_export(s3, ref, expected_table_arn=self.prod.outputs["tables"][logical]["arn"])
                if not report.ok:
                    raise DemoFailure(f"export of {logical} failed validation: {'; '.join(report.problems)}")
                rows.append((t["inputs"]["name"], ref.export_id, len(report.files), report.item_count))
                r.items += report.item_count
            self.console.print(backup_table(rows, vault))
            self.report.items_backed_up = r.items
            if self.fault == "corrupt-data-file":
                self.corrupt(self.exports[ACCIDENT_TABLE])

    def corrupt(self, ref: Any) -> None:
        """Fault injection: flip one byte in a data file (after validation, before staging)."""
        from handlers.exports import read_data_files, read_summary

        s3 = self.client("s3")
        files = read_data_files(s3, ref, read_summary(s3, ref))
        key = ref.resolve(next(f for f in files if f.item_count).data_file_s3_key)
        body = bytearray(s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read())
        body[len(body) // 2] ^= 0xFF
        s3.put_object(Bucket=ref.bucket, Key=key, Body=bytes(body))
        self.console.print(f"  [red]fault injected:[/] flipped a byte in s3://{ref.bucket}/{key}")

    def stage(self) -> None:
        from handlers.staging.target import TargetTable
        from safetynet.staging.flow import stage_export

        with self.step("stage", "3. Staging: validate, mask and load every export into the test tables") as r:
            ddb, s3 = self.client("dynamodb"), self.client("s3")
            rejected: list[str] = []
            for t in self.prod_tables():
                logical = self.logical(t)
                target = TargetTable.from_json(target_from_trigger(self.test, logical))
                before = sorted(map(canonical, scan_all(ddb, target.name)))
                total = self.counts[logical]
                with self.progress() as progress:
                    tasks: dict[str, Any] = {}

                    def on_progress(
                        phase: str,
                        n: int,
                        total_: int | None,
                        tasks: Any = tasks,
                        progress: Progress = progress,
                        name: str = target.name,
                        total: int = total,
                    ) -> None:
                        if phase not in tasks:
                            tasks[phase] = progress.add_task(f"{phase} {name}", total=total_ or total, rate="")
                        progress.advance(tasks[phase], n)

                    try:
                        result = stage_export(
                            s3,
                            ddb,
                            self.exports[logical],
                            target,
                            masking_key=DEMO_MASKING_KEY,
                            mask_bucket=self.masked_bucket(),
                            on_progress=on_progress,
                            # The emulator imports in well under a second: poll it often.
                            sleep=lambda seconds: time.sleep(min(seconds, 0.1)),
                        )
                    except Exception as exc:  # noqa: BLE001 (shown, then the table is checked untouched)
                        try:
                            after = sorted(map(canonical, scan_all(ddb, target.name)))
                        except ddb.exceptions.ResourceNotFoundException:
                            after = []
                        untouched = after == before
                        self.console.print(
                            Panel(
                                f"{exc}\n\ntest table {target.name}: {len(before)} items before, {len(after)} after - "
                                + ("[green]untouched[/]" if untouched else "[red]CHANGED[/]"),
                                title=f"staging of {logical} rejected",
                                border_style="red",
                            )
                        )
                        rejected.append(
                            f"{logical}: {str(exc).splitlines()[0]}"
                            + ("; test table untouched" if untouched else "; TEST TABLE CHANGED")
                        )
                        continue
                    if result.verification is not None:
                        # Verification counts the table and reads a sample back: the bar shows the
                        # items it counted (the flow reports the phase only once it is done).
                        on_progress("verify", 0, total)
                        progress.update(tasks["verify"], completed=result.verification.table_count)
                r.items += result.items
                self.console.print(
                    f"  {target.name}: {result.items:,} items, mode {result.mode} ({result.mode_reason}), verified"
                )
                if target.mask:
                    self.report.masked_attributes += len(target.mask)
                    self.show_masking(logical, target)
            self.report.items_staged = r.items
            if rejected:
                r.detail = " | ".join(rejected)
                raise DemoFailure("staging rejected: " + " | ".join(rejected))

    def show_masking(self, logical: str, target: Any) -> None:
        from handlers.staging.compare import key_of

        ddb = self.client("dynamodb")
        original = demo_item(self.spec(logical), 0, self.seed)
        key = key_of(original, target.key_names)
        masked = ddb.get_item(TableName=target.name, Key=key, ConsistentRead=True).get("Item")
        if masked is None:  # the key itself is hashed: find the staged twin by a non-key value
            masked = next((i for i in scan_all(ddb, target.name) if i.get("balance") == original["balance"]), {})
        self.console.print(masking_table(list(target.mask), original, masked, logical))

    def accident(self) -> None:
        from dataclasses import replace

        from conventions.watch import CONTEXT_ARCHIVE_PATH, WatchContext
        from handlers.watch.alert import classify_and_publish

        name = self.prod.outputs["tables"][ACCIDENT_TABLE]["name"]
        who = ACCIDENT_PRINCIPAL.split("/")[-2]
        with self.step("accident", f"4. Accident: {who} deletes prod table {name}; DisasterWatch classifies it"):
            ddb, sqs, sns, s3 = (
                self.client("dynamodb"),
                self.client("sqs"),
                self.client("sns"),
                self.client("s3"),
            )
            # What someone with too much access does: switch protection off, then delete.
            ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
            ddb.delete_table(TableName=name)
            self.console.print(f"  DeleteTable {name}, called by {ACCIDENT_PRINCIPAL}")
            # The classifier Lambda's own context document, as the prod stack deploys it with the code.
            [fn] = [f for f in self.prod.of_type("aws:lambda/function:Function") if f["name"] == "watch-classifier"]
            ctx = WatchContext.from_json(fn["inputs"]["code"]["archive"][f"handlers/{CONTEXT_ARCHIVE_PATH}"]["text"])
            topic = sns.create_topic(Name="safetynet-prod-alerts")["TopicArn"]
            self.alert_topic = topic
            queue = sqs.create_queue(QueueName="oncall-inbox")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
            event = cloudtrail_delete_table(name, self.region, ACCIDENT_PRINCIPAL)
            verdict, _ = classify_and_publish(
                event, replace(ctx, topic_arn=topic), ddb=ddb, s3=s3, sns=sns, now=datetime.now(UTC)
            )
            self.report.alert_classification = verdict.label
            [msg] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1)["Messages"]
            self.console.print(
                f"  the classifier Lambda's code labels it [bold]{verdict.label}[/] and publishes the alert; "
                "it arrives in the on-call queue:"
            )
            self.console.print(alert_panel(msg["Body"], str(self.log_path) if self.keep_workdir else None))
            if verdict.label != "unexpected":
                raise DemoFailure(f"the accident was classified {verdict.label}, expected unexpected")

    def recover(self) -> None:
        from safetynet.cli import app
        from safetynet.local.deploy import deploy_table

        vault = self.prod.outputs["vaultBucketName"]
        with self.step("restore", f"5. Recovery: restore-plan -> create {ACCIDENT_TABLE} from the chosen source") as r:
            project = self.workdir / "project"
            shutil.copytree(
                self.project_dir,
                project,
                ignore=shutil.ignore_patterns(
                    ".venv", ".tools", ".git", "node_modules", "tests", "bench", "__pycache__", ".github"
                ),
            )
            self.console.print(
                f"  $ safetynet restore-plan -s prod --table {ACCIDENT_TABLE} --vault-bucket {vault} --yes"
            )
            argv = ["restore-plan", "-s", "prod", "--table", ACCIDENT_TABLE, "--vault-bucket", vault, "--yes"]
            try:
                code = app([*argv, "--project-dir", str(project)], standalone_mode=False)
            except SystemExit as exc:
                code = exc.code
            if code:
                raise DemoFailure(f"restore-plan exited {code}")
            planned = synth(project, "prod")
            [table] = [
                t
                for t in planned.of_type(TABLE_TYPE)
                if (t["inputs"].get("tags") or {}).get("safetynet:table") == ACCIDENT_TABLE
            ]
            source = table["inputs"].get("importTable", {}).get("s3BucketSource", {})
            self.console.print(
                f"  pulumi up would create {table['inputs']['name']} importing "
                f"s3://{source.get('bucket')}/{source.get('keyPrefix')}"
            )
            ddb = self.client("dynamodb")
            deploy_table(ddb, table["inputs"])
            expected = {
                canonical(i) for i in demo_items(self.spec(ACCIDENT_TABLE), self.counts[ACCIDENT_TABLE], self.seed)
            }
            restored = {canonical(i) for i in scan_all(ddb, table["inputs"]["name"])}
            r.items = len(restored)
            self.report.items_restored = len(restored)
            self.report.mismatches = len(expected ^ restored)
            desc = ddb.describe_table(TableName=table["inputs"]["name"])["Table"]
            pitr = ddb.describe_continuous_backups(TableName=table["inputs"]["name"])["ContinuousBackupsDescription"]
            self.console.print(
                f"  restored {len(restored):,} items, {self.report.mismatches} mismatches; "
                f"deletion protection {desc.get('DeletionProtectionEnabled')}, "
                f"PITR {pitr['PointInTimeRecoveryDescription']['PointInTimeRecoveryStatus']}, "
                f"indexes {[g['IndexName'] for g in desc.get('GlobalSecondaryIndexes', [])]}"
            )
            if self.report.mismatches:
                raise DemoFailure(f"{self.report.mismatches} items differ after the restore")

"""One staging run end to end in a single process: what `safetynet stage` runs, and what the
tests run against moto. The state machine runs the same steps as separate tasks
(`handlers.staging.entrypoints`), with its waits in Step Functions instead of here.

    guard -> validate (manifests, source table, every item's key) -> [mask]
          -> replace: delete -> import -> restore config -> verify
             refill:  write each data file -> delete what the export lacks -> verify

Nothing touches the table before the export passed every check. From then on each phase is
written to the run's journal (`safetynet.staging.journal`) before it starts, so an interrupted run
says where it stopped and the same command resumes there: it waits for the import it started
instead of starting another, and recognises the table it is replacing although its tags are not
back yet. A replace that fails after its delete recreates the table with its configuration and
refills it from the last export staged into it successfully (`handlers.staging.recovery`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from conventions.tags import STAGING_TARGET_TAG
from handlers import exports
from handlers.exports.batch_writer import DynamoDBSink, write_requests
from handlers.staging.exceptions import ExportRejected, NotAStagingTarget, StagingError
from handlers.staging.fit import KeySchema, SourceCheck, validate_for_target
from handlers.staging.masking import mask_export
from handlers.staging.recovery import LastGood, clear_leftover, describe, recovery_note, start_recreate
from handlers.staging.refill import delete_extra_items
from handlers.staging.replace import delete_for_replace, finish_replace, start_import, wait_deleted, wait_import
from handlers.staging.target import Mode, TargetTable, check_tags, effective_mode, guard_table, table_tags
from handlers.staging.verify import Verification, require_verified, verify_table
from safetynet.staging.journal import PHASES, Journal, Store, shielded

logger = Logger(service="safetynet-staging", child=True)

MAX_POLL = 10.0
"""Seconds between two DescribeImport calls, at most (the first come sooner: see wait_import)."""

Progress = Callable[[str, int, int | None], None]
"""on_progress(phase, items_done_delta, total): phases validate, mask, write, import, verify."""


class RecoveredFailure(StagingError):
    """A replace failed after its delete; the table was recreated (the message says from what)."""


@dataclass
class StageResult:
    """What a staging run did."""

    table: str
    export: str
    staged_from: str
    mode: Mode
    mode_reason: str
    items: int
    deleted: int = 0
    verification: Verification | None = None
    notes: list[str] = field(default_factory=list)
    resumed_from: str | None = None
    """The phase an interrupted run had reached, when this run finished it."""

    def to_json(self) -> dict[str, Any]:
        v = self.verification
        return {
            "table": self.table,
            "export": self.export,
            "stagedFrom": self.staged_from,
            "mode": self.mode,
            "modeReason": self.mode_reason,
            "items": self.items,
            "deleted": self.deleted,
            "verified": bool(v and v.ok),
            "tableCount": v.table_count if v else None,
            "sampled": v.sampled if v else None,
            "resumedFrom": self.resumed_from,
            "notes": list(self.notes),
        }


def validate_or_reject(
    s3: Any,
    ref: exports.ExportRef,
    expected_table_arn: str | None,
    *,
    keys: KeySchema | None = None,
    source: SourceCheck | None = None,
) -> exports.ValidationReport:
    """The full validation (manifests, source table, every data file and, with `keys`, every
    item's key); raises ExportRejected listing every problem."""
    check = source if source is not None else SourceCheck(table_arn=expected_table_arn)
    report = validate_for_target(s3, ref, keys=keys, source=check)
    if not report.ok:
        raise ExportRejected(ref.url, report.problems)
    return report


def _after(journal: Journal | None, phase: str) -> bool:
    """Whether the run had got past `phase` (a resumed run skips what was done)."""
    return journal is not None and PHASES.index(journal.phase) > PHASES.index(phase)


class StagingRun:
    """One export into one table. `store` keeps the journal and the table's last good export
    (None: no journal, as in the demo); `resume` is the journal of an interrupted run of the same
    export and mode, whose `target` (the table as it was before) is the one to restore."""

    def __init__(
        self,
        s3: Any,
        ddb: Any,
        ref: exports.ExportRef,
        target: TargetTable,
        *,
        source: SourceCheck | None = None,
        store: Store | None = None,
        resume: Journal | None = None,
        command: str = "",
        masking_key: bytes | None = None,
        mask_bucket: str | None = None,
        mask_prefix: str = "masked",
        force_untagged: bool = False,
        concurrency: int = 4,
        sample_size: int = 100,
        on_progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 0.25,
    ) -> None:
        self.s3, self.ddb, self.ref = s3, ddb, ref
        self.target = TargetTable.from_json(resume.target) if resume else target
        self.source = source if source is not None else SourceCheck(table_arn=target.source_table_arn)
        self.store, self.journal, self.command = store, resume, command
        self.masking_key, self.mask_bucket, self.mask_prefix = masking_key, mask_bucket, mask_prefix
        self.force_untagged, self.concurrency, self.sample_size = force_untagged, concurrency, sample_size
        self.on_progress, self.sleep, self.poll = on_progress, sleep, poll
        self.mode, self.mode_reason = effective_mode(self.target)
        self.data_ref = exports.ExportRef.parse(resume.data) if resume else ref

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> StageResult:
        """Stage (or finish staging) the export; raises ExportRejected / NotAStagingTarget with the
        table untouched, RecoveredFailure after a recovered replace, StagingError otherwise."""
        resumed = self.journal.phase if self.journal else None
        if self.journal is None:
            self._validate_and_mask()
        else:
            self._recognise(self.journal)
            if self.journal.phase == "recovering":
                self._finish_recovery()
        result = self._replace() if self.mode == "replace" else self._refill()
        result.resumed_from = resumed
        if self.store is not None:
            j = self._j()
            self.store.record_last_good(LastGood.now(self.ref.export_id, self.ref.url, j.data, j.input_format))
            self.store.clear()
        return result

    def _progress(self, phase: str, n: int, total: int | None = None) -> None:
        if self.on_progress:
            self.on_progress(phase, n, total)

    def _j(self) -> Journal:
        assert self.journal is not None, "the journal starts when validation ends"
        return self.journal

    def _phase(self, phase: str, **changes: Any) -> None:
        j = self._j()
        j.phase = phase
        for name, value in changes.items():
            setattr(j, name, value)
        if self.store is not None:
            self.store.save(j)

    def _validate_and_mask(self) -> None:
        """Guard, validation, masking: the table is not touched; then the journal starts."""
        guard_table(self.ddb, self.target.name, self.target.stack, force_untagged=self.force_untagged)
        report = validate_or_reject(
            self.s3, self.ref, None, keys=KeySchema.of(self.target.name, self.target.schema), source=self.source
        )
        assert report.summary is not None
        total = report.item_count
        self._progress("validate", total, total)
        logger.info({"message": "staging", "table": self.target.name, "export": self.ref.url, "mode": self.mode})
        input_format = report.summary.output_format
        if self.target.mask:
            if self.mask_bucket is None:
                raise StagingError(
                    f"{self.target.logical_name} has masking rules: a bucket for the masked copy is required"
                )
            self.data_ref = mask_export(
                self.s3,
                self.ref,
                self.mask_bucket,
                f"{self.mask_prefix.strip('/')}/{self.target.logical_name}",
                self.target.mask_rules,
                self.masking_key or b"",
                key_attributes=self.target.key_types,
                on_item=lambda n: self._progress("mask", 1, total),
            )
            input_format = "DYNAMODB_JSON"
        if self.mode == "replace" and input_format not in ("DYNAMODB_JSON", "ION"):
            raise StagingError(f"ImportTable cannot read {input_format}")
        self.journal = Journal(
            table=self.target.name,
            export=self.ref.url,
            mode=self.mode,
            phase="validated",
            target=self.target.to_json(),
            data=self.data_ref.url,
            input_format=input_format,
            items=total,
            command=self.command,
        )
        self._phase("validated")

    def _result(self, items: int) -> StageResult:
        return StageResult(self.target.name, self.ref.url, self.data_ref.url, self.mode, self.mode_reason, items=items)

    def _verify(self, result: StageResult) -> StageResult:
        self._phase("verifying")
        total = self._j().items
        result.verification = verify_table(
            self.ddb,
            self.target.name,
            self.target.key_names,
            exports.iter_items(self.s3, self.data_ref, check_items=False),
            total,
            sample_size=self.sample_size,
            seed=self.ref.export_id,
        )
        # the items verification counted in the table (the demo's and the stage command's bars show them)
        self._progress("verify", result.verification.table_count, total)
        require_verified(result.verification, self.target.name)
        return result

    # -- replace ---------------------------------------------------------------------------------

    def _replace(self) -> StageResult:
        j, t = self._j(), self.target
        if not _after(j, "deleting"):
            self._phase("deleting")
            try:
                delete_for_replace(self.ddb, t, force_untagged=self.force_untagged)
            except (StagingError, ClientError):
                if (describe(self.ddb, t.name) or {}).get("TableStatus") == "ACTIVE":
                    self._forget()  # the delete did not happen: the table is as it was
                raise
            try:
                wait_deleted(self.ddb, t.name)
            except Exception as exc:  # noqa: BLE001 (a waiter's or AWS's error: the table is recovered)
                self._recover(f"the delete of {t.name} did not finish: {exc}")
        if not _after(j, "importing"):
            if not j.import_arn:
                self._phase("importing")
                try:
                    with shielded():
                        data = self.data_ref
                        arn = start_import(
                            self.ddb, t, data.bucket, data.prefix, self.ref.export_id, input_format=j.input_format
                        )
                        self._phase("importing", import_arn=arn)
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") == "ResourceInUseException":
                        # A table of that name appeared that this run did not create (ImportTable
                        # with this run's client token would have answered with its import).
                        raise StagingError(f"ImportTable refused: a table named {t.name} exists again; {exc}") from exc
                    self._recover(f"ImportTable could not start: {exc}")
            try:
                desc = wait_import(self.ddb, str(j.import_arn), sleep=self.sleep, poll=self.poll, max_poll=MAX_POLL)
            except StagingError as exc:
                self._recover(f"import failed: {exc}")
            self._progress("import", int(desc.get("ImportedItemCount", j.items)), j.items)
        result = self._result(j.items)
        if not _after(j, "restoring-config"):
            self._phase("restoring-config")
            result.notes.append("re-applied: " + ", ".join(self._finish()))
        try:
            return self._verify(result)
        except StagingError as exc:
            self._recover(f"the imported table did not verify: {exc}")

    def _finish(self) -> list[str]:
        """Put back what an import does not carry; once more when it fails (tags read back
        eventually), then recover the table."""
        try:
            return finish_replace(self.ddb, self.target, sleep=self.sleep)
        except (StagingError, ClientError) as first:
            logger.warning({"message": "restoring the table's settings failed; once more", "error": str(first)})
            try:
                return finish_replace(self.ddb, self.target, sleep=self.sleep)
            except (StagingError, ClientError) as exc:
                self._recover(f"putting back the table's tags, TTL, PITR and stream failed: {exc}")

    # -- recovery --------------------------------------------------------------------------------

    def _recover(self, reason: str) -> NoReturn:
        logger.warning({"message": "replace failed after the delete; recovering", "reason": reason})
        self._phase("recovering", reason=reason, recovery=None)
        self._finish_recovery()

    def _finish_recovery(self) -> NoReturn:
        j, t = self._j(), self.target
        good = None
        while True:
            rec = j.recovery or {}
            if not rec.get("started"):
                self._clear_leftover()
                good = None if rec.get("empty") else (self.store.last_good() if self.store else None)
                with shielded():
                    result = start_recreate(self.ddb, self.s3, t, good)
                    result["why"] = rec.get("why") or result["why"]
                    self._phase("recovering", recovery={**result, "started": True, "empty": good is None})
                rec = j.recovery or {}
            if not rec.get("importArn"):
                self.ddb.get_waiter("table_exists").wait(
                    TableName=t.name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
                )
                break
            try:
                wait_import(self.ddb, rec["importArn"], sleep=self.sleep, poll=self.poll, max_poll=MAX_POLL)
                break
            except StagingError as exc:
                if rec.get("empty"):
                    raise StagingError(f"{j.reason}; recreating {t.name} failed too: {exc}") from None
                self._phase(
                    "recovering", recovery={"empty": True, "why": f"importing the last good export failed too ({exc})"}
                )
        finish_replace(self.ddb, t, sleep=self.sleep)
        note = recovery_note(str(j.reason), t, j.recovery or {})
        self._forget()
        raise RecoveredFailure(note)

    def _clear_leftover(self) -> None:
        while (state := clear_leftover(self.ddb, self.target, sleep=self.sleep)) != "gone":
            if state == "deleting":
                wait_deleted(self.ddb, self.target.name)
            else:
                self.sleep(self.poll)

    def _forget(self) -> None:
        if self.store is not None:
            self.store.clear()
        self.journal = None

    # -- refill ----------------------------------------------------------------------------------

    def _refill(self) -> StageResult:
        j, t = self._j(), self.target
        if not _after(j, "refilling"):
            self._phase("refilling")
            summary = exports.read_summary(self.s3, self.data_ref)
            files = exports.read_data_files(self.s3, self.data_ref, summary)
            sink = DynamoDBSink(self.ddb, t.name)
            for i, data_file in enumerate(files):
                if i < j.files_done:
                    continue
                requests = exports.iter_file_requests(
                    self.s3, self.data_ref, data_file, output_format=summary.output_format
                )
                written = write_requests(
                    sink,
                    requests,
                    concurrency=self.concurrency,
                    on_progress=lambda n: self._progress("write", n, j.items),
                    sleep=self.sleep,
                )
                self._phase("refilling", files_done=i + 1, written=j.written + written)
            deleted = delete_extra_items(
                self.ddb,
                t.name,
                t.key_names,
                lambda: exports.iter_items(self.s3, self.data_ref, check_items=False),
                j.items,
                sleep=self.sleep,
            )
        else:
            deleted = 0
        result = self._result(j.written)
        result.deleted = deleted
        try:
            return self._verify(result)
        except StagingError:
            self._forget()  # every step of a refill is repeatable: a rerun starts over
            raise

    # -- a resumed run ---------------------------------------------------------------------------

    def _recognise(self, j: Journal) -> None:
        """The guard for a table this run's journal says it is in the middle of staging: a table a
        replace is recreating has no tags until the import is done, and is recognised by the
        import that created it."""
        t = self.target
        desc = describe(self.ddb, t.name)
        if j.phase == "recovering" or desc is None or desc.get("TableStatus") == "DELETING":
            return
        tags = table_tags(self.ddb, desc["TableArn"])
        if tags.get(STAGING_TARGET_TAG) == t.stack or (self.force_untagged and STAGING_TARGET_TAG not in tags):
            check_tags(t.name, tags, t.stack, force_untagged=self.force_untagged)
            return
        if j.phase in ("importing", "restoring-config", "verifying") and not tags:
            if j.import_arn is None:
                return  # ImportTable was being started with this run's client token: it is this run's table
            imported = self.ddb.describe_import(ImportArn=j.import_arn)["ImportTableDescription"]
            if imported.get("TableArn") == desc["TableArn"]:
                return
        raise NotAStagingTarget(
            f"{t.name} is not the table this run was staging ({j.describe()}): it carries "
            f"{dict(sorted(tags.items())) or 'no tags'}; check it, then remove the journal ({self._where()})"
        )

    def _where(self) -> str:
        return self.store.where if self.store is not None else "no journal"


def stage_export(
    s3: Any,
    ddb: Any,
    ref: exports.ExportRef,
    target: TargetTable,
    *,
    masking_key: bytes | None = None,
    mask_bucket: str | None = None,
    mask_prefix: str = "masked",
    force_untagged: bool = False,
    concurrency: int = 4,
    sample_size: int = 100,
    on_progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    source: SourceCheck | None = None,
    store: Store | None = None,
) -> StageResult:
    """Stage one export into `target` (see StagingRun). The test table is touched only after the
    export and the target passed every check; a failure before that leaves it exactly as it was."""
    return StagingRun(
        s3,
        ddb,
        ref,
        target,
        source=source,
        store=store,
        masking_key=masking_key,
        mask_bucket=mask_bucket,
        mask_prefix=mask_prefix,
        force_untagged=force_untagged,
        concurrency=concurrency,
        sample_size=sample_size,
        on_progress=on_progress,
        sleep=sleep,
    ).run()

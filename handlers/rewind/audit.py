"""A rewind's audit trail in the vault, beside the window's export:

    rewinds/<table>/<window>/AWSDynamoDB/<ExportId>/...        the window's incremental export
    rewinds/<table>/<window>/runs/<run>/plan.json              window, export, filter, who, counts
    rewinds/<table>/<window>/runs/<run>/outcomes/<file>.jsonl.gz   one line per key of the export
    rewinds/<table>/<window>/runs/<run>/summary.json           how the run ended, counts, samples

`<window>` is `<T1>_<T2>` (UTC, `20261126T030000.000000Z`), `<run>` begins with its UTC start
time, so keys sort by time. An outcome line holds the key, its kind and outcome, the write's guard
and, for conflicts, the three versions (before the window, as the window left it, now), in
DynamoDB JSON. Lines are gzipped into a spooled temporary file (memory up to 8 MB, then disk) and
uploaded when the data file is done, also when a run is interrupted, so the trail shows what
happened. `recent_rewinds` reads the newest summaries for `safetynet status`.
"""

from __future__ import annotations

import gzip
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from handlers.exports.dynamodb_json import json_default
from handlers.rewind.apply import KeyResult
from handlers.rewind.plan import Outcome, Window

SPOOL_BYTES = 8 << 20
AUDIT_GZIP_LEVEL = 1
"""Outcome lines compress to about 5% at level 1 as at level 6 (+9% bytes) in half the time."""
PLAN_NAME = "plan.json"
SUMMARY_NAME = "summary.json"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def window_id(window: Window) -> str:
    """`<T1>_<T2>` in UTC with microseconds: one folder per window."""
    return f"{_stamp(window.start)}_{_stamp(window.end)}"


def new_run_id(now: datetime | None = None) -> str:
    """`<UTC start>-<random>`: sorts by time, unique."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunLocation:
    """Where one rewind run's audit goes: `s3://bucket/<window prefix>/runs/<run_id>/`."""

    bucket: str
    window_prefix: str
    """`rewinds/<table>/<window>` (the export sits under it too)."""
    run_id: str

    @property
    def prefix(self) -> str:
        return f"{self.window_prefix}/runs/{self.run_id}/"

    @property
    def plan_key(self) -> str:
        return self.prefix + PLAN_NAME

    @property
    def summary_key(self) -> str:
        return self.prefix + SUMMARY_NAME

    def outcomes_key(self, part: str) -> str:
        """The outcome lines of one part (a data file's name without its suffixes)."""
        return f"{self.prefix}outcomes/{part}.jsonl.gz"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def part_name(data_file_key: str) -> str:
    """`.../data/abc123.json.gz` -> `abc123`."""
    name = data_file_key.rsplit("/", 1)[-1]
    return name.split(".", 1)[0] or "part"


def outcome_record(result: KeyResult) -> dict[str, Any]:
    """One audit line (images in low-level form; binary becomes base64 when encoded)."""
    change = result.change
    doc: dict[str, Any] = {
        "key": change.keys,
        "kind": result.kind,  # StrEnum: orjson writes its text
        "outcome": result.outcome,
        "writeMicros": change.write_micros,
    }
    if result.guard:
        doc["guard"] = result.guard
    if result.overridden:
        doc["overridden"] = True
    if result.error:
        doc["error"] = result.error
    if result.outcome is Outcome.CONFLICT or result.overridden:
        doc["before"] = change.old_image
        doc["bad"] = change.new_image
        doc["now"] = result.now
    return doc


class OutcomeLog:
    """One part's outcome lines, gzipped into a spooled temporary file, then uploaded."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed in upload)
        self._gzip = gzip.GzipFile(fileobj=self._file, mode="wb", compresslevel=AUDIT_GZIP_LEVEL)
        self._pending: list[bytes] = []

    def add(self, result: KeyResult) -> None:
        pending = self._pending
        pending.append(orjson.dumps(outcome_record(result), default=json_default))
        if len(pending) >= 1000:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._gzip.write(b"\n".join(self._pending) + b"\n")
            self._pending.clear()

    def upload(self, s3: Any, bucket: str, key: str) -> None:
        """Finish the gzip stream and upload it (multipart when large); the log is closed after."""
        self._flush()
        self._gzip.close()
        self._file.seek(0)
        try:
            s3.upload_fileobj(self._file, bucket, key, ExtraArgs={"ContentType": "application/x-ndjson"})
        finally:
            self._file.close()

    def discard(self) -> None:
        self._gzip.close()
        self._file.close()


def put_json(s3: Any, bucket: str, key: str, doc: dict[str, Any]) -> None:
    """Write one JSON document (pretty, for people) to the vault."""
    body = orjson.dumps(doc, default=json_default, option=orjson.OPT_INDENT_2)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def read_outcomes(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    """Every line of one outcomes part (tests and small audits; binary stays base64 text)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return [orjson.loads(line) for line in gzip.decompress(body).splitlines() if line.strip()]


def _list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = s3.list_objects_v2(**kwargs)
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
        if not page.get("IsTruncated"):
            return keys
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def recent_rewinds(s3: Any, bucket: str, prefix: str = "rewinds", limit: int = 5) -> list[dict[str, Any]]:
    """The newest `limit` rewind runs under `prefix` (`rewinds`, or `rewinds/<table>`), newest
    first: each run's summary.json, or, for a run that never wrote one (still running, or killed),
    its plan.json with `status: "no summary"`. Dry runs write nothing and are not listed."""
    runs: dict[str, dict[str, str]] = {}
    for key in _list_keys(s3, bucket, prefix.rstrip("/") + "/"):
        head, sep, name = key.rpartition("/")
        if sep and "/runs/" in head and name in (PLAN_NAME, SUMMARY_NAME):
            runs.setdefault(head, {})[name] = key
    newest = sorted(runs, key=lambda head: head.rsplit("/", 1)[-1], reverse=True)[: max(limit, 0)]
    out = []
    for head in newest:
        files = runs[head]
        key = files.get(SUMMARY_NAME) or files[PLAN_NAME]
        doc = orjson.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if SUMMARY_NAME not in files:
            doc["status"] = "no summary"
        doc.setdefault("auditUrl", f"s3://{bucket}/{head}/")
        out.append(doc)
    return out


def notify(sns: Any, topic_arn: str, doc: dict[str, Any]) -> None:
    """Publish a run's outcome on the stack's alert topic: INFO, `classification: intended` (the
    same attributes DisasterWatch's alerts carry, so subscriptions filter it alike); counts and
    where the audit is, never item data. `doc` is the run's summary (plan.json's fields)."""
    counts = doc.get("byOutcome", {})
    subject = (
        f"[INFO] safetynet {doc.get('stack')}: rewind {doc.get('status')}: {doc.get('physicalName')} "
        f"{counts.get('reverted', 0)} reverted, {counts.get('conflict', 0)} conflicts"
    )
    message = {
        "summary": subject[len("[INFO] ") :],
        "kind": "rewind",
        **{name: doc.get(name) for name in ("stack", "table", "window", "filter", "who", "status", "export")},
        "byOutcome": counts,
        "audit": doc.get("auditUrl"),
    }
    sns.publish(
        TopicArn=topic_arn,
        # SNS subjects: at most 100 printable ASCII characters, no line breaks.
        Subject="".join(c if 32 <= ord(c) < 127 else "?" for c in subject)[:100],
        Message=orjson.dumps(message, option=orjson.OPT_INDENT_2).decode(),
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in (
                ("severity", "INFO"),
                ("classification", "intended"),
                ("stack", str(doc.get("stack"))),
                ("eventName", "Rewind"),
            )
        },
    )

"""What an interrupted or failed export write leaves in the bucket, and clearing it away.

An export folder is usable only once its `manifest-summary.json` exists (written last, by AWS and
by `handlers.exports.writer`): without it no reader lists the folder as an export
(`handlers.exports.listing` reports it as skipped). So a half-written export is never taken for a
backup; this module only keeps the bucket clean: it aborts the folder's open multipart uploads
and deletes its objects. Where deleting is denied (the vault's bucket policy denies
s3:DeleteObject to everyone) the folder stays, and `Unfinished` says exactly what remains.

Actions: s3:GetObject (HeadObject of the summary), s3:ListBucketMultipartUploads and
s3:AbortMultipartUpload, s3:ListBucket, s3:DeleteObject (optional: without it the folder stays).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from handlers.exports.layout import EXPORT_FOLDER, ExportRef

logger = logging.getLogger(__name__)

_DELETE_BATCH = 1000  # DeleteObjects' maximum keys per request


def export_ref(bucket: str, prefix: str, export_id: str) -> ExportRef:
    """The folder `write_export` writes an export with this id into."""
    root = prefix.strip("/")
    return ExportRef(bucket, f"{root + '/' if root else ''}{EXPORT_FOLDER}/{export_id}/")


@dataclass
class Unfinished:
    """An export folder after a write that did not finish, once cleared away as far as allowed."""

    ref: ExportRef
    published: bool = False
    """The summary exists: the export was complete after all (nothing was deleted)."""
    deleted: int = 0
    aborted_uploads: int = 0
    remaining: list[str] = field(default_factory=list)
    """Keys still in the folder (deleting them was refused or failed)."""
    error: str | None = None
    """Why clearing stopped (AWS's error), if it did."""

    @property
    def clean(self) -> bool:
        """Nothing of the unfinished export is left (current objects; see `describe`)."""
        return not self.published and not self.remaining and self.error is None

    def describe(self) -> str:
        """One sentence: what the folder holds now and why a reader never uses it."""
        url = self.ref.url
        if self.published:
            return f"the export was complete before it stopped: {url} is usable (nothing was deleted)"
        if self.clean and not self.deleted and not self.aborted_uploads:
            return f"nothing of the export was left in {url}"
        if self.clean:
            return (
                f"the unfinished export {url} was removed ({_count(self.deleted, 'object')} deleted, "
                f"{_count(self.aborted_uploads, 'multipart upload')} aborted; a versioned bucket keeps "
                "them as noncurrent versions until its lifecycle expires them)"
            )
        count = _count(len(self.remaining), "object") if self.remaining else "objects"
        why = f" ({self.error})" if self.error else ""
        return (
            f"{url} remains with {count} and no manifest-summary.json, so no reader lists it as an "
            f"export; removing it failed{why}: delete it where deletes are allowed (aws s3 rm --recursive "
            f"{url}) or let the bucket's lifecycle expire it"
        )


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def discard_unfinished(s3: Any, ref: ExportRef) -> Unfinished:
    """Clear away the folder of an export that was not published: abort its open multipart uploads,
    delete its objects. A published export (its summary exists) is left alone."""
    from botocore.exceptions import BotoCoreError, ClientError

    left = Unfinished(ref)
    keys: list[str] = []
    gone: set[str] = set()
    try:
        if _exists(s3, ref.bucket, ref.summary_key):
            left.published = True
            return left
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=ref.bucket, Prefix=ref.prefix):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=ref.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                left.aborted_uploads += 1
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ref.bucket, Prefix=ref.prefix):
            keys += [obj["Key"] for obj in page.get("Contents", [])]
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            out = s3.delete_objects(Bucket=ref.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            errors = out.get("Errors", [])
            refused = {e["Key"] for e in errors}
            gone |= {k for k in batch if k not in refused}
            if errors:
                left.error = f"{errors[0].get('Code')}: {errors[0].get('Message')}"
    except (ClientError, BotoCoreError) as exc:
        from handlers.watch.aws import error_text

        missing = isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "NoSuchBucket"
        left.error = None if missing else error_text(exc)  # no bucket: nothing can be left in it
    left.deleted = len(gone)
    left.remaining = [k for k in keys if k not in gone]
    logger.info(
        "unfinished export cleared",
        extra={"export": ref.url, "deleted": left.deleted, "remaining": len(left.remaining), "error": left.error},
    )
    return left


def _exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True

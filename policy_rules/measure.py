"""How AWS measures what a declared resource sends: policy documents, patterns, environment
variables and code archives. The `limits` rules compare these sizes with AWS's limits.

Each function counts what the service counts, as far as its documentation or its error messages
say:

- JSON documents as the AWS provider sends them: it re-serializes event patterns compactly before
  PutRule (terraform-provider-aws `ruleEventPatternJSONDecoder`: `json.Unmarshal` then
  `json.Marshal`), and Lambda measures environment variables as compact JSON (its error
  "exceeded the 4KB limit. String measured: {"KEY":"value",...}"). `compact_json`.
- IAM documents without white space ("IAM does not count white space when calculating the size of
  a policy", IAM and AWS STS quotas; GetAccountSummary: "in non-whitespace characters").
  `iam_chars`.
- Lambda code archives: the bytes Pulumi zips and uploads (`archive_sizes`), estimated by
  deflating each file (zlib level 6, the default level of Go's `compress/flate` that Pulumi's zip
  writer uses) plus the zip headers; unzipped, the sum of the file sizes.

Inputs may be the policy SDK's proxies and assets (duck-typed: `.assets`, `.path`, `.text`) or the
synth's plain records (`{"archive": {...}}`, `{"path": ...}`, `{"text": ...}`).
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# Zip structure per entry (APPNOTE.TXT): local file header 30 bytes + name, data descriptor 16
# bytes (Go's zip writer streams, so it writes one), central directory header 46 bytes + name;
# one end-of-central-directory record of 22 bytes.
_ZIP_ENTRY_OVERHEAD = 30 + 16 + 46
_ZIP_END = 22
_DEFLATE_LEVEL = 6
_ZIP_SUFFIXES = (".zip", ".jar")


def plain(value: Any) -> Any:
    """A JSON-ready copy of a value (mappings and sequences of the policy SDK's proxies included)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    return value


def parsed(value: Any) -> Any:
    """A JSON document given as text or as data, as data; None when text is not JSON."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return plain(value)


def compact_json(value: Any) -> str | None:
    """The document as compact JSON (no white space between tokens, non-ASCII kept), as the AWS
    provider sends JSON documents; None when there is no document."""
    doc = parsed(value)
    if doc is None:
        return None
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def json_chars(value: Any) -> int:
    """Characters of the compact document (0 when there is none)."""
    text = compact_json(value)
    return len(text) if text is not None else 0


def json_bytes(value: Any) -> int:
    """UTF-8 bytes of the compact document (0 when there is none)."""
    text = compact_json(value)
    return len(text.encode()) if text is not None else 0


def iam_chars(value: Any) -> int:
    """Characters of an IAM policy document as IAM counts them: white space not counted."""
    text = value if isinstance(value, str) else compact_json(value)
    return sum(1 for c in text or "" if not c.isspace())


def text_chars(value: Any) -> int:
    """Characters of a text input as sent (0 when absent)."""
    return len(value) if isinstance(value, str) else 0


def statement_count(value: Any) -> int:
    """How many statements a policy document has."""
    doc = parsed(value)
    if not isinstance(doc, Mapping):
        return 0
    stmts = doc.get("Statement")
    if isinstance(stmts, list):
        return len(stmts)
    return 1 if stmts else 0


# -- code archives ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveSize:
    """What a code archive holds: its estimated zip size, its unzipped size and its file count;
    `unmeasured` names what could not be read (remote archives, missing files)."""

    zipped: int
    unzipped: int
    files: int
    unmeasured: tuple[str, ...] = ()


@lru_cache(maxsize=4096)
def _file_sizes(path: str, size: int, mtime_ns: int) -> tuple[int, int]:
    """(deflated, raw) bytes of one file; keyed by size and mtime so an edited file is measured
    again."""
    del size, mtime_ns  # the cache key only
    data = Path(path).read_bytes()
    return _deflated(data), len(data)


def _deflated(data: bytes) -> int:
    comp = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -15)
    return len(comp.compress(data)) + len(comp.flush())


def _one_file(path: Path) -> tuple[int, int]:
    st = path.stat()
    return _file_sizes(str(path), st.st_size, st.st_mtime_ns)


def _entries(archive: Any, prefix: str = "") -> Iterator[tuple[str, int, int] | str]:
    """(name in the archive, deflated bytes, raw bytes) per file; a plain string for what cannot
    be measured. Zip files listed as an archive count as what they hold, already compressed."""
    assets = getattr(archive, "assets", None)
    if assets is None and isinstance(archive, Mapping) and isinstance(archive.get("archive"), Mapping):
        assets = archive["archive"]
    if assets is not None:
        for name, member in assets.items():
            if _is_asset(member):
                yield from _asset(member, prefix + str(name))
            else:
                yield from _entries(member, prefix + str(name).rstrip("/") + "/")
        return
    path = _get(archive, "path")
    if isinstance(path, str):
        yield from _path_entries(Path(path), prefix)
        return
    if isinstance(_get(archive, "text"), str):
        yield from _asset(archive, prefix or "text")
        return
    yield f"{prefix or 'archive'} ({_get(archive, 'uri') or 'unknown source'})"


def _is_asset(member: Any) -> bool:
    """A file of the archive (a FileAsset or StringAsset), not a nested archive."""
    kind = type(member).__name__
    if kind in ("FileAsset", "StringAsset", "RemoteAsset"):
        return True
    if kind.endswith("Archive"):
        return False
    # Synth records: {"text": ...}, or {"path": ...} for a file (a folder is an archive).
    if isinstance(member, Mapping):
        if "text" in member:
            return True
        path = member.get("path")
        return isinstance(path, str) and not Path(path).is_dir() and not path.endswith(_ZIP_SUFFIXES)
    return False


def _asset(member: Any, name: str) -> Iterator[tuple[str, int, int] | str]:
    text = _get(member, "text")
    if isinstance(text, str):
        data = text.encode()
        yield name, _deflated(data), len(data)
        return
    path = _get(member, "path")
    if isinstance(path, str) and Path(path).is_file():
        deflated, raw = _one_file(Path(path))
        yield name, deflated, raw
        return
    yield f"{name} ({path or _get(member, 'uri') or 'unknown source'})"


def _path_entries(path: Path, prefix: str) -> Iterator[tuple[str, int, int] | str]:
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                p = Path(root) / f
                deflated, raw = _one_file(p)
                yield prefix + p.relative_to(path).as_posix(), deflated, raw
        return
    if path.is_file() and path.suffix in _ZIP_SUFFIXES:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield prefix + info.filename, info.compress_size, info.file_size
        return
    if path.is_file():
        deflated, raw = _one_file(path)
        yield prefix + path.name, deflated, raw
        return
    yield f"{prefix or path.name} ({path}: not found)"


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def archive_sizes(archive: Any) -> ArchiveSize:
    """The sizes of a Lambda `code` archive (AssetArchive, FileArchive of a folder or zip file, or
    their synth records)."""
    zipped = _ZIP_END
    unzipped = files = 0
    unmeasured: list[str] = []
    for entry in _entries(archive):
        if isinstance(entry, str):
            unmeasured.append(entry)
            continue
        name, deflated, raw = entry
        name_len = len(name.encode())
        zipped += _ZIP_ENTRY_OVERHEAD + 2 * name_len + deflated
        unzipped += raw
        files += 1
    return ArchiveSize(zipped=zipped, unzipped=unzipped, files=files, unmeasured=tuple(unmeasured))

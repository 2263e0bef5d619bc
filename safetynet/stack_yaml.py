"""Edit `Pulumi.<stack>.yaml` the way a person would: comments, key order and quoting kept.

ruamel.yaml's round-trip mode re-emits everything it does not touch as it was read, so a
command that sets one config key leaves the rest of the file byte-for-byte the same.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap long values such as ARNs
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def load(path: Path) -> CommentedMap:
    """The stack file as a round-trip document (a mapping with a `config` mapping)."""
    doc = _yaml().load(path.read_text())
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ValueError(f"{path}: not a YAML mapping")
    if doc.get("config") is None:
        doc["config"] = CommentedMap()
    return doc


def dump(doc: CommentedMap) -> str:
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    return buf.getvalue()


def set_map_entries(
    doc: CommentedMap,
    key: str,
    entries: Mapping[str, Mapping[str, Any]],
    comments: Mapping[str, str] | None = None,
) -> None:
    """Set `config.<key>.<name>` for each entry (other names under `key` stay), each with an
    optional comment line above it. The block is appended at the end of `config` if new."""
    config = doc["config"]
    block = config.get(key)
    if not isinstance(block, CommentedMap):
        block = CommentedMap()
        config[key] = block
    for name, entry in entries.items():
        block[name] = CommentedMap(entry)
        comment = (comments or {}).get(name)
        if comment:
            block.yaml_set_comment_before_after_key(name, before=comment, indent=_indent_of(config, key) + 2)


def _indent_of(config: CommentedMap, key: str) -> int:
    # Keys of the config map are indented by 2 in files written by `pulumi config set`.
    col = getattr(config.lc, "col", None)
    return int(col) if isinstance(col, int) else 2


def remove_map_entries(doc: CommentedMap, key: str, names: Iterable[str] | None = None) -> list[str]:
    """Remove `config.<key>` (or only the given names under it; the block goes when empty).
    Returns the names removed."""
    config = doc["config"]
    block = config.get(key)
    if block is None:
        return []
    if names is None:
        removed = list(block) if isinstance(block, Mapping) else []
        del config[key]
        return removed
    removed = [n for n in names if isinstance(block, Mapping) and n in block]
    for n in removed:
        del block[n]
    if isinstance(block, Mapping) and not block:
        del config[key]
    return removed


def plain(value: Any) -> Any:
    """Round-trip nodes as plain dicts/lists (for validation)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value

"""Edit `Pulumi.<stack>.yaml` the way a person would: comments, key order and quoting kept.

ruamel.yaml's round-trip mode re-emits everything it does not touch as it was read, so a
command that sets one config key leaves the rest of the file byte-for-byte the same.
"""

from __future__ import annotations

import copy
import io
import re
import textwrap
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError


class StackFileError(ValueError):
    """A project or stack file that cannot be read as YAML, or is not a mapping; the message
    names the file, line and column and says what to fix."""


def yaml_error_text(path: Path, exc: YAMLError) -> str:
    """`<file>:<line>:<column>: not valid YAML: <problem> (<context>, line N); fix the file`."""
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}"
        problem = exc.problem or "syntax error"
        if exc.context and exc.context_mark is not None:
            problem += f" ({exc.context}, line {exc.context_mark.line + 1})"
    else:
        where, problem = str(path), str(exc).strip() or "syntax error"
    return f"{where}: not valid YAML: {problem}; fix the file (nothing was read from it)"


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap long values such as ARNs
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def load(path: Path) -> CommentedMap:
    """The stack file as a round-trip document (a mapping with a `config` mapping). Raises
    StackFileError (file:line:column) for YAML that does not parse or is not a mapping."""
    try:
        doc = _yaml().load(path.read_text())
    except YAMLError as exc:
        raise StackFileError(yaml_error_text(path, exc)) from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise StackFileError(f"{path}: not a YAML mapping (expected `config:` at the top level)")
    if doc.get("config") is None:
        doc["config"] = CommentedMap()
    if not isinstance(doc["config"], CommentedMap):
        line = doc.lc.key("config")[0] + 1
        raise StackFileError(f"{path}:{line}: `config` must be a mapping of keys to values")
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


# -- lists (`safetynet:tables`): entries appended, the rest of the file kept byte for byte ----------


def node(value: Any, flow_keys: Collection[str] = ()) -> Any:
    """Plain dicts/lists as round-trip nodes in block style, except the values of `flow_keys`
    (e.g. `hashKey: {name: id, type: S}`), written in flow style as people write them."""
    if isinstance(value, Mapping):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = node(v, flow_keys)
            if k in flow_keys and isinstance(out[k], CommentedMap | CommentedSeq):
                out[k].fa.set_flow_style()
        return out
    if isinstance(value, list | tuple):
        return CommentedSeq(node(v, flow_keys) for v in value)
    return value


def append_list_entries(
    doc: CommentedMap,
    key: str,
    entries: Sequence[Mapping[str, Any]],
    *,
    comment: str | None = None,
    flow_keys: Collection[str] = (),
) -> None:
    """Append `entries` to the list `config.<key>` (created at the end of `config` if missing),
    with an optional comment line above the first one. Entries already there are re-emitted as
    they were read; a comment that followed the list (above the next key) stays below it."""
    config = doc["config"]
    seq = config.get(key)
    if seq is None or (isinstance(seq, CommentedSeq) and not seq and seq.fa.flow_style()):
        fresh = CommentedSeq()
        if key in config:
            config[key] = fresh
        else:
            config.insert(len(config), key, fresh)
        seq = fresh
    if not isinstance(seq, CommentedSeq):
        raise ValueError(f"config.{key} is not a list")
    if seq.fa.flow_style():
        seq.fa.set_block_style()
    if not entries:
        return
    previous_last = seq[-1] if len(seq) else None
    first = len(seq)
    for entry in entries:
        seq.append(node(entry, flow_keys))
    if previous_last is not None:
        _move_trailing_comment(previous_last, seq[-1])
    if comment:
        seq.yaml_set_comment_before_after_key(first, before=comment, indent=_indent_of(config, key) + 2)


def _last_comment_slot(value: Any) -> tuple[Any, Any, int] | None:
    """Where ruamel keeps the comment after a block node's last line: (container, key, position)."""
    while isinstance(value, CommentedMap | CommentedSeq) and len(value):
        key: Any = list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1
        child = value[key]
        if isinstance(child, CommentedMap | CommentedSeq) and len(child) and not child.fa.flow_style():
            value = child
            continue
        return value, key, 2 if isinstance(value, CommentedMap) else 0
    return None


def _move_trailing_comment(old_last: Any, new_last: Any) -> None:
    # ruamel attaches the comment lines between a list and the next key (`# about backup`) to the
    # list's last scalar; appended entries would land below them. The end-of-line comment stays.
    src, dst = _last_comment_slot(old_last), _last_comment_slot(new_last)
    if src is None or dst is None:
        return
    container, key, pos = src
    slot = container.ca.items.get(key)
    if not slot or slot[pos] is None:
        return
    token = slot[pos]
    if token.value.startswith("#"):
        line, _, rest = token.value.partition("\n")
        if not rest:
            return
        token.value = line + "\n"
        moved = copy.copy(token)
        moved.value = "\n" + rest
    else:
        slot[pos] = None
        moved = token
    dst_container, dst_key, dst_pos = dst
    dst_slot = dst_container.ca.items.setdefault(dst_key, [None] * (4 if dst_pos == 2 else 2))
    dst_slot[dst_pos] = moved


def dump_fragment(entries: Sequence[Mapping[str, Any]], flow_keys: Collection[str] = ()) -> str:
    """`entries` as the YAML list append_list_entries writes, unindented (for a dry run)."""
    return textwrap.dedent(dump(node(list(entries), flow_keys)))


_PATH_PART_RE = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def line_of(doc: CommentedMap, config_path: str) -> int | None:
    """The 1-based line of `config_path` (e.g. `safetynet:tables[1].tagz`, as config errors name
    keys) in the round-trip document, or of its nearest ancestor found there; None if none is."""
    namespace, sep, rest = config_path.partition(":")
    if not sep:
        return None
    node: Any = doc["config"]
    line: int | None = None
    first = True
    for match in _PATH_PART_RE.finditer(rest):
        key: Any = f"{namespace}:{match.group(1)}" if first else match.group(1)
        first = False
        if match.group(2) is not None:
            key = int(match.group(2))
        try:
            position = node.lc.key(key) if isinstance(node, CommentedMap) else node.lc.item(key)
            node = node[key]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
        line = int(position[0]) + 1
    return line

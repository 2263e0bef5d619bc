"""Masking rules for `safetynet stage --mask-config FILE`: the file read like the stack's
`safetynet:staging.mask.<table>` (`path: action` or `path: {action, value}`, YAML or JSON), and
every problem listed the way config errors are, with the file, line and column: YAML that does not
parse, an unknown action, a bad attribute path, a key attribute masked other than by hashing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conventions.masking import ACTIONS, MaskingError, MaskRule, parse_path, validate_rules


class MaskConfigError(Exception):
    """The masking rules cannot be used; `problems` name each one (file:line:col where known)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _where(path: Path, doc: Any, key: Any) -> str:
    """`file:line:col` of a mapping key in a round-trip document (`file` when unknown)."""
    try:
        line, col = doc.lc.key(key)
    except (AttributeError, KeyError, TypeError):
        return str(path)
    return f"{path}:{line + 1}:{col + 1}"


def _rule(attr: str, spec: Any) -> tuple[dict[str, Any] | None, str | None]:
    """One rule from its YAML value, or the problem with it."""
    if isinstance(spec, Mapping):
        unknown = sorted(set(map(str, spec)) - {"action", "value"})
        if unknown:
            return None, f"unknown key(s) {', '.join(unknown)}; write {{action: redact, value: ...}}"
        action, value = spec.get("action"), spec.get("value")
    else:
        action, value = spec, None
    if not isinstance(action, str) or action not in ACTIONS:
        return None, f"unknown action {action!r}; use one of {', '.join(ACTIONS)}"
    if value is not None and not isinstance(value, str | int | float):
        return None, "value must be a string or a number"
    try:
        parse_path(attr)
    except MaskingError as exc:
        return None, str(exc)
    return {"path": attr, "action": action, **({"value": str(value)} if value is not None else {})}, None


def load_mask_config(path: Path) -> list[dict[str, Any]]:
    """The rules of a mask file, in file order; raises MaskConfigError listing every problem."""
    from ruamel.yaml import YAML, YAMLError

    from safetynet.stack_yaml import yaml_error_text

    try:
        text = path.read_text()
    except OSError as exc:
        raise MaskConfigError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise MaskConfigError([yaml_error_text(path, exc)]) from None
    if not isinstance(doc, Mapping) or not doc:
        raise MaskConfigError([f"{path}: expected a mapping of attribute path -> action (e.g. `email: hash`)"])
    rules, problems = [], []
    for attr, spec in doc.items():
        rule, problem = _rule(str(attr), spec)
        if problem:
            problems.append(f"{_where(path, doc, attr)}: {attr}: {problem}")
        elif rule:
            rules.append(rule)
    if problems:
        raise MaskConfigError(problems)
    return rules


def check_rules(rules: list[dict[str, Any]], key_types: Mapping[str, str], *, where: str) -> None:
    """The rules against the table's key attributes (only hashing keeps a key valid and unique);
    raises MaskConfigError naming each rule."""
    problems = validate_rules(
        [MaskRule(r["path"], r["action"], r.get("value")) for r in rules], key_types, where=f"{where}: "
    )
    if problems:
        raise MaskConfigError(problems)


def select_rules(
    declared_rules: list[dict[str, Any]], declared_where: str, mask_config: Path | None, key_types: Mapping[str, str]
) -> tuple[list[dict[str, Any]], str]:
    """The rules of a run (the file's when given, else the stack's) checked against the table's
    keys, and where they come from; raises MaskConfigError listing every problem."""
    rules = load_mask_config(mask_config) if mask_config else declared_rules
    where = str(mask_config) if mask_config else declared_where
    check_rules(rules, key_types, where=where)
    return rules, where


def mask_inputs(
    rules: list[dict[str, Any]], bucket: str | None, secret: str | None, *, bucket_env: str, key_env: str
) -> tuple[bytes, str | None]:
    """The HMAC key (when a rule hashes or fakes) and the bucket of the masked copy; raises
    MaskConfigError listing what is missing or unusable."""
    from handlers.staging.masking import masking_key

    if not rules:
        return b"", None
    problems = []
    if not bucket:
        problems.append(
            "a bucket for the masked copy is needed: pass --mask-bucket (the test stack's output maskBucketName) "
            f"or set {bucket_env}; or --unmasked to copy real data"
        )
    key = b""
    if any(r["action"] in ("hash", "fake") for r in rules):
        if not secret:
            problems.append(f"hash and fake need the masking key in {key_env} (the stack's safetynet:maskingKey)")
        else:
            try:
                key = masking_key(secret)
            except MaskingError as exc:
                problems.append(f"{key_env}: {exc}")
    if problems:
        raise MaskConfigError(problems)
    return key, bucket

"""Loading the stack config: Pulumi's flat `namespace:key -> string` config decoded into values,
validated into a StackConfig, every problem reported with its config path and the fix.

Only `load_from_pulumi` touches the Pulumi runtime (and only __main__ calls it); the CLI reads
stack files itself and goes through `decode_pulumi_config` and `parse_stack_config`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from components.config.base import SECRET_PLACEHOLDER, ConfigError
from components.config.stack import StackConfig
from conventions.tags import NAMESPACE


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = f"{NAMESPACE}:"
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("" if i == 0 else ".") + str(part)
    return out


# A message that starts with a key path, e.g. `staging.tables.orders: ...`, `stagingReaders[0]: ...`.
_KEY_PATH_RE = re.compile(r"^[A-Za-z][\w.\[\]]*: ")

_HINTS = {
    "missing": "add it",
    "extra_forbidden": "unknown key (a typo?); remove it or check the configuration reference in README.md",
    "literal_error": "use one of the allowed values",
}


def _describe(err: Mapping[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    # pydantic puts the name of a model validator's model in the loc; it adds nothing for users.
    path = _loc_to_path(loc)
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    hint = _HINTS.get(str(err.get("type")), "")
    if err.get("type") == "missing":
        msg = "is required"
        if loc and loc[-1] in ("hashKey", "hash_key"):
            hint = "write hashKey: {name: id, type: S}"
    if not loc:
        # StackConfig's cross-section rules: most messages start with their own key path.
        return f"{NAMESPACE}:{msg}" if _KEY_PATH_RE.match(msg) else f"{NAMESPACE}: {msg}"
    return f"{path}: {msg}" + (f" — {hint}" if hint else "")


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate already-decoded config values (keys without the namespace) into a StackConfig.

    Raises ConfigError listing every problem with its config path.
    """
    try:
        return StackConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError([_describe(e) for e in exc.errors(include_url=False)]) from None


def decode_pulumi_config(all_config: Mapping[str, str]) -> dict[str, Any]:
    """Turn Pulumi's flat `namespace:key -> string` config into decoded values of our namespace.

    Structured keys arrive as JSON text; scalar keys as plain strings. Keys of other namespaces
    (aws:region, ...) are ignored here.
    """
    problems: list[str] = []
    out: dict[str, Any] = {}
    for full_key, value in all_config.items():
        ns, _, key = full_key.partition(":")
        if ns != NAMESPACE:
            continue
        # Pulumi hands structured values (lists, objects) to programs as JSON text; a plain
        # string where an object belongs is reported by the model with its path.
        # The synth placeholder of a secret starts with "[" but is a plain string.
        if value != SECRET_PLACEHOLDER and value.lstrip()[:1] in ("[", "{"):
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError as exc:
                problems.append(f"{full_key}: not valid structured config ({exc.msg}); check the YAML indentation")
                continue
        else:
            out[key] = value
    if problems:
        raise ConfigError(problems)
    return out


def load_from_pulumi() -> StackConfig:
    """Read this stack's `safetynet:*` config through the Pulumi runtime (only __main__ calls this)."""
    # Pulumi is imported only where the engine runs us. The language host hands config to the
    # program through set_all_config (CONFIG); older hosts used the PULUMI_CONFIG variable.
    from pulumi.runtime.config import CONFIG, get_config_env

    return parse_stack_config(decode_pulumi_config({**get_config_env(), **CONFIG.get()}))

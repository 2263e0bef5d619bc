"""Reading policy documents out of a synth result, for the tests of every flow."""

from __future__ import annotations

import json
from typing import Any

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def role_policy(result: Any, name: str) -> dict[str, Any]:
    """The document of the inline role policy `name` in a SynthResult."""
    return dict(json.loads(result.one(ROLE_POLICY, name)["inputs"]["policy"]))


def statement(doc: dict[str, Any], sid: str) -> dict[str, Any]:
    """The statement of a policy document with this Sid."""
    return next(s for s in doc["Statement"] if s["Sid"] == sid)

"""One fix for the pinned moto (the local AWS of the demo and the tests).

moto 5.1 decodes binary (B) values but not binary sets (BS) when it turns an item into plain
JSON, which it does for a Scan or Query with a ProjectionExpression: such a call fails with a
TypeError on any item holding a binary set (real DynamoDB answers it). moto 5.2 fixed that, but
its new response serializer makes DynamoDB about 5x slower (bench/emulator_speed.py), which the
demo's time budget cannot afford. So the project pins moto 5.1 and patches that one method here.
It is a no-op on any other moto version.
"""

from __future__ import annotations

import base64
from typing import Any


def apply() -> bool:
    """Patch moto's DynamoType.to_regular_json when it is the 5.1 version. Returns whether it did."""
    import moto
    from moto.dynamodb.models import dynamo_type

    if not moto.__version__.startswith("5.1."):
        return False
    cls = dynamo_type.DynamoType
    if getattr(cls.to_regular_json, "_safetynet_patched", False):
        return True
    original = cls.to_regular_json

    def to_regular_json(self: Any) -> dict[str, Any]:
        if self.type == "BS":
            return {"BS": [base64.b64decode(v) if isinstance(v, str) else v for v in self.value]}
        return original(self)

    to_regular_json._safetynet_patched = True  # type: ignore[attr-defined]
    cls.to_regular_json = to_regular_json
    return True

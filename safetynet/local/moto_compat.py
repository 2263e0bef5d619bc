"""Two fixes for the pinned moto (the local AWS of the demo and the tests).

moto 5.2 fixed both, but its new response serializer makes DynamoDB about 5x slower
(bench/emulator_speed.py), which the demo's time budget cannot afford; so the project pins
moto 5.1 and corrects, here, the two places where 5.1 differs from DynamoDB in ways we use:

- it decodes binary (B) values but not binary sets (BS) when it turns an item into plain JSON,
  which it does for a Scan or Query with a ProjectionExpression: such a call fails with a
  TypeError on any item holding a binary set;
- a Scan with `Select: COUNT` returns every item as well as the count (DynamoDB returns only
  the count), so each exact count costs a full read of the table.

`apply()` is a no-op on any other moto version.
"""

from __future__ import annotations

import base64
import json
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
    setattr(cls, "to_regular_json", to_regular_json)  # noqa: B010 (patching a method)
    _patch_count_scan()
    return True


def _patch_count_scan() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.scan

    def scan(self: Any) -> Any:
        body: Any = original(self)
        if str(self.body.get("Select", "")).upper() != "COUNT":
            return body
        doc = json.loads(body)
        doc.pop("Items", None)
        return json.dumps(doc)

    setattr(DynamoHandler, "scan", scan)  # noqa: B010 (patching a method)

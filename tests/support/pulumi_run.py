"""Run one component as a Pulumi program under the test's mocks (the `pulumi_mocks` fixture).

    def test_something(pulumi_mocks: RecordingMocks) -> None:
        def declare() -> dict[str, Any]:
            component = MyComponent("x", MyArgs(...))
            return {"arn": component.arn, "name": component.name}

        # When the component is declared from minimal arguments
        out = resolved(declare)
        # Then what it exposes resolves, and its children were registered with these inputs
        assert out["arn"] == ...
        assert pulumi_mocks.one("aws:...", "x-child").inputs[...] == ...

`resolved` returns once Pulumi has finished every registration (`@pulumi.runtime.test` waits for
all outstanding RPCs), so a test can assert on children the component does not expose, not only
on those its outputs happen to depend on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi


def resolved(declare: Callable[[], Mapping[str, pulumi.Input[Any]]]) -> dict[str, Any]:
    """Call `declare` inside a Pulumi program (it declares resources and returns named Outputs)
    and return those Outputs' values by name, combined by keyword."""
    values: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[None]:
        return pulumi.Output.all(**declare()).apply(values.update)

    program()
    return values


def declared(mocks: Any) -> list[tuple[str, str]]:
    """Every registration of a RecordingMocks as (type, name), sorted: children register in the
    order their inputs resolve, not in the order they are declared."""
    return sorted((r.typ, r.name) for r in mocks.registrations)

"""Pulumi's mocks for unit tests of one component built from minimal arguments.

A RecordingMocks keeps every resource registration (type, name, inputs) so a test can assert on
the raw inputs of children the component does not expose; providers' computed attributes (ARNs,
names, ids) come from the same fake state as `safetynet synth`, so dependent inputs resolve.

    def test_something(pulumi_mocks: RecordingMocks) -> None:
        @pulumi.runtime.test
        def check() -> pulumi.Output[None]:
            component = MyComponent("x", MyArgs(...))
            return component.arn.apply(lambda arn: ...)
        check()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

from safetynet.synth import fake_invoke, fake_state

REGION = "eu-central-1"


@dataclass
class Registration:
    """One resource as the component registered it."""

    typ: str
    name: str
    inputs: dict[str, Any]
    custom: bool


@dataclass
class RecordingMocks(Mocks):
    """Mocks that record every registration."""

    region: str = REGION
    registrations: list[Registration] = field(default_factory=list)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.registrations.append(Registration(args.typ, args.name, dict(args.inputs), args.custom))
        if not args.custom:
            return None, {}
        return fake_state(args.typ, args.name, args.inputs, self.region)

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return fake_invoke(args.token, self.region), []

    def of_type(self, typ: str) -> list[Registration]:
        """Registrations of one type token, in order."""
        return [r for r in self.registrations if r.typ == typ]

    def one(self, typ: str, name: str | None = None) -> Registration:
        """The single registration of a type (and name)."""
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"{len(found)} registrations of {typ} {name or ''}"
        return found[0]


def install(project: str = "safetynet", stack: str = "unit") -> RecordingMocks:
    """Set fresh recording mocks for the current test (not a preview: values are known)."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    return mocks

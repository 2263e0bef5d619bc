"""What DisasterWatch's parts share (components/watch/parts.py), under Pulumi's mocks."""

from __future__ import annotations

from typing import Any

import pulumi

from components.watch.parts import Children, alarm_prefix
from tests.support.pulumi_mocks import RecordingMocks


class _Part(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:unit:Part", name, None, opts)
        self.children = Children(self, opts)
        self.register_outputs({})


def test_children_of_a_part_under_a_parent_alias_that_parent(pulumi_mocks: RecordingMocks) -> None:
    # DisasterWatch declared its parts' resources itself before the split: the alias keeps their URNs.
    found: dict[str, Any] = {}

    @pulumi.runtime.test
    def check() -> Any:
        watch = pulumi.ComponentResource("safetynet:watch:DisasterWatch", "watch")
        part = _Part("watch", pulumi.ResourceOptions(parent=watch))
        other = _Part("other")
        found.update(watch=watch, part=part, opts=part.children.opts(depends_on=[other]), other=other)
        return part.urn

    check()

    opts = found["opts"]
    assert opts.parent is found["part"]
    [alias] = opts.aliases
    assert isinstance(alias, pulumi.Alias) and alias.parent is found["watch"]
    assert opts.depends_on == [found["other"]]


def test_children_of_a_part_without_a_parent_moved_nowhere(pulumi_mocks: RecordingMocks) -> None:
    found: dict[str, Any] = {}

    @pulumi.runtime.test
    def check() -> Any:
        part = _Part("alone")
        found.update(part=part, opts=part.children.opts())
        return part.urn

    check()

    assert found["opts"].parent is found["part"]
    assert found["opts"].aliases is None and found["opts"].depends_on is None


def test_alarm_names_start_with_the_stacks_prefix() -> None:
    assert alarm_prefix("prod") == "safetynet-prod-"

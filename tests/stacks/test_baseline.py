"""The layout change moved code, not infrastructure: each shipped stack declares the same AWS
resources with the same inputs and options as before it (`tests/data/synth_baseline/`, the output
of `safetynet synth <stack>` recorded on the commit before the move, project paths made relative).

What may differ, and how:
- new ComponentResources (they create nothing in AWS);
- the parent of a resource moved under a new component, whose URN then changes: it must carry an
  alias that resolves to its old URN, so `pulumi up` renames it in the state instead of replacing it
  (a resource that did not move gains no alias);
- the Lambda functions' `handler` (the entry modules moved: exactly HANDLER_MOVES) and `code`
  (the archive now holds the handlers and conventions packages as they are on disk; its data
  files must be byte for byte the same).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from components.common.lambda_package import archive_files
from tests.support.stacks import PROJECT_DIR, synth_stack

BASELINE = PROJECT_DIR / "tests" / "data" / "synth_baseline"
FUNCTION = "aws:lambda/function:Function"
HANDLER_MOVES = {
    "handlers.staging_tasks.handler": "handlers.staging.entrypoints.handler",
    **{
        f"handlers.watch_lambdas.{fn}": f"handlers.watch.entrypoints.{fn}"
        for fn in (
            "classify_handler",
            "freshness_handler",
            "drill_prepare_handler",
            "drill_validate_file_handler",
            "drill_verify_handler",
        )
    },
}
CONTEXT_MOVES = {"handlers/watch_context.json": "handlers/watch/watch_context.json"}


def _relative(value: Any) -> Any:
    """The synth document with the project's absolute path removed (as the baseline was stored)."""
    return json.loads(json.dumps(value, default=str).replace(f"{PROJECT_DIR}/", ""))


@pytest.fixture(scope="module", params=["prod", "test", "dr"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    stack = request.param
    before = json.loads((BASELINE / f"{stack}.json").read_text())
    after = _relative(synth_stack(stack).to_json())
    yield stack, before, after


def _by_urn(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in doc["resources"]}


def _matches(before: dict[str, Any], after: dict[str, Any]) -> dict[str, str]:
    """New URN -> old URN for every resource of `after` that existed before (by URN or alias)."""
    old = _by_urn(before)
    found: dict[str, str] = {}
    for r in after["resources"]:
        if r["urn"] in old:
            found[r["urn"]] = r["urn"]
            continue
        hits = [a for a in r["options"]["aliases"] if a in old]
        assert len(hits) <= 1, f"{r['urn']} aliases several old resources: {hits}"
        if hits:
            found[r["urn"]] = hits[0]
    return found


def test_every_old_resource_is_still_declared_once_by_urn_or_alias(pair: Any) -> None:
    _stack, before, after = pair
    matches = _matches(before, after)
    assert sorted(matches.values()) == sorted(_by_urn(before)), "a resource was dropped or matched twice"


def test_nothing_new_reaches_aws(pair: Any) -> None:
    _stack, before, after = pair
    matches = _matches(before, after)
    new = [r for r in after["resources"] if r["urn"] not in matches]
    assert all(not r["custom"] for r in new), [r["urn"] for r in new if r["custom"]]


def test_moved_resources_keep_their_name_and_type_and_alias_their_old_urn(pair: Any) -> None:
    _stack, before, after = pair
    old = _by_urn(before)
    for new_urn, old_urn in _matches(before, after).items():
        r = _by_urn(after)[new_urn]
        assert (r["type"], r["name"]) == (old[old_urn]["type"], old[old_urn]["name"])
        if new_urn == old_urn:
            # The provider's own type aliases (e.g. BucketV2 -> Bucket) stay as they were; the
            # baseline's recorder kept only their count.
            assert len(r["options"]["aliases"]) == len(old[old_urn]["options"]["aliases"]), new_urn
        else:
            assert old_urn in r["options"]["aliases"]


def _code(archive: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    files = {name for name, asset in archive.items() if "path" in asset}
    data = {CONTEXT_MOVES.get(name, name): asset["text"] for name, asset in archive.items() if "text" in asset}
    return files, data


def test_every_kept_resource_has_the_same_inputs_and_options(pair: Any) -> None:
    stack, before, after = pair
    old, new = _by_urn(before), _by_urn(after)
    new_components = {r["name"] for r in after["resources"] if not r["custom"] and r["urn"] not in old}
    compared = 0
    for new_urn, old_urn in _matches(before, after).items():
        a, b = old[old_urn], new[new_urn]
        inputs_a, inputs_b = dict(a["inputs"]), dict(b["inputs"])
        if a["type"] == FUNCTION:
            assert HANDLER_MOVES[inputs_a.pop("handler")] == inputs_b.pop("handler")
            _old_files, old_data = _code(inputs_a.pop("code")["archive"])
            new_files, new_data = _code(inputs_b.pop("code")["archive"])
            assert old_data == new_data, f"{stack} {b['name']}: the archive's data files changed"
            assert new_files == set(archive_files())
        assert inputs_a == inputs_b, f"{stack} {b['name']}: inputs changed"
        opts_a, opts_b = dict(a["options"]), dict(b["options"])
        opts_a.pop("aliases"), opts_b.pop("aliases")
        deps_b = [d for d in opts_b.pop("dependsOn") if d not in new_components]
        assert opts_a.pop("dependsOn") == deps_b, f"{stack} {b['name']}: dependencies changed"
        assert opts_a == opts_b, f"{stack} {b['name']}: options changed"
        compared += 1
    assert compared == len(old)


def test_stack_outputs_are_unchanged(pair: Any) -> None:
    _stack, before, after = pair
    assert after["outputs"] == before["outputs"]

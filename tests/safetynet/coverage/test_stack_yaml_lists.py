"""Appending entries to a list of the stack file (safetynet/stack_yaml.py, what adopt writes):
what was there stays byte for byte, comments included, and a comment that introduced the next key
stays above that key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from safetynet import stack_yaml

FLOW = ("hashKey",)
NEW = [{"name": "legacy", "hashKey": {"name": "id", "type": "S"}, "tags": {"team": "x"}, "adopt": True}]
ADDED = """\
    # adopted
    - name: legacy
      hashKey: {name: id, type: S}
      tags:
        team: x
      adopt: true
"""


def appended(tmp_path: Path, text: str) -> str:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    doc = stack_yaml.load(path)
    stack_yaml.append_list_entries(doc, "safetynet:tables", NEW, comment="adopted", flow_keys=FLOW)
    return stack_yaml.dump(doc)


HEAD = """\
# The prod stack
config:
  aws:region: eu-central-1
  safetynet:tables:
    - name: orders   # the first
      hashKey: {name: customerId, type: S}
      tags:
        team: checkout
"""


@pytest.mark.parametrize(
    "tail",
    [
        "  safetynet:backup:\n    schedule: cron(0 3 * * ? *)\n",
        "  # what follows is the backup\n\n  safetynet:backup:\n    schedule: x\n",
        "\n    # an indented note\n  safetynet:backup:\n    schedule: x\n",
        "",
    ],
)
def test_entries_go_after_the_last_one_and_everything_else_stays(tmp_path: Path, tail: str) -> None:
    out = appended(tmp_path, HEAD + tail)
    assert out == HEAD + ADDED + tail


def test_an_end_of_line_comment_on_the_last_entry_stays_on_its_line(tmp_path: Path) -> None:
    text = HEAD.replace("team: checkout", "team: checkout  # owner") + "  # next\n  safetynet:backup: {}\n"
    assert appended(tmp_path, text) == HEAD.replace("team: checkout", "team: checkout  # owner") + ADDED + (
        "  # next\n  safetynet:backup: {}\n"
    )


def test_the_list_is_created_at_the_end_of_config_when_missing(tmp_path: Path) -> None:
    text = "config:\n  aws:region: eu-central-1\n  safetynet:environment: prod\n"
    assert appended(tmp_path, text) == text + "  safetynet:tables:\n" + ADDED


def test_an_empty_flow_list_becomes_a_block_list(tmp_path: Path) -> None:
    text = "config:\n  safetynet:tables: []\n  safetynet:environment: prod\n"
    assert appended(tmp_path, text) == "config:\n  safetynet:tables:\n" + ADDED + "  safetynet:environment: prod\n"


def test_a_value_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text("config:\n  safetynet:tables: orders\n")
    with pytest.raises(ValueError, match="not a list"):
        stack_yaml.append_list_entries(stack_yaml.load(path), "safetynet:tables", NEW)


def test_a_dry_runs_fragment_is_the_appended_text_without_its_comment() -> None:
    assert stack_yaml.dump_fragment(NEW, flow_keys=FLOW) == textwrap.dedent(ADDED.split("\n", 1)[1])


def test_a_config_path_is_found_on_its_line_or_its_nearest_ancestors(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(HEAD + "  safetynet:backup:\n    schedule: x\n")
    doc = stack_yaml.load(path)
    assert stack_yaml.line_of(doc, "safetynet:tables[0].tags") == 7
    assert stack_yaml.line_of(doc, "safetynet:tables[0].tagz") == 5  # unknown key: its entry
    assert stack_yaml.line_of(doc, "safetynet:backup.schedule") == 10
    assert stack_yaml.line_of(doc, "safetynet:nothing") is None

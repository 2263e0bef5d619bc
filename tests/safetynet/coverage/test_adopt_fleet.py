"""`safetynet adopt` end to end on a moto account of 40 tables (tests/safetynet/coverage/adopt_fleet.py):
the entries it writes make the program declare each table exactly as it lives, field by field as
the AWS provider compares them on import; a second run changes nothing; what it must not adopt is
reported with the reason. The account, both runs and the synth are made once for the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from safetynet import stack_yaml
from safetynet.cli import app
from safetynet.synth import SynthResult, synth
from tests.safetynet.coverage.adopt_fleet import (
    REGION,
    FleetTable,
    build,
    expected_inputs,
    fleet,
    moto_gaps,
    normalized,
)
from tests.support.restore_fixtures import copy_project

TABLE = "aws:dynamodb/table:Table"
ARGS = ["adopt", "-s", "prod", "--tag", "team=x", "--exclude", "scratch-*", "--yes", "--json"]


@dataclass
class Adopted:
    """Both runs of adopt over the fleet, and the program synthesized with the file they wrote."""

    tables: list[FleetTable]
    project: Path
    original: bytes
    first: Any
    after_first: bytes
    second: Any
    after_second: bytes
    synth: SynthResult

    def by_expect(self, kind: str) -> list[FleetTable]:
        return [t for t in self.tables if t.expect == kind]

    def result(self) -> dict[str, Any]:
        return json.loads(self.first.stdout)


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Adopted]:
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as env:
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            env.delenv(var, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws(), moto_gaps():
            tables = fleet()
            build(tables)
            project = copy_project(tmp_path_factory.mktemp("adopt"))
            path = project / "Pulumi.prod.yaml"
            original = path.read_bytes()
            runner = CliRunner()
            first = runner.invoke(app, [*ARGS, "--project-dir", str(project)])
            after_first = path.read_bytes()
            second = runner.invoke(app, [*ARGS, "--project-dir", str(project)])
            after_second = path.read_bytes()
    yield Adopted(tables, project, original, first, after_first, second, after_second, synth(project, "prod"))


def test_the_first_run_appends_one_entry_per_adoptable_table(adopted: Adopted) -> None:
    # Given 26 tables tagged team=x that adopt can describe, When it runs with --yes
    assert adopted.first.exit_code == 0, adopted.first.stderr
    # Then exactly those are written, after the stack's own three tables
    written = adopted.result()["written"]
    assert sorted(written) == sorted(t.name for t in adopted.by_expect("adopt"))
    doc = stack_yaml.load(adopted.project / "Pulumi.prod.yaml")
    names = [t["name"] for t in doc["config"]["safetynet:tables"]]
    assert names == ["orders", "customers", "inventory", *sorted(written)]


def test_every_adopted_table_is_declared_exactly_as_it_lives(adopted: Adopted) -> None:
    # Given the program synthesized with the written file
    declared = {r["inputs"]["name"]: r for r in adopted.synth.of_type(TABLE)}
    mismatches = {}
    for t in adopted.by_expect("adopt"):
        # Then Pulumi imports the table by its name, and each input equals the live setting
        resource = declared[t.name]
        assert resource["options"]["importId"] == t.name
        got, want = normalized(resource["inputs"]), expected_inputs(t)
        diff = {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
        if diff:
            mismatches[t.name] = diff
    assert mismatches == {}


def test_the_fleet_covers_every_setting_the_import_compares(adopted: Adopted) -> None:
    # The comparison above means something only if the adopted tables differ in every setting
    wanted = [expected_inputs(t) for t in adopted.by_expect("adopt")]
    types = {ty for w in wanted for ty in w["attributes"].values()}
    assert types == {"S", "N", "B"}
    assert {w["billingMode"] for w in wanted} == {"PROVISIONED", "PAY_PER_REQUEST"}
    assert {w["pointInTimeRecovery"]["enabled"] for w in wanted} == {True, False}
    assert {w["deletionProtectionEnabled"] for w in wanted} == {True, False}
    assert {w["serverSideEncryption"]["enabled"] for w in wanted} == {True, False}
    assert {w["tableClass"] for w in wanted} == {"STANDARD", "STANDARD_INFREQUENT_ACCESS"}
    assert {w.get("streamViewType") for w in wanted} == {
        None,
        "NEW_IMAGE",
        "OLD_IMAGE",
        "NEW_AND_OLD_IMAGES",
        "KEYS_ONLY",
    }
    assert {w.get("ttl") is not None for w in wanted} == {True, False}
    projections = {g["projectionType"] for w in wanted for g in w["globalSecondaryIndexes"].values()}
    assert projections == {"ALL", "KEYS_ONLY", "INCLUDE"}
    assert {p["projectionType"] for w in wanted for p in w["localSecondaryIndexes"].values()} == {
        "KEYS_ONLY",
        "INCLUDE",
    }
    assert any("safetynet:stack" in w["tags"] for w in wanted) and any(len(w["tags"]) == 1 for w in wanted)


def test_protection_the_stack_would_add_is_kept_as_found_until_removed(adopted: Adopted) -> None:
    doc = stack_yaml.plain(stack_yaml.load(adopted.project / "Pulumi.prod.yaml")["config"]["safetynet:tables"])
    entries = {e["name"]: e for e in doc}
    for t in adopted.by_expect("adopt"):
        found = entries[t.name].get("asFound", {})
        # prod declares PITR, deletion protection, the KMS key and the stack's tags: each one the
        # table lacks is kept as found, and nothing else is
        assert found.get("pointInTimeRecovery", True) is t.pitr
        assert found.get("deletionProtection", True) is t.deletion_protection
        assert found.get("serverSideEncryption", True) is t.kms
        assert found.get("stackTags", True) is ("safetynet:stack" in t.tags)
        assert entries[t.name]["adopt"] is True


def test_the_stacks_own_tables_are_declared_as_before(adopted: Adopted, prod_synth: SynthResult) -> None:
    # The three tables of the shipped file: same inputs and options as without the adopted ones
    before = {r["name"]: r for r in prod_synth.of_type(TABLE)}
    after = {r["name"]: r for r in adopted.synth.of_type(TABLE)}
    for name in ("orders-table", "customers-table", "inventory-table"):
        assert after[name]["inputs"] == before[name]["inputs"]
        assert after[name]["options"] == before[name]["options"]


def test_tables_it_must_not_adopt_are_reported_with_the_reason(adopted: Adopted) -> None:
    skipped = {s["table"]: s for s in adopted.result()["skipped"]}
    for kind in ("present", "replica", "unrepresentable", "excluded"):
        for t in adopted.by_expect(kind):
            assert skipped[t.name]["kind"] == kind, skipped[t.name]
    assert "already in the stack as 'orders'" in skipped["orders"]["reason"]
    assert "eu-west-1" in skipped["fleet-global"]["reason"]
    assert "managed-by=terraform" in skipped["fleet-terraform"]["reason"]
    assert "on-demand throughput" in skipped["fleet-capped"]["reason"]
    assert "scratch-*" in skipped["scratch-01"]["reason"]
    # and tables the selector does not pick are not mentioned at all
    assert not {t.name for t in adopted.by_expect("unselected")} & set(adopted.result()["selected"])


def test_the_other_entries_and_comments_of_the_file_are_kept_byte_for_byte(adopted: Adopted) -> None:
    original = adopted.original.decode()
    new = adopted.after_first.decode()
    tables_end = original.index("  safetynet:backup:")
    assert new.startswith(original[:tables_end].rstrip("\n") + "\n")
    assert new.endswith(original[tables_end:])
    assert "# safetynet adopt " in new[tables_end:]


def test_a_second_run_changes_nothing_and_says_so(adopted: Adopted) -> None:
    assert adopted.second.exit_code == 0, adopted.second.stderr
    second = json.loads(adopted.second.stdout)
    assert second["written"] == [] and second["adopted"] == []
    assert adopted.after_second == adopted.after_first
    present = {s["table"] for s in second["skipped"] if s["kind"] == "present"}
    assert present == {t.name for t in adopted.by_expect("adopt")} | {"orders"}


def test_the_rules_it_says_an_adopted_table_fails_are_those_synth_check_reports(adopted: Adopted) -> None:
    from safetynet.policy_check import check_synth_doc

    # Given the mandatory rules `safetynet synth prod --check` applies to the written stack
    violations = check_synth_doc(adopted.synth.to_json())
    reported: dict[str, set[str]] = {}
    for v in violations:
        if v.mandatory and v.rule.startswith("table-"):
            reported.setdefault(v.resource.removeprefix(f"{TABLE}::").removesuffix("-table"), set()).add(v.rule)
    # Then adopt named exactly those, table by table: prod wants PITR, deletion protection and KMS
    predicted = {name: set(rules) for name, rules in adopted.result()["policyFindings"].items()}
    assert predicted == reported
    assert reported  # the fleet has unprotected tables: the comparison is not of two empty maps
    for t in adopted.by_expect("adopt"):
        lacks = {"table-pitr": not t.pitr, "table-deletion-protection": not t.deletion_protection}
        lacks["table-encryption"] = not t.kms
        assert predicted.get(t.name, set()) == {rule for rule, failed in lacks.items() if failed}, t.name

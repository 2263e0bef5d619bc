"""What the project's stack files declare for a test table (safetynet/staging/declared.py): its
stack, name in config, masking rules, the prod table it stages and its ledger; found from
`-s/--stack`, the staging-target tag, or the one stack file that declares the table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safetynet.staging.declared import DeclarationError, declared_for, find_declaring_stack, source_for
from tests.support.stacks import PROJECT_DIR


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.test.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    return tmp_path


@pytest.mark.parametrize("stack", ["safetynet/test", "test", None])
def test_the_test_stack_declares_customers_test(project: Path, stack: str | None) -> None:
    declared = declared_for("customers-test", stack, project)
    assert declared is not None
    assert declared.stack == "safetynet/test" and declared.logical_name == "customers"
    assert declared.ledger == "safetynet-staging-ledger-test" and declared.needs_masking_key
    assert [r["path"] for r in declared.mask_rules] == ["email", "name", "phone", "address.street", "orders[*].email"]
    assert declared.source.table_name == "customers" and "acme/safetynet/prod" in declared.source.why


def test_the_prod_table_name_comes_from_the_prod_stack_file(project: Path) -> None:
    prod = project / "Pulumi.prod.yaml"
    prod.write_text(prod.read_text().replace("config:\n", "config:\n  safetynet:tableNamePattern: live-{name}\n", 1))
    declared = declared_for("orders-test", "test", project)
    assert declared is not None and declared.source.table_name == "live-orders"
    assert declared.mask_rules == []


@pytest.mark.parametrize(
    ("table", "stack"),
    [("scratch", None), ("customers-test", "otherproject/test"), ("customers", "prod"), ("customers-test", "dr")],
    ids=["undeclared table", "another project", "a stack without staging", "no such stack file"],
)
def test_no_declaration_is_none(project: Path, table: str, stack: str | None) -> None:
    assert declared_for(table, stack, project) is None


def test_a_broken_stack_file_is_reported_with_file_line_and_column(project: Path) -> None:
    path = project / "Pulumi.test.yaml"
    path.write_text(path.read_text().replace("mode: replace", "mode: [replace"))
    with pytest.raises(DeclarationError) as err:
        declared_for("customers-test", "test", project)
    assert any(p.startswith(f"{path}:") and "not valid YAML" in p for p in err.value.problems)
    # the search for the declaring stack skips it rather than failing
    assert find_declaring_stack("customers-test", project) is None


def test_an_invalid_config_names_the_file_and_the_config_path(project: Path) -> None:
    path = project / "Pulumi.test.yaml"
    path.write_text(path.read_text().replace("email: hash\n", "email: scramble\n", 1))
    with pytest.raises(DeclarationError) as err:
        declared_for("customers-test", "test", project)
    assert any(str(path) in p and "staging" in p for p in err.value.problems), err.value.problems


def test_the_source_comes_from_an_option_or_the_declaration(project: Path) -> None:
    declared = declared_for("customers-test", "test", project)
    assert source_for("t", declared, source_table_arn="arn:x", allow_other_source=None).table_arn == "arn:x"
    named = source_for("t", declared, source_table_arn=None, allow_other_source="customers-archive")
    assert named.table_name == "customers-archive" and "--allow-other-source" in named.why
    assert source_for("t", declared, source_table_arn=None, allow_other_source="arn:y").table_arn == "arn:y"
    stack = source_for("t", declared, source_table_arn=None, allow_other_source=None)
    assert stack.table_name == "customers" and "--allow-other-source" in stack.override
    with pytest.raises(DeclarationError, match="is unknown"):
        source_for("t", None, source_table_arn=None, allow_other_source=None)

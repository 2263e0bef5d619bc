"""`safetynet:stagingReaders` (components/config/readers.py): the prod stack's test stacks in other
accounts that stage its exports. Every invalid entry is named with its config path and the fix."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from components.config.base import ConfigError
from components.config.loading import decode_pulumi_config, parse_stack_config
from components.config.readers import same_account_problem
from safetynet.synth import SYNTH_ACCOUNT_ID, read_stack_config
from tests.support.config import config_error
from tests.support.stacks import PROJECT_DIR

TEST_ACCOUNT = "222222222222"
DR_ACCOUNT = "333333333333"
TASK_ROLE = f"arn:aws:iam::{TEST_ACCOUNT}:role/staging-task-role-1a2b3c4"
MACHINE_ROLE = f"arn:aws:iam::{TEST_ACCOUNT}:role/staging-machine-role-5d6e7f8"
DR_ROLE = f"arn:aws:iam::{DR_ACCOUNT}:role/team/staging-task-role-9z8y7x6"
PROD = "acme/safetynet/prod"
TABLES = [
    {"name": "orders", "hashKey": {"name": "customerId", "type": "S"}},
    {"name": "customers", "hashKey": {"name": "customerId", "type": "S"}},
]


def parse(readers: Any, **extra: Any) -> Any:
    return parse_stack_config({"environment": "prod", "tables": TABLES, "stagingReaders": readers, **extra})


def problems(readers: Any, **extra: Any) -> str:
    return config_error({"environment": "prod", "tables": TABLES, "stagingReaders": readers, **extra})


def reader(**fields: Any) -> dict[str, Any]:
    return {"account": TEST_ACCOUNT, "roleArns": [TASK_ROLE], **fields}


def test_a_reader_parses_and_selects_every_table_by_default() -> None:
    cfg = parse([reader(), reader(account=DR_ACCOUNT, roleArns=[DR_ROLE], tables=["customers"])])
    first, second = cfg.staging_readers
    assert first.selected(["orders", "customers"]) == ["orders", "customers"]
    assert second.selected(["orders", "customers"]) == ["customers"]
    assert second.role_arns == [DR_ROLE]


def test_readers_are_optional() -> None:
    assert parse_stack_config({"environment": "prod", "tables": TABLES}).staging_readers == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"roleArns": [f"arn:aws:iam::{DR_ACCOUNT}:role/staging-task"]},
            f"safetynet:stagingReaders[0]: roleArns[0]: 'arn:aws:iam::{DR_ACCOUNT}:role/staging-task' is a role "
            f"of account {DR_ACCOUNT}, not of this reader's account {TEST_ACCOUNT}",
        ),
        (
            {"roleArns": [f"arn:aws:iam::{TEST_ACCOUNT}:role/staging-*"]},
            "roleArns[0]: 'arn:aws:iam::222222222222:role/staging-*' contains a wildcard",
        ),
        (
            {"roleArns": [f"arn:aws:sts::{TEST_ACCOUNT}:assumed-role/staging-task/session"]},
            "a session ARN changes with every session; write the role's ARN arn:aws:iam::ACCOUNT:role/NAME",
        ),
        (
            {"roleArns": [f"arn:aws:iam::{TEST_ACCOUNT}:user/alice"]},
            "is not an IAM role ARN: write an IAM role ARN arn:aws:iam::222222222222:role/NAME; copy the test "
            "stack's outputs taskRoleArn and stateMachineRoleArn",
        ),
        ({"roleArns": []}, "roleArns is empty: copy the test stack's outputs taskRoleArn and stateMachineRoleArn"),
        ({"roleArns": [TASK_ROLE, TASK_ROLE]}, f"roleArns lists {TASK_ROLE} more than once"),
        ({"tables": ["*"]}, "tables[0] '*': wildcards are not allowed; list the tables, or omit tables for every"),
        ({"tables": []}, "tables is empty, which grants nothing"),
        (
            {"tables": ["orders", "inventory"]},
            "safetynet:stagingReaders[0].tables[1]: no table 'inventory' in safetynet:tables; use one of "
            "customers, orders",
        ),
        (
            {"account": 222222222222},
            'safetynet:stagingReaders[0].account: quote the account id: account: "222222222222"',
        ),
        ({"account": "2222"}, "safetynet:stagingReaders[0].account: '2222' is not a 12-digit account id"),
        ({"region": "Frankfurt"}, "region 'Frankfurt' is not an AWS region code; write e.g. eu-west-1"),
        ({"roleArn": TASK_ROLE}, "safetynet:stagingReaders[0].roleArn: Extra inputs are not permitted — unknown key"),
    ],
    ids=[
        "role-of-another-account",
        "wildcard-role",
        "session-arn",
        "user-arn",
        "no-roles",
        "duplicate-role",
        "wildcard-table",
        "no-tables",
        "unknown-table",
        "unquoted-account",
        "short-account",
        "bad-region",
        "typo-key",
    ],
)
def test_an_invalid_reader_is_named_with_the_fix(fields: dict[str, Any], expected: str) -> None:
    assert expected in problems([reader(**fields)])


def test_an_account_listed_twice_is_refused() -> None:
    err = problems([reader(), reader(roleArns=[MACHINE_ROLE])])
    assert f"safetynet:stagingReaders: account {TEST_ACCOUNT} is listed more than once; merge its roleArns" in err


def test_readers_on_a_test_stack_are_refused() -> None:
    err = problems([reader()], environment="test", staging={"from": PROD})
    assert "this is a test stack (safetynet:staging is set) and has no vault to grant" in err
    assert "set stagingReaders in the config of the prod stack" in err


def test_readers_without_tables_are_refused() -> None:
    with pytest.raises(ConfigError, match="safetynet:tables is empty, so there are no exports to grant"):
        parse_stack_config({"environment": "prod", "stagingReaders": [reader()]})


def test_a_list_is_required() -> None:
    assert "safetynet:stagingReaders: Input should be a valid list" in problems(reader())


def test_the_commented_example_in_pulumi_prod_yaml_parses_against_prods_tables() -> None:
    # Given the example in Pulumi.prod.yaml, uncommented
    lines = (PROJECT_DIR / "Pulumi.prod.yaml").read_text().splitlines()
    start = lines.index("  # safetynet:stagingReaders:")
    example = []
    for line in lines[start + 1 :]:
        if not line.startswith("  #   "):
            break
        example.append(line.removeprefix("  #   "))
    readers = YAML(typ="safe").load("\n".join(example))
    flat, _ = read_stack_config(PROJECT_DIR, "prod")
    # When it is parsed with prod's config; Then it is valid and selects two of prod's tables
    cfg = parse_stack_config({**decode_pulumi_config(flat), "stagingReaders": readers})
    (only,) = cfg.staging_readers
    assert only.selected([t.name for t in cfg.tables]) == ["orders", "customers"]


# -- known only at deploy time: the program checks each reader against its own account -----------


def test_same_account_problem_is_none_for_another_account() -> None:
    assert same_account_problem("safetynet:stagingReaders[0]", TEST_ACCOUNT, SYNTH_ACCOUNT_ID) is None


def test_same_account_problem_names_the_entry_and_says_to_remove_it() -> None:
    problem = same_account_problem("safetynet:stagingReaders[1]", SYNTH_ACCOUNT_ID, SYNTH_ACCOUNT_ID)
    assert problem is not None
    assert problem.startswith(f"safetynet:stagingReaders[1].account {SYNTH_ACCOUNT_ID} is this stack's own account")
    assert problem.endswith("remove the entry")

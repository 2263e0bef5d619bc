"""Which test table an export goes to (handlers/staging/targets.py) on moto: the target a
StagedTable registers in the ledger, built by the component's own `target_item`, is found from
the export's bucket and key alone; anything else is not staged here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.staging.targets import target_item
from handlers.staging import entrypoints
from handlers.staging.exceptions import StagingError
from handlers.staging.ledger import claim
from handlers.staging.targets import resolve, table_prefix
from tests.support.staging_fixtures import EXPORT_TIME, LEDGER, STACK, VAULT, prod_spec, target_for

SUMMARY = "AWSDynamoDB/01700000000000-a1b2c3d4/manifest-summary.json"


def register(ddb: Any, prefix: str, target: Any) -> None:
    ddb.put_item(TableName=LEDGER, Item=target_item(prefix, target.to_json()))


def test_an_export_resolves_to_the_target_registered_for_its_prefix(clients: tuple[Any, Any]) -> None:
    # Given customers and orders registered as the test stack registers them
    _, ddb = clients
    customers = target_for(prod_spec("customers"), mode="replace", mask=[{"path": "email", "action": "hash"}])
    register(ddb, "exports/customers", customers)
    register(ddb, "exports/orders", target_for(prod_spec("orders")))
    # When an export of customers completes
    found = resolve(ddb, LEDGER, VAULT, f"exports/customers/{SUMMARY}")
    # Then its target is exactly what was registered
    assert found.target == customers
    assert "customers-test" in found.reason


@pytest.mark.parametrize(
    "key",
    [
        f"exports/inventory/{SUMMARY}",  # a prod table this stack does not stage
        f"exports/customers-archive/{SUMMARY}",  # a longer name is another table
        f"exports/customers/nested/{SUMMARY}",  # another prefix below it
    ],
)
def test_an_export_of_a_table_not_registered_is_not_staged(clients: tuple[Any, Any], key: str) -> None:
    _, ddb = clients
    register(ddb, "exports/customers", target_for(prod_spec("customers")))
    found = resolve(ddb, LEDGER, VAULT, key)
    assert found.target is None
    assert "not staged here" in found.reason and key.rsplit("/AWSDynamoDB/", 1)[0] + "/" in found.reason


def test_a_run_record_is_never_taken_for_a_target(clients: tuple[Any, Any]) -> None:
    # Given only a run record, keyed by the logical name (no `/`: never an export prefix)
    _, ddb = clients
    assert claim(ddb, LEDGER, "customers", "01700000000000-a1b2c3d4", EXPORT_TIME).claimed
    # When an export resolves under a prefix equal to that key
    found = resolve(ddb, LEDGER, VAULT, f"customers/{SUMMARY}")
    # Then there is no target
    assert found.target is None


def test_a_key_outside_an_export_folder_is_not_staged(clients: tuple[Any, Any]) -> None:
    _, ddb = clients
    found = resolve(ddb, LEDGER, VAULT, "exports/customers/manifest-summary.json")
    assert found.target is None and "not in an export's folder" in found.reason


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        (f"exports/customers/{SUMMARY}", "exports/customers"),
        (f"exports/team/customers/{SUMMARY}", "exports/team/customers"),
        (SUMMARY, None),  # an export at the bucket's root has no table prefix
        ("exports/customers/data/x.json.gz", None),
    ],
)
def test_the_table_prefix_of_a_summary_key(key: str, prefix: str | None) -> None:
    assert table_prefix(VAULT, key) == prefix


# -- the entrypoint ---------------------------------------------------------------------------------


@pytest.fixture
def env(clients: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[entrypoints.Env]:
    """The task's environment; its cached clients made inside this test's moto, and dropped after."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    entrypoints._client.cache_clear()
    yield entrypoints.Env(STACK, LEDGER, None, None, None)
    entrypoints._client.cache_clear()


def test_the_resolve_task_passes_the_target_on(clients: tuple[Any, Any], env: entrypoints.Env) -> None:
    _, ddb = clients
    target = target_for(prod_spec("customers"))
    register(ddb, "exports/customers", target)
    out = entrypoints.task_resolve({"bucket": VAULT, "key": f"exports/customers/{SUMMARY}"}, env)
    assert out["staged"] is True and out["target"] == target.to_json()


def test_the_resolve_task_refuses_quietly_what_is_not_staged(clients: tuple[Any, Any], env: entrypoints.Env) -> None:
    out = entrypoints.task_resolve({"bucket": VAULT, "key": f"exports/orders/{SUMMARY}"}, env)
    assert out == {"staged": False, "reason": out["reason"]} and "exports/orders/" in out["reason"]


def test_the_resolve_task_fails_on_a_target_of_another_stack(clients: tuple[Any, Any], env: entrypoints.Env) -> None:
    _, ddb = clients
    target = target_for(prod_spec("customers"))
    register(ddb, "exports/customers", type(target)(**{**target.__dict__, "stack": "someone/else"}))
    with pytest.raises(StagingError, match="belongs to someone/else"):
        entrypoints.task_resolve({"bucket": VAULT, "key": f"exports/customers/{SUMMARY}"}, env)

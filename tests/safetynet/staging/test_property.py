"""Property: any items -> native export layout -> staged -> the table holds exactly those items
(zero differences), in refill mode and in replace mode (ImportTable)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from components.config.tables import TableSpec
from handlers.staging.compare import normalize_item
from safetynet.staging.flow import stage_export
from tests.support.dynamodb_strategies import nested_values
from tests.support.staging_fixtures import (
    REGION,
    VAULT,
    create_test_table,
    patch_moto_import_empty_files,
    scan_all,
    target_for,
    write_prod_export,
)

SPEC = TableSpec.model_validate({"name": "customers", "hashKey": {"name": "pk", "type": "S"}})

ANY_TEXT = st.characters(blacklist_categories=("Cs",))


def item_lists(chars: st.SearchStrategy[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    text = st.text(chars, max_size=12)
    names = st.text(chars, min_size=1, max_size=6)
    numbers = st.one_of(
        st.integers(-(10**37), 10**37).map(str),
        st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False).map(str),
    )
    scalars = st.one_of(
        text.map(lambda s: {"S": s}),
        numbers.map(lambda n: {"N": n}),
        st.binary(max_size=12).map(lambda b: {"B": b}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        st.sets(st.text(chars, max_size=5), min_size=1, max_size=3).map(lambda s: {"SS": sorted(s)}),
        st.sets(st.integers(-1000, 1000), min_size=1, max_size=3).map(lambda s: {"NS": [str(x) for x in sorted(s)]}),
        st.sets(st.binary(min_size=1, max_size=4), min_size=1, max_size=3).map(lambda s: {"BS": sorted(s)}),
    )
    values = nested_values(scalars, names)
    attrs = st.dictionaries(names.filter(lambda n: n != "pk"), values, max_size=4)
    return st.dictionaries(st.text(chars, min_size=1, max_size=10), attrs, max_size=12).map(
        lambda by_key: [{"pk": {"S": k}, **a} for k, a in by_key.items()]
    )


def as_set(xs: list[dict[str, Any]]) -> list[str]:
    return sorted(repr(normalize_item(i)) for i in xs)


def round_trip(generated: list[dict[str, Any]], mode: str) -> None:
    with mock_aws(), pytest.MonkeyPatch.context() as mp:
        patch_moto_import_empty_files(mp)
        s3 = boto3.client("s3", region_name=REGION)
        ddb = boto3.client("dynamodb", region_name=REGION)
        s3.create_bucket(Bucket=VAULT)
        target = target_for(SPEC, mode=mode)
        create_test_table(ddb, target)
        ddb.put_item(TableName=target.name, Item={"pk": {"S": "\x00stale item, not in the export"}})
        ref = write_prod_export(s3, generated, items_per_file=5, empty_files=1)
        stage_export(s3, ddb, ref, target, sleep=lambda _: None)
        assert as_set(scan_all(ddb, target.name)) == as_set(generated)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=item_lists(ANY_TEXT))
def test_refill_round_trip_has_zero_differences(generated: list[dict[str, Any]]) -> None:
    round_trip(generated, "refill")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=item_lists(ANY_TEXT))
def test_replace_round_trip_has_zero_differences(generated: list[dict[str, Any]]) -> None:
    round_trip(generated, "replace")

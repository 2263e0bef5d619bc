"""Property: any items written with write_export come back from iter_items with zero differences."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from handlers.exports import (
    decode_datapipeline_line,
    decode_export_line,
    decode_export_line_unchecked,
    encode_export_line,
    iter_items,
    validate_export,
    write_export,
)
from handlers.exports.dynamodb_json import decode_item
from handlers.exports.items import ItemFormatError
from tests.support.export_fixtures import EXPORT_TIME, TABLE_ARN

# DynamoDB strings are UTF-8: no lone surrogates.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
names = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
numbers = st.one_of(
    st.just("0"),
    st.from_regex(r"-?[1-9][0-9]{0,37}", fullmatch=True),
    st.from_regex(r"-?(0|[1-9][0-9]{0,18})\.[0-9]{1,19}", fullmatch=True),
    st.from_regex(r"[1-9](\.[0-9]{1,37})?E[+-](1[0-2][0-9]|[1-9][0-9]?)", fullmatch=True),
)
scalars = st.one_of(
    st.builds(lambda v: {"S": v}, text),
    st.builds(lambda v: {"N": v}, numbers),
    st.builds(lambda v: {"B": v}, st.binary(max_size=40)),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda v: {"SS": v}, st.lists(text, min_size=1, max_size=4, unique=True)),
    st.builds(lambda v: {"NS": v}, st.lists(numbers, min_size=1, max_size=4, unique=True)),
    st.builds(lambda v: {"BS": v}, st.lists(st.binary(max_size=10), min_size=1, max_size=4, unique=True)),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.builds(lambda v: {"L": v}, st.lists(children, max_size=4)),
        st.builds(lambda v: {"M": v}, st.dictionaries(names, children, max_size=4)),
    ),
    max_leaves=12,
)
items = st.dictionaries(names, values, min_size=1, max_size=6)


@given(item=items)
@settings(max_examples=40, deadline=None)
def test_line_codec_round_trip(item: dict[str, Any]) -> None:
    line = encode_export_line(item)
    assert decode_export_line(line) == item
    assert decode_export_line_unchecked(line) == item


# Attribute values as a damaged or hand-made file may hold them: valid ones mixed with every
# kind of wrong (type keys, value types, number and base64 syntax, empty sets, two type keys).
_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), text)
_bad_scalars = st.one_of(
    st.builds(lambda v: {"S": v}, _json_scalars),
    st.builds(lambda v: {"N": v}, st.one_of(_json_scalars, st.sampled_from(["1e", "--1", ".", "1.2.3", " 1"]))),
    st.builds(lambda v: {"B": v}, st.one_of(_json_scalars, st.sampled_from(["AA=", "!!!!", "QUJD"]))),
    st.builds(lambda v: {"BOOL": v}, _json_scalars),
    st.builds(lambda v: {"NULL": v}, _json_scalars),
    st.builds(lambda k, v: {k: v}, st.sampled_from(["SS", "NS", "BS"]), st.lists(_json_scalars, max_size=3)),
    st.builds(lambda k, v: {k: v}, st.sampled_from(["X", "s", ""]), _json_scalars),
    st.just({"S": "a", "N": "1"}),
    st.just({}),
    _json_scalars,
)
_loose_values = st.recursive(
    st.one_of(_bad_scalars, values.map(lambda v: json.loads(encode_export_line({"a": v}))["Item"]["a"])),
    lambda children: st.one_of(
        st.builds(lambda v: {"L": v}, st.lists(children, max_size=3)),
        st.builds(lambda v: {"M": v}, st.dictionaries(names, children, max_size=3)),
        st.builds(lambda v: {"M": v}, st.lists(children, max_size=2)),
    ),
    max_leaves=8,
)


def _outcome(decode: Any, arg: Any) -> tuple[str, Any]:
    try:
        return ("item", decode(arg))
    except ItemFormatError as exc:
        return ("error", str(exc))


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"S": "x"}
    for _ in range(depth):
        value = {"L": [value]}
    return value


@given(item=st.dictionaries(names, _loose_values, min_size=1, max_size=4))
@settings(max_examples=300, deadline=None)
# Edges a random draw rarely hits, each of which the fast path once got wrong in a mutation check.
@example(item={"a": {"SS": []}})
@example(item={"a": {"NS": []}})
@example(item={"a": {"BS": []}})
@example(item={"a": {"B": "!!!!"}})
@example(item={"a": {"B": "AA="}})
@example(item={"a": {"B": "QUJD\n"}})
@example(item={"a": {"M": {"b": {"BS": ["AA=="]}}}})
@example(item={"a": {"N": "\u0663"}})  # an Arabic-Indic digit: str.isdigit() says yes
@example(item={"a": {"N": "\u00b2"}})
@example(item={"a": {"N": ""}})
@example(item={"a": {"N": "1e"}})
@example(item={"a": {"BOOL": 1}})
@example(item={"a": {"NULL": False}})
@example(item={"a": _nested(31)})
@example(item={"a": _nested(32)})
@example(item={"a": {"M": [{"S": "x"}]}})
def test_fast_line_checks_agree_with_the_detailed_checks(item: dict[str, Any]) -> None:
    """decode_export_line's inline fast path accepts exactly what decode_item accepts, returns the
    same item, and on a bad line raises decode_item's own message (path and reason)."""
    line = json.dumps({"Item": item}, ensure_ascii=False).encode()
    # The same parser on both sides: orjson reads integers beyond 64 bits as floats, which only
    # shows in the message about such a (never valid) bare number.
    assert _outcome(decode_export_line, line) == _outcome(decode_item, orjson.loads(line)["Item"])


@pytest.fixture(scope="module")
def examples_s3() -> Iterator[Any]:
    """One moto account for all examples (each example writes its own export folder). Module
    scoped, so it sets up the same fake environment as conftest's per-test fixture itself."""
    with pytest.MonkeyPatch.context() as env:
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
            env.delenv(var, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        with mock_aws():
            client = boto3.client("s3", region_name="us-east-1")
            client.create_bucket(Bucket="prop-bucket")
            yield client


@given(batch=st.lists(items, max_size=25), per_file=st.integers(min_value=1, max_value=10))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_export_round_trip(examples_s3: Any, batch: list[dict[str, Any]], per_file: int) -> None:
    s3 = examples_s3
    ref = write_export(
        s3,
        bucket="prop-bucket",
        prefix="p",
        table_arn=TABLE_ARN,
        items=batch,
        export_time=EXPORT_TIME,
        items_per_file=per_file,
    )
    assert list(iter_items(s3, ref)) == batch
    assert list(iter_items(s3, ref, check_items=False)) == batch
    report = validate_export(s3, ref, expected_table_arn=TABLE_ARN)
    assert report.problems == []
    assert report.item_count == len(batch)


# The EMR connector's Gson names for each type (AWS SDK for Java v1 AttributeValue fields).
_SDK_V1 = {"S": "s", "N": "n", "B": "b", "SS": "sS", "NS": "nS", "BS": "bS", "M": "m", "L": "l"}
_SDK_V1 |= {"NULL": "nULLValue", "BOOL": "bOOL"}


def _to_datapipeline(av: dict[str, Any]) -> dict[str, Any]:
    ((kind, value),) = av.items()
    if kind == "B":
        value = base64.b64encode(value).decode()
    elif kind == "BS":
        value = [base64.b64encode(v).decode() for v in value]
    elif kind == "M":
        value = {k: _to_datapipeline(v) for k, v in value.items()}
    elif kind == "L":
        value = [_to_datapipeline(v) for v in value]
    return {_SDK_V1[kind]: value}


@given(item=items)
@settings(max_examples=40, deadline=None)
def test_datapipeline_line_reads_back_exactly(item: dict[str, Any]) -> None:
    line = json.dumps({name: _to_datapipeline(av) for name, av in item.items()}, ensure_ascii=False)
    assert decode_datapipeline_line(line) == item

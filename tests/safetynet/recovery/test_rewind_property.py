"""The rewind's promise over random histories, on moto through the emulator exporter: after a
rewind of [T1, T2) every key is in its state at T1, except keys written again after T2, which are
left as they are and reported as conflicts (unless that later write happened to restore the
window's end state, which is indistinguishable from no write, or its start state)."""

from __future__ import annotations

import itertools
from typing import Any

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.exports import read_data_files, read_summary
from handlers.rewind import KeyResult, Outcome, RewindSpec, Window, rewind_data_file
from handlers.rewind.images import encode, same
from safetynet.backup.stream_export import export_stream_window
from tests.handlers.rewind.emulator import Clock, at, clock, emulator, moto_streams  # noqa: F401 (fixtures)
from tests.safetynet.backup.test_stream_export import BASE

BUCKET = "vault"
KEYS = ["k0", "k1", "k2", "k3", "k4"]
T1, T2 = at(BASE, 10), at(BASE, 20)
_tables = itertools.count()

# One write: (phase, key, value); value None deletes, else (v, whether it carries an extra attribute).
_write = st.tuples(
    st.sampled_from(["before", "in", "after"]),
    st.sampled_from(KEYS),
    st.one_of(st.none(), st.tuples(st.integers(0, 3), st.booleans())),
)


def _item(pk: str, value: tuple[int, bool]) -> dict[str, Any]:
    v, extra = value
    item = {"pk": {"S": pk}, "sk": {"N": "1"}, "v": {"N": str(v)}}
    if extra:
        item["extra"] = {"M": {"tags": {"SS": ["a", "b"]}, "n": {"N": "1.5"}}}
    return item


def _key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": "1"}}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(_write, max_size=24))
def test_after_a_rewind_every_key_is_as_at_t1_except_keys_written_after_t2(
    emulator: Clock,  # noqa: F811 (the imported fixture)
    history: list[Any],
) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)  # us-east-1: creating one's own bucket again is a no-op
    table = f"orders{next(_tables)}"
    emulator.set(at(BASE, -60))
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    # Given a history of writes before, inside and after [T1, T2), and the model of its states
    state: dict[str, Any] = {}
    at_t1: dict[str, Any] = {}
    at_t2: dict[str, Any] = {}
    written_in: set[str] = set()
    starts = {"before": 0.0, "in": 10.5, "after": 20.5}
    for phase in ("before", "in", "after"):
        if phase == "in":
            at_t1 = dict(state)
        if phase == "after":
            at_t2 = dict(state)
        for i, (_, pk, value) in enumerate(w for w in history if w[0] == phase):
            emulator.set(at(BASE, starts[phase] + 0.1 * i))
            if value is None:
                ddb.delete_item(TableName=table, Key=_key(pk))
                state.pop(pk, None)
            else:
                ddb.put_item(TableName=table, Item=_item(pk, value))
                state[pk] = _item(pk, value)
            if phase == "in":
                written_in.add(pk)
    if not any(w[0] == "after" for w in history):
        at_t2 = dict(state)
    final = dict(state)
    # When the window is exported from the stream and rewound
    ref = export_stream_window(
        ddb, streams, s3, table=table, bucket=BUCKET, prefix=f"rewinds/{table}/w", start=T1, end=T2, settle=0
    )
    results: list[KeyResult] = []
    spec = RewindSpec(window=Window.of(T1, T2))
    for data_file in read_data_files(s3, ref, read_summary(s3, ref)):
        rewind_data_file(
            ddb, s3, ref, data_file, spec, table=table, dry_run=False, concurrency=2, on_result=results.append
        )
    # Then each exported key was settled once, and the table is the model's expectation
    exported = {pk for pk in written_in if pk in at_t1 or pk in at_t2}  # created and deleted in it: no line
    assert sorted(r.change.keys["pk"]["S"] for r in results) == sorted(exported)
    conflicts = {r.change.keys["pk"]["S"] for r in results if r.outcome is Outcome.CONFLICT}
    assert not [r for r in results if r.outcome is Outcome.FAILED]
    expected_conflicts = {
        pk for pk in exported if not same(final.get(pk), at_t2.get(pk)) and not same(final.get(pk), at_t1.get(pk))
    }
    assert conflicts == expected_conflicts
    for pk in KEYS:
        live = ddb.get_item(TableName=table, Key=_key(pk), ConsistentRead=True).get("Item")
        rewound = pk in written_in and same(final.get(pk), at_t2.get(pk))
        expected = at_t1.get(pk) if rewound else final.get(pk)
        assert same(live, expected), (
            f"{pk}: {encode(live) if live else None} != {encode(expected) if expected else None}"
        )
    # And a rerun changes nothing and finds nothing left to revert
    rerun: list[KeyResult] = []
    for data_file in read_data_files(s3, ref, read_summary(s3, ref)):
        rewind_data_file(ddb, s3, ref, data_file, spec, table=table, dry_run=False, on_result=rerun.append)
    assert {r.outcome for r in rerun} <= {Outcome.UNCHANGED, Outcome.CONFLICT}

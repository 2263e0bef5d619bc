"""What the rewind tests share: a moto table, hand-built changes, a window around them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.exports.incremental import Change
from handlers.exports.items import Item
from handlers.rewind.plan import RewindSpec, Window, to_micros

TABLE = "orders"
T1 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
T2 = T1 + timedelta(minutes=10)
WINDOW = Window.of(T1, T2)
IN_WINDOW = to_micros(T1 + timedelta(minutes=5))
BEFORE_WINDOW = to_micros(T1 - timedelta(minutes=1))
AFTER_WINDOW = to_micros(T2 + timedelta(minutes=1))


def create_table(ddb: Any, name: str = TABLE) -> str:
    """`name` with key pk (S) + sk (N), on-demand, as the rewind tests use it."""
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def key(pk: str, sk: int = 1) -> Item:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def item(pk: str, sk: int = 1, **attrs: Any) -> Item:
    """An item of `key(pk, sk)`; keyword values: str -> S, int/float -> N, bool -> BOOL, else as given."""
    out = key(pk, sk)
    for name, value in attrs.items():
        if isinstance(value, bool):
            out[name] = {"BOOL": value}
        elif isinstance(value, int | float):
            out[name] = {"N": str(value)}
        elif isinstance(value, str):
            out[name] = {"S": value}
        else:
            out[name] = value
    return out


def change(old: Item | None, new: Item | None, *, at: int = IN_WINDOW, keys: Item | None = None) -> Change:
    """The export line of one key: its state before the window (`old`) and at its end (`new`)."""
    source = new or old
    assert keys is not None or source is not None
    the_keys = keys or {"pk": source["pk"], "sk": source["sk"]}  # type: ignore[index]
    return Change(keys=the_keys, new_image=new, old_image=old, write_micros=at)


def spec(**kwargs: Any) -> RewindSpec:
    return RewindSpec(window=WINDOW, **kwargs)


def put(ddb: Any, *items: Item, table: str = TABLE) -> None:
    for it in items:
        ddb.put_item(TableName=table, Item=it)


def get(ddb: Any, k: Item, table: str = TABLE) -> Item | None:
    found: Item | None = ddb.get_item(TableName=table, Key=k, ConsistentRead=True).get("Item")
    return found

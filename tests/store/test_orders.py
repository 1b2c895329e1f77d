"""The coordinator's orders and batches in the store, on SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from gridpeer.store.base import BatchRecord, OrderRecord, OrderUpdate, Store
from gridpeer.store.factory import open_store

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/t.db")
    else:
        s = open_store(request.getfixturevalue("postgres_url"))
    yield s
    s.close()


def rec(oid: str, maker: str = "0xA", nonce: int = 1, start: int = 1000) -> OrderRecord:
    return OrderRecord(
        id=oid,
        seq=0,
        maker=maker,
        nonce=nonce,
        house="h1",
        sell=True,
        wh=100,
        price=2**64 - 1,  # a uint64 price beyond a signed BIGINT survives
        start=start,
        end=start + 900,
        expiry=start,
        body='{"order": {}}',
        created_at=123,
    )


def test_orders_are_stored_once_per_id_and_per_maker_nonce(store: Store) -> None:
    a, why = store.add_order(rec("0x01"))
    assert a is not None and why == "" and a.seq == 1
    assert store.add_order(rec("0x01"))[1] == "order 0x01 was already submitted"
    none, why = store.add_order(rec("0x02"))
    assert none is None and "nonce 1 of 0xA is already used by order 0x01" in why
    b, _ = store.add_order(rec("0x03", nonce=2, start=2000))
    c, _ = store.add_order(rec("0x04", maker="0xB"))
    assert b is not None and c is not None and (b.seq, c.seq) == (2, 3)
    assert [o.id for o in store.orders()] == ["0x01", "0x03", "0x04"]
    assert store.orders(maker="0xA")[0] == a
    assert [o.id for o in store.orders(start=1000)] == ["0x01", "0x04"]
    assert [o.id for o in store.orders(ids=["0x04", "0x03"])] == ["0x03", "0x04"]
    assert store.orders(ids=[]) == [] and store.orders(states=[]) == []


def test_order_updates_and_batches_commit_together(store: Store) -> None:
    store.add_order(rec("0x01"))
    store.add_order(rec("0x02", maker="0xB"))
    plan = BatchRecord(0, 1000, 1900, "sending", '{"orders": ["0x01"]}', from_block=7)
    b = store.add_batch(plan)
    assert b.seq == 1 and store.add_batch(plan).seq == 2
    mined = replace(b, state="mined", batch_id=3, tx="0xab", mined_at=999)
    store.update_orders(
        [
            OrderUpdate("0x01", "settled", trade_ids=(2**50, 4), matched_wh=60),
            OrderUpdate("0x02", "dropped", reason="not enough credit"),
        ],
        mined,
    )
    got = {o.id: o for o in store.orders()}
    assert got["0x01"].state == "settled" and got["0x01"].trade_ids == (2**50, 4)
    assert got["0x01"].matched_wh == 60
    assert (got["0x02"].state, got["0x02"].reason) == ("dropped", "not enough credit")
    assert [o.id for o in store.orders(states=["settled", "accepted"])] == ["0x01"]
    newest = store.batches()
    assert [x.seq for x in newest] == [2, 1]
    assert store.batches(states=["mined"]) == [replace(mined, price=0)]
    assert len(store.batches(limit=1)) == 1

"""Invariants of a coordinator run, checked against the chain and the store."""

from __future__ import annotations

import json
from collections import Counter

from gridpeer.chain.client import MarketClient
from gridpeer.chain.events import TradeCreated
from gridpeer.store.base import Store


def check(market: MarketClient, store: Store, accepted: set[str] | None = None) -> None:
    """Every accepted order settled exactly once or dropped with a reason; trades belong
    to exactly their seller's and buyer's order; money conserved (contract balance =
    credits + escrow of open trades); nothing settled twice."""
    orders = store.orders()
    if accepted is not None:
        assert accepted <= {o.id for o in orders}, "an accepted order was lost"
    trade_owners: Counter[int] = Counter()
    for o in orders:
        assert o.state in ("settled", "dropped"), (o.id, o.state)
        if o.state == "dropped":
            assert o.reason, o
            assert not o.trade_ids
        else:
            assert o.trade_ids and o.matched_wh > 0, o
            assert market.member(o.maker)[2] >= o.nonce  # consumed on chain
            trade_owners.update(o.trade_ids)
    assert all(n == 2 for n in trade_owners.values()), "a trade is not one seller + one buyer"
    mined = store.batches(states=["mined"])
    planned: Counter[str] = Counter()
    for b in mined:
        planned.update(json.loads(b.plan)["orders"])
    assert all(n == 1 for n in planned.values()), "an order is in two mined batches"
    ids = [b.batch_id for b in mined]
    assert len(ids) == len(set(ids))
    on_chain = Counter(
        ev.trade.id for ev in market.events(0) if isinstance(ev, TradeCreated) and not ev.order_id
    )
    assert all(n == 1 for n in on_chain.values()), "a batch trade was created twice"
    assert set(trade_owners) == set(on_chain), "settled orders and batch trades differ"
    escrow = 0
    for tid in on_chain:
        t = market.trade(tid)  # None once the oracle settled it
        escrow += 0 if t is None else t.escrow
    credits = sum(market.credit_of_index(i) for i in range(1, market.member_count() + 1))
    assert market.balance() == credits + escrow

"""Centralized and hybrid markets end to end on anvil, Mosquitto and PostgreSQL: signed
orders → coordinator (orders kept in PostgreSQL) → batch on chain → oracle → relays and
meters → confirmation of every batch trade; then the coordinator's invariants (every
order settled once or dropped with a reason, money conserved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridpeer.chain.types import OrderTerms
from gridpeer.coordinator.service import Coordinator
from gridpeer.oracle.rules import payment_wei
from gridpeer.store.factory import open_store
from tests.coordinator.invariants import check
from tests.e2e.rig import PRICE, Community, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil, pytest.mark.postgres]


@pytest.mark.parametrize("mode", ["centralized", "hybrid"])
def test_batch_trades_are_delivered_and_settled(
    tmp_path: Path, mode: str, postgres_url: str
) -> None:
    com = Community(tmp_path, 4)
    names: dict[str, str] = {a: h for h, a in com.houses.items()}
    store = open_store(postgres_url)
    coord = Coordinator(
        com.market,
        com.chain.coordinator,
        names,
        mode,  # type: ignore[arg-type]
        store=store,
    )
    try:
        com.start()
        for b in ("h3", "h4"):
            com.market.deposit(com.keys[b], 10**17)
        t0 = com.now()
        start, end = t0 + 8, t0 + 13
        orders = [
            ("h1", True, 20, PRICE),
            ("h2", True, 15, 2 * PRICE),
            ("h3", False, 25, 3 * PRICE),
            ("h4", False, 10, 3 * PRICE),
        ]
        for n, (h, sell, wh, price) in enumerate(orders, start=1):
            terms = OrderTerms(com.houses[h], sell, wh, price, start, end, n, start)
            coord.submit(com.market.sign_order(com.keys[h], terms))
        wait_for(lambda: bool(coord.tick()) or bool(coord.batches), 20, "batch settled")
        [batch] = coord.batches
        assert sum(m.energy_wh for m in batch.matches) == 35
        wait_for(lambda: len(com.confirmations()) == len(batch.trade_ids), 60, "confirmations")
        conf = com.confirmations()
        for tid, m in zip(batch.trade_ids, batch.matches, strict=True):
            d, paid, refund = conf[tid]
            assert d == m.energy_wh  # 36 kW lines deliver these small trades in full
            assert paid == payment_wei(d, m.price_wei_per_kwh)
            assert paid + refund == payment_wei(m.energy_wh, m.price_wei_per_kwh)
        sellers = {"h1", "h2"}
        for h in sellers:
            assert com.credit(h) == sum(
                conf[t][1]
                for t, m in zip(batch.trade_ids, batch.matches, strict=True)
                if m.seller == h
            )
        assert {o.state for o in store.orders()} == {"settled"}
        check(com.market, store)
    finally:
        com.stop()
        store.close()

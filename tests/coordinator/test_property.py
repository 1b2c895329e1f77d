"""Property: whatever a window's signed orders, deposits, withdrawals and revocations, the
batches the coordinator sends never revert for credit or nonce reasons, and every
accepted order ends settled exactly once or dropped with a reason (pyrevm chain)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridpeer.chain.types import cost_wei
from gridpeer.coordinator.intake import OrderRejected
from tests.coordinator.test_service import PRICE, Env

order = st.tuples(
    st.integers(0, 5),  # house
    st.booleans(),  # sell
    st.integers(1, 400),  # Wh
    st.integers(1, 8),  # price, in PRICE units
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mode=st.sampled_from(["centralized", "hybrid"]),
    mechanism=st.sampled_from(["uniform", "pay_as_bid", "mmr"]),
    orders=st.lists(order, min_size=2, max_size=24),
    withdraw=st.sets(st.integers(0, 5), max_size=3),
    revoke=st.sets(st.integers(0, 5), max_size=2),
    block_gas=st.sampled_from([450_000, 800_000, 30_000_000]),
)
def test_batches_never_revert_for_credit_or_nonce(
    mode: str,
    mechanism: str,
    orders: list[tuple[int, bool, int, int]],
    withdraw: set[int],
    revoke: set[int],
    block_gas: int,
) -> None:
    env = Env(mode, houses=6)  # type: ignore[arg-type]
    env.coord = env.coordinator(mechanism=mechanism, block_gas=block_gas)
    for h in range(6):
        need = sum(cost_wei(wh, p * PRICE) for hh, sell, wh, p in orders if hh == h and not sell)
        if need:
            env.market.deposit(env.h[h], need)
    for h, sell, wh, p in orders:
        try:
            env.put(env.h[h], sell, wh, p * PRICE)
        except OrderRejected as exc:  # a house both selling and buying is fine; others not
            raise AssertionError(exc.reason) from exc
    for h in withdraw:
        if env.market.credit(env.h[h].address):
            env.market.withdraw(env.h[h])
    for h in revoke:
        if env.nonce[env.h[h].address] >= 2:
            env.market.invalidate_nonce(env.h[h], env.nonce[env.h[h].address])  # all but last
    env.gate()
    for b in env.store.batches(states=["reverted"]):
        assert "InsufficientCredit" not in b.reason and "NonceUsed" not in b.reason, b.reason
    env.check()

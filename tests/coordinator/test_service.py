"""The coordinator service on the in-process chain (pyrevm): batches that cannot revert
for known reasons (credit, nonce order, revoked orders, block gas), retries after a
revert nobody could foresee, and recovery from a crash at every point of a batch."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.open import Chain
from gridpeer.chain.types import OrderTerms, SignedOrder
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.coordinator.service import LATE, NO_MATCH, Coordinator, Mode
from gridpeer.store.base import BatchRecord, Store
from gridpeer.store.factory import open_store
from tests.coordinator.invariants import check

PRICE = 10**15
T_NOW = 1_800_000_000


class Crash(BaseException):
    """Stands for the process dying at a hook (BaseException: nothing catches it)."""


class Env:
    def __init__(
        self, mode: Mode, houses: int = 4, store: Store | None = None, chain: str = "revm"
    ) -> None:
        self.mode = mode
        if chain == "revm":
            self.chain = open_chain("revm", genesis_time=T_NOW)
            t0 = T_NOW
        else:  # a JSON-RPC node (anvil: its time follows the wall clock)
            self.chain = Chain(Web3Backend.rpc(chain))
            t0 = max(self.chain.backend.now(), int(time.time()))
        self.market = self.chain.deploy_market(grace_s=3600)
        self.market.set_schedule(self.chain.admin, Schedule("open"))
        self.h = self.chain.houses(houses, self.market)
        self.names: dict[str, str] = {k.address: f"h{i + 1}" for i, k in enumerate(self.h)}
        self.clock = t0 + 10
        self.store = store or open_store("sqlite:///:memory:")
        self.coord = self.coordinator()
        self.start, self.end = t0 + 3600, t0 + 7200
        self.nonce = {k.address: 0 for k in self.h}
        self.accepted: set[str] = set()

    def coordinator(self, **kw: object) -> Coordinator:
        return Coordinator(
            self.market,
            self.chain.coordinator,
            self.names,
            self.mode,
            now=lambda: self.clock,
            store=self.store,
            **kw,  # type: ignore[arg-type]
        )

    def sign(
        self, who: LocalAccount, sell: bool, wh: int, price: int, nonce: int = 0
    ) -> SignedOrder:
        if not nonce:
            self.nonce[who.address] += 1
            nonce = self.nonce[who.address]
        terms = OrderTerms(who.address, sell, wh, price, self.start, self.end, nonce, self.start)
        return self.market.sign_order(who, terms)

    def put(self, who: LocalAccount, sell: bool, wh: int, price: int, nonce: int = 0) -> str:
        rec = self.coord.accept(self.sign(who, sell, wh, price, nonce))
        self.accepted.add(rec.id)
        return rec.id

    def gate(self) -> None:
        self.clock = self.start - 1
        self.coord.tick()

    def state(self, oid: str) -> tuple[str, str]:
        [o] = self.store.orders(ids=[oid])
        return o.state, o.reason

    def check(self) -> None:
        check(self.market, self.store, self.accepted)


@pytest.fixture(
    params=["revm", pytest.param("anvil+postgres", marks=[pytest.mark.anvil, pytest.mark.postgres])]
)
def where(request: pytest.FixtureRequest) -> tuple[str, Store | None]:
    """The chain and store: pyrevm + in-memory SQLite, or a real anvil + PostgreSQL."""
    if request.param == "revm":
        return "revm", None
    url = request.getfixturevalue("anvil_url")
    return url, open_store(request.getfixturevalue("postgres_url"))


def make(where: tuple[str, Store | None], mode: Mode, houses: int = 4) -> Env:
    return Env(mode, houses, store=where[1], chain=where[0])


@pytest.mark.parametrize("mode", ["centralized", "hybrid"])
def test_a_window_settles_and_unmatched_orders_are_dropped(
    where: tuple[str, Store | None], mode: Mode
) -> None:
    env = make(where, mode)
    s1, s2, b1, b2 = env.h
    env.market.deposit(b1, 10**18)
    env.market.deposit(b2, 10**18)
    a = env.put(s1, True, 300, PRICE)
    env.put(s2, True, 300, 9 * PRICE)  # too dear for anyone
    c = env.put(b1, False, 200, 4 * PRICE)
    if mode == "hybrid":
        assert env.state(c)[0] == "matched" and env.state(a)[0] == "matched"
    env.gate()
    assert env.state(a)[0] == env.state(c)[0] == "settled"
    states = sorted(o.state for o in env.store.orders())
    assert states == ["dropped", "settled", "settled"]
    [dropped] = env.store.orders(states=["dropped"])
    assert dropped.reason == "no matching order at gate closure"
    [clearing] = env.store.batches(states=["mined"])
    assert (clearing.volume_wh, clearing.trades) == (200, 1) and clearing.tx.startswith("0x")
    env.check()


def test_an_unfunded_buyer_is_dropped_and_the_rest_settles(where: tuple[str, Store | None]) -> None:
    env = make(where, "centralized")
    s1, _, b1, b2 = env.h
    env.market.deposit(b1, 10**18)
    env.market.deposit(b2, 10**18)
    env.put(s1, True, 300, PRICE)
    poor = env.put(b2, False, 200, 5 * PRICE)
    rich = env.put(b1, False, 200, 4 * PRICE)
    env.market.withdraw(b2)  # after acceptance, before gate closure
    env.gate()
    state, reason = env.state(poor)
    assert state == "dropped" and "not enough credit" in reason and "wei" in reason
    assert env.state(rich)[0] == "settled"
    assert not env.store.batches(states=["reverted"])  # caught before sending
    env.check()


def test_a_sellers_orders_matched_out_of_nonce_order_settle_in_one_batch(
    where: tuple[str, Store | None],
) -> None:
    env = make(where, "centralized")
    s1, _, b1, _ = env.h
    env.market.deposit(b1, 10**18)
    dear = env.put(s1, True, 100, 3 * PRICE)  # nonce 1
    cheap = env.put(s1, True, 100, PRICE)  # nonce 2: matched first (cheapest)
    buy = env.put(b1, False, 200, 5 * PRICE)
    env.gate()
    assert [env.state(x)[0] for x in (dear, cheap, buy)] == ["settled"] * 3
    assert len(env.store.batches(states=["mined"])) == 1
    assert not env.store.batches(states=["reverted"])
    env.check()


def test_a_revoked_order_is_dropped_before_sending(where: tuple[str, Store | None]) -> None:
    env = make(where, "hybrid")
    s1, s2, b1, _ = env.h
    env.market.deposit(b1, 10**18)
    revoked = env.put(s1, True, 100, PRICE)
    other = env.put(s2, True, 100, 2 * PRICE)
    buy = env.put(b1, False, 100, 5 * PRICE)
    assert env.state(revoked)[0] == "matched"
    env.market.invalidate_nonce(s1, 2)  # revokes nonce 1
    env.gate()
    state, reason = env.state(revoked)
    assert state == "dropped" and "revoked" in reason
    assert env.state(other)[0] == env.state(buy)[0] == "settled"  # matched again
    env.check()


def test_a_window_larger_than_a_block_is_split_into_batches(
    where: tuple[str, Store | None],
) -> None:
    env = make(where, "centralized", houses=12)
    env.coord.block_gas = 450_000  # fits 4 orders + 2 matches (420,000 gas), not 6 + 3
    sellers, buyers = env.h[:6], env.h[6:]
    for b in buyers:
        env.market.deposit(b, 10**18)
    for i, (s, b) in enumerate(zip(sellers, buyers, strict=True)):
        env.put(s, True, 100, PRICE + i)
        env.put(b, False, 100, 5 * PRICE)
    env.gate()
    mined = env.store.batches(states=["mined"])
    assert len(mined) == 3 and all(b.trades == 2 for b in mined)
    assert sum(b.volume_wh for b in mined) == 600
    env.check()


def test_a_revert_nobody_foresaw_drops_the_offender_and_retries(
    where: tuple[str, Store | None],
) -> None:
    env = make(where, "centralized")
    s1, s2, b1, _ = env.h
    env.market.deposit(b1, 10**18)
    sneaky = env.put(s1, True, 100, PRICE)
    env.put(s2, True, 100, 2 * PRICE)
    env.put(b1, False, 100, 5 * PRICE)
    fired: list[int] = []

    def revoke_once(rec: BatchRecord) -> None:
        if not fired:
            fired.append(rec.seq)
            env.market.invalidate_nonce(s1, 2)  # between the check and the transaction

    env.coord.hooks["before"] = revoke_once
    env.gate()
    assert len(env.store.batches(states=["reverted"])) == 1
    state, reason = env.state(sneaky)
    assert state == "dropped" and "NonceUsed" in reason
    assert len(env.store.batches(states=["mined"])) == 1
    env.check()


@pytest.mark.parametrize("mode", ["centralized", "hybrid"])
def test_a_window_that_started_unsettled_says_which_orders_had_a_match(mode: Mode) -> None:
    env = Env(mode)
    s1, s2, b1, _ = env.h
    env.market.deposit(b1, 10**18)
    a = env.put(s1, True, 300, PRICE)
    lonely = env.put(s2, True, 300, 9 * PRICE)  # too dear for anyone
    c = env.put(b1, False, 200, 4 * PRICE)
    env.clock = env.start  # the coordinator was down through gate closure
    env.coord.tick()
    assert env.state(a) == env.state(c) == ("dropped", LATE)
    assert env.state(lonely) == ("dropped", NO_MATCH)
    env.check()


@pytest.mark.parametrize("mode", ["centralized", "hybrid"])
def test_unmatched_orders_left_after_a_batch_mined_late_say_no_order_matched(mode: Mode) -> None:
    env = Env(mode)
    s1, s2, b1, _ = env.h
    env.market.deposit(b1, 10**18)
    a = env.put(s1, True, 300, PRICE)
    lonely = env.put(s2, True, 300, 9 * PRICE)
    c = env.put(b1, False, 200, 4 * PRICE)

    def window_starts(rec: BatchRecord) -> None:
        env.clock = env.start  # mining took until the window began

    env.coord.hooks["after"] = window_starts
    env.gate()
    assert env.state(a)[0] == env.state(c)[0] == "settled"
    assert env.state(lonely) == ("dropped", NO_MATCH)
    env.check()


@pytest.mark.parametrize("point", ["before", "during", "after"])
def test_a_crash_at_any_point_loses_nothing_and_settles_nothing_twice(
    tmp_path: Path, point: str
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/c.db")
    env = Env("centralized", store=store)
    s1, s2, b1, b2 = env.h
    env.market.deposit(b1, 10**18)
    env.market.deposit(b2, 10**18)
    env.put(s1, True, 300, PRICE)
    env.put(s2, True, 100, 2 * PRICE)
    env.put(b1, False, 200, 4 * PRICE)
    env.put(b2, False, 150, 3 * PRICE)

    def crash(rec: BatchRecord) -> None:
        raise Crash(point)

    env.coord.hooks[point] = crash
    env.clock = env.start - 1
    with pytest.raises(Crash):
        env.coord.tick()
    store.close()
    env.store = open_store(f"sqlite:///{tmp_path}/c.db")  # the restarted process
    env.coord = env.coordinator()
    env.coord.reconcile()
    env.coord.tick()
    env.check()
    assert sum(b.trades for b in env.store.batches(states=["mined"])) == 3
    assert len(env.store.batches(states=["mined"])) == 1

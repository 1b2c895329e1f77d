"""Fixtures: a fresh market with 4 member houses on each backend (embedded, anvil, revm,
and the embedded chain served over JSON-RPC)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from gridpeer.chain import Chain, MarketClient, Schedule, open_chain

DAY = 86_400
PRICE = 200_000_000_000_000  # wei/kWh (0.0002 ether)


@dataclass
class Env:
    """One deployed market: roles, houses h[0..3], and time helpers (UTC unix s)."""

    kind: str
    chain: Chain
    market: MarketClient
    h: list[LocalAccount]

    def midnight(self, days_ahead: int = 1) -> int:
        """UTC midnight ``days_ahead`` days after the chain's current day."""
        return (self.market.now() // DAY + days_ahead) * DAY

    def goto(self, ts: int) -> None:
        """Move chain time to ``ts`` (no-op if already there)."""
        if ts > self.market.now():
            self.market.set_time(ts)

    def window(self, days_ahead: int = 2, hour: int = 13) -> tuple[int, int]:
        """An hour-long delivery window ``days_ahead`` days ahead at ``hour`` UTC."""
        start = self.midnight(days_ahead) + hour * 3600
        return start, start + 3600

    def members(self) -> list[str]:
        return [h.address for h in self.h]


def make_env(kind: str, chain: Chain, schedule: Schedule | None = None) -> Env:
    market = chain.deploy_market(grace_s=3600)
    houses = chain.houses(4, market)
    market.set_schedule(chain.admin, schedule or Schedule("open"))
    return Env(kind, chain, market, houses)


BACKENDS = [
    "embedded",
    pytest.param("anvil", marks=pytest.mark.anvil),
    "revm",
    "served",
]
"""``served``: the embedded chain behind gridpeer's JSON-RPC server, used over HTTP."""


def open_backend(request: pytest.FixtureRequest, kind: str) -> Chain:
    if kind == "anvil":
        return open_chain(request.getfixturevalue("anvil_url"))
    if kind == "served":
        from gridpeer.chain.rpc_server import RpcServer

        server = RpcServer(open_chain("embedded").backend).start()  # type: ignore[arg-type]
        request.addfinalizer(server.stop)
        return open_chain(server.url)
    return open_chain(kind)


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    """A market in 'open' schedule mode on each backend."""
    chain = open_backend(request, request.param)
    yield make_env(request.param, chain)
    chain.backend.close()


def money_in_contract(e: Env, open_trades: list[int], open_requests: list[int]) -> int:
    """Escrow of open trades and requests plus members' credit (wei)."""
    m = e.market
    total = sum(m.credit_of_index(i) for i in range(1, m.member_count() + 1))
    for t in open_trades:
        tr = m.trade(t)
        total += tr.escrow if tr else 0
    for r in open_requests:
        o = m.order(r)
        total += (o.remaining_wh * o.price // 1000) if o else 0
    return total

"""A whole community for end-to-end delivery tests: real Mosquitto, real anvil with the
``EnergyMarket`` contract, the oracle and one agent per house as child processes.

Model time is the chain's time (anvil follows the wall clock), so windows are a few
seconds long and agents meter large constant powers (``POWER_W``): 36 kW = 10 Wh/s.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from gridpeer.chain.client import MarketClient
from gridpeer.chain.events import DeliveryConfirmed, DisputeOpened
from gridpeer.chain.open import Chain
from gridpeer.chain.types import Schedule
from gridpeer.chain.web3_backend import Web3Backend
from tests.e2e.procs import Anvil, Child, Mosquitto
from tests.services.ports import free_port

POWER_W = 36_000.0
PRICE = 10**15  # wei per kWh
COMMUNITY = "e2e"


def wait_for(cond: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout} s")


class Community:
    """Broker, node, contract, oracle and agents for ``n`` houses ``h1..hn`` (dev keys)."""

    def __init__(
        self, tmp: Path, n: int, grace_s: int = 8, powers: dict[str, float] | None = None
    ) -> None:
        self.tmp = tmp
        self.broker = Mosquitto(tmp / "mosq", free_port())
        self.anvil = Anvil(free_port(), tmp / "anvil.log")
        self.broker.start()
        self.anvil.start()
        self.chain = Chain(Web3Backend.rpc(self.anvil.url))
        self.market: MarketClient = self.chain.deploy_market(grace_s)
        self.keys = {f"h{i + 1}": k for i, k in enumerate(self.chain.houses(n, self.market))}
        self.houses = {h: k.address for h, k in self.keys.items()}
        self.market.set_schedule(self.chain.admin, Schedule("open"))
        self.grace_s = grace_s
        self.powers = powers or {}
        self.agents = {h: self._agent(h) for h in self.houses}
        self.oracle = Child(
            "gridpeer.oracle",
            [
                "--rpc",
                self.anvil.url,
                "--contract",
                self.market.address,
                "--dev-keys",
                str(n),
                "--state",
                f"sqlite:///{tmp}/oracle.db",
                "--port",
                str(self.broker.port),
                "--community",
                COMMUNITY,
                "--lead",
                "60",
                "--grace",
                str(grace_s / 2),
                "--settle-margin",
                str(grace_s / 4),
            ],
            tmp / "oracle.log",
        )

    def _agent(self, house: str) -> Child:
        p = str(self.powers.get(house, POWER_W))
        return Child(
            "gridpeer.cli",
            [
                "delivery-agent",
                "--community",
                COMMUNITY,
                "--house",
                house,
                "--port",
                str(self.broker.port),
                "--state",
                str(self.tmp / f"{house}.db"),
                "--simulated-meter",
                "--out-w",
                p,
                "--in-w",
                p,
            ],
            self.tmp / f"{house}.log",
        )

    def start(self) -> None:
        """Start agents and oracle and wait until each says it is connected."""
        for a in self.agents.values():
            a.start()
        self.oracle.start()
        for child in (*self.agents.values(), self.oracle):
            wait_for(lambda c=child: c.ready(), 60, f"{child.module} ready")  # type: ignore[misc]

    def stop(self) -> None:
        self.oracle.stop()
        for a in self.agents.values():
            a.stop()
        self.anvil.stop()
        self.broker.stop()

    # -- chain ------------------------------------------------------------------------
    def now(self) -> int:
        """Chain time, s: anvil stamps new blocks with the wall clock."""
        return max(self.market.now(), int(time.time()))

    def trade(self, seller: str, buyer: str, wh: int, start: int, end: int) -> int:
        oid = self.market.post_offer(self.keys[seller], wh, PRICE, start, end)
        return self.market.buy(self.keys[buyer], oid, wh)

    def request(self, buyer: str, wh: int, start: int, end: int) -> int:
        return self.market.post_request(self.keys[buyer], wh, PRICE, start, end)

    def fill(self, seller: str, request_id: int, wh: int) -> int:
        return self.market.fill(self.keys[seller], request_id, wh)

    def credit(self, house: str) -> int:
        return self.market.credit(self.houses[house])

    def reclaim(self, buyer: str, trade_id: int) -> None:
        self.market.reclaim(self.keys[buyer], trade_id)

    def withdraw(self, house: str) -> int:
        return self.market.withdraw(self.keys[house])

    def confirmations(self) -> dict[int, tuple[int, int, int]]:
        """Trade id → (delivered Wh, seller paid, buyer refund), asserting one per trade."""
        out: dict[int, tuple[int, int, int]] = {}
        for ev in self.market.events(0):
            if isinstance(ev, DeliveryConfirmed):
                assert ev.trade_id not in out, f"trade {ev.trade_id} confirmed twice"
                out[ev.trade_id] = (ev.delivered_wh, ev.seller_paid, ev.buyer_refund)
        return out

    def disputes(self) -> dict[int, tuple[int, int]]:
        """Trade id → (seller Wh, buyer Wh) of every dispute the oracle opened."""
        return {
            ev.trade_id: (ev.seller_wh, ev.buyer_wh)
            for ev in self.market.events(0)
            if isinstance(ev, DisputeOpened)
        }

    def resolve_disputes(self, contracted: dict[int, int]) -> dict[int, int]:
        """As the admin, settle every open dispute for the seller's reading (capped by the
        contracted Wh); returns trade id → Wh resolved."""
        done: dict[int, int] = {}
        for tid, (seller_wh, _) in self.disputes().items():
            if self.is_open(tid):
                done[tid] = min(seller_wh, contracted[tid])
                self.market.resolve_dispute(self.chain.admin, tid, done[tid])
        return done

    def is_open(self, trade_id: int) -> bool:
        return self.market.trade(trade_id) is not None

    # -- agents -----------------------------------------------------------------------
    def agent_rows(self, house: str) -> dict[int, tuple[str, float]]:
        """Trade id → (phase, measured Wh) from the agent's own state file."""
        path = self.tmp / f"{house}.db"
        if not path.exists():
            return {}
        try:
            with sqlite3.connect(path) as conn:
                rows = conn.execute("SELECT trade_id, phase, measured_wh FROM agent_deliveries")
                return {int(t): (str(p), float(w)) for t, p, w in rows}
        except sqlite3.OperationalError:  # the agent has not created its table yet
            return {}

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
from typing import Any

from web3 import Web3

from tests.e2e.procs import Anvil, Child, Mosquitto
from tests.services.ports import free_port

POWER_W = 36_000.0
PRICE = 10**15  # wei per kWh
COMMUNITY = "e2e"


def load_abi_bytecode() -> tuple[list[dict[str, Any]], bytes]:
    from gridpeer.chain.artifact import load_artifact

    art = load_artifact()
    return art.abi, art.bytecode


def wait_for(cond: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout} s")


class Community:
    """Broker, node, contract, oracle and agents for ``n`` houses ``h1..hn``."""

    def __init__(self, tmp: Path, n: int, grace_s: int = 8, powers: dict[str, float] | None = None):
        self.tmp = tmp
        self.broker = Mosquitto(tmp / "mosq", free_port())
        self.anvil = Anvil(free_port(), tmp / "anvil.log")
        self.broker.start()
        self.anvil.start()
        self.w3 = Web3(Web3.HTTPProvider(self.anvil.url))
        acc = self.w3.eth.accounts
        self.admin, self.oracle_addr, self.coordinator = acc[0], acc[1], acc[2]
        self.houses = {f"h{i + 1}": acc[3 + i] for i in range(n)}
        abi, bytecode = load_abi_bytecode()
        c = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        r = self._wait(
            c.constructor(self.oracle_addr, self.coordinator, grace_s).transact(
                {"from": self.admin}
            )
        )
        self.address = r["contractAddress"]
        self.c = self.w3.eth.contract(address=self.address, abi=abi)
        self.grace_s = grace_s
        for addr in self.houses.values():
            self._wait(self.c.functions.addMember(addr).transact({"from": self.admin}))
        self._wait(self.c.functions.setSchedule(0, 0, 15, [0] * 6).transact({"from": self.admin}))
        self.powers = powers or {}
        self.agents = {h: self._agent(h) for h in self.houses}
        self.oracle = Child(
            "gridpeer.oracle",
            [
                "--rpc",
                self.anvil.url,
                "--contract",
                self.address,
                "--oracle",
                self.oracle_addr,
                *[f"--house={h}={a}" for h, a in self.houses.items()],
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
            ],
            tmp / "oracle.log",
        )

    def _agent(self, house: str) -> Child:
        p = str(self.powers.get(house, POWER_W))
        return Child(
            "gridpeer.hems.delivery_agent",
            [
                "--community",
                COMMUNITY,
                "--house",
                house,
                "--port",
                str(self.broker.port),
                "--state",
                str(self.tmp / f"{house}.db"),
                "--out-w",
                p,
                "--in-w",
                p,
            ],
            self.tmp / f"{house}.log",
        )

    def start(self) -> None:
        for a in self.agents.values():
            a.start()
        self.oracle.start()

    def stop(self) -> None:
        self.oracle.stop()
        for a in self.agents.values():
            a.stop()
        self.anvil.stop()
        self.broker.stop()

    # -- chain ------------------------------------------------------------------------
    def _wait(self, tx: Any) -> Any:
        r = self.w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.01)
        assert r["status"] == 1, r
        return r

    def now(self) -> int:
        """Chain time, s: anvil stamps new blocks with the wall clock."""
        return max(int(self.w3.eth.get_block("latest")["timestamp"]), int(time.time()))

    def cost(self, wh: int, price: int = PRICE) -> int:
        return wh * price // 1000

    def offer(self, seller: str, wh: int, start: int, end: int, price: int = PRICE) -> int:
        r = self._wait(
            self.c.functions.postOffer(wh, price, start, end).transact(
                {"from": self.houses[seller]}
            )
        )
        return int(self.c.events.OfferPosted().process_receipt(r)[0]["args"]["offerId"])

    def buy(self, buyer: str, offer_id: int, wh: int, price: int = PRICE) -> int:
        r = self._wait(
            self.c.functions.buy(offer_id, wh).transact(
                {"from": self.houses[buyer], "value": self.cost(wh, price), "gas": 300_000}
            )
        )
        return int(self.c.events.TradeCreated().process_receipt(r)[0]["args"]["tradeId"])

    def request(self, buyer: str, wh: int, start: int, end: int, price: int = PRICE) -> int:
        r = self._wait(
            self.c.functions.postRequest(wh, price, start, end).transact(
                {"from": self.houses[buyer], "value": self.cost(wh, price)}
            )
        )
        return int(self.c.events.RequestPosted().process_receipt(r)[0]["args"]["requestId"])

    def fill(self, seller: str, request_id: int, wh: int) -> int:
        r = self._wait(
            self.c.functions.fill(request_id, wh).transact(
                {"from": self.houses[seller], "gas": 300_000}
            )
        )
        return int(self.c.events.TradeCreated().process_receipt(r)[0]["args"]["tradeId"])

    def trade(self, seller: str, buyer: str, wh: int, start: int, end: int) -> int:
        return self.buy(buyer, self.offer(seller, wh, start, end), wh)

    def credit(self, house: str) -> int:
        idx = self.c.functions.memberOf(self.houses[house]).call()[0]
        return int(self.c.functions.accounts(idx).call()[1])

    def reclaim(self, buyer: str, trade_id: int) -> None:
        self._wait(
            self.c.functions.reclaim(trade_id).transact(
                {"from": self.houses[buyer], "gas": 200_000}
            )
        )

    def withdraw(self, house: str) -> int:
        before = self.w3.eth.get_balance(self.houses[house])
        r = self._wait(
            self.c.functions.withdraw().transact({"from": self.houses[house], "gas": 100_000})
        )
        fee = r["gasUsed"] * r["effectiveGasPrice"]
        return int(self.w3.eth.get_balance(self.houses[house]) - before + fee)

    def confirmations(self) -> dict[int, tuple[int, int, int]]:
        """Trade id → (delivered Wh, seller paid, buyer refund), asserting one per trade."""
        logs = self.c.events.DeliveryConfirmed().get_logs(from_block=0)
        out: dict[int, tuple[int, int, int]] = {}
        for log in logs:
            tid, s = int(log["args"]["tradeId"]), int(log["args"]["settlement"])
            assert tid not in out, f"trade {tid} confirmed twice"
            out[tid] = (s & (2**32 - 1), (s >> 32) & (2**96 - 1), s >> 128)
        return out

    def is_open(self, trade_id: int) -> bool:
        return int(self.c.functions.tradeOf(trade_id).call()[2]) != 0

    # -- agents -----------------------------------------------------------------------
    def agent_rows(self, house: str) -> dict[int, tuple[str, float]]:
        """Trade id → (phase, measured Wh) from the agent's own state file."""
        path = self.tmp / f"{house}.db"
        if not path.exists():
            return {}
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT trade_id, phase, measured_wh FROM agent_deliveries")
            return {int(t): (str(p), float(w)) for t, p, w in rows}

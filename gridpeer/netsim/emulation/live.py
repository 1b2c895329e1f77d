"""The live system across the rig: real Mosquitto, the ingest and the oracle in the
broker's namespace, the chain node (anvil with the ``EnergyMarket`` contract) behind it
on the root namespace's loopback, and in each house's namespace its delivery agent
(``gridpeer delivery-agent --simulated-meter``) and its sensor node
(:mod:`gridpeer.netsim.emulation.node`). Every MQTT packet of the houses crosses the
emulated links.

Model time is the chain's time (anvil follows the wall clock): delivery windows are a few
seconds long and the agents meter constant powers (36 kW = 10 Wh/s), as in the end-to-end
tests.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.client import MarketClient
from gridpeer.chain.events import DeliveryConfirmed, Reclaimed
from gridpeer.chain.open import Chain
from gridpeer.chain.types import Schedule
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.netsim.emulation.link import LinkParams
from gridpeer.netsim.emulation.netns import in_netns
from gridpeer.netsim.emulation.relay import Relay
from gridpeer.netsim.emulation.rig import NetRig
from gridpeer.store.sqlite import SQLiteStore

MOSQUITTO = "/usr/sbin/mosquitto"
MQTT_PORT = 1883
POWER_W = 36_000.0
PRICE = 10**15  # wei per kWh
COMMUNITY = "lossy"


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``cond`` every 0.1 s; ``AssertionError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout} s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Measured:
    """What the run measured.

    Attributes:
        published: house → readings its sensor node published.
        stored: house → readings the ingest stored.
        readings: (arrival at the broker, s; delay = arrival minus the reading's
            timestamp, ms) of each reading.
        commands: (arrival at the broker, s; latency = arrival at its house minus arrival
            at the broker, ms: one QoS-1 delivery across the house's link) of each
            delivery command.
        commands_missing: commands that reached the broker but not their house.
        arrivals: ``"<house>/<trade>/<direction>"`` → first arrival of that command at
            its house, wall s.
    """

    published: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    readings: list[tuple[float, float]] = field(default_factory=list)
    commands: list[tuple[float, float]] = field(default_factory=list)
    commands_missing: int = 0
    arrivals: dict[str, float] = field(default_factory=dict)

    @property
    def reading_delay_ms(self) -> list[float]:
        """Every reading's delay to the broker, ms."""
        return [d for _, d in self.readings]

    @property
    def command_ms(self) -> list[float]:
        """Every delivery command's latency across its link, ms."""
        return [d for _, d in self.commands]

    def reading_delays_between(self, t0: float, t1: float) -> list[float]:
        """Delays (ms) of the readings that arrived in [t0, t1) (wall s)."""
        return [d for t, d in self.readings if t0 <= t < t1]

    def command_ms_between(self, t0: float, t1: float) -> list[float]:
        """Latencies (ms) of the commands the broker saw in [t0, t1) (wall s)."""
        return [d for t, d in self.commands if t0 <= t < t1]

    @property
    def readings_lost(self) -> int:
        """Readings published but never stored (over every house)."""
        return sum(max(p - self.stored.get(h, 0), 0) for h, p in self.published.items())


class LiveCommunity:
    """The live system for houses ``h1..hn`` over a :class:`NetRig`; a context manager.

    Args:
        tmp: folder for logs, state files and the measurements.
        n: houses.
        params: the initial link of every house.
        grace_s: the contract's grace (s); the oracle decides at half of it.
        powers: house → simulated meter power, W (default :data:`POWER_W`).
        seed: the link emulator's seed.
        tcp_nodelay: Mosquitto's ``set_tcp_nodelay`` (off by default, as in Mosquitto:
            Nagle's algorithm then holds a small message while an earlier one is
            unacknowledged, one round trip).
        engine, tech, spacing_m: the rig's link engine (:class:`NetRig`).
    """

    def __init__(
        self,
        tmp: Path,
        n: int,
        params: LinkParams | None = None,
        grace_s: int = 8,
        powers: dict[str, float] | None = None,
        seed: int = 1,
        tcp_nodelay: bool = False,
        engine: str = "userspace",
        tech: str = "802.11g",
        spacing_m: float = 30.0,
    ) -> None:
        self.tmp = tmp
        self.tcp_nodelay = tcp_nodelay
        self.n = n
        self.names = [f"h{i + 1}" for i in range(n)]
        self.grace_s = grace_s
        self.powers = powers or {}
        self.rig = NetRig(
            self.names, params, seed, engine, tech, spacing_m, log=tmp / "ns3link.log"
        )
        self.anvil = AnvilNode(_free_port(), log=tmp / "anvil.log", accounts=12)
        self.relay: Relay | None = None
        self.market: MarketClient
        self.chain: Chain
        self.keys: dict[str, object] = {}
        self.houses: dict[str, str] = {}
        self._nodes: dict[str, subprocess.Popen[bytes]] = {}
        self._tap: subprocess.Popen[bytes] | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._mosquitto: subprocess.Popen[bytes] | None = None
        self.measured: Measured | None = None

    # -- lifecycle --------------------------------------------------------------------
    def __enter__(self) -> LiveCommunity:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def _ready(self, name: str, count: int = 1) -> bool:
        log = self._log(name)
        return log.exists() and log.read_bytes().count(b" ready") >= count

    def start(self) -> None:
        """Namespaces, broker, chain, oracle, ingest, agents and sensor nodes; returns once
        every process says it is connected."""
        self.rig.__enter__()
        b = self.rig.broker_ns
        mosq = self.tmp / "mosq"
        mosq.mkdir(parents=True, exist_ok=True)
        conf = mosq / "mosquitto.conf"
        conf.write_text(
            f"listener {MQTT_PORT} 0.0.0.0\nallow_anonymous true\npersistence true\n"
            f"persistence_location {mosq}/\nautosave_interval 1\nautosave_on_changes true\n"
            "max_queued_messages 0\nlog_dest stderr\nlog_type error\nuser root\n"
            + ("set_tcp_nodelay true\n" if self.tcp_nodelay else "")
        )
        self._mosquitto = self.rig.popen(b, [MOSQUITTO, "-c", str(conf)], self._log("mosquitto"))
        wait_for(lambda: in_netns(b, lambda: _listening(MQTT_PORT)), 15, "mosquitto listening")
        self.anvil.start()
        self.relay = Relay(b, self.anvil.port, self.anvil.port)
        self.chain = Chain(Web3Backend.rpc(self.anvil.url))
        self.market = self.chain.deploy_market(self.grace_s)
        self.keys = dict(zip(self.names, self.chain.houses(self.n, self.market), strict=True))
        self.houses = {h: k.address for h, k in self.keys.items()}  # type: ignore[attr-defined]
        self.market.set_schedule(self.chain.admin, Schedule("open"))
        py = [sys.executable, "-m"]
        self._procs.append(
            self.rig.popen(
                b,
                [
                    *py,
                    "gridpeer.oracle",
                    "--rpc",
                    self.anvil.url,
                    "--contract",
                    self.market.address,
                    "--dev-keys",
                    str(self.n),
                    "--state",
                    f"sqlite:///{self.tmp}/oracle.db",
                    "--port",
                    str(MQTT_PORT),
                    "--community",
                    COMMUNITY,
                    "--lead",
                    "60",
                    "--grace",
                    str(self.grace_s / 2),
                    "--settle-margin",
                    str(self.grace_s / 4),
                ],
                self._log("oracle"),
            )
        )
        self._tap = self.rig.popen(
            b,
            [
                *py,
                "gridpeer.netsim.emulation.tap",
                "--houses",
                ",".join(self.names),
                "--community",
                COMMUNITY,
                "--store",
                str(self.tmp / "ingest.db"),
                "--out",
                str(self.tmp / "tap.json"),
            ],
            self._log("tap"),
        )
        # the ingest subscribes before any node publishes: a reading published while no
        # session is subscribed is dropped by the broker (no subscriber, not retained) —
        # the first readings of the fastest house went missing that way
        wait_for(lambda: self._ready("tap"), 90, "tap ready")
        for h in self.names:
            ns = self.rig.house_ns[h]
            p = str(self.powers.get(h, POWER_W))
            agent = [
                *py,
                "gridpeer.cli",
                "delivery-agent",
                "--community",
                COMMUNITY,
                "--house",
                h,
                "--host",
                self.rig.broker_ip,
                "--port",
                str(MQTT_PORT),
                "--state",
                str(self.tmp / f"{h}.db"),
                "--simulated-meter",
                "--out-w",
                p,
                "--in-w",
                p,
            ]
            self._procs.append(self.rig.popen(ns, agent, self._log(f"agent-{h}")))
            node = [
                *py,
                "gridpeer.netsim.emulation.node",
                "--house",
                h,
                "--community",
                COMMUNITY,
                "--host",
                self.rig.broker_ip,
                "--out",
                str(self.tmp / f"node-{h}.json"),
            ]
            self._nodes[h] = self.rig.popen(ns, node, self._log(f"node-{h}"))
        names = ["oracle", *(f"agent-{h}" for h in self.names)]
        names += [f"node-{h}" for h in self.names]
        for name in names:
            wait_for(lambda n=name: self._ready(n), 90, f"{name} ready")  # type: ignore[misc]

    def finish(self) -> Measured:
        """Stop the sensor nodes (each waits for its last acks), then the ingest; collect
        the measurements. The chain, broker, oracle and agents keep running."""
        if self.measured is not None:
            return self.measured
        for proc in self._nodes.values():
            proc.terminate()
        for proc in self._nodes.values():
            proc.wait(180)
        counts = {h: json.loads((self.tmp / f"node-{h}.json").read_text()) for h in self.names}

        def stored_all() -> bool:  # the broker has them all: wait for the ingest's batches
            store = SQLiteStore(self.tmp / "ingest.db")
            try:
                return all(store.count(h) >= counts[h]["published"] for h in self.names)
            finally:
                store.close()

        with contextlib.suppress(AssertionError):  # what is missing then counts as lost
            wait_for(stored_all, 60, "every acknowledged reading stored")
        assert self._tap is not None
        self._tap.terminate()
        self._tap.wait(30)
        m = Measured()
        tap = json.loads((self.tmp / "tap.json").read_text())
        m.readings = [(float(t), float(d)) for t, d in tap["readings"]]
        store = SQLiteStore(self.tmp / "ingest.db")
        try:
            for h in self.names:
                node = json.loads((self.tmp / f"node-{h}.json").read_text())
                m.published[h] = int(node["published"])
                m.stored[h] = store.count(h)
                for key, at_broker in tap["commands"].items():
                    house, rest = key.split("/", 1)
                    if house != h:
                        continue
                    at_house = node["commands"].get(rest)
                    if at_house is None:
                        m.commands_missing += 1
                    else:
                        m.arrivals[key] = float(at_house)
                        ms = (float(at_house) - float(at_broker)) * 1000.0
                        m.commands.append((float(at_broker), ms))
        finally:
            store.close()
        self.measured = m
        return m

    def close(self) -> None:
        """Stop everything and remove the namespaces. Idempotent."""
        self.rig.close()  # terminates every child still running (nodes, ingest, agents…)
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        self.anvil.stop()

    # -- chain ------------------------------------------------------------------------
    def now(self) -> int:
        """Chain time, s (anvil stamps new blocks with the wall clock)."""
        return max(self.market.now(), int(time.time()))

    def trade(self, seller: str, buyer: str, wh: int, start: int, end: int) -> int:
        """Seller offers ``wh`` Wh for window [start, end] (s), buyer buys it; trade id."""
        oid = self.market.post_offer(self.keys[seller], wh, PRICE, start, end)  # type: ignore[arg-type]
        return self.market.buy(self.keys[buyer], oid, wh)  # type: ignore[arg-type]

    def credit(self, house: str) -> int:
        """House's withdrawable credit, wei."""
        return self.market.credit(self.houses[house])

    def reclaim(self, buyer: str, trade_id: int) -> None:
        self.market.reclaim(self.keys[buyer], trade_id)  # type: ignore[arg-type]

    def is_open(self, trade_id: int) -> bool:
        return self.market.trade(trade_id) is not None

    def confirmations(self) -> dict[int, tuple[int, int, int]]:
        """Trade id → (delivered Wh, seller paid wei, buyer refund wei)."""
        out: dict[int, tuple[int, int, int]] = {}
        for ev in self.market.events(0):
            if isinstance(ev, DeliveryConfirmed):
                assert ev.trade_id not in out, f"trade {ev.trade_id} confirmed twice"
                out[ev.trade_id] = (ev.delivered_wh, ev.seller_paid, ev.buyer_refund)
        return out

    def reclaimed(self) -> dict[int, int]:
        """Trade id → wei refunded by a buyer's reclaim."""
        return {e.trade_id: e.refund for e in self.market.events(0) if isinstance(e, Reclaimed)}

    def agent_rows(self, house: str) -> dict[int, tuple[str, float]]:
        """Trade id → (phase, measured Wh) from the house agent's own state file."""
        path = self.tmp / f"{house}.db"
        if not path.exists():
            return {}
        try:
            with sqlite3.connect(path) as conn:
                rows = conn.execute("SELECT trade_id, phase, measured_wh FROM agent_deliveries")
                return {int(t): (str(p), float(w)) for t, p, w in rows}
        except sqlite3.OperationalError:
            return {}

"""A community run by ``gridpeer serve`` on real services, for fault tests and the soak
benchmark: a PostgreSQL server, Mosquitto (persistent), anvil (state dumped every second,
so a kill -9 loses at most the last second), the market contract, ``serve`` with the
oracle, one ``delivery-agent`` per house, and a sensor that publishes every house's meter
readings at QoS 1. Every part can be ``kill -9``-ed and restarted on the same port and data.

At ``speed`` 1 model time is the chain's time (anvil follows the wall clock), so windows
are seconds long and agents meter large constant powers (7.2 kW = 2 Wh/s). At a higher
``speed`` every process runs on one accelerated model clock (``serve --speed
--clock-start --clock-wall0``, the same options for the agents, the sensor's timestamps,
and anvil's time pushed along by serve's chain clock): every timing below is still given
in wall seconds and scaled by ``speed``, and the agents meter ``7200 / speed`` W (still
2 Wh per wall second).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psutil  # type: ignore[import-untyped]

from gridpeer.chain.accounts import dev_account
from gridpeer.chain.anvil import anvil_binary, rpc
from gridpeer.chain.client import MarketClient
from gridpeer.chain.events import DeliveryConfirmed, DisputeOpened, Reclaimed
from gridpeer.chain.open import Chain
from gridpeer.chain.types import Schedule
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.core.clock import Clock, epoch_clock
from gridpeer.telemetry.schemas import Device
from gridpeer.telemetry.topics import reading_topic
from tests.e2e.procs import Child, Mosquitto
from tests.services.ports import free_port
from tests.services.postgres import PgServer

COMMUNITY = "faults"
PRICE = 10**15  # wei per kWh
POWER_W = 7200.0  # 2 Wh/s


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except Exception:  # a dependency still coming back
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout} s")


class StatefulAnvil:
    """anvil on a fixed port whose state (blocks, logs, balances) is dumped to a file every
    second and loaded on start: a kill -9 loses at most the last second of blocks."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.state = folder / "anvil-state.json"
        self.log = folder / "anvil.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--hardfork", "shanghai", "--accounts", "4", "--silent"]
        cmd += ["--state", str(self.state), "--state-interval", "1"]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: rpc(self.url, "eth_chainId") is not None, 30, "anvil up")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def snapshot(self) -> bytes:
        """The node's whole state now (``anvil_dumpState``), for :meth:`restart_from`."""
        got = rpc(self.url, "anvil_dumpState")
        assert isinstance(got, str)
        raw = bytes.fromhex(got.removeprefix("0x"))
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw

    def restart_from(self, state: bytes) -> None:
        """``kill -9`` the node and start it again from an older ``state``: it has lost
        every block (and transaction) since, as a node that saved its state late."""
        self.kill9()
        self.state.write_bytes(state)
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def kill9_postgres(pg: PgServer) -> None:
    """SIGKILL the postmaster and every backend (a crash; the next start recovers)."""
    pid = int((pg.data / "postmaster.pid").read_text().split()[0])
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    for p in procs:
        p.kill()
    psutil.wait_procs(procs, timeout=10)


@dataclass
class Sensor:
    """Publishes one meter reading per house every ``period_s`` at QoS 1 on a persistent
    session; remembers which the broker acknowledged (those must be stored exactly once)."""

    port: int
    houses: list[str]
    period_s: float = 0.2
    clock: Clock | None = None  # the readings' timestamps (model time); wall time if None
    acked: set[tuple[str, int]] = field(default_factory=set)  # (house, ts ms)
    sent: int = 0
    _pending: dict[int, tuple[str, int]] = field(default_factory=dict)
    _early: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,  # type: ignore[attr-defined]
            client_id=f"{COMMUNITY}-sensor",
            clean_session=False,
        )
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(1, 1)
        c.on_publish = self._on_publish
        c.connect("127.0.0.1", self.port)
        c.loop_start()
        self.client = c
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _on_publish(self, client: object, userdata: object, mid: int, *rest: object) -> None:
        # paho's network thread, holding paho's own locks: never call the client from here
        with self._lock:
            key = self._pending.pop(mid, None)
            if key is None:
                self._early.add(mid)  # acknowledged before publish() returned its mid
            else:
                self.acked.add(key)

    def _run(self) -> None:
        e_wh = 0
        while not self._stop.wait(self.period_s):
            ts_ms = int((self.clock.timestamp() if self.clock else time.time()) * 1000)
            e_wh += 1
            for h in self.houses:
                ts = datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat()
                body = f'{{"ts":"{ts}","v":230.0,"i":1.0,"p":230.0,"e_wh":{e_wh}}}'
                info = self.client.publish(reading_topic(COMMUNITY, h, Device.METER), body, qos=1)
                with self._lock:
                    self.sent += 1
                    if info.mid in self._early:
                        self._early.discard(info.mid)
                        self.acked.add((h, ts_ms))
                    else:
                        self._pending[info.mid] = (h, ts_ms)

    def snapshot(self) -> set[tuple[str, int]]:
        """(house, ts ms) of every reading acknowledged so far."""
        with self._lock:
            return set(self.acked)

    def stop(self, drain_s: float = 30.0) -> None:
        """Stop publishing and wait (up to ``drain_s``) for the broker to ack the rest."""
        self._stop.set()
        self.thread.join(5)
        wait_for(
            lambda: not self._pending,
            drain_s,
            f"every reading acknowledged ({len(self._pending)} of {self.sent} pending, "
            f"connected: {self.client.is_connected()})",
        )
        self.client.loop_stop()
        self.client.disconnect()


class ServeCommunity:
    """The services, the market and ``n`` houses h1..hn run by ``gridpeer serve``."""

    def __init__(
        self,
        tmp: Path,
        n: int = 2,
        grace_s: int = 40,
        speed: float = 1.0,
        sensor_period_s: float = 0.2,
    ) -> None:
        import psycopg

        self.tmp = tmp
        self.speed = speed
        wall0 = time.time()
        self.clock = epoch_clock(datetime.fromtimestamp(wall0, UTC), speed, wall0)
        at = ["--clock-start", self.clock.start.isoformat(), "--clock-wall0", repr(wall0)]
        self.clock_args = [] if speed == 1.0 else ["--speed", repr(speed), *at]
        grace_s = int(grace_s * speed)  # model s from here on
        self.pg = PgServer(durable=True)
        with psycopg.connect(f"{self.pg.url}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE gridpeer")
        self.store_url = f"{self.pg.url}/gridpeer"
        self.broker = Mosquitto(tmp / "mosq", free_port())
        self.broker.start()
        self.anvil = StatefulAnvil(tmp)
        self.anvil.start()
        self.chain = Chain(Web3Backend.rpc(self.anvil.url))
        self.market: MarketClient = self.chain.deploy_market(grace_s)
        self.keys = {f"h{i + 1}": k for i, k in enumerate(self.chain.houses(n, self.market))}
        self.market.set_schedule(self.chain.admin, Schedule("open"))
        self.grace_s = grace_s
        self.web_port = free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        cfg = tmp / "community.toml"
        cfg.write_text(self._config())
        serve_args = ["serve", "--config", str(cfg), *self.clock_args]
        self.serve = Child("gridpeer.cli", serve_args, tmp / "serve.log")
        self.agents = {h: self._agent(h) for h in self.keys}
        clock = self.clock if speed != 1.0 else None
        self.sensor = Sensor(self.broker.port, list(self.keys), sensor_period_s, clock=clock)
        self.trades: dict[int, tuple[str, str, int, int]] = {}  # id → seller, buyer, Wh, end
        self._closed: set[int] = set()  # trades seen closed on chain (until the node goes back)

    def _config(self) -> str:
        accounts = "".join(
            f'[[accounts]]\nid = "{h}"\naddress = "{k.address}"\n' for h, k in self.keys.items()
        )
        oracle_key = dev_account("oracle").key.hex()
        return f"""community = "{COMMUNITY}"
store_url = "{self.store_url}"
[web]
port = {self.web_port}
session_secret = "k3Jd9Qm2xT7vL1pW8zR4nB6yC0fH5sG-aE_uI2oP9tVq"
[mqtt]
embedded = false
port = {self.broker.port}
[chain]
rpc_url = "{self.anvil.url}"
contract_address = "{self.market.address}"
operator_key = "{oracle_key}"
tx_replace_after_s = 5.0
[oracle]
lead_s = {60.0 * self.speed}
result_grace_s = {self.grace_s / 2}
settle_margin_s = {self.grace_s / 4}
{accounts}"""

    def _agent(self, house: str) -> Child:
        args = ["delivery-agent", "--community", COMMUNITY, "--house", house]
        args += ["--port", str(self.broker.port), "--state", str(self.tmp / f"{house}.db")]
        power = str(POWER_W / self.speed)
        args += ["--simulated-meter", "--out-w", power, "--in-w", power, *self.clock_args]
        return Child("gridpeer.cli", args, self.tmp / f"{house}.log")

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> None:
        self.serve.start()
        for a in self.agents.values():
            a.start()
        self.wait_ready(120)
        for a in self.agents.values():
            wait_for(a.ready, 60, f"agent {a.args[4]} ready")
        self.sensor.start()

    def ready(self) -> bool:
        try:
            return httpx.get(self.base + "/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Wait until ``/readyz`` answers 200; returns the wall seconds it took."""
        t0 = time.monotonic()
        wait_for(self.ready, timeout, "serve ready")
        return time.monotonic() - t0

    def stop(self) -> None:
        for c in (*self.agents.values(), self.serve):
            c.stop()
        for stop in (self.anvil.stop, self.broker.stop, self.pg.remove):
            with contextlib.suppress(Exception):
                stop()

    # -- faults -----------------------------------------------------------------------
    def fault(self, what: str, down_s: float = 1.0) -> float:
        """``kill -9`` one part, restart it after ``down_s``; returns the wall seconds from
        its restart until the web app is ready again."""
        if what == "postgres":
            kill9_postgres(self.pg)
            time.sleep(down_s)
            self.pg.start()
        elif what == "mosquitto":
            assert self.broker.proc is not None
            os.kill(self.broker.proc.pid, signal.SIGKILL)
            self.broker.proc.wait(10)
            time.sleep(down_s)
            self.broker.start()
        elif what == "anvil":
            time.sleep(1.2)  # the test's own transactions are in the last state dump
            self.anvil.kill9()
            time.sleep(down_s)
            self.anvil.start()
            self.chain.backend.close()  # re-read nonces: the node may have lost a second
            self._closed.clear()
        elif what == "serve":
            self.serve.kill9()
            time.sleep(down_s)
            self.serve.start()
        elif what == "agent":
            house = next(iter(self.agents))
            self.agents[house].kill9()
            time.sleep(down_s)
            self.agents[house].start()
        else:
            raise ValueError(what)
        return self.wait_ready(60)

    # -- trading ----------------------------------------------------------------------
    def now(self) -> int:
        """Model time, POSIX s (never behind the chain's)."""
        return max(self.market.now(), int(self.clock.timestamp()))

    def trade(self, seller: str, buyer: str, wh: int, lead_s: int = 4, span_s: int = 8) -> int:
        """A trade whose window opens ``lead_s`` and lasts ``span_s`` wall seconds."""
        start = self.now() + int(lead_s * self.speed)
        end = start + int(span_s * self.speed)
        oid = self.market.post_offer(self.keys[seller], wh, PRICE, start, end)
        tid = self.market.buy(self.keys[buyer], oid, wh)
        self.trades[tid] = (seller, buyer, wh, end)
        return tid

    def delivering(self, tid: int) -> bool:
        """True while the seller's agent has its relay closed for ``tid``."""
        import sqlite3

        path = self.tmp / f"{self.trades[tid][0]}.db"
        with sqlite3.connect(path) as conn:
            row = conn.execute(
                "SELECT phase FROM agent_deliveries WHERE trade_id = ?", (tid,)
            ).fetchone()
        return row is not None and row[0] == "closed"

    def open_trades(self) -> set[int]:
        """Trades still open on chain (those once seen closed are not asked again)."""
        out = set()
        for t in set(self.trades) - self._closed:
            if self.market.trade(t) is None:
                self._closed.add(t)
            else:
                out.add(t)
        return out

    def node_back_from(self, state: bytes) -> None:
        """anvil ``kill -9``-ed and restarted from an older ``state`` (see
        :meth:`StatefulAnvil.restart_from`): our nonces and closed trades are read again."""
        self.anvil.restart_from(state)
        self.chain.backend.close()
        self._closed.clear()

    def settle_all(self, timeout: float = 120.0) -> None:
        """Wait until every trade is confirmed or disputed; resolve the disputes as the
        admin (for the seller's reading, capped by the contract)."""

        def done() -> bool:
            return not (self.open_trades() - set(self.disputes()))

        wait_for(done, timeout, "every trade settled or disputed")
        for tid, (seller_wh, _) in self.disputes().items():
            if self.market.trade(tid) is not None:
                wh = min(seller_wh, self.trades[tid][2])
                self.market.resolve_dispute(self.chain.admin, tid, wh)

    # -- invariants -------------------------------------------------------------------
    def confirmations(self) -> dict[int, list[int]]:
        """Trade id → delivered Wh of each of its confirmations (one expected)."""
        out: dict[int, list[int]] = {}
        for ev in self.market.events(0):
            if isinstance(ev, DeliveryConfirmed):
                out.setdefault(ev.trade_id, []).append(ev.delivered_wh)
        return out

    def reclaims(self) -> set[int]:
        return {ev.trade_id for ev in self.market.events(0) if isinstance(ev, Reclaimed)}

    def disputes(self) -> dict[int, tuple[int, int]]:
        return {
            ev.trade_id: (ev.seller_wh, ev.buyer_wh)
            for ev in self.market.events(0)
            if isinstance(ev, DisputeOpened)
        }

    def stored_readings(self) -> list[tuple[str, int]]:
        import psycopg

        with psycopg.connect(self.store_url) as conn:
            rows = conn.execute(
                "SELECT house, ts_ms FROM samples WHERE device = 'meter'"
            ).fetchall()
        return [(str(h), int(t)) for h, t in rows]

    def report(self) -> dict[str, int]:
        """The soak's figures: readings lost/doubled, trades, settled twice, stuck (open
        past their reclaim time), money drift (contract balance − credits − escrow)."""
        stored = self.stored_readings()
        conf = self.confirmations()
        now = self.now()
        still = self.open_trades()
        open_ = {t: self.market.trade(t) for t in still}
        escrow = sum(t.escrow for t in open_.values() if t is not None)
        credits = sum(self.market.credit(k.address) for k in self.keys.values())
        return {
            "readings_lost": len(self.sensor.acked - set(stored)),
            "readings_doubled": len(stored) - len(set(stored)),
            "trades": len(self.trades),
            "settled_twice": sum(1 for v in conf.values() if len(v) > 1)
            + len(set(conf) & self.reclaims()),
            "stuck": sum(
                1
                for tid, t in open_.items()
                if t is not None and now > self.trades[tid][3] + self.grace_s
            ),
            "money_drift_wei": self.market.balance() - credits - escrow,
        }

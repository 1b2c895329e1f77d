"""``gridpeer demo --strategy mpc``: the demo's own services (store, seeded history,
embedded broker, sensor nodes and home agents, embedded chain, trading agents; not the
web process nor the oracle) with every home agent running MPC. The houses forecast from
their own stored readings, schedule their batteries with HiGHS, and post what their
schedules buy and sell for the day's second delivery window (16:30-17:30 local = 20:30
UTC, the evening); the batteries follow their set points and stay within their limits.
The lab's EV house (h3) sends its charger's readings over MQTT into the store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from gridpeer.core.settings import Settings
from gridpeer.devices.scheduled import SLOT_S, ScheduledHouse
from gridpeer.hems.trading_mpc import MpcHouse
from gridpeer.runtime import services
from gridpeer.runtime.composition import Composition, Parts
from gridpeer.runtime.demo import demo_clock, demo_houses
from gridpeer.store.factory import open_store

SPEED = 480.0  # a model hour in 7.5 wall seconds
START_HOUR = 18.0  # 14:00 local: bidding for 16:30-17:30 (20:30 UTC) opens
WINDOW_HOUR = 20.5
UNTIL_HOUR = 20.75  # the window has started: its orders are final


def composition() -> Composition:
    comp = Composition()
    comp.add("store", services.store)
    comp.add("history", services.seed_history)
    comp.add("broker", services.embedded_broker)
    comp.add("monitoring", services.monitoring)
    comp.add("chain", services.chain)
    comp.add("trading", services.trading)
    return comp


async def test_mpc_houses_post_their_schedules_and_batteries_stay_in_limits(
    tmp_path: Path,
) -> None:
    settings = Settings(speed=SPEED, houses=5, data_dir=tmp_path, market={"strategy": "mpc"})
    first = demo_clock(1.0, START_HOUR).start.date() - timedelta(days=1)  # a day of history
    infos, traces = await asyncio.to_thread(demo_houses, settings, first)
    clock = demo_clock(SPEED, START_HOUR)  # starts once the houses are simulated
    flex = {t.house: t for t in traces if isinstance(t, ScheduledHouse)}
    batteries = {h: t for h, t in flex.items() if t.battery is not None}
    assert sorted(batteries) == ["h1", "h2"]  # the lab's PV + battery houses
    assert [h for h, t in flex.items() if t.ev is not None] == ["h3"]  # and its EV house
    parts = Parts(settings=settings, clock=clock, data_dir=tmp_path, houses=infos, traces=traces)
    window_start = int(clock.start.timestamp()) + round((WINDOW_HOUR - START_HOUR) * 3600)
    window = (window_start, window_start + 3600)
    until = window_start + round((UNTIL_HOUR - WINDOW_HOUR) * 3600)
    run = asyncio.create_task(composition().run(parts))
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and clock.timestamp() < until:
            await asyncio.sleep(1.0)
            assert not run.done(), run.exception()
        assert clock.timestamp() >= until, "the demo did not reach the window in time"
        parts.stop.set()  # the plans and set points are final
        await asyncio.wait_for(run, 60)
        assert parts.trading is not None and parts.hub is not None and parts.store is not None
        agents = {h: getattr(a.strategy, "__self__", None) for h, a in parts.trading.items()}
        assert all(isinstance(m, MpcHouse) for m in agents.values())
        mpc: dict[str, MpcHouse] = {h: m for h, m in agents.items() if isinstance(m, MpcHouse)}
        with parts.hub.lock:
            orders = list(parts.hub.orders.values())
        owner = {k.address.lower(): h for h, k in parts.hub.demo_keys.items()}
        decided: dict[tuple[str, str], int] = {}
        for house, m in mpc.items():
            assert m.forecaster.known >= 96  # a day and more of its own stored readings
            for w, made, intents in m.posted:
                sell, buy = made.window_wh(w)  # what the plan trades in the window ...
                want = {s: wh for s, wh in (("sell", sell), ("buy", buy)) if wh >= 10}
                assert {i.side: i.energy_wh for i in intents} == want  # ... is what it orders
                for i in intents:
                    if w == window:
                        key = (house, "offer" if i.side == "sell" else "request")
                        decided[key] = max(decided.get(key, 0), i.energy_wh)
        assert any(m.posted for m in mpc.values())
        assert any(h in batteries for h, _ in decided), decided  # a battery house traded
        ours = [o for o in orders if (o.start, o.end) == window]
        assert ours, "no orders for the window"
        for o in ours:  # every order on chain stays within what its house's plan decided
            key = (owner[o.owner.lower()], o.side)
            assert o.remaining_wh <= decided[key], (key, o)
        # the batteries follow their set points, up to the end of their plans (tonight),
        # and stay within their limits
        for house, trace in batteries.items():
            b = trace.battery
            assert b is not None
            plan = mpc[house].plan
            assert plan is not None and mpc[house].solves > 0
            for ts, watts in plan.set_points().items():  # the last plan's set points are set
                assert trace.point(ts) == watts
            t0 = int(clock.start.timestamp()) // SLOT_S * SLOT_S
            span = trace.span(t0, plan.end)
            assert np.all(span.soc >= b.soc_min - 1e-9) and np.all(span.soc <= b.soc_max + 1e-9)
            assert np.all(span.bess_w <= b.max_discharge_w + 1e-9)
            assert np.all(-span.bess_w <= b.max_charge_w + 1e-9)
            moved = 0
            followed = 0  # each step runs at its slot's set point unless the SoC is at a limit
            per = SLOT_S // span.step_s
            for k in range(len(span) // per):
                sp = trace.point(t0 + k * SLOT_S)
                if sp is None:
                    continue
                got = span.bess_w[k * per : (k + 1) * per]
                soc = span.soc[k * per : (k + 1) * per]
                full = (sp < 0) & (soc >= b.soc_max - 1e-6)
                empty = (sp > 0) & (soc <= b.soc_min + 1e-6)
                assert np.all(np.isclose(got, sp, atol=1e-6) | full | empty), (k, sp, got, soc)
                followed += 1
                moved += int(np.any(np.abs(got) > 100.0))
            assert followed > 90 and moved > 0, (followed, moved)
            # the readings the house's BESS sent stayed within the limits too
            t1 = clock.start + timedelta(minutes=15)
            with contextlib.closing(open_store(str(parts.store_url))) as store:
                stored = store.history(house, "bess", t1, clock.now())
            socs = [x.soc for x in stored if x.soc is not None]
            assert socs and b.soc_min - 1e-3 <= min(socs) <= max(socs) <= b.soc_max + 1e-3
        # the EV house (h3) scheduled its car: the charger follows the set points while
        # the car is home (never beyond its power, never above full), and the car is
        # ready at its next departure as the plan requires (within one slot's charge:
        # the slot in progress at the last plan ran on the plan before)
        car, ev = flex["h3"], flex["h3"].ev
        plan = mpc["h3"].plan
        assert ev is not None and plan is not None and plan.ev_w is not None
        assert mpc["h3"].car is car and mpc["h3"].solves > 0
        for ts, watts in plan.ev_points().items():
            assert car.ev_point(ts) == watts
        t0 = int(clock.start.timestamp()) // SLOT_S * SLOT_S
        span = car.span(t0, plan.end)
        assert span.ev_w is not None and span.ev_soc is not None
        per = SLOT_S // span.step_s
        slot_w, slot_soc = span.ev_w[::per], span.ev_soc[::per]
        assert np.all((slot_w >= 0.0) & (slot_w <= ev.charger_w + 1e-9))
        assert np.all((slot_soc >= 0.0) & (slot_soc <= 1.0 + 1e-12))
        np.testing.assert_allclose(span.load_w, span.pv_w + span.bess_w + span.grid_w)
        for k in range(len(slot_w)):
            slot = t0 // SLOT_S + k
            day = datetime.fromtimestamp(slot * SLOT_S, UTC).date()
            sp = car.ev_point(slot * SLOT_S)
            if not car.sessions(day).home[0, slot % 96]:
                assert slot_w[k] == 0.0  # away
            elif sp is not None and slot_soc[k] < 0.999:
                assert slot_w[k] == pytest.approx(sp, abs=1e-6)
        planned = slot_soc[(plan.start - t0) // SLOT_S :]
        assert plan.ev_soc is not None and planned.size == plan.ev_soc.size
        assert np.all(np.abs(planned - plan.ev_soc) <= 0.05)  # the car's day goes as planned
        # the EV house (h3) reported its charger over MQTT like the other devices
        with contextlib.closing(open_store(str(parts.store_url))) as store:
            t1 = clock.start + timedelta(minutes=15)
            sent = {x.start: x for x in store.history("h3", "ev", t1, clock.now())}
            meter = {x.start: x for x in store.history("h3", "meter", t1, clock.now())}
        assert sent and set(sent) <= set(meter)
        for at, x in sent.items():  # the car's charging is part of the house's load
            assert x.soc is not None and 0.0 <= x.soc <= 1.0
            assert x.p is not None and 0.0 <= x.p <= 7_400.0 + 1e-6
            assert x.p <= (meter[at].p or 0.0) + 1e-3
    finally:
        parts.stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(run, 60)


def test_cli_offers_the_strategy_and_refuses_an_unknown_one() -> None:
    from typer.testing import CliRunner

    from gridpeer.cli import app

    shown = CliRunner().invoke(app, ["demo", "--help"])
    assert shown.exit_code == 0 and "--strategy" in shown.output
    bad = CliRunner().invoke(app, ["demo", "--port", "0", "--strategy", "greedy"])
    assert bad.exit_code == 2 and "strategy" in bad.output, bad.output
    assert Settings().market.strategy == "rule"  # rule-based stays the default

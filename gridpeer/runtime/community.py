"""The demo community: the thesis lab's five houses (repeated for larger demos), their
display info and their simulated power flows (devices/profiles layers) for every day of
a run, each day simulated when it is first needed (:func:`house_days`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta

from gridpeer.devices.ev import EvSpec
from gridpeer.devices.house import HouseConfig, house_seed, simulate_house, thesis_lab_houses
from gridpeer.devices.scheduled import ScheduledHouse
from gridpeer.devices.trace import DailyTraces, DaySimulator, HouseTrace
from gridpeer.web.models import HouseInfo, HouseKind

EV_HOUSE = 2
"""Index in the lab's mix of the house that also charges an electric car (h3: PV + EV)."""


def lab_configs(n: int) -> list[HouseConfig]:
    """``n`` houses h1..hn in the lab's mix (2 PV + battery, 1 PV with an EV, 2 consumers),
    repeated."""
    if n < 1:
        raise ValueError(f"need at least one house, got {n}")
    lab = thesis_lab_houses()
    lab[EV_HOUSE] = dataclasses.replace(lab[EV_HOUSE], ev=EvSpec())
    return [dataclasses.replace(lab[k % len(lab)], house=f"h{k + 1}") for k in range(n)]


def house_info(config: HouseConfig, account: str | None = None) -> HouseInfo:
    """Display info of a house: kind, PV kWp, battery kWh."""
    if config.pv is not None and config.battery is not None:
        kind = HouseKind.PV_BESS
    elif config.pv is not None:
        kind = HouseKind.PV
    else:
        kind = HouseKind.CONSUMER
    return HouseInfo(
        id=config.house,
        name=f"House {config.house.removeprefix('h')}",
        kind=kind,
        pv_kwp=config.pv.kwp if config.pv else 0.0,
        bess_kwh=config.battery.capacity_wh / 1000.0 if config.battery else 0.0,
        ev_kwh=config.ev.capacity_wh / 1000.0 if config.ev else 0.0,
        account=account,
    )


def house_days(
    configs: list[HouseConfig],
    first: date,
    seed: int = 0,
    step_s: int = 60,
    progress: Callable[[int, int], None] | None = None,
    scheduled: bool = False,
) -> list[DailyTraces | ScheduledHouse]:
    """Every house's flows day after day (W, ``step_s`` steps): day ``first`` simulated now,
    each later day on first use. Weather depends on (``seed``, date), loads on (``seed``,
    house, date), so every day differs and a run is reproducible; the battery's SoC
    carries over midnight. The load bank is cached on disk (``~/.cache/gridpeer``).
    With ``scheduled``, a house's battery and car follow its home agent's set points
    instead (:class:`~gridpeer.devices.scheduled.ScheduledHouse`, for MPC agents)."""
    from gridpeer.profiles.load import default_cache_dir, richardson_bank

    bank = richardson_bank(cache_dir=default_cache_dir(), progress=progress)

    def simulator(config: HouseConfig) -> DaySimulator:
        car_end: dict[date, float] = {}  # the EV's SoC at the end of each day simulated

        def simulate(day: date, soc0: float | None) -> HouseTrace:
            c = config
            if soc0 is not None and c.battery is not None:
                b = c.battery
                soc = min(max(soc0, b.soc_min), b.soc_max)
                c = dataclasses.replace(c, battery=dataclasses.replace(b, soc_initial=soc))
            car = car_end.get(day - timedelta(days=1))  # days run in order: the car carries
            trace = simulate_house(c, day, step_s=step_s, seed=seed, bank=bank, ev_soc=car)
            if trace.ev_soc is not None:
                car_end[day] = float(trace.ev_soc[-1])
            return trace

        return simulate

    days: list[DailyTraces | ScheduledHouse] = []
    for c in configs:
        if scheduled and (c.battery is not None or c.ev is not None):
            bare = simulator(dataclasses.replace(c, battery=None, ev=None))
            base = DailyTraces(c.house, first, bare, step_s)
            hs = house_seed(seed, c.house)
            days.append(ScheduledHouse(base, c.battery, c.ev, hs, c.site.utc_offset_h))
        else:
            days.append(DailyTraces(c.house, first, simulator(c), step_s))
    for d in days:
        d.period(0)
    return days

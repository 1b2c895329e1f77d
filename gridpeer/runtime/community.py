"""The demo community: the thesis lab's five houses (repeated for larger demos), their
display info and one simulated day of their power flows (devices/profiles layers)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date

from gridpeer.devices.house import HouseConfig, simulate_house, thesis_lab_houses
from gridpeer.devices.trace import HouseTrace
from gridpeer.web.models import HouseInfo, HouseKind


def lab_configs(n: int) -> list[HouseConfig]:
    """``n`` houses h1..hn in the lab's mix (2 PV + battery, 1 PV, 2 consumers), repeated."""
    if n < 1:
        raise ValueError(f"need at least one house, got {n}")
    lab = thesis_lab_houses()
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
        account=account,
    )


def simulate_day(
    configs: list[HouseConfig],
    day: date,
    step_s: int = 60,
    progress: Callable[[int, int], None] | None = None,
) -> list[HouseTrace]:
    """One UTC day of every house's flows (W) at ``step_s`` steps; deterministic.

    The household load bank is cached on disk (``~/.cache/gridpeer``) after the first run.
    """
    from gridpeer.profiles.load import default_cache_dir, richardson_bank

    bank = richardson_bank(cache_dir=default_cache_dir(), progress=progress)
    return [simulate_house(c, day, step_s=step_s, bank=bank) for c in configs]

"""Replay measured data (from :mod:`gridpeer.profiles.readers`) as a house trace.

The file gives load (and PV) power; the house's battery is dispatched on top of it with
the same self-consumption model as the simulation, and the readings a sensor node would
show (PV string V/I, battery V, mains V) are derived from the models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridpeer.devices.battery import BatteryBank, dispatch_self_consumption, terminal_voltage_v
from gridpeer.devices.house import HouseConfig
from gridpeer.devices.pv import string_voltage_v
from gridpeer.devices.trace import FloatArray, HouseTrace
from gridpeer.profiles.readers import resample_power

_MAX_GAP_STEPS = 60


def trace_from_frame(config: HouseConfig, frame: pd.DataFrame, step_s: int = 60) -> HouseTrace:
    """A :class:`HouseTrace` from a reader's frame (UTC index; ``load_w`` and optionally
    ``pv_w``, W), averaged to steps of ``step_s`` s. Gaps of up to 60 steps are
    interpolated; longer gaps raise ValueError. A file with PV needs a house with a PV
    array (its V/I are estimated from the power), and a house with PV needs ``pv_w``.
    """
    if "load_w" not in frame.columns:
        raise ValueError("the frame needs a load_w column (W)")
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise ValueError("the frame needs a timezone-aware DatetimeIndex")
    has_pv = "pv_w" in frame.columns and bool((frame["pv_w"] > 0.0).any())
    if has_pv and config.pv is None:
        raise ValueError(f"the data has PV production but house {config.house} has no PV array")
    if config.pv is not None and "pv_w" not in frame.columns:
        raise ValueError(f"house {config.house} has a PV array but the data has no pv_w column")
    steps = resample_power(frame, step_s)
    filled = steps.interpolate(limit=_MAX_GAP_STEPS, limit_area="inside")
    if filled.isna().to_numpy().any():
        gap = filled.index[filled.isna().any(axis=1)][0]
        raise ValueError(f"gap of more than {_MAX_GAP_STEPS} steps in the data at {gap}")
    load = filled["load_w"].to_numpy(dtype=np.float64)
    pv = filled["pv_w"].to_numpy(dtype=np.float64) if config.pv else np.zeros_like(load)

    bank = BatteryBank.of([config.battery])
    soc0 = config.battery.soc_initial if config.battery else 0.0
    dispatch = dispatch_self_consumption(pv[None, :], load[None, :], bank, step_s, soc0)
    bess_w = np.asarray(dispatch.bess_w[0], dtype=np.float64)
    soc = np.asarray(dispatch.soc[0], dtype=np.float64)
    grid_w = np.asarray(dispatch.grid_w[0], dtype=np.float64)
    pv_v, pv_i = _pv_v_i(config, pv)
    bess_v: FloatArray = (
        np.asarray(terminal_voltage_v(config.battery, soc, bess_w), dtype=np.float64)
        if config.battery
        else np.zeros_like(load)
    )
    mains_v = config.mains_nominal_v - 0.25 * grid_w / config.mains_nominal_v
    start = filled.index[0].to_pydatetime()
    return HouseTrace(
        house=config.house,
        start=start,
        step_s=step_s,
        load_w=load,
        pv_w=pv,
        pv_v=pv_v,
        pv_i=pv_i,
        bess_w=bess_w,
        bess_v=bess_v,
        soc=soc,
        grid_w=grid_w,
        mains_v=mains_v,
    )


def _pv_v_i(config: HouseConfig, pv_w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """String V (V) and I (A) for measured PV power: irradiance estimated from the power,
    cell temperature from a 25 °C air plus heating by the irradiance."""
    if config.pv is None:
        return np.zeros_like(pv_w), np.zeros_like(pv_w)
    poa = pv_w / (config.pv.kwp * config.pv.derate)  # W/m²: P = kWp * derate * G / 1000 W
    volts = string_voltage_v(poa, 25.0 + poa / 40.0, config.pv.module, config.pv.modules_in_series)
    volts = np.where(pv_w > 0.0, volts, 0.0)
    amps = np.divide(pv_w, volts, out=np.zeros_like(pv_w), where=volts > 0.0)
    return volts, amps

"""The AC maths of the firmware (gridpeer_node/acpower.py) against synthetic waveforms.

Waveforms are generated as the Pico sees them: sensor output around a mid-rail bias,
quantised by the 12-bit ADC (read_u16 scaling), clamped at the rails, at a rate of ``spc``
samples per *nominal* mains cycle while the real mains frequency may drift, the current
sampled a fraction of a sample after the voltage. Expected values are exact for the
continuous signals (sums over harmonics), or a dense reference computation for clipping.

Tolerances (stated once, used everywhere): V and I RMS within 0.5 % of the true value +
one ADC step; real power within 1 % of the apparent power + one current step times the
voltage (and vice versa); PF within 0.01.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "firmware"))

from gridpeer_node import acpower

V_CAL = 230.0 / 0.6  # ZMPT101B trimmed to 0.6 V rms at the pin for 230 V
I_CAL = 2000.0 / 33.0  # SCT-013-000 (2000:1) on a 33 ohm burden: A per pin volt
CAL = {"v_cal": V_CAL, "i_cal": I_CAL, "f_hz": 50}
V_STEP = 3.3 / 4095 * V_CAL  # one 12-bit ADC step in mains volts
I_STEP = 3.3 / 4095 * I_CAL  # ... in amperes

Harmonics = list[tuple[int, float, float]]  # (order, rms, phase in degrees)


def adc(volts: float) -> int:
    """Pin volts -> read_u16 counts of the RP2040's 12-bit ADC (clamped at the rails)."""
    q = min(4095, max(0, round(volts / 3.3 * 4095)))
    return (q << 4) | (q >> 8)


def burst(
    v_h: Harmonics,
    i_h: Harmonics,
    *,
    f_real: float = 50.0,
    f_nom: float = 50.0,
    spc: float = 64.0,
    cycles: int = 11,
    start_deg: float = 0.0,
    v_bias: float = 1.65,
    i_bias: float = 1.65,
    skew: float = 0.0,
) -> tuple[list[int], list[int], int]:
    """ADC counts of the voltage and current; ``skew`` = fraction of a sample period by
    which each current sample follows its voltage sample."""
    n = int(cycles * spc)
    fs = f_nom * spc
    v: list[int] = []
    i: list[int] = []
    w0 = math.radians(start_deg)
    for k in range(n):
        for t, harms, bias, cal, out in (
            (k / fs, v_h, v_bias, V_CAL, v),
            ((k + skew) / fs, i_h, i_bias, I_CAL, i),
        ):
            wt = 2 * math.pi * f_real * t + w0
            x = sum(r * math.sqrt(2) * math.sin(h * wt + math.radians(ph)) for h, r, ph in harms)
            out.append(adc(bias + x / cal))
    return v, i, n


def rms(harms: Harmonics) -> float:
    return math.sqrt(sum(r * r for _, r, _ in harms))


def power(v_h: Harmonics, i_h: Harmonics) -> float:
    """Real power of two harmonic series: sum of V_h I_h cos(phase_v - phase_i), W."""
    iv = {h: (r, ph) for h, r, ph in i_h}
    return sum(r * iv[h][0] * math.cos(math.radians(ph - iv[h][1])) for h, r, ph in v_h if h in iv)


def check(got: dict[str, float], v_rms: float, i_rms: float, p: float) -> None:
    s = v_rms * i_rms
    assert got["v_rms"] == pytest.approx(v_rms, rel=0.005, abs=V_STEP)
    assert got["i_rms"] == pytest.approx(i_rms, rel=0.005, abs=I_STEP)
    assert got["p_w"] == pytest.approx(p, abs=0.01 * s + v_rms * I_STEP + i_rms * V_STEP)
    assert got["s_va"] == pytest.approx(got["v_rms"] * got["i_rms"])
    if s > 0:
        assert got["pf"] == pytest.approx(abs(p) / s, abs=0.01)


def test_pure_sine_resistive_load() -> None:
    v, i, n = burst([(1, 230.0, 0.0)], [(1, 10.0, 0.0)])
    got = acpower.analyse(v, i, n, 64, CAL)
    check(got, 230.0, 10.0, 2300.0)
    assert got["cycles"] == 9 and got["clipped"] == 0  # 11 sampled: first to last rising crossing
    assert got["f_hz"] == pytest.approx(50.0, abs=0.1)


@given(phi=st.floats(-89.0, 89.0), amps=st.floats(0.5, 40.0), start=st.floats(0, 360))
@settings(max_examples=60, deadline=None)
def test_phase_shift_gives_power_factor(phi: float, amps: float, start: float) -> None:
    """Current lagging (phi > 0, inductive) or leading (phi < 0): P = V I cos(phi)."""
    v, i, n = burst([(1, 230.0, 0.0)], [(1, amps, -phi)], start_deg=start)
    got = acpower.analyse(v, i, n, 64, CAL)
    check(got, 230.0, amps, 230.0 * amps * math.cos(math.radians(phi)))


def test_export_reads_negative_power() -> None:
    """Current in antiphase (power flowing the other way through the CT): P < 0, PF 1."""
    v, i, n = burst([(1, 230.0, 0.0)], [(1, 5.0, 180.0)])
    got = acpower.analyse(v, i, n, 64, CAL)
    check(got, 230.0, 5.0, -1150.0)


@given(
    v3=st.floats(0.0, 15.0),
    i3=st.floats(0.0, 6.0),
    i5=st.floats(0.0, 4.0),
    ph3=st.floats(-180, 180),
    ph5=st.floats(-180, 180),
)
@settings(max_examples=40, deadline=None)
def test_harmonics(v3: float, i3: float, i5: float, ph3: float, ph5: float) -> None:
    """A distorted load (3rd and 5th harmonic current, some 3rd in the voltage): RMS over all
    harmonics, real power only where voltage and current share a harmonic, PF < cos(phi1)."""
    v_h = [(1, 230.0, 0.0), (3, v3, 0.0)]
    i_h = [(1, 8.0, -20.0), (3, i3, ph3), (5, i5, ph5)]
    v, i, n = burst(v_h, i_h, spc=128)
    got = acpower.analyse(v, i, n, 128, CAL)
    check(got, rms(v_h), rms(i_h), power(v_h, i_h))


@given(dv=st.floats(-0.4, 0.4), di=st.floats(-0.4, 0.4))
@settings(max_examples=30, deadline=None)
def test_dc_offset_removed(dv: float, di: float) -> None:
    """Sensor bias anywhere around mid-rail (resistor tolerances, ZMPT module offset)."""
    v, i, n = burst([(1, 230.0, 0.0)], [(1, 6.0, -30.0)], v_bias=1.65 + dv, i_bias=1.65 + di)
    check(acpower.analyse(v, i, n, 64, CAL), 230.0, 6.0, 230 * 6 * math.cos(math.radians(30)))


@given(
    f_real=st.floats(47.0, 53.0),
    spc=st.floats(24.0, 100.0),
    start=st.floats(0, 360),
    nominal=st.sampled_from([50.0, 60.0]),
)
@settings(max_examples=40, deadline=None)
def test_whole_cycles_at_any_rate_and_drifting_mains(
    f_real: float, spc: float, start: float, nominal: float
) -> None:
    """Non-integer samples per cycle, mains off its nominal 50 or 60 Hz: the window still
    holds whole cycles (zero crossings) and the frequency is measured."""
    f = f_real * nominal / 50.0
    v, i, n = burst(
        [(1, 230.0, 0.0)], [(1, 10.0, -40.0)], f_real=f, f_nom=nominal, spc=spc, start_deg=start
    )
    got = acpower.analyse(v, i, n, spc, {**CAL, "f_hz": nominal})
    check(got, 230.0, 10.0, 2300 * math.cos(math.radians(40)))
    assert got["f_hz"] == pytest.approx(f, rel=0.02)


def test_no_voltage_falls_back_to_nominal_cycles() -> None:
    """ZMPT unplugged: the current is still measured over whole nominal cycles."""
    v, i, n = burst([(1, 0.0, 0.0)], [(1, 10.0, 0.0)], start_deg=37.0)
    got = acpower.analyse(v, i, n, 64, CAL)
    assert got["i_rms"] == pytest.approx(10.0, rel=0.005)
    assert got["v_rms"] == pytest.approx(0.0, abs=V_STEP) and got["f_hz"] == 0.0
    assert got["p_w"] == pytest.approx(0.0, abs=V_STEP * 10)


def test_clipping_is_flagged_and_reads_the_clipped_waveform() -> None:
    """85 A rms (120 A peak) where the 33 ohm burden reaches the rails at 100 A: the ADC
    clips the peaks. The node reports the
    clipped samples and measures what the ADC saw (the RMS of the clipped sine, computed
    densely here), which is below the true 25 A."""
    amps = 85.0
    v, i, n = burst([(1, 230.0, 0.0)], [(1, amps, 0.0)])
    got = acpower.analyse(v, i, n, 64, CAL)
    assert got["clipped"] > 0
    limit = 1.65 * I_CAL  # the current at which the pin hits a rail, A
    dense = [
        max(-limit, min(limit, amps * math.sqrt(2) * math.sin(2 * math.pi * k / 10_000)))
        for k in range(10_000)
    ]
    clipped_rms = math.sqrt(sum(x * x for x in dense) / len(dense))
    clipped_p = sum(
        230 * math.sqrt(2) * math.sin(2 * math.pi * k / 10_000) * x for k, x in enumerate(dense)
    ) / len(dense)
    assert clipped_rms < 0.95 * amps
    check(got, 230.0, clipped_rms, clipped_p)


def test_noise_floor_and_bad_burst() -> None:
    v, i, n = burst([(1, 230.0, 0.0)], [(1, 0.03, 0.0)])
    got = acpower.analyse(v, i, n, 64, {**CAL, "i_floor_a": 0.1})
    assert (got["i_rms"], got["p_w"], got["pf"]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        acpower.analyse(v[:10], i[:10], 10, 64, CAL)


@given(lag=st.floats(-8.0, 8.0), skew=st.floats(0.0, 0.9))
@settings(max_examples=30, deadline=None)
def test_phase_calibration_on_a_resistive_load(lag: float, skew: float) -> None:
    """The CT lags by ``lag`` degrees and the ADC takes the current ``skew`` of a sample
    after the voltage: phase_error_deg measures the combined error on a resistive load, and
    with it as ``phase_deg`` a 0.5-PF load reads PF 0.5."""
    v, i, n = burst([(1, 230.0, 0.0)], [(1, 10.0, -lag)], skew=skew)
    est = acpower.phase_error_deg(v, i, n, 64, CAL)
    assert est == pytest.approx(lag - skew * 360 / 64, abs=0.3)
    cal = {**CAL, "phase_deg": est}
    v, i, n = burst([(1, 230.0, 0.0)], [(1, 10.0, -lag - 60.0)], skew=skew)
    got = acpower.analyse(v, i, n, 64, cal)
    assert got["pf"] == pytest.approx(0.5, abs=0.01)
    check(got, 230.0, 10.0, 1150.0)


def test_rescale() -> None:
    assert acpower.rescale(400.0, 231.0, 220.0) == pytest.approx(420.0)
    with pytest.raises(ValueError):
        acpower.rescale(400.0, 231.0, 0.0)

"""The energy counter: baseline, increases, resets, rollbacks, implausible jumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.telemetry.adapters.readings import ChannelReading, EnergyCounter, OutOfRange

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_baseline_then_increases_add_the_difference() -> None:
    c = EnergyCounter()
    assert c.update(12_345.0, at(0)) == 0.0 and c.wh == 12_345
    assert c.update(12_350.5, at(10)) == pytest.approx(5.5)
    assert c.wh == 12_350


def test_reset_to_zero_counts_the_energy_since_the_reset_once() -> None:
    c = EnergyCounter()
    c.update(5_000.0, at(0))
    c.update(3.0, at(60))  # EnergyTotal 0, then 3 Wh measured
    assert c.resets == 1 and c.wh == 5_003
    c.update(4.0, at(70))
    assert c.wh == 5_004


def test_rollback_after_a_power_cut_never_counts_twice() -> None:
    c = EnergyCounter()
    c.update(10_000.0, at(0))
    c.update(10_040.0, at(300))
    c.update(10_020.0, at(310))  # restarted from the last flash save
    assert c.rollbacks == 1 and c.wh == 10_040
    c.update(10_030.0, at(320))  # the 10 Wh since the save are new energy
    assert c.wh == 10_050


def test_rounding_jitter_is_not_a_reset() -> None:
    c = EnergyCounter()
    c.update(100.0, at(0))
    c.update(99.7, at(1))
    assert c.resets == c.rollbacks == 0 and c.wh == 100
    c.update(100.2, at(2))
    assert c.total_wh == pytest.approx(100.2)


def test_wrong_unit_jump_is_refused_and_changes_nothing() -> None:
    c = EnergyCounter(max_power_w=3_680.0)
    c.update(1_234.0, at(0))
    with pytest.raises(OutOfRange):
        c.update(1_234_000.0, at(10))  # Wh reported where kWh was expected
    assert c.wh == 1_234 and c.last_raw_wh == 1_234.0
    with pytest.raises(OutOfRange):
        c.update(-1.0, at(20))


@given(
    st.lists(
        st.tuples(st.floats(0, 50), st.sampled_from(["up", "reset", "rollback"])),
        min_size=1,
        max_size=40,
    )
)
def test_counted_energy_never_exceeds_the_energy_really_measured(
    steps: list[tuple[float, str]],
) -> None:
    """Whatever resets and rollbacks happen, the counter adds at most what flowed."""
    c = EnergyCounter()
    raw, real = 1_000.0, 0.0
    c.update(raw, at(0))
    for k, (wh, event) in enumerate(steps, 1):
        if event == "reset":
            raw = 0.0
        elif event == "rollback":
            raw = max(raw - 5, raw * 0.6)  # back to a save, not below half
        raw += wh
        real += wh
        c.update(raw, at(60 * k))
        assert c.total_wh <= 1_000.0 + real + 1e-6


def test_meter_reading_maps_signed_power_and_energy() -> None:
    r = ChannelReading("d", 0, T0, power_w=-500.0, voltage_v=230.0, current_a=2.2, energy_wh=7)
    m = r.meter_reading()
    assert (m.p, m.p_grid, m.e_wh, m.v) == (0.0, -500.0, 7, 230.0)
    with pytest.raises(ValueError):
        ChannelReading("d", 0, T0, power_w=1.0).meter_reading()

"""KPI formulas and fixed formatting."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.market.kpi import gini
from gridpeer.sim.engine import make_config, simulate
from gridpeer.sim.kpis import COMMUNITY_KEYS, HOUSE_COLUMNS, Kpis, fmt, to_csv
from gridpeer.sim.scenario import load_scenario


def test_gini_known_values() -> None:
    assert gini(np.array([5.0, 5.0, 5.0])) == 0.0
    assert gini(np.array([0.0, 0.0, 0.0, 12.0])) == pytest.approx(0.75)
    assert gini(np.array([])) == 0.0


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_gini_in_unit_interval(values: list[float]) -> None:
    g = gini(np.array(values))
    assert 0.0 <= g <= 1.0


def test_fmt_is_fixed_and_rounded_per_kpi() -> None:
    assert fmt(0.1 + 0.2) == "0.3000"  # ratios: 4 decimals
    assert fmt(1234.5678, "bill") == "1234.57"  # money: 2
    assert fmt(12.345, "saving_pct") == "12.3"  # percent: 1
    assert fmt(3503.9, "peak_import_w") == "3504"  # W: 0
    assert fmt(-0.0001, "saving") == "0.00"  # no negative zero
    assert fmt(math.nan) == ""
    assert fmt(True) == "true"
    assert fmt(7) == "7"


def test_saving_pct_is_of_the_import_cost_even_when_the_baseline_bill_is_negative() -> None:
    r = simulate(make_config(load_scenario("thesis-lab-5"), "uniform", days=1, seed=0))
    k = Kpis(r)
    rows = k.house_rows()
    exporters = [row for row in rows if float(str(row["baseline_bill"])) < 0]
    assert exporters, "the lab has a PV house whose baseline bill is an income"
    for row in exporters:
        saving = float(str(row["saving"]))
        cost = float(str(row["baseline_import_cost"]))
        assert cost > 0
        assert float(str(row["bill_change_pct"])) == pytest.approx(-100.0 * saving / cost)
        # a saving is a negative bill change, whatever the sign of the baseline bill
        assert (saving > 0) == (float(str(row["bill_change_pct"])) < 0)
    comm = k.community()
    assert float(str(comm["saving_pct"])) == pytest.approx(
        100.0 * float(str(comm["saving"])) / float(str(comm["baseline_import_cost"]))
    )


def test_kpis_of_a_run_are_consistent() -> None:
    r = simulate(make_config(load_scenario("thesis-lab-5"), "uniform", days=1, seed=0))
    k = Kpis(r)
    rows = k.house_rows()
    comm = k.community()
    assert [row["house"] for row in rows] == ["h1", "h2", "h3", "h4", "h5"]
    assert sum(float(str(row["saving"])) for row in rows) == pytest.approx(comm["saving"])
    assert 0.0 <= float(str(comm["self_sufficiency"])) <= 1.0
    assert float(str(comm["self_sufficiency"])) >= float(str(comm["baseline_self_sufficiency"]))
    text = to_csv(rows, HOUSE_COLUMNS)
    assert text.splitlines()[0] == ",".join(HOUSE_COLUMNS)
    assert len(text.splitlines()) == 6
    assert to_csv([comm], COMMUNITY_KEYS).count("\n") == 2

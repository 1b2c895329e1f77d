"""One sentence per KPI of a comparison: same or different, and why."""

from __future__ import annotations

from gridpeer.sim.explain import INPUTS, VOLUME, kpi_sentences
from gridpeer.sim.kpis import COMMUNITY_KEYS


def _kpis(**over: object) -> dict[str, object]:
    base: dict[str, object] = {k: 1.0 for k in COMMUNITY_KEYS}
    base.update(
        mechanism="x", houses=5, slots_simulated=96, interrupted=False, load_wh=1000, p2p_wh=100
    )
    base.update(over)
    return base


def test_one_sentence_per_kpi_saying_same_or_different() -> None:
    a = _kpis(p2p_wh=100, mean_p2p_price=120.0)
    b = _kpis(p2p_wh=150, mean_p2p_price=0.0)
    c = _kpis(p2p_wh=150, mean_p2p_price=120.004)  # same as a once rounded (2 decimals)
    out = dict(kpi_sentences(["uniform", "sdr", "cda"], [a, b, c], "noisy, error sigma 0.3"))
    assert set(out) == set(COMMUNITY_KEYS) - {"mechanism"}
    assert out["p2p_wh"].startswith("p2p_wh differs between designs, from 100 (uniform) to 150")
    assert "(sdr, cda)" in out["p2p_wh"]
    assert "forecast (noisy, error sigma 0.3)" in out["p2p_wh"]
    assert out["load_wh"] == (
        "load_wh is the same for every design (1000): it is fixed by the scenario: every "
        "design sees the same households, weather, batteries and forecasts, and the "
        "baseline has no P2P."
    )
    assert "from 0.00 (sdr) to 120.00 (uniform, cda)" in out["mean_p2p_price"]
    assert "price 0 in bill sharing" in out["mean_p2p_price"]
    assert all(text.endswith(".") for text in out.values())


def test_reasons_follow_the_forecast() -> None:
    same = [_kpis(), _kpis()]
    perfect = dict(kpi_sentences(["uniform", "sdr"], same, "perfect"))
    assert "perfect forecast" in perfect["p2p_wh"]
    noisy = dict(kpi_sentences(["uniform", "sdr"], same, "persistence"))
    assert "with forecast persistence the pairing" in noisy["p2p_wh"]
    assert {k for k in INPUTS | VOLUME} <= set(perfect)


def test_undefined_values_are_named() -> None:
    a = _kpis(mean_p2p_price=float("nan"))
    b = _kpis(mean_p2p_price=3.0)
    out = dict(kpi_sentences(["uniform", "sdr"], [a, b], "noisy"))
    assert "undefined (uniform), 3.00 (sdr)" in out["mean_p2p_price"]


def test_interrupted_runs_are_named() -> None:
    done = dict(kpi_sentences(["uniform", "sdr"], [_kpis(), _kpis()], "noisy"))
    assert done["interrupted"] == (
        "interrupted is false for every design: every run covers the whole period."
    )
    cut = dict(kpi_sentences(["uniform", "sdr"], [_kpis(), _kpis(interrupted=True)], "noisy"))
    assert cut["interrupted"].startswith("interrupted is true for sdr: the user stopped")
    same = dict(kpi_sentences(["uniform", "sdr"], [_kpis(), _kpis()], "noisy"))
    assert "worse off only when it sells below the feed-in" in same["houses_worse_off"]

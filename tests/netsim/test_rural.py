"""The rural road in ns-3: an access point at the community node, Friis propagation,
ideal rate control, market bursts. Delay rises with prosumers and with distance for
every Wi-Fi standard (three seeds), Ethernet stays below Wi-Fi, nothing is received
that was not sent.

One process pool (2 workers) runs every point of this module (1 simulated second each).
"""

from __future__ import annotations

import importlib.util
import itertools

import pytest

if importlib.util.find_spec("ns") is None:  # workers import ns-3, not this module
    pytest.skip("needs ns-3: pip install 'gridpeer[netsim]'", allow_module_level=True)

from gridpeer.netsim.layout import DEFAULT_SPACING_M
from gridpeer.netsim.messages import Traffic
from gridpeer.netsim.radio import RURAL_ROAD_EXPONENT, Topology, distance_for_snr_m, snr_db
from gridpeer.netsim.results import RunResult
from gridpeer.netsim.scenario import Market, Pattern, RunConfig, ScenarioKind, build_scenario
from gridpeer.netsim.technology import TECH_SPECS, Tech
from gridpeer.netsim.worker import run_points

pytestmark = [pytest.mark.netsim, pytest.mark.slow]

WIFI = tuple(t for t in Tech if TECH_SPECS[t].wifi)
ETH = Tech.ETH_100M
SEEDS = (1, 2, 3)
PEERS = (2, 4, 7)
SNR_STEPS_DB = (30.0, 20.0, 12.0)
"""Distance test: two houses at ±spacing, spacing such that their links to the AP have
these SNRs (near, middle, far)."""


def _road(tech: Tech, peers: int, seed: int, spacing_m: float = DEFAULT_SPACING_M) -> RunConfig:
    return RunConfig(
        ScenarioKind.NAN_TRADING,
        tech,
        peers,
        Market.DECENTRALIZED,
        Traffic.THESIS,
        1.0,
        seed,
        Pattern.BURST,
        spacing_m=spacing_m,
        topology=Topology.AP,
    )


def _far(tech: Tech, snr: float, seed: int) -> RunConfig:
    return _road(tech, 2, seed, round(distance_for_snr_m(tech, snr, RURAL_ROAD_EXPONENT), 1))


GROWTH = [_road(t, p, s) for t in (*WIFI, ETH) for p in PEERS for s in SEEDS]
DISTANCE = [_far(t, snr, s) for t in WIFI for snr in SNR_STEPS_DB for s in SEEDS[:2]]
CONFIGS = GROWTH + DISTANCE


@pytest.fixture(scope="module")
def results() -> dict[RunConfig, RunResult]:
    return {r.config: r for r in run_points(CONFIGS, workers=2)}


def test_default_road_is_in_range_of_every_standard() -> None:
    # farthest house 4 x 60 m from the AP: still above the 4 dB preamble threshold
    assert all(snr_db(t, 4 * DEFAULT_SPACING_M, RURAL_ROAD_EXPONENT) > 9.0 for t in WIFI)


def test_nothing_received_that_was_not_sent(results: dict[RunConfig, RunResult]) -> None:
    for c, r in results.items():
        sc = build_scenario(c)
        assert r.totals.tx_packets == sum(f.packets for f in sc.flows), c.label
        assert r.totals.rx_packets <= r.totals.tx_packets, c.label
        assert r.totals.rx_bytes <= r.totals.tx_bytes, c.label
        assert r.delivery_ratio > 0.9, (c.label, r.delivery_ratio)


@pytest.mark.parametrize("seed", SEEDS)
def test_delay_rises_with_prosumers(results: dict[RunConfig, RunResult], seed: int) -> None:
    """A bigger village on the road: more flows in every burst and farther houses (lower
    rates): delay rises for every Wi-Fi standard, 802.11b the worst, Ethernet below."""
    delay = {(t, p): results[_road(t, p, seed)].mean_delay_s for t in (*WIFI, ETH) for p in PEERS}
    for t in WIFI:
        ds = [delay[t, p] for p in PEERS]
        assert all(b > a for a, b in itertools.pairwise(ds)), (t, ds)
    assert max(WIFI, key=lambda t: delay[t, PEERS[-1]]) is Tech.WIFI_B
    for p in PEERS:
        assert delay[ETH, p] < min(delay[t, p] for t in WIFI), p
    for p in PEERS[1:]:  # under contention: at least an order of magnitude
        assert delay[ETH, p] * 10 <= min(delay[t, p] for t in WIFI), p


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_delay_rises_with_distance(results: dict[RunConfig, RunResult], seed: int) -> None:
    """Two houses moved out along the road (SNR 30 → 20 → 12 dB at the AP): rate control
    picks lower rates (and the waves travel farther), so delay rises for every standard."""
    for t in WIFI:
        ds = [results[_far(t, snr, seed)].mean_delay_s for snr in SNR_STEPS_DB]
        assert all(b > a for a, b in itertools.pairwise(ds)), (t, ds)
        assert results[_far(t, SNR_STEPS_DB[-1], seed)].delivery_ratio == 1.0

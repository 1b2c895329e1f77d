"""The study in ns-3: determinism and sanity properties on a few short runs.

One process pool (2 workers, each importing ns-3 once) runs every point this module
needs; the tests then assert on the results.
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("ns") is None:  # don't import ns-3 here: workers do (~6 s each)
    pytest.skip("needs ns-3: pip install 'gridpeer[netsim]'", allow_module_level=True)

from gridpeer.netsim.messages import Traffic
from gridpeer.netsim.results import RunResult
from gridpeer.netsim.scenario import Market, Pattern, RunConfig, ScenarioKind, build_scenario
from gridpeer.netsim.technology import ALL_TECHS, Tech
from gridpeer.netsim.worker import run_points

pytestmark = [pytest.mark.netsim, pytest.mark.slow]

SECONDS = 2.0
TRADE, DEC = ScenarioKind.NAN_TRADING, Market.DECENTRALIZED


def _trade(tech: Tech, peers: int, seed: int = 1, traffic: Traffic = Traffic.THESIS) -> RunConfig:
    return RunConfig(TRADE, tech, peers, DEC, traffic, SECONDS, seed)


CONFIGS: list[RunConfig] = [
    *(_trade(t, 5) for t in ALL_TECHS),  # Ethernet vs every Wi-Fi
    _trade(Tech.WIFI_B, 2),  # fewer peers, less load
    _trade(Tech.WIFI_B, 5),  # repeated: determinism across workers/order
    _trade(Tech.WIFI_B, 5, seed=2),
    _trade(Tech.WIFI_B, 5, traffic=Traffic.GRIDPEER),  # bigger messages, more load
    RunConfig(ScenarioKind.HAN, Tech.WIFI_N_5, traffic=Traffic.GRIDPEER, seconds=SECONDS),
    RunConfig(ScenarioKind.NAN_MONITORING, Tech.ETH_1G, 3, seconds=6.0),  # 2 s period
    RunConfig(TRADE, Tech.WIFI_AC, 4, Market.CENTRALIZED, seconds=SECONDS),
]
BURST_TECHS = (Tech.WIFI_B, Tech.WIFI_G, Tech.ETH_100M)
BURST_PEERS = (2, 4, 7)


def _burst(tech: Tech, peers: int, seed: int) -> RunConfig:
    return RunConfig(TRADE, tech, peers, DEC, Traffic.THESIS, 1.0, seed, Pattern.BURST)


CONFIGS += [_burst(t, p, s) for t in BURST_TECHS for p in BURST_PEERS for s in (1, 2)]


@pytest.fixture(scope="module")
def results() -> dict[int, RunResult]:
    seen: list[RunResult] = []
    out = run_points(CONFIGS, workers=2, on_result=seen.append)
    assert len(seen) == len(CONFIGS)  # progress callback fired once per point
    return dict(enumerate(out))


def _at(results: dict[int, RunResult], config: RunConfig) -> RunResult:
    return results[CONFIGS.index(config)]


def test_results_in_input_order(results: dict[int, RunResult]) -> None:
    assert [results[k].config for k in range(len(CONFIGS))] == CONFIGS


def test_every_packet_sent_is_counted(results: dict[int, RunResult]) -> None:
    for r in results.values():
        sc = build_scenario(r.config)
        assert r.totals.tx_packets == sum(f.packets for f in sc.flows)
        # IP bytes = payload + UDP (8) + IPv4 (20) per packet
        assert r.totals.tx_bytes == sc.sent_b + 28 * r.totals.tx_packets


def test_sanity_bounds(results: dict[int, RunResult]) -> None:
    for r in results.values():
        assert 0.0 < r.delivery_ratio <= 1.0
        assert r.totals.rx_packets <= r.totals.tx_packets
        assert r.totals.rx_bytes <= r.totals.tx_bytes
        assert r.mean_delay_s > 0.0
        assert r.jitter_s >= 0.0


def test_deterministic_for_a_seed(results: dict[int, RunResult]) -> None:
    a = results[CONFIGS.index(_trade(Tech.WIFI_B, 5))]
    b = results[len(CONFIGS) - 1 - CONFIGS[::-1].index(_trade(Tech.WIFI_B, 5))]
    assert a is not b
    assert a.totals == b.totals
    other = _at(results, _trade(Tech.WIFI_B, 5, seed=2))
    assert other.totals != a.totals


def test_ethernet_below_every_wifi(results: dict[int, RunResult]) -> None:
    eth = [_at(results, _trade(t, 5)).mean_delay_s for t in (Tech.ETH_100M, Tech.ETH_1G)]
    wifi = [
        _at(results, _trade(t, 5)).mean_delay_s for t in ALL_TECHS if t.value.startswith("802.11")
    ]
    assert len(wifi) == 5
    assert max(eth) < min(wifi)
    assert eth[1] < eth[0]  # gigabit below fast Ethernet


def test_delay_grows_with_peers_and_load(results: dict[int, RunResult]) -> None:
    two = _at(results, _trade(Tech.WIFI_B, 2))
    five = _at(results, _trade(Tech.WIFI_B, 5))
    heavier = _at(results, _trade(Tech.WIFI_B, 5, traffic=Traffic.GRIDPEER))
    assert two.offered_bps < five.offered_bps < heavier.offered_bps
    assert two.mean_delay_s < five.mean_delay_s < heavier.mean_delay_s


@pytest.mark.parametrize("seed", [1, 2])
def test_market_bursts_give_the_thesis_shape(results: dict[int, RunResult], seed: int) -> None:
    """Agents that send at the same instants (a window opening): delay rises with every
    added prosumer on Wi-Fi, 802.11b is the worst, Ethernet stays below, >= 10x under
    contention."""
    delay = {
        (t, p): _at(results, _burst(t, p, seed)).mean_delay_s
        for t in BURST_TECHS
        for p in BURST_PEERS
    }
    for t in BURST_TECHS:
        assert all(_at(results, _burst(t, p, seed)).delivery_ratio == 1.0 for p in BURST_PEERS)
    for t in (Tech.WIFI_B, Tech.WIFI_G):
        ds = [delay[t, p] for p in BURST_PEERS]
        assert ds == sorted(ds) and ds[0] < ds[-1], (t, ds)
    assert delay[Tech.WIFI_B, 7] > delay[Tech.WIFI_G, 7]
    for p in BURST_PEERS:  # an idle channel: one frame each, Wi-Fi only a few times slower
        assert delay[Tech.ETH_100M, p] < min(delay[Tech.WIFI_B, p], delay[Tech.WIFI_G, p])
    for p in (4, 7):  # under contention: at least an order of magnitude
        assert delay[Tech.ETH_100M, p] * 10 <= min(delay[Tech.WIFI_B, p], delay[Tech.WIFI_G, p])

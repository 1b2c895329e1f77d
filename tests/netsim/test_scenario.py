"""The scenario builder, without ns-3: nodes, sizes, rates, topology."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.netsim.layout import distance_m, rural_cluster
from gridpeer.netsim.messages import Traffic, gridpeer_exchanges
from gridpeer.netsim.scenario import (
    NS_PER_S,
    WARMUP_NS,
    Market,
    RunConfig,
    Scenario,
    ScenarioKind,
    build_scenario,
)
from gridpeer.netsim.study import parse_peers, study_grid
from gridpeer.netsim.technology import TECH_SPECS, Tech

HAN = ScenarioKind.HAN
MON = ScenarioKind.NAN_MONITORING
TRADE = ScenarioKind.NAN_TRADING
DEC, CEN = Market.DECENTRALIZED, Market.CENTRALIZED


def test_han_thesis_flows() -> None:
    sc = build_scenario(RunConfig(HAN, Tech.WIFI_G, seconds=10))
    assert [n.name for n in sc.nodes] == ["agent", "meter", "pv", "bess", "appliances"]
    assert {(f.name, f.src, f.dst, f.size_b, f.interval_ns) for f in sc.flows} == {
        ("meter", 1, 0, 40, NS_PER_S),
        ("pv", 2, 0, 40, NS_PER_S),
        ("bess", 3, 0, 32, NS_PER_S),
        ("appliances", 4, 0, 244, NS_PER_S),
    }
    assert sc.offered_bps == pytest.approx(356.0)
    assert all(f.packets == 10 for f in sc.flows)
    assert sc.hub == (0.0, 0.0)


def test_nan_monitoring_thesis_goes_to_community_node() -> None:
    sc = build_scenario(RunConfig(MON, Tech.WIFI_B, peers=4))
    assert [n.name for n in sc.nodes][-1] == "community"
    assert len(sc.nodes) == 5
    assert all((f.dst, f.size_b, f.interval_ns) == (4, 324, 2 * NS_PER_S) for f in sc.flows)
    assert sc.offered_bps == pytest.approx(4 * 162.0)


def test_decentralized_trading_is_peer_to_peer() -> None:
    sc = build_scenario(RunConfig(TRADE, Tech.WIFI_B, peers=5, market=DEC))
    assert len(sc.nodes) == 5  # no community node
    pairs = {(f.src, f.dst) for f in sc.flows}
    assert pairs == {(a, b) for a in range(5) for b in range(5) if a != b}
    assert all(f.size_b == 52 for f in sc.flows)
    assert sc.offered_bps == pytest.approx(5 * 4 * 416.0)


def test_centralized_trading_goes_to_coordinator() -> None:
    sc = build_scenario(RunConfig(TRADE, Tech.ETH_100M, peers=3, market=CEN))
    assert {(f.src, f.dst, f.size_b) for f in sc.flows} == {(0, 3, 116), (1, 3, 116), (2, 3, 116)}
    assert sc.offered_bps == pytest.approx(3 * 928.0)


def test_gridpeer_traffic_is_publish_puback_ack() -> None:
    sc = build_scenario(RunConfig(HAN, Tech.WIFI_N_24, traffic=Traffic.GRIDPEER))
    ex = gridpeer_exchanges()
    meter = [f for f in sc.flows if f.name.startswith("meter/")]
    assert [(f.name, f.src, f.dst, f.size_b) for f in meter] == [
        ("meter/publish", 1, 0, ex["meter"].publish_b),
        ("meter/puback", 0, 1, ex["meter"].puback_b),
        ("meter/ack", 1, 0, ex["meter"].ack_b),
    ]
    assert meter[1].start_ns > meter[0].start_ns
    assert len(sc.flows) == 9  # 3 devices x 3 packets, no appliance stream in gridpeer


def test_houses_take_positions_from_layout() -> None:
    sc = build_scenario(RunConfig(MON, Tech.WIFI_AC, peers=7), radius_m=40.0)
    for node in sc.nodes[:-1]:
        assert distance_m(node.pos, sc.nodes[-1].pos) == pytest.approx(40.0, abs=0.01)
    village = rural_cluster(7, 10.0)
    sc2 = build_scenario(RunConfig(MON, Tech.WIFI_AC, peers=3), layout=village)
    assert [n.pos for n in sc2.nodes[:-1]] == list(village.houses[:3])


@given(
    st.sampled_from(list(Tech)),
    st.integers(2, 6),
    st.sampled_from([(MON, None), (TRADE, DEC), (TRADE, CEN)]),
    st.sampled_from(list(Traffic)),
    st.integers(1, 10_000),
)
def test_offered_load_grows_with_peers(
    tech: Tech,
    peers: int,
    kind_market: tuple[ScenarioKind, Market | None],
    traffic: Traffic,
    seed: int,
) -> None:
    kind, market = kind_market
    small = build_scenario(RunConfig(kind, tech, peers, market, traffic, 5.0, seed))
    big = build_scenario(RunConfig(kind, tech, peers + 1, market, traffic, 5.0, seed))
    assert big.offered_bps > small.offered_bps
    assert _flow_keys(small) <= _flow_keys(big)  # more prosumers only add flows


def _flow_keys(sc: Scenario) -> set[tuple[object, ...]]:
    """Flows with the community node (last node, index shifts with peers) written as -1."""
    last = len(sc.nodes) - 1 if sc.nodes[-1].name == "community" else None

    def idx(k: int) -> int:
        return -1 if k == last else k

    return {(f.name, idx(f.src), idx(f.dst), f.size_b, f.start_ns, f.packets) for f in sc.flows}


@given(st.sampled_from(list(ScenarioKind)), st.floats(0.5, 30.0), st.integers(1, 10_000))
def test_flows_start_after_warmup_within_one_period(
    kind: ScenarioKind, seconds: float, seed: int
) -> None:
    peers = 1 if kind is HAN else 7
    market = DEC if kind is TRADE else None
    sc = build_scenario(RunConfig(kind, Tech.WIFI_G, peers, market, Traffic.THESIS, seconds, seed))
    end = WARMUP_NS + round(seconds * NS_PER_S)
    for f in sc.flows:
        assert WARMUP_NS <= f.start_ns < WARMUP_NS + f.interval_ns
        # exactly the sends at start + k * interval before the end of traffic
        assert (
            f.start_ns + (f.packets - 1) * f.interval_ns
            < end
            <= f.start_ns + f.packets * f.interval_ns
        )
        assert f.src != f.dst
    assert sc.stop_ns > end


def test_same_seed_same_scenario_and_tech_independent() -> None:
    a = build_scenario(RunConfig(TRADE, Tech.WIFI_B, 4, DEC, seed=7))
    b = build_scenario(RunConfig(TRADE, Tech.WIFI_B, 4, DEC, seed=7))
    c = build_scenario(RunConfig(TRADE, Tech.ETH_1G, 4, DEC, seed=7))
    d = build_scenario(RunConfig(TRADE, Tech.WIFI_B, 4, DEC, seed=8))
    assert a == b
    assert a.flows == c.flows  # every technology carries identical traffic
    assert a.flows != d.flows


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": HAN, "peers": 2},
        {"kind": MON, "peers": 1},
        {"kind": MON, "peers": 8},
        {"kind": TRADE, "peers": 3},
        {"kind": MON, "peers": 3, "market": DEC},
        {"kind": HAN, "seconds": 0},
        {"kind": HAN, "seed": 0},
    ],
)
def test_bad_config_raises(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RunConfig(tech=Tech.WIFI_G, **kwargs)  # type: ignore[arg-type]


def test_parse_peers() -> None:
    assert parse_peers("2-7") == (2, 3, 4, 5, 6, 7)
    assert parse_peers("4") == (4,)
    assert parse_peers("2,5, 7,5") == (2, 5, 7)
    for bad in ("1-3", "x", "7-2", "", "2-9"):
        with pytest.raises(ValueError):
            parse_peers(bad)


def test_full_grid_size() -> None:
    grid = study_grid()
    # per traffic: han 7 + monitoring 7x6 + trading 2x7x6 = 133
    assert len(grid) == 2 * (7 + 42 + 84)
    assert len({c.label for c in grid}) == len(grid)


def test_reference_loss_friis() -> None:
    assert TECH_SPECS[Tech.WIFI_G].reference_loss_db == pytest.approx(40.09, abs=0.01)
    assert TECH_SPECS[Tech.WIFI_AC].reference_loss_db == pytest.approx(46.78, abs=0.02)
    with pytest.raises(ValueError):
        _ = TECH_SPECS[Tech.ETH_1G].reference_loss_db


def test_burst_pattern_puts_every_flow_in_the_first_milliseconds() -> None:
    from gridpeer.netsim.scenario import WARMUP_NS, Pattern

    smooth = build_scenario(RunConfig(TRADE, Tech.WIFI_B, peers=7, market=DEC))
    burst = build_scenario(
        RunConfig(TRADE, Tech.WIFI_B, peers=7, market=DEC, pattern=Pattern.BURST, burst_ms=2.0)
    )
    assert [f.size_b for f in burst.flows] == [f.size_b for f in smooth.flows]
    assert all(WARMUP_NS <= f.start_ns < WARMUP_NS + 2_000_000 for f in burst.flows)
    assert max(f.start_ns for f in smooth.flows) > WARMUP_NS + 2_000_000  # spread out
    assert burst.config.label.endswith("/burst")
    with pytest.raises(ValueError, match="burst_ms"):
        RunConfig(TRADE, Tech.WIFI_B, peers=2, market=DEC, burst_ms=0.0)

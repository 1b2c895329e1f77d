"""The comparison with the thesis's published shape (made-up results, no ns-3)."""

from __future__ import annotations

import math

from gridpeer.netsim.results import FlowTotals, RunResult
from gridpeer.netsim.scenario import Market, Pattern, RunConfig, ScenarioKind
from gridpeer.netsim.technology import Tech
from gridpeer.netsim.thesis import compare, thesis_markdown

DEC = Market.DECENTRALIZED


def _r(tech: Tech, peers: int, delay_ms: float, pattern: Pattern) -> RunResult:
    cfg = RunConfig(ScenarioKind.NAN_TRADING, tech, peers, DEC, pattern=pattern)
    return RunResult(cfg, FlowTotals(10, 10, 800, 800, delay_ms * 1e-2, 0.0, 9, 1), 1.0, 0.1)


BURST = [
    *(_r(Tech.WIFI_B, p, 2.0 * p * p, Pattern.BURST) for p in (2, 4, 7)),
    *(_r(Tech.WIFI_G, p, 0.5 * p * p, Pattern.BURST) for p in (2, 4, 7)),
    *(_r(Tech.ETH_100M, p, 0.02 * p, Pattern.BURST) for p in (2, 4, 7)),
]
SMOOTH = [
    _r(Tech.WIFI_B, 2, 0.33, Pattern.SMOOTH),
    _r(Tech.WIFI_B, 4, 0.31, Pattern.SMOOTH),  # falls: not monotonic
    _r(Tech.WIFI_B, 7, 0.5, Pattern.SMOOTH),
    _r(Tech.WIFI_G, 2, 0.1, Pattern.SMOOTH),
    _r(Tech.WIFI_G, 7, 0.11, Pattern.SMOOTH),
    _r(Tech.ETH_100M, 2, 0.03, Pattern.SMOOTH),
    _r(Tech.ETH_100M, 7, 0.04, Pattern.SMOOTH),
]


def test_bursts_pass_every_check() -> None:
    c = compare(BURST + SMOOTH, DEC, Pattern.BURST)
    assert [r.tech for r in c.rows] == [Tech.WIFI_B, Tech.WIFI_G, Tech.ETH_100M]
    assert c.rows[0].growth == 49 / 4
    assert c.all_wifi_monotonic and c.wifi_b_worst and c.ethernet_far_below
    assert math.isclose(c.ethernet_below, (0.5 * 49) / (0.02 * 7))  # g vs Ethernet at 7
    assert math.isclose(c.ethernet_below_fewest, (0.5 * 4) / (0.02 * 2))


def test_smooth_traffic_fails_where_it_is_flat() -> None:
    c = compare(BURST + SMOOTH, DEC, Pattern.SMOOTH)
    assert not c.rows[0].monotonic and not c.all_wifi_monotonic
    assert c.wifi_b_worst
    assert not c.ethernet_far_below  # 0.11 / 0.04 ≈ 2.8
    assert compare(BURST, Market.CENTRALIZED, Pattern.BURST).rows == ()


def test_markdown_has_both_patterns_and_the_explanation() -> None:
    md = thesis_markdown(BURST + SMOOTH)
    assert "## decentralized market, burst traffic" in md
    assert "## decentralized market, smooth traffic" in md
    assert "| 802.11b | 8.000 | 32.000 | 98.000 | ×12.2 | yes |" in md
    assert "rises with prosumers for every Wi-Fi standard: **no**" in md
    assert "Why the two patterns differ" in md

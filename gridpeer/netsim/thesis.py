"""gridpeer's network study side by side with the thesis's NetSim results (chapter 5).

The thesis reports, for a rural neighbourhood trading in a decentralized market, mean
one-way delays that grow steeply with the number of prosumers for every Wi-Fi standard
(about ×18 to ×26 from 2 to 7 prosumers), 802.11b the worst (tens of ms at 7
prosumers) and Ethernet about two orders of magnitude below Wi-Fi. Its tables are
reproduced here only by that *shape*: :func:`compare` checks gridpeer's results
against each part of it and :func:`thesis_markdown` writes the comparison, with the
assumption behind every remaining difference.

Pure: works on :class:`~gridpeer.netsim.results.RunResult` lists, no ns-3.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from gridpeer.netsim.messages import Traffic
from gridpeer.netsim.results import RunResult
from gridpeer.netsim.scenario import Market, Pattern, ScenarioKind
from gridpeer.netsim.study import ALL_PEERS
from gridpeer.netsim.technology import TECH_SPECS, Tech

THESIS_GROWTH = (18.0, 26.0)
"""The thesis's delay growth from 2 to 7 prosumers, Wi-Fi (×, low and high)."""
THESIS_ETHERNET_BELOW = 100.0
"""The thesis's Ethernet delay is about this many times below Wi-Fi's (×)."""
ETHERNET_BELOW_TARGET = 10.0
"""gridpeer's target: Ethernet at least this many times below every Wi-Fi standard (×)."""


@dataclass(frozen=True)
class TechRow:
    """One technology's delays against prosumers and the checks on them.

    Attributes:
        tech: the technology.
        delay_ms: mean one-way delay per prosumer count, ms (in prosumer order).
        growth: delay at the most prosumers / delay at the fewest (×).
        monotonic: True if the delay rises with every added prosumer.
    """

    tech: Tech
    delay_ms: tuple[tuple[int, float], ...]
    growth: float
    monotonic: bool


@dataclass(frozen=True)
class Comparison:
    """gridpeer's results for one market and traffic pattern against the thesis's shape.

    Attributes:
        market, pattern: which results.
        rows: one per technology present.
        worst_wifi: the Wi-Fi standard with the highest delay at the most prosumers.
        ethernet_below: the smallest ratio Wi-Fi delay / Ethernet delay at the most
            prosumers (×; NaN without both kinds).
        ethernet_below_fewest: the same at the fewest prosumers (×).
    """

    market: Market
    pattern: Pattern
    rows: tuple[TechRow, ...]
    worst_wifi: Tech | None
    ethernet_below: float
    ethernet_below_fewest: float

    @property
    def wifi_rows(self) -> tuple[TechRow, ...]:
        """The Wi-Fi rows."""
        return tuple(r for r in self.rows if TECH_SPECS[r.tech].wifi)

    @property
    def all_wifi_monotonic(self) -> bool:
        """Delay rises with prosumers for every Wi-Fi standard."""
        return bool(self.wifi_rows) and all(r.monotonic for r in self.wifi_rows)

    @property
    def wifi_b_worst(self) -> bool:
        """802.11b has the highest delay at the most prosumers."""
        return self.worst_wifi is Tech.WIFI_B

    @property
    def ethernet_far_below(self) -> bool:
        """Ethernet at least :data:`ETHERNET_BELOW_TARGET` times below every Wi-Fi."""
        return self.ethernet_below >= ETHERNET_BELOW_TARGET


def compare(results: Sequence[RunResult], market: Market, pattern: Pattern) -> Comparison:
    """Check the ``nan-trading`` results of ``market`` and ``pattern`` (thesis traffic)
    against the thesis's shape."""
    mine = [
        r
        for r in results
        if r.config.kind is ScenarioKind.NAN_TRADING
        and r.config.market is market
        and r.config.pattern is pattern
        and r.config.traffic is Traffic.THESIS
        and not math.isnan(r.mean_delay_s)
    ]
    rows = []
    for tech in Tech:
        pts = sorted((r.config.peers, r.mean_delay_s * 1e3) for r in mine if r.config.tech is tech)
        if len(pts) < 2:
            continue
        ds = [d for _, d in pts]
        rows.append(
            TechRow(
                tech,
                tuple(pts),
                ds[-1] / ds[0] if ds[0] > 0 else math.inf,
                all(b > a for a, b in itertools.pairwise(ds)),
            )
        )
    wifi = [r for r in rows if TECH_SPECS[r.tech].wifi]
    eth = [r for r in rows if not TECH_SPECS[r.tech].wifi]
    worst = max(wifi, key=lambda r: r.delay_ms[-1][1]).tech if wifi else None

    def below(at: int) -> float:
        ratios = [
            dict(w.delay_ms)[at] / dict(e.delay_ms)[at]
            for w in wifi
            for e in eth
            if at in dict(w.delay_ms) and dict(e.delay_ms).get(at, 0.0) > 0
        ]
        return min(ratios) if ratios else math.nan

    counts = sorted({p for r in rows for p, _ in r.delay_ms})
    most, fewest = (below(counts[-1]), below(counts[0])) if counts else (math.nan, math.nan)
    return Comparison(market, pattern, tuple(rows), worst, most, fewest)


EXPLANATION = """\
### Why the two patterns differ, and what remains different from the thesis

* **Smooth traffic cannot load these links.** The thesis's rates are tiny next to any
  link: 7 decentralized prosumers offer 42 × 416 B/s ≈ 17.5 kB/s, under 2 % of
  802.11b's 11 Mbit/s. When every flow sends at its own random phase a packet almost
  never meets another, so its delay is one frame's airtime plus a backoff whatever the
  number of prosumers: flat curves, not even monotonic (the flows' phases decide how
  often two frames meet).
* **Bursts do.** A market is not a smooth source: every agent reacts to the same clock
  event (a trading window opening, a gate closing) and sends within about a
  millisecond (`--burst-ms`). A decentralized burst carries n(n−1) messages (2 at 2
  prosumers, 42 at 7) through one shared Wi-Fi channel; each waits for the ones ahead
  of it, so the mean delay grows with the burst: monotonically, for every Wi-Fi
  standard. 802.11b, with the longest airtime per frame (1–11 Mbit/s and a 192 µs
  preamble), is the worst, at about 13 ms with 7 prosumers. Switched full-duplex
  Ethernet gives every house its own link and queues only a house's own n−1 messages,
  so it stays flat. This is the thesis's shape.
* **Difference 1: the growth is steeper than the thesis's.** With a 1 ms burst the
  Wi-Fi delay grows about ×40–×70 from 2 to 7 prosumers, against the thesis's
  ×18–×26. The burst itself grows ×21 (n(n−1)); the delay grows more because at 2
  prosumers the two frames rarely collide, at 7 they queue and back off. NetSim's
  timing of the 8 messages per second is not published; looser synchronization
  (a larger `--burst-ms`) flattens the curve towards the thesis's.
* **Difference 2: Ethernet is two orders of magnitude below only under load.** At 7
  prosumers Wi-Fi is ~100–200× slower than Fast Ethernet, as in the thesis. At 2
  prosumers it is only ~3× slower: an idle Wi-Fi channel costs one frame (a 20–40 µs
  preamble, DIFS and a short backoff, ≈ 50 µs on 802.11ac) and a store-and-forward
  Fast Ethernet switch two serializations of a 108-byte frame (≈ 17 µs). No honest
  model of an idle channel makes that gap ten times wider; the thesis's gap is a gap
  under contention. Gigabit Ethernet stays > 10× below everywhere.
* **Not reproduced: loss.** ns-3's delivery ratio stays at 100 % (retransmissions
  absorb the collisions at these loads) on the default 25 m circle and on the rural
  road (`--spacing`, an access point at the community node, free-space loss): every
  house is within range of the access point, and the farther ones only run at lower
  rates, which adds delay rather than loss. A house beyond its standard's range
  (SNR below 4 dB at the access point: 457 m for 802.11ac, ~1.9 km at 2.4 GHz with
  free-space loss; 59 m and ~155 m with exponent 3) loses everything.
"""


def _row_md(row: TechRow, peers: Sequence[int]) -> str:
    cell = dict(row.delay_ms)
    vals = [f"{cell[p]:.3f}" if p in cell else "" for p in peers]
    mark = "yes" if row.monotonic else "**no**"
    return f"| {row.tech} | {' | '.join(vals)} | ×{row.growth:.1f} | {mark} |"


def thesis_markdown(results: Sequence[RunResult]) -> str:
    """The comparison document: for each market and pattern present, gridpeer's delays,
    their growth and the checks against the thesis's shape, then the explanation."""
    lines = [
        "# gridpeer's network study next to the thesis's (NetSim, chapter 5)",
        "",
        "The thesis (decentralized market, rural neighbourhood, thesis traffic): delay grows "
        f"×{THESIS_GROWTH[0]:g}–×{THESIS_GROWTH[1]:g} from 2 to 7 prosumers for every Wi-Fi "
        "standard, 802.11b is the worst (tens of ms at 7 prosumers), Ethernet about "
        f"{THESIS_ETHERNET_BELOW:g}× below Wi-Fi.",
        "",
    ]
    peers = [p for p in ALL_PEERS if any(r.config.peers == p for r in results)]
    for market in Market:
        for pattern in Pattern:
            c = compare(results, market, pattern)
            if not c.rows:
                continue
            lines += [f"## {market} market, {pattern} traffic", "", "*Mean one-way delay, ms*", ""]
            head = ["technology", *(f"{p} prosumers" for p in peers), "growth", "rises"]
            lines += [f"| {' | '.join(head)} |", "|" + "---|" * len(head)]
            lines += [_row_md(r, peers) for r in c.rows]

            def yes(ok: bool) -> str:
                return "yes" if ok else "**no**"

            lines += [
                "",
                f"- delay rises with prosumers for every Wi-Fi standard: "
                f"{yes(c.all_wifi_monotonic)}",
                f"- 802.11b the worst: {yes(c.wifi_b_worst)} (worst: {c.worst_wifi})",
                f"- Ethernet ≥ {ETHERNET_BELOW_TARGET:g}× below every Wi-Fi standard at "
                f"{peers[-1]} prosumers: {yes(c.ethernet_far_below)} (smallest ratio "
                f"×{c.ethernet_below:.0f}; at {peers[0]} prosumers ×{c.ethernet_below_fewest:.0f})",
                "",
            ]
    return "\n".join([*lines, EXPLANATION])

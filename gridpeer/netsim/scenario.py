"""The scenario builder: which nodes stand where and which periodic flows they send.

Pure (no ns-3): a :class:`RunConfig` names one point of the study; :func:`build_scenario`
turns it into nodes (positions in metres) and flows (UDP payload bytes, interval and
start time in integer nanoseconds, packet count). The ns-3 runner only executes it.

Scenarios (see :mod:`gridpeer.netsim.messages` for the sizes):

* ``han`` — one house: meter, PV, BESS (and, in the thesis traffic, the appliance hub)
  send to the home agent (node 0).
* ``nan-monitoring`` — ``peers`` houses send their monitoring data to the community
  node (the last node): the thesis's 324 B aggregate every 2 s, or gridpeer's three
  readings per second as MQTT publishes.
* ``nan-trading`` — ``peers`` prosumers send 8 market messages per second.
  *Decentralized*: each prosumer sends each message to every other prosumer (unicast,
  peer-to-peer), so the load grows as ``peers × (peers − 1)``. *Centralized*: each
  prosumer sends to the market coordinator (the last node).

Traffic starts after a 1 s warm-up at a random phase, seeded per flow: the same for
every technology (technologies are compared on identical traffic) and for every number
of prosumers (a bigger village only adds flows). It runs for ``seconds`` and is drained
for 1 s. The phase is where the two traffic *patterns* differ:

* ``smooth`` — each flow's phase is uniform within one period: flows interleave, as
  the thesis's constant rates assume.
* ``burst`` — every flow's phase falls within the first ``burst_ms`` milliseconds of
  the period: all agents send at the same instants, as gridpeer's market agents do when
  a trading window opens or a gate closes (they react to the same clock event), so each
  burst carries every flow's message at once and queues behind the others.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from gridpeer.netsim.layout import (
    MAX_HOUSES,
    Layout,
    Point,
    home_layout,
    rural_cluster,
    rural_road,
)
from gridpeer.netsim.messages import (
    THESIS_AGENT_AGGREGATE,
    THESIS_HAN,
    THESIS_MARKET_CENTRALIZED,
    THESIS_MARKET_DECENTRALIZED,
    Message,
    MqttExchange,
    Traffic,
    gridpeer_exchanges,
)
from gridpeer.netsim.radio import DEFAULT_EXPONENT, RURAL_ROAD_EXPONENT, RateControl, Topology
from gridpeer.netsim.technology import Tech

NS_PER_S = 1_000_000_000
WARMUP_NS = 1 * NS_PER_S
AP_WARMUP_NS = 3 * NS_PER_S
"""Warm-up with an access point, ns: stations hear a beacon (every 102.4 ms) and
associate; requests that collide (every station answers the same beacon) are retried
after 0.5 s, so 1 s left late stations dropping or holding their first packets."""
DRAIN_NS = 1 * NS_PER_S
ACK_GAP_NS = 2_000_000
"""Offset of the PUBACK (and of the final TCP ACK) after its PUBLISH, 2 ms."""
MIN_PEERS = 2


class ScenarioKind(StrEnum):
    """Which network segment is studied."""

    HAN = "han"
    NAN_MONITORING = "nan-monitoring"
    NAN_TRADING = "nan-trading"


class Pattern(StrEnum):
    """When in each period the flows send: spread out, or all at once."""

    SMOOTH = "smooth"
    BURST = "burst"


class Market(StrEnum):
    """Market design: who talks to whom in ``nan-trading``."""

    DECENTRALIZED = "decentralized"
    CENTRALIZED = "centralized"


@dataclass(frozen=True)
class RunConfig:
    """One point of the study. ``peers`` is 1 for ``han``; ``market`` only for trading.

    ``seconds`` is simulated traffic time (s); ``pattern`` when flows send within their
    period; ``burst_ms`` the spread of a burst (ms, ``burst`` only). ``spacing_m``, if
    set, puts the village on the rural road (:func:`~gridpeer.netsim.layout.rural_road`,
    houses that many metres apart) instead of the caller's layout; ``topology``,
    ``rate_control`` and ``exponent`` (log-distance path-loss exponent; None: the
    layout's, see :attr:`path_loss_exponent`) shape the Wi-Fi network
    (:mod:`gridpeer.netsim.radio`; ignored for Ethernet).
    """

    kind: ScenarioKind
    tech: Tech
    peers: int = 1
    market: Market | None = None
    traffic: Traffic = Traffic.THESIS
    seconds: float = 10.0
    seed: int = 1
    pattern: Pattern = Pattern.SMOOTH
    burst_ms: float = 1.0
    spacing_m: float | None = None
    topology: Topology = Topology.ADHOC
    rate_control: RateControl = RateControl.IDEAL
    exponent: float | None = None

    def __post_init__(self) -> None:
        if self.kind is ScenarioKind.HAN:
            if self.peers != 1:
                raise ValueError("han is one house: peers must be 1")
        elif not MIN_PEERS <= self.peers <= MAX_HOUSES:
            raise ValueError(f"peers must be {MIN_PEERS}..{MAX_HOUSES}, got {self.peers}")
        if (self.kind is ScenarioKind.NAN_TRADING) != (self.market is not None):
            raise ValueError("market is required for nan-trading and only for it")
        if not 0 < self.seconds <= 3600:
            raise ValueError(f"seconds must be in (0, 3600], got {self.seconds}")
        if self.seed < 1:
            raise ValueError("seed must be >= 1")
        if not 0 < self.burst_ms <= 1000:
            raise ValueError(f"burst_ms must be in (0, 1000], got {self.burst_ms}")
        if self.spacing_m is not None and not 1.0 <= self.spacing_m <= 10_000.0:
            raise ValueError(f"spacing_m must be in [1, 10000] m, got {self.spacing_m}")
        if self.exponent is not None and not 1.5 <= self.exponent <= 6.0:
            raise ValueError(f"exponent must be in [1.5, 6], got {self.exponent}")

    @property
    def path_loss_exponent(self) -> float:
        """``exponent`` if given, else 2.0 (free space) on the rural road and 3.0 on the
        circle or a layout file."""
        if self.exponent is not None:
            return self.exponent
        return RURAL_ROAD_EXPONENT if self.spacing_m is not None else DEFAULT_EXPONENT

    @property
    def warmup_ns(self) -> int:
        """Simulated time before the measured traffic starts, ns (longer with an AP)."""
        return AP_WARMUP_NS if self.topology is Topology.AP else WARMUP_NS

    @property
    def label(self) -> str:
        """Short unique name, e.g. ``nan-trading/decentralized/802.11g/5p/thesis``."""
        parts = [str(self.kind), *([str(self.market)] if self.market else [])]
        tail = [str(self.traffic)] + (["burst"] if self.pattern is Pattern.BURST else [])
        if self.spacing_m is not None:
            tail.append(f"road{self.spacing_m:g}m")
        if self.topology is not Topology.ADHOC:
            tail.append(str(self.topology))
        if self.rate_control is not RateControl.IDEAL:
            tail.append(str(self.rate_control))
        if self.exponent is not None:
            tail.append(f"n{self.exponent:g}")
        return "/".join([*parts, str(self.tech), f"{self.peers}p", *tail])


@dataclass(frozen=True)
class Node:
    """A network node: name and position (x, y) in metres."""

    name: str
    pos: Point


@dataclass(frozen=True)
class Flow:
    """A periodic UDP stream from node ``src`` to node ``dst``.

    ``size_b`` payload bytes every ``interval_ns`` ns, ``packets`` times, the first at
    ``start_ns`` ns of simulated time.
    """

    name: str
    src: int
    dst: int
    size_b: int
    interval_ns: int
    start_ns: int
    packets: int

    @property
    def rate_bps(self) -> float:
        """Offered application load, bytes per second."""
        return self.size_b * NS_PER_S / self.interval_ns


@dataclass(frozen=True)
class Scenario:
    """What the ns-3 runner executes: nodes, flows and the simulated end time (ns)."""

    config: RunConfig
    nodes: tuple[Node, ...]
    flows: tuple[Flow, ...]
    stop_ns: int
    hub: Point = (0.0, 0.0)
    """Where the Ethernet switch stands (the community node / home agent), metres."""

    @property
    def offered_bps(self) -> float:
        """Total offered application load, bytes per second."""
        return sum(f.rate_bps for f in self.flows)

    @property
    def sent_b(self) -> int:
        """Application bytes the flows send in total, B."""
        return sum(f.size_b * f.packets for f in self.flows)


class _FlowMaker:
    """Builds flows with seeded random phases and exact packet counts."""

    def __init__(self, config: RunConfig, nodes: list[Node]) -> None:
        self._nodes = nodes  # the builder's node list, read when flows are added
        self._key = f"{config.seed}/{config.kind}/{config.market}/{config.traffic}"
        self._burst_ns = (
            max(1, round(config.burst_ms * 1e6)) if config.pattern is Pattern.BURST else None
        )
        self._warmup_ns = config.warmup_ns
        self.end_ns = self._warmup_ns + round(config.seconds * NS_PER_S)
        self.flows: list[Flow] = []

    def message(self, msg: Message, src: int, dst: int) -> None:
        interval = round(msg.interval_s * NS_PER_S)
        start = self._phase(interval, msg.name, src, dst)
        self._add(msg.name, src, dst, msg.size_b, interval, start)

    def exchange(self, ex: MqttExchange, interval_s: float, src: int, broker: int) -> None:
        interval = round(interval_s * NS_PER_S)
        start = self._phase(interval, ex.name, src, broker)
        self._add(f"{ex.name}/publish", src, broker, ex.publish_b, interval, start)
        self._add(f"{ex.name}/puback", broker, src, ex.puback_b, interval, start + ACK_GAP_NS)
        self._add(f"{ex.name}/ack", src, broker, ex.ack_b, interval, start + 2 * ACK_GAP_NS)

    def _phase(self, interval_ns: int, name: str, src: int, dst: int) -> int:
        # seeded per flow: adding prosumers adds flows but leaves existing ones unchanged
        ends = f"{self._nodes[src].name}/{self._nodes[dst].name}"
        rng = random.Random(f"{self._key}/{name}/{ends}")
        spread = interval_ns if self._burst_ns is None else min(self._burst_ns, interval_ns)
        return self._warmup_ns + rng.randrange(spread)

    def _add(self, name: str, src: int, dst: int, size: int, interval: int, start: int) -> None:
        packets = max(0, -(-(self.end_ns - start) // interval))  # sends at start + k*interval < end
        self.flows.append(Flow(name, src, dst, size, interval, start, packets))


def _village(config: RunConfig, layout: Layout | None, radius_m: float) -> Layout:
    if config.spacing_m is not None:
        return rural_road(MAX_HOUSES, config.spacing_m)
    return layout if layout is not None else rural_cluster(MAX_HOUSES, radius_m)


def build_scenario(
    config: RunConfig, layout: Layout | None = None, radius_m: float = 25.0
) -> Scenario:
    """Nodes and flows of ``config`` on ``layout`` (default: :func:`rural_cluster`;
    the rural road if ``config.spacing_m`` is set)."""
    nodes: list[Node] = []
    maker = _FlowMaker(config, nodes)
    gp = gridpeer_exchanges() if config.traffic is Traffic.GRIDPEER else {}
    if config.kind is ScenarioKind.HAN:
        if config.traffic is Traffic.THESIS:
            devices = tuple(m.name for m in THESIS_HAN)
        else:
            devices = ("meter", "pv", "bess")
        home = home_layout(devices)
        nodes.append(Node("agent", home.coordinator))
        nodes += [Node(d, p) for d, p in zip(devices, home.houses, strict=True)]
        for k, dev in enumerate(devices, start=1):
            if config.traffic is Traffic.THESIS:
                maker.message(THESIS_HAN[k - 1], k, 0)
            else:
                maker.exchange(gp[dev], 1.0, k, 0)
    else:
        village = _village(config, layout, radius_m).first(config.peers)
        nodes += [Node(f"house-{k + 1}", p) for k, p in enumerate(village.houses)]
        coord = len(nodes)
        nodes.append(Node("community", village.coordinator))
        houses = range(config.peers)
        if config.kind is ScenarioKind.NAN_MONITORING:
            for h in houses:
                if config.traffic is Traffic.THESIS:
                    maker.message(THESIS_AGENT_AGGREGATE, h, coord)
                else:
                    for dev in ("meter", "pv", "bess"):
                        maker.exchange(gp[dev], 1.0, h, coord)
        elif config.market is Market.CENTRALIZED:
            for h in houses:
                if config.traffic is Traffic.THESIS:
                    maker.message(THESIS_MARKET_CENTRALIZED, h, coord)
                else:
                    maker.exchange(
                        gp["market-centralized"], THESIS_MARKET_CENTRALIZED.interval_s, h, coord
                    )
        else:
            nodes.pop()  # peer-to-peer: no community node
            for h in houses:
                for other in houses:
                    if other == h:
                        continue
                    if config.traffic is Traffic.THESIS:
                        maker.message(THESIS_MARKET_DECENTRALIZED, h, other)
                    else:
                        maker.exchange(
                            gp["market-decentralized"],
                            THESIS_MARKET_DECENTRALIZED.interval_s,
                            h,
                            other,
                        )
    hub = (
        nodes[0].pos
        if config.kind is ScenarioKind.HAN
        else _village(config, layout, radius_m).coordinator
    )
    return Scenario(config, tuple(nodes), tuple(maker.flows), maker.end_ns + DRAIN_NS, hub)

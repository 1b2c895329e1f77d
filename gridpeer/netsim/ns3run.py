"""Run one :class:`~gridpeer.netsim.scenario.Scenario` in ns-3 and read FlowMonitor totals.

Importing this module imports ns-3 (``from ns import ns``, ~6 s). Traffic is driven by
ns-3's own ``UdpClient`` applications (no Python per packet), so a run costs
milliseconds of Python and the rest is ns-3's C++ event loop.

Models (all documented in docs/netsim.md):

* Wi-Fi: YANS channel, ``LogDistancePropagationLossModel`` (exponent 3.0, 2.0 on the
  rural road; reference loss = free space at 1 m for the carrier), constant-speed
  propagation delay, ns-3's default PHY (16.0206 dBm transmit power, 7 dB noise
  figure) with noise-limited preamble detection (SNR >= 4 dB, power >= -101 dBm; see
  :mod:`gridpeer.netsim.radio`), ``AdhocWifiMac`` or an access point with stations,
  ``IdealWifiManager`` or Minstrel rate control; antennas 1.5 m above ground.
* ARP caches are filled before the run (``NeighborCacheHelper``), and during the 1 s
  warm-up (3 s with an access point, for association) one probe packet per directed
  link teaches the rate control that link;
  FlowMonitor counts only from the end of the warm-up. The study measures
  steady-state delay, not address resolution or rate learning.
* Ethernet: one learning switch (``BridgeNetDevice``) at the hub, a CSMA link of the
  technology's line rate from every node, cable delay 5 ns per metre of distance.
"""

from __future__ import annotations

import time
from typing import Any

from ns import ns

from gridpeer.netsim.layout import distance_m
from gridpeer.netsim.radio import (
    DEFAULT_EXPONENT,
    MIN_RSSI_DBM,
    PREAMBLE_SNR_DB,
    RateControl,
    Topology,
    rate_manager,
)
from gridpeer.netsim.results import FlowTotals, RunResult
from gridpeer.netsim.scenario import Scenario
from gridpeer.netsim.technology import TECH_SPECS, TechSpec

PORT = 9
ANTENNA_HEIGHT_M = 1.5
PATH_LOSS_EXPONENT = DEFAULT_EXPONENT
SSID = "gridpeer"
CABLE_NS_PER_M = 5.0
RNG_STREAM_BASE = 1000
PROBE_START_NS = 100_000_000
PROBE_START_AP_NS = 2_000_000_000
"""With an AP, probes start once every station has associated (see ``AP_WARMUP_NS``)."""
PROBE_GAP_NS = 5_000_000


def _wifi_devices(
    spec: TechSpec,
    nodes: Any,
    *,
    ap: int | None = None,
    rate_control: RateControl = RateControl.IDEAL,
    exponent: float = PATH_LOSS_EXPONENT,
) -> Any:
    """Wi-Fi devices on ``nodes`` (in node order): ad hoc, or with node ``ap`` the access
    point and every other node a station of its network."""
    wifi = ns.WifiHelper()
    wifi.SetStandard(getattr(ns, spec.standard))
    wifi.SetRemoteStationManager(rate_manager(rate_control, spec.tech))
    channel = ns.YansWifiChannelHelper()
    channel.SetPropagationDelay("ns3::ConstantSpeedPropagationDelayModel")
    channel.AddPropagationLoss(
        "ns3::LogDistancePropagationLossModel",
        "Exponent",
        ns.DoubleValue(exponent),
        "ReferenceLoss",
        ns.DoubleValue(spec.reference_loss_db),
    )
    phy = ns.YansWifiPhyHelper()
    phy.SetChannel(channel.Create())
    # ns-3's default preamble detection drops every frame below -82 dBm (the 802.11
    # standard's worst-case OFDM sensitivity) whatever its SNR: a hard range of 85 m at
    # 2.4 GHz and 51 m at 5 GHz (exponent 3). Receivers are limited by noise instead.
    phy.SetPreambleDetectionModel(
        "ns3::ThresholdPreambleDetectionModel",
        "MinimumRssi",
        ns.DoubleValue(MIN_RSSI_DBM),
        "Threshold",
        ns.DoubleValue(PREAMBLE_SNR_DB),
    )
    phy.Set("ChannelSettings", ns.StringValue(spec.channel))
    mac = ns.WifiMacHelper()
    if ap is None:
        mac.SetType("ns3::AdhocWifiMac")
        devices = wifi.Install(phy, mac, nodes)
    else:
        ssid = ns.SsidValue(ns.Ssid(SSID))
        by_node: dict[int, Any] = {}
        mac.SetType("ns3::ApWifiMac", "Ssid", ssid)
        by_node[ap] = wifi.Install(phy, mac, nodes.Get(ap)).Get(0)
        mac.SetType("ns3::StaWifiMac", "Ssid", ssid)
        for k in range(nodes.GetN()):
            if k != ap:
                by_node[k] = wifi.Install(phy, mac, nodes.Get(k)).Get(0)
        devices = ns.NetDeviceContainer()
        for k in range(nodes.GetN()):
            devices.Add(by_node[k])
    wifi.AssignStreams(devices, RNG_STREAM_BASE)
    return devices


def _ethernet_devices(spec: TechSpec, scenario: Scenario, nodes: Any) -> Any:
    switch = ns.NodeContainer()
    switch.Create(1)
    csma = ns.CsmaHelper()
    csma.SetChannelAttribute("DataRate", ns.DataRateValue(ns.DataRate(spec.rate_bps)))
    hosts = ns.NetDeviceContainer()
    ports = ns.NetDeviceContainer()
    for k, node in enumerate(scenario.nodes):
        cable_ns = max(1, round(distance_m(node.pos, scenario.hub) * CABLE_NS_PER_M))
        csma.SetChannelAttribute("Delay", ns.TimeValue(ns.NanoSeconds(cable_ns)))
        pair = ns.NodeContainer()
        pair.Add(nodes.Get(k))
        pair.Add(switch.Get(0))
        link = csma.Install(pair)
        hosts.Add(link.Get(0))
        ports.Add(link.Get(1))
    ns.BridgeHelper().Install(switch.Get(0), ports)
    return hosts


def _positions(points: list[tuple[float, float]], nodes: Any) -> None:
    alloc = ns.ListPositionAllocator()
    for x, y in points:
        alloc.Add(ns.Vector(x, y, ANTENNA_HEIGHT_M))
    mobility = ns.MobilityHelper()
    mobility.SetPositionAllocator(alloc)
    mobility.SetMobilityModel("ns3::ConstantPositionMobilityModel")
    mobility.Install(nodes)


def access_point(scenario: Scenario) -> int | None:
    """Index of the scenario node that is the access point (the community node or the
    home agent standing at the hub), or None if the AP must be a node of its own (the
    decentralized market has no community node)."""
    for k, node in enumerate(scenario.nodes):
        if node.name in ("community", "agent") and node.pos == scenario.hub:
            return k
    return None


def _applications(scenario: Scenario, nodes: Any, addresses: list[Any]) -> None:
    stop = ns.NanoSeconds(scenario.stop_ns)
    servers = ns.UdpServerHelper(PORT).Install(nodes)
    servers.Start(ns.Seconds(0.0))
    servers.Stop(stop)
    for flow in scenario.flows:
        client = ns.UdpClientHelper(ns.InetSocketAddress(addresses[flow.dst], PORT).ConvertTo())
        client.SetAttribute("MaxPackets", ns.UintegerValue(flow.packets))
        client.SetAttribute("Interval", ns.TimeValue(ns.NanoSeconds(flow.interval_ns)))
        client.SetAttribute("PacketSize", ns.UintegerValue(flow.size_b))
        app = client.Install(nodes.Get(flow.src))
        app.Start(ns.NanoSeconds(flow.start_ns))
        app.Stop(stop)


def _probes(scenario: Scenario, nodes: Any, addresses: list[Any], start_ns: int) -> None:
    """One packet per directed pair during the warm-up, 5 ms apart from ``start_ns``, not
    counted: rate control learns every link before the measured traffic starts."""
    pairs = sorted({(f.src, f.dst, f.size_b) for f in scenario.flows})
    seen: set[tuple[int, int]] = set()
    at = start_ns
    for src, dst, size in pairs:
        if (src, dst) in seen:
            continue
        seen.add((src, dst))
        client = ns.UdpClientHelper(ns.InetSocketAddress(addresses[dst], PORT).ConvertTo())
        client.SetAttribute("MaxPackets", ns.UintegerValue(1))
        client.SetAttribute("PacketSize", ns.UintegerValue(size))
        app = client.Install(nodes.Get(src))
        app.Start(ns.NanoSeconds(at))
        app.Stop(ns.NanoSeconds(scenario.config.warmup_ns))
        at += PROBE_GAP_NS
    if at > scenario.config.warmup_ns - PROBE_START_NS:
        raise ValueError(f"{len(seen)} links need more probing time than the warm-up")


def _totals(monitor: Any) -> FlowTotals:
    monitor.CheckForLostPackets()
    tx = rx = txb = rxb = samples = flows = 0
    delay = jitter = 0.0
    for item in monitor.GetFlowStats():
        st = item.second
        flows += 1
        tx += int(st.txPackets)
        rx += int(st.rxPackets)
        txb += int(st.txBytes)
        rxb += int(st.rxBytes)
        delay += st.delaySum.GetSeconds()
        jitter += st.jitterSum.GetSeconds()
        samples += max(0, int(st.rxPackets) - 1)
    return FlowTotals(tx, rx, txb, rxb, delay, jitter, samples, flows)


def simulate(scenario: Scenario) -> RunResult:
    """Run ``scenario`` in ns-3 and return its totals. Cleans ns-3's global state after."""
    t0 = time.perf_counter()
    spec = TECH_SPECS[scenario.config.tech]
    ns.RngSeedManager.SetSeed(scenario.config.seed)
    ns.RngSeedManager.SetRun(1)
    ns.Ipv4AddressGenerator.Reset()
    config = scenario.config
    points = [node.pos for node in scenario.nodes]
    ap: int | None = None
    if spec.wifi and config.topology is Topology.AP:
        ap = access_point(scenario)
        if ap is None:  # an access point of its own at the hub, after the scenario's nodes
            ap = len(points)
            points.append(scenario.hub)
    nodes = ns.NodeContainer()
    nodes.Create(len(points))
    _positions(points, nodes)
    if spec.wifi:
        devices = _wifi_devices(
            spec, nodes, ap=ap, rate_control=config.rate_control, exponent=config.path_loss_exponent
        )
    else:
        devices = _ethernet_devices(spec, scenario, nodes)
    ns.InternetStackHelper().Install(nodes)
    ipv4 = ns.Ipv4AddressHelper()
    ipv4.SetBase(ns.Ipv4Address("10.1.0.0"), ns.Ipv4Mask("255.255.0.0"))
    interfaces = ipv4.Assign(devices)
    addresses = [interfaces.GetAddress(k) for k in range(len(scenario.nodes))]
    ns.NeighborCacheHelper().PopulateNeighborCache()
    _applications(scenario, nodes, addresses)
    _probes(scenario, nodes, addresses, PROBE_START_NS if ap is None else PROBE_START_AP_NS)
    helper = ns.FlowMonitorHelper()
    helper.SetMonitorAttribute("StartTime", ns.TimeValue(ns.NanoSeconds(config.warmup_ns)))
    monitor = helper.InstallAll()
    ns.Simulator.Stop(ns.NanoSeconds(scenario.stop_ns))
    ns.Simulator.Run()
    totals = _totals(monitor)
    ns.Simulator.Destroy()
    return RunResult(scenario.config, totals, scenario.offered_bps, time.perf_counter() - t0)

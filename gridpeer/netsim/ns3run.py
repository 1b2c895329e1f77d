"""Run one :class:`~gridpeer.netsim.scenario.Scenario` in ns-3 and read FlowMonitor totals.

Importing this module imports ns-3 (``from ns import ns``, ~6 s). Traffic is driven by
ns-3's own ``UdpClient`` applications (no Python per packet), so a run costs
milliseconds of Python and the rest is ns-3's C++ event loop.

Models (all documented in docs/netsim.md):

* Wi-Fi: YANS channel, ``LogDistancePropagationLossModel`` (exponent 3.0, reference
  loss = free space at 1 m for the carrier), constant-speed propagation delay, ns-3's
  default PHY (16.0206 dBm transmit power, 7 dB noise figure), ``AdhocWifiMac``,
  ``IdealWifiManager`` rate control; antennas 1.5 m above ground.
* ARP caches are filled before the run (``NeighborCacheHelper``), and during the 1 s
  warm-up one probe packet per directed link teaches the rate control that link;
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
from gridpeer.netsim.results import FlowTotals, RunResult
from gridpeer.netsim.scenario import WARMUP_NS, Scenario
from gridpeer.netsim.technology import TECH_SPECS, TechSpec

PORT = 9
ANTENNA_HEIGHT_M = 1.5
PATH_LOSS_EXPONENT = 3.0
CABLE_NS_PER_M = 5.0
RNG_STREAM_BASE = 1000
PROBE_START_NS = 100_000_000
PROBE_GAP_NS = 5_000_000


def _wifi_devices(spec: TechSpec, nodes: Any) -> Any:
    wifi = ns.WifiHelper()
    wifi.SetStandard(getattr(ns, spec.standard))
    wifi.SetRemoteStationManager("ns3::IdealWifiManager")
    channel = ns.YansWifiChannelHelper()
    channel.SetPropagationDelay("ns3::ConstantSpeedPropagationDelayModel")
    channel.AddPropagationLoss(
        "ns3::LogDistancePropagationLossModel",
        "Exponent",
        ns.DoubleValue(PATH_LOSS_EXPONENT),
        "ReferenceLoss",
        ns.DoubleValue(spec.reference_loss_db),
    )
    phy = ns.YansWifiPhyHelper()
    phy.SetChannel(channel.Create())
    phy.Set("ChannelSettings", ns.StringValue(spec.channel))
    mac = ns.WifiMacHelper()
    mac.SetType("ns3::AdhocWifiMac")
    devices = wifi.Install(phy, mac, nodes)
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


def _positions(scenario: Scenario, nodes: Any) -> None:
    alloc = ns.ListPositionAllocator()
    for node in scenario.nodes:
        alloc.Add(ns.Vector(node.pos[0], node.pos[1], ANTENNA_HEIGHT_M))
    mobility = ns.MobilityHelper()
    mobility.SetPositionAllocator(alloc)
    mobility.SetMobilityModel("ns3::ConstantPositionMobilityModel")
    mobility.Install(nodes)


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


def _probes(scenario: Scenario, nodes: Any, addresses: list[Any]) -> None:
    """One packet per directed pair during the warm-up, 5 ms apart, not counted: rate
    control learns every link before the measured traffic starts."""
    pairs = sorted({(f.src, f.dst, f.size_b) for f in scenario.flows})
    seen: set[tuple[int, int]] = set()
    at = PROBE_START_NS
    for src, dst, size in pairs:
        if (src, dst) in seen:
            continue
        seen.add((src, dst))
        client = ns.UdpClientHelper(ns.InetSocketAddress(addresses[dst], PORT).ConvertTo())
        client.SetAttribute("MaxPackets", ns.UintegerValue(1))
        client.SetAttribute("PacketSize", ns.UintegerValue(size))
        app = client.Install(nodes.Get(src))
        app.Start(ns.NanoSeconds(at))
        app.Stop(ns.NanoSeconds(WARMUP_NS))
        at += PROBE_GAP_NS
    if at > WARMUP_NS // 2:
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
    nodes = ns.NodeContainer()
    nodes.Create(len(scenario.nodes))
    _positions(scenario, nodes)
    devices = _wifi_devices(spec, nodes) if spec.wifi else _ethernet_devices(spec, scenario, nodes)
    ns.InternetStackHelper().Install(nodes)
    ipv4 = ns.Ipv4AddressHelper()
    ipv4.SetBase(ns.Ipv4Address("10.1.0.0"), ns.Ipv4Mask("255.255.0.0"))
    interfaces = ipv4.Assign(devices)
    addresses = [interfaces.GetAddress(k) for k in range(len(scenario.nodes))]
    ns.NeighborCacheHelper().PopulateNeighborCache()
    _applications(scenario, nodes, addresses)
    _probes(scenario, nodes, addresses)
    helper = ns.FlowMonitorHelper()
    helper.SetMonitorAttribute("StartTime", ns.TimeValue(ns.NanoSeconds(WARMUP_NS)))
    monitor = helper.InstallAll()
    ns.Simulator.Stop(ns.NanoSeconds(scenario.stop_ns))
    ns.Simulator.Run()
    totals = _totals(monitor)
    ns.Simulator.Destroy()
    return RunResult(scenario.config, totals, scenario.offered_bps, time.perf_counter() - t0)

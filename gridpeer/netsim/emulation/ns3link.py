"""ns-3 in real time as the link emulator: the houses' and the broker's packets cross
the study's simulated Wi-Fi channel (:mod:`gridpeer.netsim.ns3run`'s model: YANS,
ideal rate control, noise-limited preamble detection; by default the rural road's
access point on the broker's node and free-space loss, exponent 2). Run by
:class:`~gridpeer.netsim.emulation.rig.NetRig` (``engine="ns3"``) as a child process
that inherits the namespaces' TAP descriptors::

    python -m gridpeer.netsim.emulation.ns3link --tech 802.11g --spacing 30 --fd 5 --fd 6

Descriptor *i* (0 = the broker's namespace, *k* = house *k*) is an ns-3 ``FdNetDevice``
on router node *i* (``10.78.i.1/24``; the namespace holds ``10.78.i.2`` with its default
route via ``.1``); the router nodes share one Wi-Fi channel, node *i* at ``i × spacing``
metres along a road, node 0 the access point (``--topology ap``) or every node one hop
from every other (``adhoc``), and forward by global routing. Runs until killed.
"""

from __future__ import annotations

import argparse

from gridpeer.netsim.radio import RURAL_ROAD_EXPONENT, Topology
from gridpeer.netsim.technology import TECH_SPECS, Tech


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tech", default=Tech.WIFI_G.value, choices=[t.value for t in Tech])
    p.add_argument("--spacing", type=float, default=30.0, help="metres between nodes")
    p.add_argument("--fd", type=int, action="append", required=True, help="TAP descriptor")
    p.add_argument("--topology", default=Topology.AP.value, choices=[t.value for t in Topology])
    p.add_argument("--exponent", type=float, default=RURAL_ROAD_EXPONENT, help="path loss")
    args = p.parse_args()
    spec = TECH_SPECS[Tech(args.tech)]
    if not spec.wifi:
        p.error("only Wi-Fi technologies are emulated")

    from ns import ns

    from gridpeer.netsim.ns3run import ANTENNA_HEIGHT_M, _wifi_devices

    ns.GlobalValue.Bind("SimulatorImplementationType", ns.StringValue("ns3::RealtimeSimulatorImpl"))
    ns.GlobalValue.Bind("ChecksumEnabled", ns.BooleanValue(True))
    n = len(args.fd)
    nodes = ns.NodeContainer()
    nodes.Create(n)
    ns.InternetStackHelper().Install(nodes)
    alloc = ns.ListPositionAllocator()
    for i in range(n):
        alloc.Add(ns.Vector(i * args.spacing, 0.0, ANTENNA_HEIGHT_M))
    mobility = ns.MobilityHelper()
    mobility.SetPositionAllocator(alloc)
    mobility.SetMobilityModel("ns3::ConstantPositionMobilityModel")
    mobility.Install(nodes)
    air = ns.Ipv4AddressHelper()
    air.SetBase(ns.Ipv4Address("10.78.250.0"), ns.Ipv4Mask("255.255.255.0"))
    ap = 0 if args.topology == Topology.AP.value else None
    air.Assign(_wifi_devices(spec, nodes, ap=ap, exponent=args.exponent))
    for i, fd in enumerate(args.fd):
        devices = ns.FdNetDeviceHelper().Install(nodes.Get(i))
        device = ns.DynamicCast[ns.FdNetDevice](devices.Get(0))
        device.SetFileDescriptor(fd)
        device.SetAddress(ns.Mac48Address.Allocate().ConvertTo())
        lan = ns.Ipv4AddressHelper()
        lan.SetBase(
            ns.Ipv4Address(f"10.78.{i}.0"), ns.Ipv4Mask("255.255.255.0"), ns.Ipv4Address("0.0.0.1")
        )
        lan.Assign(devices)
    ns.Ipv4GlobalRoutingHelper.PopulateRoutingTables()
    ns.Simulator.Stop(ns.Seconds(10**6))
    print(f"ns3link {n} nodes over {spec.tech.value} ready", flush=True)
    ns.Simulator.Run()


if __name__ == "__main__":
    main()

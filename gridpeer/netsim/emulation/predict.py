"""ns-3's prediction for one emulated link: the one-way latency of small messages sent
over TCP across a point-to-point link with the same loss and delay (needs ns-3,
``pip install gridpeer[netsim]``).

The model: two nodes, a 100 Mbit/s point-to-point link with the one-way ``delay_ms``,
each direction dropping packets with probability ``loss`` (``RateErrorModel``, unit
packet), ns-3's TCP (its default congestion control) with Linux's 200 ms minimum RTO;
the sender writes a ``size``-byte message (stamped with its send time) every ``gap_s``
seconds, the receiver reassembles them from the byte stream and notes each one's
latency. That is what a QoS-1 MQTT publish (a delivery command, a reading) meets on the
link, without MQTT's own acknowledgements and without the link's jitter. Linux's TCP
recovers tail losses faster (tail-loss probes, RACK), so the prediction is an upper
bound at high loss.
"""

from __future__ import annotations

from typing import Any

_CPP = r"""
#include "ns3/core-module.h"
#include "ns3/network-module.h"
#include "ns3/internet-module.h"
#include "ns3/point-to-point-module.h"
#include <cstring>
namespace gplpredict {
using namespace ns3;
class Sink {
 public:
  std::vector<double> lat_ms;
  uint32_t size;
  std::string buf;
  explicit Sink(uint32_t s) : size(s) {}
  static void Connect(Ptr<Socket> s, InetSocketAddress a) { s->Connect(a); }
  bool Request(Ptr<Socket>, const Address&) { return true; }
  void Accept(Ptr<Socket> s, const Address&) {
    s->SetRecvCallback(MakeCallback(&Sink::Recv, this));
  }
  void Recv(Ptr<Socket> s) {
    Ptr<Packet> p;
    while ((p = s->Recv())) {
      std::string chunk(p->GetSize(), '\0');
      p->CopyData(reinterpret_cast<uint8_t*>(&chunk[0]), p->GetSize());
      buf += chunk;
      while (buf.size() >= size) {
        int64_t sent;
        std::memcpy(&sent, buf.data(), 8);
        lat_ms.push_back((Simulator::Now().GetNanoSeconds() - sent) / 1e6);
        buf.erase(0, size);
      }
    }
  }
};
class Source {
 public:
  Ptr<Socket> sock;
  uint32_t size;
  Time gap;
  uint32_t left;
  Source(Ptr<Socket> s, uint32_t sz, Time g, uint32_t n) : sock(s), size(sz), gap(g), left(n) {}
  void Send() {
    if (left == 0) return;
    left--;
    std::string m(size, 'x');
    int64_t now = Simulator::Now().GetNanoSeconds();
    std::memcpy(&m[0], &now, 8);
    sock->Send(Create<Packet>(reinterpret_cast<const uint8_t*>(m.data()), size));
    Simulator::Schedule(gap, &Source::Send, this);
  }
};
std::vector<double> run(double loss, double delay_ms, uint32_t n, double gap_s,
                        uint32_t size, uint32_t seed) {
  RngSeedManager::SetSeed(seed);
  RngSeedManager::SetRun(1);
  Config::SetDefault("ns3::TcpSocketBase::MinRto", TimeValue(MilliSeconds(200)));
  NodeContainer nodes;
  nodes.Create(2);
  PointToPointHelper p2p;
  p2p.SetDeviceAttribute("DataRate", StringValue("100Mbps"));
  p2p.SetChannelAttribute("Delay", TimeValue(MicroSeconds((int64_t)(delay_ms * 1000))));
  NetDeviceContainer dev = p2p.Install(nodes);
  for (int i = 0; i < 2; i++) {
    Ptr<RateErrorModel> em = CreateObject<RateErrorModel>();
    em->SetAttribute("ErrorUnit", StringValue("ERROR_UNIT_PACKET"));
    em->SetAttribute("ErrorRate", DoubleValue(loss));
    em->AssignStreams(1000 + i);
    dev.Get(i)->SetAttribute("ReceiveErrorModel", PointerValue(em));
  }
  InternetStackHelper().Install(nodes);
  Ipv4AddressHelper ip;
  ip.SetBase("10.1.0.0", "255.255.255.0");
  Ipv4InterfaceContainer ifs = ip.Assign(dev);
  Sink sink(size);
  Ptr<Socket> ls = Socket::CreateSocket(nodes.Get(1), TcpSocketFactory::GetTypeId());
  ls->Bind(InetSocketAddress(Ipv4Address::GetAny(), 1883));
  ls->Listen();
  ls->SetAcceptCallback(MakeCallback(&Sink::Request, &sink), MakeCallback(&Sink::Accept, &sink));
  Ptr<Socket> cs = Socket::CreateSocket(nodes.Get(0), TcpSocketFactory::GetTypeId());
  Simulator::Schedule(Seconds(1), &Sink::Connect, cs, InetSocketAddress(ifs.GetAddress(1), 1883));
  Source src(cs, size, Seconds(gap_s), n);
  Simulator::Schedule(Seconds(5), &Source::Send, &src);
  Simulator::Stop(Seconds(5 + n * gap_s + 300));
  Simulator::Run();
  Simulator::Destroy();
  return sink.lat_ms;
}
}
"""

_defined = False


def _model() -> Any:
    global _defined
    import cppyy  # type: ignore[import-untyped]
    from ns import ns  # noqa: F401 - loads ns-3's libraries and headers

    if not _defined:
        cppyy.cppdef(_CPP)
        _defined = True
    return cppyy.gbl.gplpredict


def message_latencies_ms(
    loss: float,
    delay_ms: float,
    messages: int = 2000,
    gap_s: float = 0.2,
    size: int = 100,
    seed: int = 1,
) -> list[float]:
    """Latency (ms) of each of ``messages`` ``size``-byte messages sent every ``gap_s`` s
    over TCP across a link with packet ``loss`` (0..1) each way and one-way ``delay_ms``,
    as ns-3 simulates it (messages still in flight 300 s after the last is sent are
    missing from the list)."""
    if size < 8:
        raise ValueError("messages carry an 8-byte send time: size must be >= 8")
    return [float(x) for x in _model().run(loss, delay_ms, messages, gap_s, size, seed)]

"""The live system over emulated lossy links (root, ``ip netns``, /dev/net/tun): real
Mosquitto, anvil, oracle, ingest, delivery agents and sensor nodes, each house in its own
network namespace behind the userspace link emulator."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gridpeer.netsim.emulation.link import LinkParams
from gridpeer.netsim.emulation.live import PRICE, LiveCommunity, wait_for
from gridpeer.netsim.emulation.netns import namespaces
from gridpeer.netsim.emulation.rig import rig_prefix
from gridpeer.oracle.rules import payment_wei

pytestmark = [pytest.mark.netns, pytest.mark.mosquitto, pytest.mark.anvil, pytest.mark.slow]

WH = 20  # per trade: 2 s of the agents' 36 kW (10 Wh/s) in a 4 s window


def ours() -> list[str]:
    return [ns for ns in namespaces() if ns.startswith(rig_prefix())]


def test_lossy_links_lose_no_reading_and_settle_every_trade(tmp_path: Path) -> None:
    with LiveCommunity(tmp_path, 3, LinkParams(loss=0.05, delay_ms=200, jitter_ms=20)) as com:
        assert len(ours()) == 4  # the broker's namespace and one per house
        t0 = com.now() + 6
        pairs = [("h1", "h2"), ("h2", "h3"), ("h3", "h1")]
        trades = {  # one slot of 4 s after the other
            com.trade(s, b, WH, t0 + 4 * k, t0 + 4 * k + 4): (s, b)
            for k, (s, b) in enumerate(pairs)
        }
        wait_for(lambda: set(com.confirmations()) == set(trades), 90, "every trade confirmed")
        m = com.finish()
        counts = com.rig.emulator.counts() if com.rig.emulator else {}
        conf = com.confirmations()
        for tid, (seller, buyer) in trades.items():
            assert conf[tid] == (WH, payment_wei(WH, PRICE), 0)  # delivered in full
            assert com.agent_rows(seller)[tid][1] >= WH
            assert com.agent_rows(buyer)[tid][1] >= WH
    assert ours() == []  # the rig removed its namespaces
    assert all(dropped > 0 for _, dropped in counts.values())  # the links did lose packets
    assert sum(m.published.values()) >= 3 * 10  # a reading a second for each house
    assert m.readings_lost == 0 and m.published == m.stored
    assert m.commands_missing == 0 and len(m.command_ms) >= 2 * len(trades)
    assert min(m.command_ms) >= 180  # each command crossed a 200 ± 20 ms link
    assert min(m.reading_delay_ms) >= 180


def test_a_house_cut_off_refunds_its_buyers(tmp_path: Path) -> None:
    # h1 buys from h3, whose link drops every packet (100 % loss both ways): h3 never hears
    # of the trade, no energy reaches h1 (its meter reads 0 W); h1 also sells to h2
    powers = {"h1": 0.0}
    with LiveCommunity(tmp_path, 3, LinkParams(delay_ms=20), powers=powers) as com:
        com.rig.set_link(LinkParams(loss=1.0), "h3")
        t0 = com.now() + 5
        cut = com.trade("h3", "h1", WH, t0, t0 + 4)
        ok = com.trade("h1", "h2", 5, t0, t0 + 4)  # h1 sells nothing (0 W): h2 is refunded
        wait_for(lambda: com.now() > t0 + 4 + com.grace_s + 1, 60, "the grace period over")
        wait_for(lambda: ok in com.confirmations(), 30, "the healthy trade settled")
        # the oracle's deadline (window end + grace/2) comes before the contract's grace
        # ends: it confirms 0 Wh on the buyer's meter, so the buyer never has to reclaim
        escrow = payment_wei(WH, PRICE)
        assert com.confirmations()[cut] == (0, 0, escrow)
        assert cut not in com.reclaimed() and not com.is_open(cut)
        assert com.credit("h3") == 0  # the cut-off seller is paid nothing
        assert com.credit("h1") == escrow  # the buyer has all its escrow back
        assert cut not in com.agent_rows("h3")  # no command ever reached h3
        # the link comes back: h3's persistent sessions deliver what was queued
        com.rig.set_link(LinkParams(delay_ms=20), "h3")
        time.sleep(3.0)
        m = com.finish()
        assert m.readings_lost == 0
    assert ours() == []


def test_back_to_back_windows_over_a_slow_link(tmp_path: Path) -> None:
    # 1 s each way: a result's acknowledgement takes 2 s, longer than the gap between
    # two windows; the agents must not stop metering while they wait for it
    with LiveCommunity(tmp_path, 2, LinkParams(delay_ms=1000, jitter_ms=50)) as com:
        t0 = com.now() + 8
        a = com.trade("h1", "h2", WH, t0, t0 + 3)
        b = com.trade("h2", "h1", WH, t0 + 3, t0 + 6)
        wait_for(lambda: {a, b} <= set(com.confirmations()), 60, "both trades confirmed")
        assert com.confirmations()[a][0] == WH
        assert com.confirmations()[b][0] == WH
    assert ours() == []

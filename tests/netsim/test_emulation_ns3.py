"""The live system over ns-3 in real time: the processes' own packets cross the study's
simulated Wi-Fi channel (ns-3 ``FdNetDevice`` on TAP devices)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridpeer.netsim.emulation.live import PRICE, LiveCommunity, wait_for
from gridpeer.netsim.emulation.netns import namespaces
from gridpeer.netsim.emulation.rig import rig_prefix
from gridpeer.oracle.rules import payment_wei

pytestmark = [
    pytest.mark.netns,
    pytest.mark.netsim,
    pytest.mark.mosquitto,
    pytest.mark.anvil,
    pytest.mark.slow,
]


def test_a_trade_over_simulated_wifi(tmp_path: Path) -> None:
    """Houses 60, 120 and 180 m from the broker's access point: beyond the 85 m at which
    ns-3's default preamble detection (-82 dBm) used to cut every link, so the far
    houses' agents never connected."""
    with LiveCommunity(tmp_path, 3, engine="ns3", tech="802.11g", spacing_m=60.0) as com:
        t0 = com.now() + 8
        tid = com.trade("h1", "h3", 20, t0, t0 + 4)
        wait_for(lambda: tid in com.confirmations(), 90, "the trade confirmed")
        assert com.confirmations()[tid] == (20, payment_wei(20, PRICE), 0)
        m = com.finish()
    assert not [ns for ns in namespaces() if ns.startswith(rig_prefix())]
    assert m.readings_lost == 0 and sum(m.published.values()) > 0
    assert all(m.published.get(h, 0) > 0 for h in ("h1", "h2", "h3"))
    assert m.commands_missing == 0 and m.command_ms
    # 802.11g to a house 180 m away: milliseconds, not the hundreds of the lossy links
    assert max(m.command_ms) < 200

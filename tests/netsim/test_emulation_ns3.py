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
    with LiveCommunity(tmp_path, 2, engine="ns3", tech="802.11g", spacing_m=30.0) as com:
        t0 = com.now() + 8
        tid = com.trade("h1", "h2", 20, t0, t0 + 4)
        wait_for(lambda: tid in com.confirmations(), 90, "the trade confirmed")
        assert com.confirmations()[tid] == (20, payment_wei(20, PRICE), 0)
        m = com.finish()
    assert not [ns for ns in namespaces() if ns.startswith(rig_prefix())]
    assert m.readings_lost == 0 and sum(m.published.values()) > 0
    assert m.commands_missing == 0 and m.command_ms
    # one hop of 802.11g at 30 m: milliseconds, not the hundreds of the lossy links
    assert max(m.command_ms) < 200

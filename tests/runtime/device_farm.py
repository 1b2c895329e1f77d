"""Many emulated relays in a process of their own (their threads are not the agent
host's): house ``h<k>`` has one relay metering a constant 3,600 W (1 Wh per second) —
a Shelly Plus 1PM ``shellyplus1pm-h<k>`` for every tenth house, a Tasmota plug
``p2p-h<k>`` for the others.

``python -m tests.runtime.device_farm PORT N [FIRST]`` (houses ``h<FIRST>`` …, default
``h1``) prints ``ready`` once every device is
connected; each line ``state`` on stdin is answered by one JSON line ``{device: [relay
on, consumed Wh]}``; end of stdin stops the devices.
"""

from __future__ import annotations

import json
import sys

from gridpeer.devices.emulators.base import Channel, constant
from gridpeer.devices.emulators.shelly import ShellyEmulator
from gridpeer.devices.emulators.tasmota import TasmotaEmulator

POWER_W = 3600.0


def device(k: int) -> tuple[str, str]:
    """(kind, topic) of house ``h<k>``'s relay."""
    if k % 10 == 0:
        return "shelly-plus1pm", f"shellyplus1pm-h{k}"
    return "tasmota", f"p2p-h{k}"


def main(port: int, n: int, first: int = 1) -> None:
    devices: dict[str, TasmotaEmulator | ShellyEmulator] = {}
    for k in range(first, first + n):
        kind, topic = device(k)
        ch = [Channel(constant(POWER_W))]
        devices[topic] = (
            ShellyEmulator(
                topic, "127.0.0.1", port, "plus1pm", ch, notify_period_s=0.5, tick_s=0.25
            )
            if kind.startswith("shelly")
            else TasmotaEmulator(
                topic, "127.0.0.1", port, ch, tele_period_s=1.0, power_delta_w=20, tick_s=0.25
            )
        )
    for d in devices.values():
        d.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "state":
            state = {
                t: [d.channels[0].relay_on, d.channels[0].energy_wh] for t, d in devices.items()
            }
            print(json.dumps(state), flush=True)
    for d in devices.values():
        d.stop()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))

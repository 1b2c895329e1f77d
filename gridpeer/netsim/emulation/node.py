"""A house's side of the rig, run inside its namespace::

    python -m gridpeer.netsim.emulation.node --house h1 --host 10.77.0.1 --out h1.json

The house's simulated sensor node (:class:`~gridpeer.telemetry.sensor.SensorNode`: its
meter's readings every second, QoS 1, persistent session) and a watcher of the house's
delivery-command topic (its own persistent QoS-1 session over the same link) that notes
when each command first arrived. On SIGTERM it waits for the broker to acknowledge every
reading (up to ``--drain`` s) and writes ``{"published", "acked", "skipped",
"commands": {"<trade>/<direction>": wall time s}}`` to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress, MqttClient
from gridpeer.devices.trace import HouseTrace
from gridpeer.telemetry.delivery import DeliveryCommand, command_topic
from gridpeer.telemetry.sensor import SensorNode


def flat_trace(house: str, load_w: float = 500.0) -> HouseTrace:
    """A day of constant ``load_w`` W (no PV, no battery), 5-minute steps."""
    z = np.zeros(288)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return HouseTrace(house, start, 300, z + load_w, z, z, z, z, z, z, z + load_w, z + 230.0)


class CommandWatch:
    """First arrival (wall time, s) of each delivery command for one house."""

    def __init__(self, community: str, house: str, broker: BrokerAddress, client_id: str):
        self.first: dict[str, float] = {}
        self._lock = threading.Lock()
        self.mqtt = MqttClient(
            client_id,
            broker,
            subscriptions=[command_topic(community, house)],
            on_message=self._on_message,
        )

    def _on_message(self, topic: str, payload: bytes) -> None:
        now = time.time()
        cmd = DeliveryCommand.model_validate_json(payload)
        with self._lock:
            self.first.setdefault(f"{cmd.trade_id}/{cmd.direction.value}", now)


class PatientNode(SensorNode):
    """A sensor node that waits ``drain_s`` (not 10 s) for its last acknowledgements."""

    drain_s = 120.0

    async def drain(self, timeout_s: float = 10.0) -> bool:
        return await super().drain(max(timeout_s, self.drain_s))


async def _main(args: argparse.Namespace) -> None:
    broker = BrokerAddress(args.host, args.port)
    watch = CommandWatch(args.community, args.house, broker, f"gp-{args.house}-watch")
    watch.mqtt.start(timeout_s=60)
    node = PatientNode(args.community, flat_trace(args.house), broker, Clock(), rate_s=args.rate)
    node.drain_s = args.drain
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    task = asyncio.create_task(node.run(stop))
    while not node.mqtt.connected.is_set() and not task.done():
        await asyncio.sleep(0.05)
    print(f"node {args.house} ready", flush=True)
    await task
    watch.mqtt.stop()
    with watch._lock:
        commands = dict(watch.first)
    args.out.write_text(
        json.dumps(
            {
                "published": node.published,
                "acked": node.acked,
                "skipped": node.skipped,
                "commands": commands,
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--house", required=True)
    p.add_argument("--community", default="lossy")
    p.add_argument("--host", default="10.77.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--rate", type=float, default=1.0, help="seconds between readings")
    p.add_argument("--drain", type=float, default=120.0, help="s to wait for the last acks")
    p.add_argument("--out", type=Path, required=True)
    asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    main()

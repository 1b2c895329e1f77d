"""The broker's side of the rig, run inside the broker's namespace::

    python -m gridpeer.netsim.emulation.tap --houses h1,h2 --store ingest.db --out tap.json

The ingest (:class:`~gridpeer.hems.host.AgentHost`, one persistent QoS-1 session for the
houses, acknowledging only stored readings) into a SQLite store, and a watcher on the
broker's loopback noting when each reading and each delivery command reached the broker.
On SIGTERM it writes ``{"readings": [[arrival s, delay ms], ...], "commands":
{"<house>/<trade>/<dir>": wall time s}}`` to ``--out``: a reading's delay is its arrival
at the broker minus its timestamp (the sensor's clock is the wall clock), a command's time
is when the oracle's publish reached the broker.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

from gridpeer.core.mqtt import BrokerAddress, MqttClient
from gridpeer.hems.host import AgentHost
from gridpeer.store.sqlite import SQLiteStore
from gridpeer.telemetry.delivery import DeliveryCommand, command_topic
from gridpeer.telemetry.topics import house_filter


class BrokerWatch:
    """Arrival times at the broker of readings and delivery commands."""

    def __init__(self, community: str, houses: list[str], broker: BrokerAddress) -> None:
        self.readings: list[tuple[float, float]] = []  # (arrival s, delay ms)
        self.commands: dict[str, float] = {}
        self.lock = threading.Lock()
        subs = [house_filter(community, h) for h in houses]
        subs += [command_topic(community, h) for h in houses]
        self.mqtt = MqttClient(
            "gp-tap-watch", broker, subscriptions=subs, on_message=self._on_message
        )

    def _on_message(self, topic: str, payload: bytes) -> None:
        now = time.time()
        if topic.endswith("/cmd/delivery"):
            cmd = DeliveryCommand.model_validate_json(payload)
            key = f"{cmd.house}/{cmd.trade_id}/{cmd.direction.value}"
            with self.lock:
                self.commands.setdefault(key, now)
            return
        ts = datetime.fromisoformat(str(json.loads(payload)["ts"]).replace("Z", "+00:00"))
        with self.lock:
            self.readings.append((now, (now - ts.timestamp()) * 1000.0))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--houses", required=True, help="comma-separated house ids")
    p.add_argument("--community", default="lossy")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    houses = args.houses.split(",")
    broker = BrokerAddress("127.0.0.1", args.port)
    store = SQLiteStore(args.store)
    host = AgentHost(args.community, houses, broker, store, client_id="gp-tap-ingest")
    watch = BrokerWatch(args.community, houses, broker)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    host.start(timeout_s=30)
    watch.mqtt.start(timeout_s=30)
    print("tap ready", flush=True)
    done.wait()
    watch.mqtt.stop()
    host.stop()
    store.close()
    with watch.lock:
        out = {"readings": watch.readings, "commands": watch.commands}
    args.out.write_text(json.dumps(out))


if __name__ == "__main__":
    main()

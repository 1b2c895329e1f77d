"""Several houses' delivery agents behind one MQTT session and one stepping thread.

A big community (hundreds of houses in one process) cannot afford a session and two
threads per house: :class:`DeliveryHost` subscribes once to every hosted house's command
topic, routes each command to that house's
:class:`~gridpeer.hems.delivery_agent.DeliveryAgent`, and steps all of them every
``tick_s`` wall seconds from one thread. Each agent keeps its own state file, executor
and power source; results are published on the shared session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress, MqttClient
from gridpeer.hems.delivery_agent import DeliveryAgent
from gridpeer.hems.delivery_power import PowerSource
from gridpeer.hems.delivery_store import SharedFile
from gridpeer.telemetry.delivery import DeliveryCommand, command_topic

log = logging.getLogger(__name__)


class DeliveryHost:
    """The delivery agents of ``houses`` (house → power source), their tasks in one
    SQLite file ``state_path`` (a table per house).

    Args:
        community: community id (topic segment).
        houses: each hosted house's metered power.
        state_path: the host's state file.
        broker: the broker (credentials and TLS included).
        clock: model time.
        tick_s: wall seconds between two steps of every agent.
        on_command: optional hook ``f(command, new)`` for every command.
        client_id: MQTT client id (default from the community and the first house).
    """

    def __init__(
        self,
        community: str,
        houses: Mapping[str, PowerSource],
        state_path: Path,
        broker: BrokerAddress,
        clock: Clock,
        tick_s: float = 0.1,
        on_command: Callable[[DeliveryCommand, bool], None] | None = None,
        client_id: str | None = None,
    ) -> None:
        if not houses:
            raise ValueError("a delivery host needs at least one house")
        first = next(iter(houses))
        self.tick_s = tick_s
        self._topics = {command_topic(community, h): h for h in houses}
        self.link = MqttClient(
            client_id or f"gridpeer-agents-{community}-{first}",
            broker,
            subscriptions=list(self._topics),
            on_message=self._route,
        )
        self.state = SharedFile(state_path)
        self.agents = {
            h: DeliveryAgent(
                community,
                h,
                broker.host,
                broker.port,
                state_path,
                clock,
                power,
                tick_s,
                on_command,
                link=self.link,
                store=self.state.store(h),
            )
            for h, power in houses.items()
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _route(self, topic: str, payload: bytes) -> None:
        house = self._topics.get(topic)
        if house is None:
            log.warning("delivery host: message on unexpected topic %s", topic)
            return
        self.agents[house].on_message(topic, payload)

    def tick(self) -> None:
        """Step every hosted agent once (one failing agent does not stop the others)."""
        for agent in self.agents.values():
            try:
                agent.tick()
            except Exception:
                log.exception("%s: delivery agent tick failed", agent.house)

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            self.tick()

    def start(self) -> None:
        """Connect and start stepping in one background thread."""
        self.link.start()
        self._thread = threading.Thread(target=self._run, name="delivery-host", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop stepping, disconnect, close every state file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        deadline = time.monotonic() + 2.0
        for agent in self.agents.values():
            agent.drain_reports(max(0.0, deadline - time.monotonic()))
        self.link.stop()
        for agent in self.agents.values():
            agent.close()
        self.state.close()

"""The delivery side of a community in one process: the oracle plus one delivery agent
per house (threads). The entry point for ``gridpeer demo`` and the benchmark::

    rt = DeliveryRuntime(market, chain.oracle, {h.address: "h1", ...}, "127.0.0.1", 1883,
                         state_dir, clock, power={"h1": TracePower(trace), ...})
    rt.start()
    ...
    rt.stop()

For separate processes (so each can be killed and restarted on its own) run
``python -m gridpeer.oracle`` and ``gridpeer delivery-agent`` instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from eth_account.signers.local import LocalAccount

from gridpeer.chain.client import MarketClient
from gridpeer.chain.fairlock import FairLock
from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress
from gridpeer.hems.delivery_agent import DeliveryAgent
from gridpeer.hems.delivery_host import DeliveryHost
from gridpeer.hems.delivery_power import PowerSource
from gridpeer.hems.monitoring import house_groups
from gridpeer.oracle.chain_adapter import MarketChainView
from gridpeer.oracle.service import Oracle, OracleConfig
from gridpeer.oracle.state import OracleState
from gridpeer.telemetry.delivery import DeliveryCommand


class DeliveryRuntime:
    """Oracle and agents of one community.

    Args:
        market: the chain client of the deployed market.
        oracle_key: the oracle role's key.
        houses: house id per member address.
        host: MQTT broker host; port: its port.
        state_dir: folder for the oracle's and the agents' SQLite state (kept across
            restarts); ``state_url`` overrides the oracle's (e.g. ``postgresql://…``).
        clock: model time (the chain's time must follow the same clock).
        config: oracle settings (community id, confirmations, lead, grace).
        power: each house's metered power (its simulated flows, a device, or for
            benchmarks an explicit ``ConstantPower``); no house is metered by default.
        lock: lock shared with other users of an in-process chain backend.
        on_command: hook ``f(command, new)`` called when an agent receives a command.
    """

    def __init__(
        self,
        market: MarketClient,
        oracle_key: LocalAccount,
        houses: Mapping[str, str],
        host: str,
        port: int,
        state_dir: Path,
        clock: Clock,
        config: OracleConfig | None = None,
        *,
        power: Mapping[str, PowerSource],
        lock: threading.Lock | threading.RLock | FairLock | None = None,
        on_command: Callable[[DeliveryCommand, bool], None] | None = None,
        state_url: str | None = None,
    ) -> None:
        """Raises: ValueError: a house has no power source (nothing is metered by default)."""
        unmetered = sorted(set(houses.values()) - set(power))
        if unmetered:
            raise ValueError(f"no power source for houses {unmetered}: nothing meters them")
        config = config or OracleConfig()
        self.chain = MarketChainView(market, oracle_key, houses, lock)
        url = state_url or f"sqlite:///{state_dir / 'oracle.db'}"
        self.oracle = Oracle(self.chain, OracleState(url), host, port, clock, config)
        self.hosts: list[DeliveryHost] = []
        groups = house_groups(list(dict.fromkeys(houses.values())), False)
        if len(groups) == len(houses):  # small community: one agent (session) per house
            self.agents = {
                house: DeliveryAgent(
                    config.community,
                    house,
                    host,
                    port,
                    state_dir / f"agent-{house}.db",
                    clock,
                    power[house],
                    on_command=on_command,
                )
                for house in houses.values()
            }
        else:  # big community: a few hosts, each one session and one thread for its group
            broker = BrokerAddress(host, port)
            for group in groups:
                hosted = {h: (state_dir / f"agent-{h}.db", power[h]) for h in group}
                self.hosts.append(
                    DeliveryHost(config.community, hosted, broker, clock, on_command=on_command)
                )
            self.agents = {h: a for dh in self.hosts for h, a in dh.agents.items()}

    def start(self) -> None:
        """Connect everything and start the threads (agents first)."""
        if self.hosts:
            for dh in self.hosts:
                dh.start()
        else:
            for a in self.agents.values():
                a.start()
        self.oracle.start()

    def stop(self) -> None:
        """Stop the oracle, then the agents; state stays on disk."""
        self.oracle.stop()
        self.oracle.state.close()
        if self.hosts:
            for dh in self.hosts:
                dh.stop()
        else:
            for a in self.agents.values():
                a.stop()

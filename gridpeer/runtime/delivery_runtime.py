"""The delivery side of a community in one process: the oracle plus one delivery agent
per house (threads). The entry point for ``gridpeer demo`` and the benchmark::

    rt = DeliveryRuntime(market, chain.oracle, {h.address: "h1", ...}, "127.0.0.1", 1883,
                         state_dir, clock, power={"h1": TracePower(trace), ...})
    rt.start()
    ...
    rt.stop()

With ``oracle_rpc`` the oracle runs in a process of its own
(:mod:`gridpeer.runtime.oracle_process`, the big demo on anvil). For separate processes
that can each be killed and restarted on its own run ``gridpeer oracle`` and
``gridpeer delivery-agent`` (or ``gridpeer agents``) instead.
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
from gridpeer.runtime.oracle_process import OracleProcess, OracleSpec
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
        oracle_rpc: the chain node's JSON-RPC URL to run the oracle in a process of its
            own (:mod:`gridpeer.runtime.oracle_process`; its passes start at
            :meth:`run_oracle`); None runs it as a thread of this process (its passes
            start at :meth:`start`).
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
        oracle_rpc: str | None = None,
    ) -> None:
        """Raises: ValueError: a house has no power source (nothing is metered by default)."""
        unmetered = sorted(set(houses.values()) - set(power))
        if unmetered:
            raise ValueError(f"no power source for houses {unmetered}: nothing meters them")
        config = config or OracleConfig()
        url = state_url or f"sqlite:///{state_dir / 'oracle.db'}"
        self.oracle: Oracle | OracleProcess
        if oracle_rpc is not None:
            fees = getattr(market.backend, "fee_policy", None)
            spec = OracleSpec(
                oracle_rpc,
                market.address,
                "0x" + bytes(oracle_key.key).hex(),
                dict(houses),
                host,
                port,
                url,
                clock,
                config,
                fees,
            )
            self.oracle = OracleProcess(spec)
        else:
            chain = MarketChainView(market, oracle_key, houses, lock)
            self.oracle = Oracle(chain, OracleState(url), host, port, clock, config)
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
                hosted = {h: power[h] for h in group}
                state = state_dir / f"agents-{group[0]}.db"
                self.hosts.append(
                    DeliveryHost(
                        config.community, hosted, state, broker, clock, on_command=on_command
                    )
                )
            self.agents = {h: a for dh in self.hosts for h, a in dh.agents.items()}

    def start(self) -> None:
        """Connect everything and start the threads (agents first); an oracle in a
        process of its own is spawned and connected, its passes wait for
        :meth:`run_oracle`."""
        if self.hosts:
            for dh in self.hosts:
                dh.start()
        else:
            for a in self.agents.values():
                a.start()
        self.oracle.start()

    def run_oracle(self, clock: Clock) -> None:
        """Start an oracle process's passes on ``clock`` (the running model clock; the
        process got a copy of it when it was spawned). Nothing to do for a thread."""
        if isinstance(self.oracle, OracleProcess):
            self.oracle.run(clock)

    def oracle_passes_ms(self) -> list[float]:
        """The oracle's passes so far: each one's wall time, ms."""
        if isinstance(self.oracle, OracleProcess):
            final = self.oracle.final
            return final.passes_ms if final is not None else self.oracle.stats().passes_ms
        return list(self.oracle.passes_ms)

    def stop(self) -> None:
        """Stop the oracle, then the agents; state stays on disk."""
        self.oracle.stop()
        if isinstance(self.oracle, Oracle):
            self.oracle.state.close()
        if self.hosts:
            for dh in self.hosts:
                dh.stop()
        else:
            for a in self.agents.values():
                a.stop()

"""The houses' agents out of ``serve``: ``gridpeer agents`` runs the ingest agent hosts and
the delivery agents of some houses in one process, against the shared broker and store
named in the community config. Several such processes (on one machine or many) share a
community in one of two ways:

* **static sharding** — each process is given its houses (``--houses h1-h500``): it
  ingests their readings and drives their relays. Its MQTT sessions are persistent under
  client ids derived from the houses, so a process killed and restarted (here or on
  another machine) resumes them: the broker keeps what arrived meanwhile and redelivers
  what was not acknowledged; the store ignores what it already has.
* **shared subscriptions** (``--share GROUP``) — every member ingests *all* the houses
  as one MQTT shared-subscription group (``$share/GROUP/…``): the broker hands each
  reading to one member. Deliveries stay statically sharded by ``--houses``: a house's
  relays must have one driver only. Sessions are persistent under ``--member``: Mosquitto
  2.0 keeps dispatching round-robin to a member that is away (queued in its session), so
  a dead member's share of the readings — and its unacknowledged ones — are stored when
  it comes back under the same ``--member`` name (see docs/scale.md).

The process is bounded in threads and sockets by groups, not houses: one ingest host
(2 threads) and one delivery host (2 threads) per group of ``group_size`` houses; with
real relays, one device session per group (the group's houses' device bridges share one
MQTT connection: 1 thread) and one relay watchdog thread for the whole process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress
from gridpeer.core.settings import Settings
from gridpeer.hems.delivery_host import DeliveryHost
from gridpeer.hems.delivery_power import ConstantPower, PowerSource
from gridpeer.hems.host import AgentHost
from gridpeer.hems.monitoring import GROUP_ABOVE
from gridpeer.hems.relay_watchdog import RelayWatchdog
from gridpeer.store.base import Store

if TYPE_CHECKING:
    from gridpeer.hems.device_power import DevicePower
    from gridpeer.runtime.composition import Parts
    from gridpeer.telemetry.adapters.session import DeviceSession

log = logging.getLogger(__name__)

MAX_DESCRIPTORS = 900
"""Most file descriptors one process's hosts may hold (:func:`descriptors`): paho's network
loop uses ``select()``, which fails for sockets numbered 1024 or more (the rest is left
for the interpreter, the store and the log)."""


def descriptors(ingest_groups: int, delivery_groups: int, devices: bool) -> int:
    """File descriptors the hosts of one process hold: 3 per MQTT session (its socket and
    the socket pair that wakes paho's loop), one session per ingest group; per delivery
    group a session, its SQLite state file (3 in WAL mode) and, with real ``devices``,
    the group's device session."""
    return 3 * ingest_groups + delivery_groups * (6 + (3 if devices else 0))


_RANGE = re.compile(r"^(?P<prefix>.*?)(?P<first>\d+)-(?P=prefix)?(?P<last>\d+)$")


def device_client_id(community: str, first: str) -> str:
    """The MQTT client id of the device session of the group whose first house is
    ``first``; also the Shelly RPC ``src``: the group's Shellys answer on
    ``gridpeer-dev-<community>-<first>/rpc``."""
    return f"gridpeer-dev-{community}-{first}"


def select_houses(spec: str | None, known: Sequence[str]) -> list[str]:
    """The houses named by ``spec`` among the configured ``known`` ones, in config order.

    ``spec`` is a comma-separated list of house ids and ranges (``h1-h500`` or ``h1-500``:
    every configured ``h<N>`` with 1 ≤ N ≤ 500); ``None`` or ``""`` = all houses.

    Raises:
        ValueError: an id that is not configured, or a range that names no house.
    """
    if not spec:
        return list(known)
    wanted: set[str] = set()
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        if item in known:
            wanted.add(item)
            continue
        m = _RANGE.match(item)
        if m is None:
            raise ValueError(f"house {item!r} is not in the config")
        prefix, first, last = m["prefix"], int(m["first"]), int(m["last"])
        hits = {
            h
            for h in known
            if h.startswith(prefix)
            and h[len(prefix) :].isdigit()
            and first <= int(h[len(prefix) :]) <= last
        }
        if not hits:
            raise ValueError(f"the range {item!r} names no configured house")
        wanted |= hits
    return [h for h in known if h in wanted]


def shards(houses: Sequence[str], n: int) -> list[list[str]]:
    """``houses`` split into ``n`` contiguous shards of nearly equal size (none empty)."""
    if n < 1:
        raise ValueError("n must be >= 1")
    n = min(n, len(houses))
    size, extra = divmod(len(houses), n)
    out, k = [], 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        out.append(list(houses[k : k + step]))
        k += step
    return out


def groups_of(houses: Sequence[str], size: int) -> list[list[str]]:
    """``houses`` in consecutive groups of ``size``."""
    return [list(houses[k : k + size]) for k in range(0, len(houses), size)]


class AgentsProcess:
    """Ingest hosts and delivery hosts of one ``gridpeer agents`` process.

    Args:
        settings: the community config (``community``, ``[mqtt]``, ``[[accounts]]``).
        houses: the houses whose deliveries this process drives (and, without ``share``,
            whose readings it ingests).
        store: where readings go (PostgreSQL when several processes share a community).
        clock: model time (readings' plausibility window, delivery slots).
        state_dir: each house's delivery state file ``agent-<house>.db`` lives here.
        share: shared-subscription group name: ingest every configured house as a member
            of it (``None``: ingest ``houses`` only, static sharding).
        member: this member's stable name in the share group (its sessions' client ids).
        delivery: run the delivery agents (``False``: ingest only, e.g. under ``serve``).
        simulated_meter: SIMULATION ONLY: meter a constant ``(out W, in W)`` instead of
            the houses' configured relays.
        group_size: houses per MQTT session (and per pair of threads).
    """

    def __init__(
        self,
        settings: Settings,
        houses: Sequence[str],
        store: Store,
        clock: Clock,
        state_dir: Path,
        *,
        share: str | None = None,
        member: str = "1",
        delivery: bool = True,
        simulated_meter: tuple[float, float] | None = None,
        group_size: int = GROUP_ABOVE,
    ) -> None:
        if not houses:
            raise ValueError("no houses to serve")
        if group_size < 1:
            raise ValueError("group_size must be >= 1")
        self.community = c = settings.community
        self.broker: BrokerAddress = settings.mqtt.address()
        self.houses = list(houses)
        ingest = [a.id for a in settings.accounts] if share else self.houses
        self.ingest_houses = ingest
        self.hosts = [
            AgentHost(
                c,
                group,
                self.broker,
                store,
                clock=clock,
                share=share,
                client_id=f"gp-{c}-ingest-{member}-{group[0]}"
                if share
                else f"gp-{c}-ingest-{group[0]}",
            )
            for group in groups_of(ingest, group_size)
        ]
        delivery_groups = len(groups_of(self.houses, group_size)) if delivery else 0
        fds = descriptors(len(self.hosts), delivery_groups, simulated_meter is None)
        if fds > MAX_DESCRIPTORS:
            raise ValueError(
                f"{len(self.houses)} houses in groups of {group_size} hold about {fds} "
                f"file descriptors in one process: at most {MAX_DESCRIPTORS} (paho's "
                "sockets must stay below 1024); raise the group size or split --houses "
                "across processes"
            )
        self.device_powers: list[DevicePower] = []
        self.device_sessions: dict[str, DeviceSession] = {}  # first house of the group →
        self._session_of = {h: g[0] for g in groups_of(self.houses, group_size) for h in g}
        self._watchdog = RelayWatchdog(name="relay-watchdog")  # one for every house's relays
        self.delivery_hosts: list[DeliveryHost] = []
        self._clock, self._state_dir, self._group_size = clock, state_dir, group_size
        self._power_of: dict[str, PowerSource] = (
            {h: self._power(settings, h, simulated_meter) for h in self.houses} if delivery else {}
        )

    def _delivery_hosts(self) -> list[DeliveryHost]:
        """The delivery hosts (opening every house's state file: after the ingest sessions
        are connected, so their sockets keep low file descriptors)."""
        c = self.community
        self._state_dir.mkdir(parents=True, exist_ok=True)
        out = []
        for group in groups_of(list(self._power_of), self._group_size):
            hosted = {h: self._power_of[h] for h in group}
            out.append(
                DeliveryHost(
                    c,
                    hosted,
                    self._state_dir / f"agents-{group[0]}.db",  # the group's tasks, one file
                    self.broker,
                    self._clock,
                    client_id=f"gp-{c}-delivery-{group[0]}",
                )
            )
        return out

    def _power(
        self, settings: Settings, house: str, simulated: tuple[float, float] | None
    ) -> PowerSource:
        """The house's metered power: its configured relays (as ``gridpeer delivery-agent
        --config`` uses them) or, simulated, a constant power.

        Raises:
            ValueError: the house has no delivery relay configured (and no simulation)."""
        if simulated is not None:
            return ConstantPower(*simulated)
        from gridpeer.hems.device_power import DevicePower, device_relays
        from gridpeer.telemetry.adapters.bridge import DeviceBridge
        from gridpeer.telemetry.adapters.config import house_devices
        from gridpeer.telemetry.adapters.session import DeviceSession

        account = next(a for a in settings.accounts if a.id == house)
        devices = house_devices(account.devices)
        relays = device_relays(devices)
        if not relays:
            raise ValueError(
                f"house {house} has no delivery relay ([[accounts.devices]] with role 'out' "
                "/ 'in'): configure one, or run a simulation with --simulated-meter"
            )
        first = self._session_of[house]
        session = self.device_sessions.get(first)
        if session is None:  # the group's devices share one MQTT session
            session = DeviceSession(self.broker, device_client_id(self.community, first))
            self.device_sessions[first] = session
        bridge = DeviceBridge.on_session(session, devices, self.community, house)
        dp = DevicePower(bridge, relays, watchdog=self._watchdog)
        self.device_powers.append(dp)
        return dp

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect everything: the ingest hosts (subscribed), the devices, the delivery
        hosts. On failure what was started is stopped again.

        Raises:
            ConnectionError: the broker is unreachable or refuses a subscription."""
        started: list[AgentHost | DeliveryHost | DevicePower] = []
        try:
            for host in self.hosts:
                host.start(timeout_s)
                started.append(host)
            for dp in self.device_powers:
                dp.start()
                started.append(dp)
            if self._power_of:
                self.delivery_hosts = self._delivery_hosts()
            for dh in self.delivery_hosts:
                dh.start()
                started.append(dh)
        except BaseException:
            for part in reversed(started):
                part.stop()
            raise

    def stop(self) -> None:
        """Stop the delivery hosts (relays opened), then flush and stop the ingest hosts."""
        for dh in self.delivery_hosts:
            dh.stop()
        for dp in self.device_powers:
            dp.stop()
        for host in self.hosts:
            host.stop()

    def stored(self) -> int:
        """Readings newly stored by this process so far."""
        return sum(h.stored for h in self.hosts)


# --- serve --hosts N -----------------------------------------------------------------

READY = "gridpeer agents: ready"
"""The line ``gridpeer agents`` prints on stdout once every session is subscribed."""


def agents_command(config: Path, houses: Sequence[str], *extra: str) -> list[str]:
    """The command line of a ``gridpeer agents`` process for ``houses``."""
    return [
        sys.executable,
        "-m",
        "gridpeer.cli",
        "agents",
        "--config",
        str(config),
        "--houses",
        ",".join(houses),
        *extra,
    ]


class AgentProcesses:
    """``n`` ingest-only ``gridpeer agents`` child processes, one per static shard of the
    houses — or, with ``share``, ``n`` members ``serve-1``..``serve-N`` of that MQTT
    shared-subscription group, each subscribed to every house — restarted when one dies
    (its persistent sessions resume where it stopped, under the same member name)."""

    def __init__(
        self, config: Path, houses: Sequence[str], n: int, share: str | None = None
    ) -> None:
        if share is None:
            self.commands = [agents_command(config, s, "--no-delivery") for s in shards(houses, n)]
        else:
            self.commands = [
                agents_command(
                    config, houses, "--no-delivery", "--share", share, "--member", f"serve-{k}"
                )
                for k in range(1, n + 1)
            ]
        self.procs: list[subprocess.Popen[str]] = []
        self.restarts = 0

    def _spawn(self, k: int) -> subprocess.Popen[str]:
        proc = subprocess.Popen(self.commands[k], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until ready (or the child exits)
        if READY not in line:
            proc.kill()
            proc.wait()
            raise ConnectionError(f"agent host {k + 1} did not start (exit {proc.returncode})")
        return proc

    def start(self) -> None:
        """Start every child and wait until each is subscribed (or has exited)."""
        for k in range(len(self.commands)):
            self.procs.append(self._spawn(k))

    def check(self) -> None:
        """Restart any child that died."""
        for k, proc in enumerate(self.procs):
            if proc.poll() is not None:
                log.warning("agent host %d exited (%s); restarting it", k + 1, proc.returncode)
                self.procs[k] = self._spawn(k)
                self.restarts += 1

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM every child (each flushes and acknowledges), kill what remains."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


@contextlib.asynccontextmanager
async def agent_processes(parts: Parts, n: int, share: str | None = None) -> AsyncIterator[None]:
    """``serve --hosts N``: the ingest in ``n`` child processes instead of in serve's own
    (``n = 0``: none, separate ``gridpeer agents`` processes do it); static shards, or
    members of the shared subscription ``share`` (``serve --hosts N --share GROUP``)."""
    if n == 0:
        log.info("--no-agents: the houses' readings are ingested by gridpeer agents processes")
        yield
        return
    config = type(parts.settings).toml_path
    if config is None:
        raise ValueError("serve --hosts needs the community config file")
    children = AgentProcesses(Path(config), [h.id for h in parts.houses], n, share)
    await asyncio.to_thread(children.start)

    async def supervise() -> None:
        while True:
            await asyncio.sleep(2.0)
            await asyncio.to_thread(children.check)

    task = asyncio.create_task(supervise())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(children.stop)


def default_member() -> str:
    """A stable member name for this machine (its host name)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", os.uname().nodename)[:32] or "1"

"""The rig: one namespace for the broker's side and one per house, each with a TUN
device on ``10.77.0.0/16`` (broker ``10.77.0.1``, house *k* ``10.77.0.(k+1)``), joined by
the :class:`~gridpeer.netsim.emulation.emulator.Emulator` — or, with ``engine="ns3"``,
each with a TAP device (broker ``10.78.0.2``, house *k* ``10.78.k.2``) joined by ns-3 in
real time (:mod:`gridpeer.netsim.emulation.ns3link`: the study's Wi-Fi channel).
Namespaces are named ``gpl-<pid>-…`` so parallel runs never clash; they are always
removed (context manager, and ``atexit`` if the process ends without leaving it).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from gridpeer.netsim.emulation.emulator import Emulator
from gridpeer.netsim.emulation.link import LinkParams
from gridpeer.netsim.emulation.netns import add_namespace, delete_namespace

PREFIX = "gpl-"
BROKER_IP = "10.77.0.1"


def rig_prefix() -> str:
    """Namespace-name prefix of this process's rigs."""
    return f"{PREFIX}{os.getpid()}-"


class NetRig:
    """Namespaces, TUN devices and the link emulator for ``houses``.

    Args:
        houses: house ids (namespace names are ``gpl-<pid>-<house>``; short ids please).
        params: initial link of every house.
        seed: the emulator's RNG seed.
        engine: ``"userspace"`` (the link emulator, ``params``) or ``"ns3"`` (ns-3 in real
            time over ``tech`` with ``spacing_m`` metres between neighbours).
    """

    _count = 0

    def __init__(
        self,
        houses: list[str],
        params: LinkParams | None = None,
        seed: int = 1,
        engine: str = "userspace",
        tech: str = "802.11g",
        spacing_m: float = 30.0,
        log: Path | None = None,
    ):
        if engine not in ("userspace", "ns3"):
            raise ValueError(f"engine must be 'userspace' or 'ns3', got {engine!r}")
        self.engine, self.tech, self.spacing_m = engine, tech, spacing_m
        self.log = log
        NetRig._count += 1
        self.tag = f"{rig_prefix()}{NetRig._count}"
        self.broker_ns = f"{self.tag}-b"
        self.house_ns = {h: f"{self.tag}-{h}" for h in houses}
        ns3 = engine == "ns3"
        self.broker_ip = "10.78.0.2" if ns3 else BROKER_IP
        self.house_ip = {
            h: f"10.78.{k + 1}.2" if ns3 else f"10.77.0.{k + 2}" for k, h in enumerate(houses)
        }
        self.ns3: subprocess.Popen[bytes] | None = None
        self.params = params or LinkParams()
        self.seed = seed
        self._fds: list[int] = []
        self._made: list[str] = []
        self.emulator: Emulator | None = None
        self.children: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> NetRig:
        atexit.register(self.close)
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _dev(self, k: int) -> str:
        return f"gpl{os.getpid() % 10**6}{NetRig._count % 100}t{k}"[:15]

    def _open(self) -> None:
        if self.engine == "ns3":
            self._open_ns3()
            return
        self._made.append(self.broker_ns)
        hub = add_namespace(self.broker_ns, self._dev(0), f"{BROKER_IP}/16")
        self._fds.append(hub)
        houses: dict[str, tuple[int, str, LinkParams]] = {}
        for k, (house, ns) in enumerate(self.house_ns.items()):
            self._made.append(ns)
            fd = add_namespace(ns, self._dev(k + 1), f"{self.house_ip[house]}/16")
            self._fds.append(fd)
            houses[house] = (fd, self.house_ip[house], self.params)
        self.emulator = Emulator((hub, BROKER_IP), houses, self.seed)
        self.emulator.start()

    def _open_ns3(self) -> None:
        for i, ns in enumerate([self.broker_ns, *self.house_ns.values()]):
            self._made.append(ns)
            self._fds.append(add_namespace(ns, self._dev(i), f"10.78.{i}.2/24", f"10.78.{i}.1"))
        log = self.log or Path(os.devnull)
        argv = [sys.executable, "-m", "gridpeer.netsim.emulation.ns3link"]
        argv += ["--tech", self.tech, "--spacing", str(self.spacing_m)]
        for fd in self._fds:
            argv += ["--fd", str(fd)]
        with log.open("ab") as out:
            self.ns3 = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, pass_fds=self._fds
            )
        self.children.append(self.ns3)
        deadline = time.monotonic() + 180
        while self.log is not None and b" ready" not in self.log.read_bytes():
            if self.ns3.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ns-3 emulation did not start: see {self.log}")
            time.sleep(0.2)

    def set_link(self, params: LinkParams, house: str | None = None) -> None:
        """Impair one house's link (both directions), or every house's (userspace
        engine only: ns-3's links follow from the Wi-Fi model)."""
        if self.emulator is None:
            raise RuntimeError("set_link needs the userspace engine")
        if house is None:
            self.emulator.set_all(params)
        else:
            self.emulator.set_link(house, params)

    def popen(self, ns: str, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside namespace ``ns`` (``ip netns exec``), output to ``log``;
        it is terminated by :meth:`close` if still running."""
        with log.open("ab") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
        self.children.append(proc)
        return proc

    def close(self) -> None:
        """Stop the children still running, the emulator, close the TUNs and remove every
        namespace. Idempotent."""
        for proc in self.children:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.children:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.children.clear()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        for ns in self._made:
            delete_namespace(ns)
        self._made.clear()
        atexit.unregister(self.close)

"""The userspace link emulator: forwards IPv4 packets between the TUN devices of the
broker's and the houses' namespaces by destination address, through each house's
:class:`~gridpeer.netsim.emulation.link.LinkDirection` (up: house → broker, down:
broker → house), on one background thread with a timer heap.
"""

from __future__ import annotations

import heapq
import ipaddress
import os
import select
import threading
import time
from dataclasses import dataclass

from gridpeer.netsim.emulation.link import LinkDirection, LinkParams


@dataclass
class Port:
    """One namespace's TUN: its descriptor and IPv4 address; ``up``/``down`` are its
    link's directions (``None`` for the broker's port, which is the hub)."""

    fd: int
    addr: str
    up: LinkDirection | None = None
    down: LinkDirection | None = None


class Emulator:
    """Star of links around the broker's port.

    Args:
        hub: the broker namespace's TUN descriptor and address.
        houses: house id → (TUN descriptor, address, link parameters).
        seed: base RNG seed (each direction gets its own stream).
    """

    def __init__(
        self,
        hub: tuple[int, str],
        houses: dict[str, tuple[int, str, LinkParams]],
        seed: int = 1,
    ) -> None:
        self.hub = Port(*hub)
        self.houses: dict[str, Port] = {}
        for k, (house, (fd, addr, params)) in enumerate(sorted(houses.items())):
            self.houses[house] = Port(
                fd,
                addr,
                LinkDirection(params, seed * 1000 + 2 * k),
                LinkDirection(params, seed * 1000 + 2 * k + 1),
            )
        self._by_addr = {ipaddress.IPv4Address(p.addr).packed: p for p in self.houses.values()}
        self._by_addr[ipaddress.IPv4Address(self.hub.addr).packed] = self.hub
        self._by_fd = {p.fd: p for p in (self.hub, *self.houses.values())}
        self._heap: list[tuple[float, int, int, bytes]] = []
        self._seq = 0
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.forwarded = 0
        self.unroutable = 0

    def set_link(self, house: str, params: LinkParams) -> None:
        """Change ``house``'s link (both directions) from now on."""
        port = self.houses[house]
        assert port.up is not None and port.down is not None
        port.up.params = params
        port.down.params = params

    def set_all(self, params: LinkParams) -> None:
        """Change every house's link."""
        for house in self.houses:
            self.set_link(house, params)

    def counts(self) -> dict[str, tuple[int, int]]:
        """House → (packets sent, packets dropped) over both directions."""
        out = {}
        for house, p in self.houses.items():
            assert p.up is not None and p.down is not None
            out[house] = (p.up.sent + p.down.sent, p.up.dropped + p.down.dropped)
        return out

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="link-emulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        os.close(self._wake_r)
        os.close(self._wake_w)

    # --- the forwarding thread ------------------------------------------------------
    def _route(self, src: Port, pkt: bytes, now: float) -> None:
        if len(pkt) < 20 or pkt[0] >> 4 != 4:
            return  # not IPv4
        dst = self._by_addr.get(pkt[16:20])
        if dst is None or dst is src:
            self.unroutable += 1
            return
        link = src.up if src is not self.hub else dst.down
        at = now if link is None else link.offer(len(pkt), now)
        if at is None:
            return
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, dst.fd, pkt))

    def _run(self) -> None:
        fds = [*self._by_fd, self._wake_r]
        while not self._stop.is_set():
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, _, fd, pkt = heapq.heappop(self._heap)
                try:
                    os.write(fd, pkt)
                    self.forwarded += 1
                except OSError:
                    pass  # the device is going away
            timeout = min(self._heap[0][0] - now, 0.5) if self._heap else 0.5
            ready, _, _ = select.select(fds, [], [], max(timeout, 0.0))
            now = time.monotonic()
            for fd in ready:
                if fd == self._wake_r:
                    continue
                src = self._by_fd[fd]
                for _ in range(64):
                    try:
                        pkt = os.read(fd, 65536)
                    except (BlockingIOError, OSError):
                        break
                    self._route(src, pkt, now)

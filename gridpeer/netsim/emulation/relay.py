"""A TCP relay from a port on a namespace's loopback to one on the root namespace's
loopback: the broker's namespace reaches the chain node this way (the chain is on the
broker's side of the emulated links; this hop is not impaired)."""

from __future__ import annotations

import contextlib
import socket
import threading

from gridpeer.netsim.emulation.netns import in_netns


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


class Relay:
    """Listen on ``127.0.0.1:port`` inside namespace ``ns``; forward every connection to
    ``127.0.0.1:target`` in the caller's namespace."""

    def __init__(self, ns: str, port: int, target: int) -> None:
        self.target = target

        def listen() -> socket.socket:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(64)
            return s

        self.sock = in_netns(ns, listen)
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="relay", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                inner, _ = self.sock.accept()
            except OSError:
                return
            try:
                outer = socket.create_connection(("127.0.0.1", self.target), timeout=10)
            except OSError:
                inner.close()
                continue
            outer.settimeout(None)
            self._conns += [inner, outer]
            for a, b in ((inner, outer), (outer, inner)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
        self._thread.join(5)

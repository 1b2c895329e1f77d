"""Linux network namespaces and TUN devices (I/O; needs root).

Namespaces are made with Debian's iproute2 (``ip netns``); a TUN device is created in the
root namespace (its file descriptor stays with the caller) and then moved into its
namespace, where it gets its address: the caller reads and writes the IP packets of every
namespace through those descriptors. :func:`in_netns` runs a function on a thread that
entered a namespace (``setns``), e.g. to open a socket there.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct
import subprocess
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS…`` (iproute2), raising on failure if ``check``."""
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def namespaces() -> list[str]:
    """Names of the network namespaces that exist (``ip netns list``)."""
    out = ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def open_tun(name: str, tap: bool = False) -> int:
    """Create TUN device ``name`` (≤ 15 characters, no packet-info header; a TAP device,
    Ethernet frames, if ``tap``) in the caller's namespace; returns its file descriptor
    (non-blocking for a TUN, blocking for a TAP; closing it removes the device)."""
    if len(name) > 15:
        raise ValueError(f"interface name {name!r} is longer than 15 characters")
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(
            fd,
            TUNSETIFF,
            struct.pack("16sH", name.encode(), (IFF_TAP if tap else IFF_TUN) | IFF_NO_PI),
        )
    except OSError:
        os.close(fd)
        raise
    os.set_blocking(fd, tap)
    return fd


def add_namespace(ns: str, tun: str, address: str, gateway: str | None = None) -> int:
    """Make namespace ``ns`` with loopback up and TUN device ``tun`` holding ``address``
    (CIDR, e.g. ``10.77.0.2/16``); IPv6 off so only IPv4 crosses the link. With a
    ``gateway`` the device is a TAP and the namespace's default route goes through that
    address. Returns the device's file descriptor."""
    ip("netns", "add", ns)
    fd = open_tun(tun, tap=gateway is not None)
    try:
        ip("link", "set", tun, "netns", ns)
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "addr", "add", address, "dev", tun)
        ip("-n", ns, "link", "set", tun, "up")
        if gateway is not None:
            ip("-n", ns, "route", "add", "default", "via", gateway)
        for key in ("all", "default", "lo"):
            subprocess.run(
                ["ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1"],
                check=False,
                capture_output=True,
                timeout=30,
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def delete_namespace(ns: str) -> None:
    """Remove namespace ``ns`` (no error if it is already gone)."""
    ip("netns", "del", ns, check=False)


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """``fn()`` run on a fresh thread that entered namespace ``ns``; its result or its
    exception. Sockets it creates stay in ``ns`` whichever thread uses them later."""
    libc = ctypes.CDLL(None, use_errno=True)
    box: dict[str, object] = {}

    def run() -> None:
        nsfd = os.open(f"{NETNS_DIR}/{ns}", os.O_RDONLY)
        try:
            if libc.setns(nsfd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns({ns}): {os.strerror(err)}")
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc
        finally:
            os.close(nsfd)

    t = threading.Thread(target=run, name=f"netns-{ns}")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]

"""Run the web app with uvicorn inside the caller's asyncio loop (no signal handling of its
own: the process that composes the services owns Ctrl-C)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from gridpeer.web.context import WebContext

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` like :func:`asyncio.run`, on uvloop when it is installed (a libuv event
    loop in C; with httptools, which uvicorn picks up by itself, a request costs the web
    process about half the CPU of asyncio's loop and h11)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 = a free one).

    The protocol is given explicitly (``IPPROTO_TCP``, not the default 0): asyncio turns
    Nagle off (``TCP_NODELAY``) only on sockets whose ``proto`` says TCP, and without it
    every keep-alive response written in two parts (headers, body) waited for the
    client's delayed ACK — about 40 ms per request on loopback.

    Raises:
        OSError: the port is taken (the message says which).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def serving(
    app: FastAPI,
    ctx: WebContext,
    sock: socket.socket,
    forwarded_allow_ips: Sequence[str] = ("127.0.0.1",),
) -> AsyncIterator[str]:
    """Serve ``app`` on ``sock`` and refresh the live cache; yields the base URL.

    ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are trusted only from
    ``forwarded_allow_ips`` (addresses or networks of reverse proxies; empty: from nobody).
    On exit: ends live streams, stops accepting, waits up to 3 s for open requests.
    """
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
        lifespan="off",
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=list(forwarded_allow_ips),
    )
    server = _Server(config)
    refresher = asyncio.create_task(ctx.cache.run(ctx.stop), name="web-live-cache")
    task = asyncio.create_task(server.serve(sockets=[sock]), name="web-server")
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if task.done():
        task.result()  # raises the startup error
    # Everything loaded so far (web3, pydantic, FastAPI: ~115k objects) lives as long as
    # the server: keep it out of the collector, whose full passes over it took 50-60 ms,
    # a stall for every request in flight.
    gc.collect()
    gc.freeze()
    host, port = sock.getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        ctx.stop.set()
        server.should_exit = True
        await asyncio.gather(task, refresher, return_exceptions=True)
        sock.close()

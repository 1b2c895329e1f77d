"""The web app over a real embedded chain (``chainctx``), served by uvicorn on a free
loopback port in a thread of its own, for browser tests that move the model clock."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from gridpeer.web.server import bind, serving
from tests.web.chainctx import chain_context

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def review_dir() -> Path:
    """A temp dir for screenshots a person looks at but the docs do not show
    (``$TMPDIR/gridpeer-screenshots``)."""
    d = Path(tempfile.gettempdir()) / "gridpeer-screenshots"
    d.mkdir(exist_ok=True)
    return d


def shots_dir() -> Path:
    """Where browser tests save the docs' screenshots: ``docs/screenshots`` only when
    ``GRIDPEER_UPDATE_SCREENSHOTS=1`` asks to update the docs, else :func:`review_dir`
    (so a test run leaves ``git status`` clean)."""
    if os.environ.get("GRIDPEER_UPDATE_SCREENSHOTS") == "1":
        return DOCS_SHOTS
    return review_dir()


@dataclass
class LiveServer:
    url: str
    ctx: WebContext


@contextmanager
def live_server() -> Iterator[LiveServer]:
    """Serve ``create_app(chain_context())`` until the block ends."""
    ctx = chain_context()
    app = create_app(ctx)
    sock = bind("127.0.0.1", 0)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    url: list[str] = []
    done = asyncio.Event()

    async def main() -> None:
        async with serving(app, ctx, sock) as base:
            url.append(base)
            started.set()
            await done.wait()

    def run() -> None:
        loop.run_until_complete(main())

    t = threading.Thread(target=run, name="live-server", daemon=True)
    t.start()
    assert started.wait(30), "the web server did not start"
    try:
        yield LiveServer(url[0], ctx)
    finally:
        loop.call_soon_threadsafe(done.set)
        t.join(30)
        loop.close()
        assert ctx.chain is not None
        ctx.chain.close()

"""The FastAPI application: JSON API under ``/api``, pages, static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gridpeer import __version__
from gridpeer.web import api_auth, api_explorer, api_health, api_market, api_telemetry, pages
from gridpeer.web.context import WebContext

_STATIC = Path(__file__).parent / "static"


def create_app(ctx: WebContext) -> FastAPI:
    """The web app over ``ctx`` (store, clock, houses, live cache).

    Routers of later layers (market, chain) are included when their context is present.
    """
    app = FastAPI(
        title="gridpeer",
        version=__version__,
        description="Solar P2P energy trading in a community microgrid. "
        "Units: power W, energy Wh, voltage V, current A, SoC 0..1, prices wei/kWh, "
        "times UTC.",
    )
    app.state.ctx = ctx
    app.include_router(api_telemetry.router)
    app.include_router(api_market.router)
    app.include_router(api_auth.router)
    app.include_router(api_explorer.router)
    app.include_router(pages.router)
    api_health.install(app)  # /healthz, /readyz; 503 while the store or chain is down
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    return app

"""The FastAPI application: JSON API under ``/api``, pages, static files, offline ``/docs``.

Errors: API clients (paths under ``/api``, or a request that does not accept HTML) get the
JSON ``{"detail": ...}``; a browser asking for a page gets an HTML error page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridpeer import __version__
from gridpeer.web import (
    api_auth,
    api_explorer,
    api_grid,
    api_health,
    api_market,
    api_orders,
    api_statement,
    api_telemetry,
    api_wallet,
    pages,
)
from gridpeer.web.context import WebContext
from gridpeer.web.validation import problems

_STATIC = Path(__file__).parent / "static"


def wants_html(request: Request) -> bool:
    """A browser navigating to a page (not ``/api``, and ``Accept`` lists text/html)."""
    if request.url.path.startswith(("/api", "/static", "/vendor", "/openapi")):
        return False
    return "text/html" in request.headers.get("accept", "")


def create_app(ctx: WebContext) -> FastAPI:
    """The web app over ``ctx`` (store, clock, houses, live cache, chain).

    ``/docs`` is Swagger UI from the assets of the installed ``fastapi-offline`` package:
    the page loads nothing from outside the server.
    """
    app = FastAPIOffline(
        title="gridpeer",
        version=__version__,
        description="Solar P2P energy trading in a community microgrid. "
        "Units: power W, energy Wh, voltage V, current A, SoC 0..1, prices wei/kWh, "
        "times UTC.",
        redoc_url=None,
        favicon_url="/static/favicon.svg",
    )
    app.state.ctx = ctx

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request):
            return pages.error_page(request, ctx, exc.status_code, str(exc.detail))
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        """422 with every problem in the user's units (Wh, the community's currency)."""
        detail = problems(exc.errors(), ctx.currency)
        if wants_html(request):
            return pages.error_page(request, ctx, 422, "; ".join(d["msg"] for d in detail))
        return JSONResponse({"detail": detail}, status_code=422)

    app.include_router(api_telemetry.router)
    app.include_router(api_market.router)
    app.include_router(api_wallet.router)
    app.include_router(api_orders.router)
    app.include_router(api_orders.clearings_router)
    app.include_router(api_auth.router)
    app.include_router(api_explorer.router)
    app.include_router(api_statement.router)
    app.include_router(api_grid.router)
    app.include_router(pages.router)
    api_health.install(app)  # /healthz, /readyz; 503 while the store or chain is down
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    return app

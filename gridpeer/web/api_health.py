"""Liveness (``/healthz``), readiness (``/readyz``) and 503 answers while a dependency is
down.

* ``/healthz``: 200 while the process serves requests (no dependency is checked).
* ``/readyz``: runs every dependency check (the store and, when present, the chain are
  built in; others such as the MQTT broker come from ``WebContext.checks``) in worker
  threads with a :data:`CHECK_TIMEOUT_S` limit; 200 when all pass, else 503, each with its
  state and reason.
* :func:`install` maps a lost database (:class:`~gridpeer.store.base.StoreUnavailable`)
  and an unreachable Ethereum node (connection errors of web3's HTTP transport) raised by
  any endpoint to ``503 {"detail": reason}`` with ``Retry-After``, instead of a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

import requests
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from web3.exceptions import ProviderConnectionError

from gridpeer.chain.hub import ChainHub
from gridpeer.store.base import StoreUnavailable
from gridpeer.web.context import WebContext, get_context
from gridpeer.web.models import Problem

CHECK_TIMEOUT_S = 3.0
"""A readiness check that takes longer counts as failed (seconds)."""
RETRY_AFTER_S = 2
"""``Retry-After`` of a 503 (seconds): the store retries its connection at least this often."""

router = APIRouter(tags=["health"])
Ctx = Annotated[WebContext, Depends(get_context)]


class Alive(BaseModel):
    """The process is up."""

    status: str = Field("ok", description="always ok")


class Dependency(BaseModel):
    """One dependency's state."""

    ok: bool
    detail: str | None = Field(None, description="why it is not ready; null when ok")


class Readiness(BaseModel):
    """Every dependency's state; ``ready`` when all are ok."""

    ready: bool
    dependencies: dict[str, Dependency]


def _chain_check(hub: ChainHub) -> Callable[[], None]:
    def check() -> None:
        with hub.lock:
            hub.market.now()

    return check


def checks_of(ctx: WebContext) -> dict[str, Callable[[], None]]:
    """The readiness checks of ``ctx``: ``store``, ``chain`` (if any), then ``ctx.checks``."""
    found: dict[str, Callable[[], None]] = {"store": ctx.store.ping}
    if ctx.chain is not None:
        found["chain"] = _chain_check(ctx.chain)
    found.update(ctx.checks)
    return found


async def _run(check: Callable[[], None]) -> Dependency:
    try:
        await asyncio.wait_for(asyncio.to_thread(check), CHECK_TIMEOUT_S)
    except TimeoutError:
        return Dependency(ok=False, detail=f"no answer within {CHECK_TIMEOUT_S:g} s")
    except Exception as exc:
        return Dependency(ok=False, detail=_reason(exc))
    return Dependency(ok=True)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__


@router.get("/healthz", response_model=Alive, summary="Liveness")
async def healthz() -> Alive:
    """200 while the process answers; checks no dependency."""
    return Alive()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a dependency is down"}},
    summary="Readiness of each dependency",
)
async def readyz(ctx: Ctx) -> JSONResponse:
    """Checks the store, the chain and every injected dependency; 503 if any is down."""
    checks = checks_of(ctx)
    results = await asyncio.gather(*(_run(c) for c in checks.values()))
    deps = dict(zip(checks, results, strict=True))
    body = Readiness(ready=all(d.ok for d in results), dependencies=deps)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse(
        {"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
    )


async def _store_down(request: Request, exc: Exception) -> JSONResponse:
    return _unavailable(str(exc))


async def _chain_down(request: Request, exc: Exception) -> JSONResponse:
    return _unavailable(f"the Ethereum node is unreachable ({type(exc).__name__})")


def _document_client_errors(app: FastAPI) -> None:
    """Let the OpenAPI document say what client errors really carry: a 422 is FastAPI's
    list of field errors or a Problem sentence (an endpoint refusing a well-formed value);
    an operation with a JSON body answers 400 (a Problem) to a body that is not UTF-8 JSON.
    """
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = plain()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("Problem", Problem.model_json_schema())
        either = {
            "anyOf": [
                {"$ref": "#/components/schemas/HTTPValidationError"},
                {"$ref": "#/components/schemas/Problem"},
            ]
        }
        problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for item in doc.get("paths", {}).values():
            for op in item.values():
                responses = op.get("responses", {})
                body = responses.get("422", {}).get("content", {})
                if "application/json" in body:
                    body["application/json"]["schema"] = either
                if "requestBody" in op:
                    responses.setdefault(
                        "400", {"description": "the body is not UTF-8 JSON", "content": problem}
                    )
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Add the health routes and the 503 handlers to ``app``; document 422 bodies."""
    app.include_router(router)
    _document_client_errors(app)
    app.add_exception_handler(StoreUnavailable, _store_down)
    app.add_exception_handler(requests.exceptions.RequestException, _chain_down)
    app.add_exception_handler(ProviderConnectionError, _chain_down)

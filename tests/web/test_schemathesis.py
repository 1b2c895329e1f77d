"""Property-based API fuzzing from the OpenAPI spec: no request may cause a 5xx.

Runs against the app over a hand-made telemetry store and a real embedded chain (demo
keys), so market actions are exercised too. The live stream (endless) is excluded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from tests.web.chainctx import chain_context
from tests.web.conftest import fill


@pytest.fixture(scope="module")
def api_ctx() -> Iterator[WebContext]:
    ctx = chain_context()
    fill(ctx.store)  # type: ignore[arg-type]
    ctx.cache.refresh()
    yield ctx
    assert ctx.chain is not None
    ctx.chain.close()


@pytest.fixture(scope="module")
def api_schema(api_ctx: WebContext) -> Any:
    app = create_app(api_ctx)
    return schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/api/stream")


def test_no_server_errors(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def no_5xx(case: Any) -> None:
            response = case.call()
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)

        no_5xx()

"""``[web] forwarded_allow_ips``: uvicorn trusts ``X-Forwarded-Proto`` / ``X-Forwarded-For``
only from the configured reverse proxies — behind nginx the session cookie is ``Secure``
and sign-in limits count the real client; from anyone else the headers are ignored."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from pydantic import ValidationError

from gridpeer.core.settings import WebSettings
from gridpeer.store.base import NonceLimits
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from gridpeer.web.server import bind, serving

ALICE = Account.from_key(b"\x0a" * 32)


@contextmanager
def _served(ctx: WebContext, proxies: Sequence[str]) -> Iterator[str]:
    app, sock = create_app(ctx), bind("127.0.0.1", 0)
    loop = asyncio.new_event_loop()
    started, url = threading.Event(), []
    done = asyncio.Event()

    async def main() -> None:
        async with serving(app, ctx, sock, proxies) as base:
            url.append(base)
            started.set()
            await done.wait()

    t = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    t.start()
    assert started.wait(30)
    try:
        yield url[0]
    finally:
        loop.call_soon_threadsafe(done.set)
        t.join(30)
        loop.close()


def _cookie(base: str, headers: dict[str, str]) -> str:
    with httpx.Client(base_url=base, headers=headers, timeout=10) as c:
        msg = c.get("/api/auth/message", params={"address": ALICE.address}).json()["message"]
        sig = ALICE.sign_message(encode_defunct(text=msg)).signature
        r = c.post("/api/auth/verify", json={"message": msg, "signature": "0x" + sig.hex()})
        assert r.status_code == 200, r.text
        return r.headers["set-cookie"]


def test_a_trusted_proxy_s_https_makes_the_cookie_secure(ctx: WebContext) -> None:
    https = {"x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.1"}
    with _served(ctx, ["127.0.0.1"]) as base:
        assert "Secure" in _cookie(base, https)
        assert "Secure" not in _cookie(base, {})  # plain HTTP through the proxy
    with _served(ctx, []) as base:  # no proxy trusted: the header is anyone's claim
        assert "Secure" not in _cookie(base, https)


def test_sign_in_limits_count_the_client_behind_a_trusted_proxy(ctx: WebContext) -> None:
    limit = NonceLimits().per_client

    def codes(base: str, ip: str, n: int) -> list[int]:
        with httpx.Client(base_url=base, headers={"x-forwarded-for": ip}, timeout=10) as c:
            return [
                c.get("/api/auth/message", params={"address": f"0x{k:040x}"}).status_code
                for k in range(n)
            ]

    with _served(ctx, ["127.0.0.0/8"]) as base:
        assert codes(base, "203.0.113.5", limit + 1)[-1] == 429
        assert codes(base, "203.0.113.6", 1) == [200]  # another client behind the proxy
    with _served(ctx, []) as base:  # headers ignored: every client is 127.0.0.1
        assert codes(base, "203.0.113.7", limit + 1)[-1] == 429
        assert codes(base, "203.0.113.8", 1) == [429]


@pytest.mark.parametrize("ok", [["127.0.0.1"], [], ["*"], ["10.0.0.0/24", "::1"]])
def test_proxy_addresses_are_validated(ok: list[str]) -> None:
    assert WebSettings(forwarded_allow_ips=ok).forwarded_allow_ips == ok


@pytest.mark.parametrize("bad", [["nginx"], ["10.0.0.1/24"], ["*", "10.0.0.1"]])
def test_bad_proxy_addresses_are_refused(bad: list[str]) -> None:
    with pytest.raises(ValidationError, match="forwarded_allow_ips"):
        WebSettings(forwarded_allow_ips=bad)

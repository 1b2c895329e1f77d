"""Abuse suite: each attack on the web app and telemetry is refused as documented.

Sign-in floods, concurrent nonce requests, bad cookies, foreign telemetry reads,
implausible reading times, weak secrets and an invalid operator key."""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from pydantic import ValidationError

from gridpeer.core.settings import ChainSettings, WebSettings
from gridpeer.store.base import NonceLimits
from gridpeer.telemetry.validate import Rejected, RejectReason, TimeWindow, validate_message
from gridpeer.web.app import create_app
from gridpeer.web.auth import COOKIE, Auth
from gridpeer.web.context import WebContext
from tests.web.conftest import DAY0

ALICE = Account.from_key(b"\x0a" * 32)  # member of h1
BOB = Account.from_key(b"\x0b" * 32)  # member of h2


def _sign_in(client: TestClient, acct: object) -> None:
    address = acct.address  # type: ignore[attr-defined]
    r = client.get("/api/auth/message", params={"address": address})
    assert r.status_code == 200, r.text
    msg = r.json()["message"]
    sig = acct.sign_message(encode_defunct(text=msg)).signature  # type: ignore[attr-defined]
    r = client.post("/api/auth/verify", json={"message": msg, "signature": "0x" + sig.hex()})
    assert r.status_code == 200, r.text
    assert r.json()["address"] == address


@pytest.fixture
def private_ctx(ctx: WebContext) -> WebContext:
    """The lab community served with a session secret (as ``serve``): members only."""
    ctx.auth = Auth(secret=secrets.token_bytes(32))
    ctx.members = {ALICE.address.lower(): "h1", BOB.address.lower(): "h2"}
    ctx.cache.refresh()
    return ctx


# --- sign-in -----------------------------------------------------------------------


def test_sign_in_flood_refuses_only_the_flooding_client(ctx: WebContext) -> None:
    app = create_app(ctx)
    flooder = TestClient(app, client=("203.0.113.9", 40000))
    limit = NonceLimits().per_client
    codes = [
        flooder.get("/api/auth/message", params={"address": f"0x{k:040x}"}).status_code
        for k in range(limit + 50)  # bounded stand-in for the 10,001-request flood
    ]
    assert codes[:limit] == [200] * limit
    assert set(codes[limit:]) == {429}
    refused = flooder.get("/api/auth/message", params={"address": ALICE.address})
    assert refused.status_code == 429 and "too many pending" in refused.json()["detail"]
    assert refused.headers["retry-after"] == "600"
    _sign_in(TestClient(app, client=("198.51.100.4", 40001)), ALICE)  # anyone else signs in


def test_one_client_cannot_hoard_nonces_for_one_address(ctx: WebContext) -> None:
    client = TestClient(create_app(ctx), client=("203.0.113.10", 40000))
    per = NonceLimits().per_address
    codes = [
        client.get("/api/auth/message", params={"address": BOB.address}).status_code
        for _ in range(per + 3)
    ]
    assert codes == [200] * per + [429] * 3


def test_concurrent_nonce_requests_never_fail(ctx: WebContext) -> None:
    app = create_app(ctx)

    def burst(k: int) -> list[int]:
        client = TestClient(app, client=(f"192.0.2.{k}", 40000))
        return [
            client.get("/api/auth/message", params={"address": f"0x{k:02x}{j:038x}"}).status_code
            for j in range(8)
        ]

    with ThreadPoolExecutor(8) as pool:
        codes = [c for batch in pool.map(burst, range(1, 17)) for c in batch]
    assert codes == [200] * (16 * 8)


def test_session_cookie_is_secure_over_https(ctx: WebContext) -> None:
    app = create_app(ctx)
    for base, secure in (("https://gridpeer.example", True), ("http://testserver", False)):
        client = TestClient(app, base_url=base)
        r = client.get("/api/auth/message", params={"address": ALICE.address})
        msg = r.json()["message"]
        sig = ALICE.sign_message(encode_defunct(text=msg)).signature
        r = client.post("/api/auth/verify", json={"message": msg, "signature": "0x" + sig.hex()})
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert ("Secure" in cookie) is secure


@pytest.mark.parametrize(
    "raw",
    [
        "é.é".encode(),
        "\u20ac\u20ac.abc".encode(),
        b"\xff\xfe.00",
        b"x" * 5000 + b".y",
        b"eyJhIjoxfQ." + b"0" * 64,
        b"not-a-token",
    ],
)
def test_bad_cookies_are_no_session(private_ctx: WebContext, raw: bytes) -> None:
    client = TestClient(create_app(private_ctx))
    headers = [(b"cookie", COOKIE.encode() + b"=" + raw)]
    r = client.get("/api/auth/session", headers=headers)
    assert r.status_code == 200 and r.json()["address"] is None
    r = client.get("/api/houses/h1/history", headers=headers)
    assert r.status_code == 401, r.text
    assert isinstance(r.json()["detail"], str)


# --- privacy -----------------------------------------------------------------------


def test_house_telemetry_is_for_its_members_only(private_ctx: WebContext) -> None:
    app = create_app(private_ctx)
    anon = TestClient(app)
    for path in ("/api/houses/h1/history", "/api/houses/h1/latest"):
        r = anon.get(path, params={"date": str(DAY0.date())} if "history" in path else None)
        assert r.status_code == 401, (path, r.text)
    overview = anon.get("/api/overview").json()
    assert overview["totals"]["load_w"] == pytest.approx(1700.0)  # community totals public
    assert all(h["load_w"] is None and h["ts"] is None for h in overview["houses"])
    assert anon.get("/api/flows", params={"date": str(DAY0.date())}).status_code == 200

    alice = TestClient(app, client=("192.0.2.50", 40000))
    _sign_in(alice, ALICE)
    r = alice.get("/api/houses/h1/history", params={"date": str(DAY0.date())})
    assert r.status_code == 200 and r.json()["points"]
    assert alice.get("/api/houses/h1/latest").json()["load_w"] == 500.0
    for path in ("/api/houses/h2/history", "/api/houses/h2/latest"):
        r = alice.get(path)
        assert r.status_code == 403 and "members of house h2" in r.json()["detail"]
    rows = {h["id"]: h for h in alice.get("/api/overview").json()["houses"]}
    assert rows["h1"]["load_w"] == 500.0 and rows["h2"]["load_w"] is None


def test_the_demo_stays_public(ctx: WebContext) -> None:
    client = TestClient(create_app(ctx))
    assert client.get("/api/houses/h2/latest").json()["load_w"] == 800.0
    r = client.get("/api/houses/h2/history", params={"date": str(DAY0.date())})
    assert r.status_code == 200 and r.json()["points"]
    assert {h["load_w"] for h in client.get("/api/overview").json()["houses"]} == {
        500.0,
        800.0,
        400.0,
    }


# --- telemetry time plausibility ---------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "accepted"),
    [
        ("9999-12-31T23:59:59Z", False),
        ("1970-01-01T00:00:00Z", False),
        ("2026-03-10T12:11:00Z", False),  # 11 min ahead of the server
        ("2026-03-03T11:59:00Z", False),  # a minute more than 7 days back
        ("2026-03-10T12:09:00Z", True),
        ("2026-03-03T12:01:00Z", True),
        ("2026-03-10T12:00:00+03:00", True),
    ],
)
def test_implausible_reading_times_are_rejected(ts: str, accepted: bool) -> None:
    now = DAY0 + timedelta(hours=12)
    payload = json.dumps({"ts": ts, "v": 300.0, "i": 1.0, "p": 300.0}).encode()
    result = validate_message("gridpeer/lab/h1/pv/reading", payload, "lab", "h1", now=now)
    if accepted:
        assert not isinstance(result, Rejected), result
    else:
        assert isinstance(result, Rejected) and result.reason is RejectReason.IMPLAUSIBLE_TIME
        assert "server's" in result.detail


def test_the_time_window_is_configurable() -> None:
    now = DAY0 + timedelta(hours=12)
    payload = json.dumps({"ts": "2026-03-01T00:00:00Z", "v": 1.0, "i": 1.0, "p": 1.0}).encode()
    topic = "gridpeer/lab/h1/pv/reading"
    assert isinstance(validate_message(topic, payload, "lab", "h1", now=now), Rejected)
    wide = TimeWindow(past=timedelta(days=30))
    assert not isinstance(
        validate_message(topic, payload, "lab", "h1", now=now, window=wide), Rejected
    )
    assert not isinstance(validate_message(topic, payload, "lab", "h1"), Rejected)  # no clock


# --- secrets and keys --------------------------------------------------------------


@pytest.mark.parametrize(
    "weak",
    ["abc", "a" * 64, "0123456789abcdef" * 3, "a-real-secret-for-this-test-9d8e7f", "ab" * 40],
)
def test_weak_session_secrets_are_refused(weak: str) -> None:
    with pytest.raises(ValidationError, match="too weak: use at least 32 random bytes"):
        WebSettings(session_secret=weak)


@pytest.mark.parametrize("strong", [secrets.token_urlsafe(32), secrets.token_hex(32)])
def test_random_session_secrets_are_accepted(strong: str) -> None:
    secret = WebSettings(session_secret=strong).session_secret
    assert secret is not None and secret.get_secret_value() == strong


@pytest.mark.parametrize("key", ["0x" + "00" * 32, "00" * 32, "0x1234", "f" * 64, "zz" * 32])
def test_invalid_operator_keys_get_a_clear_error(key: str) -> None:
    with pytest.raises(ValidationError, match="operator_key is not a private key"):
        ChainSettings(operator_key=key)
    assert ChainSettings(operator_key="0x" + "01" * 32).operator_key is not None


def test_the_session_names_the_members_house(private_ctx: WebContext) -> None:
    client = TestClient(create_app(private_ctx))
    _sign_in(client, BOB)
    assert client.get("/api/auth/session").json() == {"address": BOB.address, "house": "h2"}

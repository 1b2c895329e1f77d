"""Sign-In with Ethereum: only the address's own signature of a fresh message signs in."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from gridpeer.store.base import NonceLimits, Store
from gridpeer.store.factory import open_store
from gridpeer.web.auth import Auth, AuthError, RateLimited, client_key

ALICE = Account.from_key(b"\x01" * 32)
MALLORY = Account.from_key(b"\x02" * 32)


def _sign(acct: object, message: str) -> str:
    sig = acct.sign_message(encode_defunct(text=message)).signature  # type: ignore[attr-defined]
    return "0x" + bytes(sig).hex()


@pytest.fixture
def store() -> Store:
    return open_store("sqlite:///:memory:")


def test_sign_in_and_session_cookie(store: Store) -> None:
    auth = Auth()
    msg = auth.challenge(store, "127.0.0.1:8000", ALICE.address, "http://127.0.0.1:8000/", 31337)
    assert "wants you to sign in with your Ethereum account" in msg
    assert f"\n{ALICE.address}\n" in msg and "Chain ID: 31337" in msg
    assert auth.verify(store, msg, _sign(ALICE, msg)) == ALICE.address
    token = auth.cookie(ALICE.address)
    assert auth.session(token) == ALICE.address
    assert auth.session(token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    assert Auth().session(token) is None  # another server's key


def test_refusals(store: Store) -> None:
    auth = Auth()
    msg = auth.challenge(store, "h", ALICE.address, "http://h/", 1)
    with pytest.raises(AuthError, match="not from the address"):
        auth.verify(store, msg, _sign(MALLORY, msg))
    msg = auth.challenge(store, "h", ALICE.address, "http://h/", 1)
    auth.verify(store, msg, _sign(ALICE, msg))
    with pytest.raises(AuthError, match="already used"):
        auth.verify(store, msg, _sign(ALICE, msg))
    msg = auth.challenge(store, "h", ALICE.address, "http://h/", 1)
    forged = msg.replace("Chain ID: 1", "Chain ID: 2")
    with pytest.raises(AuthError, match="unknown"):
        auth.verify(store, forged, _sign(ALICE, forged))


def test_nonces_live_in_the_store_so_another_process_can_verify(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/auth.db"
    first, second = open_store(url), open_store(url)
    secret = b"k" * 32
    msg = Auth(secret=secret).challenge(first, "h", ALICE.address, "http://h/", 1)
    assert Auth(secret=secret).verify(second, msg, _sign(ALICE, msg)) == ALICE.address


def test_rate_limits_per_client_and_per_address(store: Store) -> None:
    auth = Auth(limits=NonceLimits(per_client=4, per_address=2))
    for _ in range(2):
        auth.challenge(store, "h", ALICE.address, "http://h/", 1, client="10.0.0.1")
    with pytest.raises(RateLimited, match="for 0x"):
        auth.challenge(store, "h", ALICE.address, "http://h/", 1, client="10.0.0.1")
    for _ in range(2):
        auth.challenge(store, "h", MALLORY.address, "http://h/", 1, client="10.0.0.1")
    with pytest.raises(RateLimited, match=r"from 10\.0\.0\.1"):
        auth.challenge(store, "h", MALLORY.address, "http://h/", 1, client="10.0.0.1")
    msg = auth.challenge(store, "h", ALICE.address, "http://h/", 1, client="10.0.0.2")
    assert auth.verify(store, msg, _sign(ALICE, msg)) == ALICE.address


def test_client_keys() -> None:
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "unknown" and client_key("testclient") == "testclient"


@pytest.mark.parametrize(
    "token",
    ["", "no-dot", "é.é", "€" * 50 + ".abc", "a" * 5000 + ".b", "eyJ9.00", "x." + "0" * 64],
)
def test_malformed_tokens_are_no_session(token: str) -> None:
    assert Auth().session(token) is None


def test_private_exactly_when_a_secret_is_configured() -> None:
    assert Auth().private is False
    assert Auth(secret=b"s" * 32).private is True
    assert Auth(secret=b"s" * 32, private=False).private is False

"""Sign-In with Ethereum: only the address's own signature of a fresh message signs in."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from gridpeer.web.auth import Auth, AuthError

ALICE = Account.from_key(b"\x01" * 32)
MALLORY = Account.from_key(b"\x02" * 32)


def _sign(acct: object, message: str) -> str:
    sig = acct.sign_message(encode_defunct(text=message)).signature  # type: ignore[attr-defined]
    return "0x" + bytes(sig).hex()


def test_sign_in_and_session_cookie() -> None:
    auth = Auth()
    msg = auth.challenge("127.0.0.1:8000", ALICE.address, "http://127.0.0.1:8000/", 31337)
    assert "wants you to sign in with your Ethereum account" in msg
    assert f"\n{ALICE.address}\n" in msg and "Chain ID: 31337" in msg
    assert auth.verify(msg, _sign(ALICE, msg)) == ALICE.address
    token = auth.cookie(ALICE.address)
    assert auth.session(token) == ALICE.address
    assert auth.session(token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    assert Auth().session(token) is None  # another server's key


def test_refusals() -> None:
    auth = Auth()
    msg = auth.challenge("h", ALICE.address, "http://h/", 1)
    with pytest.raises(AuthError, match="not from the address"):
        auth.verify(msg, _sign(MALLORY, msg))
    msg = auth.challenge("h", ALICE.address, "http://h/", 1)
    auth.verify(msg, _sign(ALICE, msg))
    with pytest.raises(AuthError, match="already used"):
        auth.verify(msg, _sign(ALICE, msg))
    forged = msg.replace("Chain ID: 1", "Chain ID: 2")
    with pytest.raises(AuthError, match="unknown"):
        auth.verify(forged, _sign(ALICE, forged))

"""Sign-In with Ethereum (EIP-4361) and signed session cookies.

The server writes the EIP-4361 message (domain, address, URI, chain id, nonce, issued
at, expiry) and remembers it by nonce; the wallet signs it with ``personal_sign``
(EIP-191); the server recovers the signer and, if it is the message's address, sets a
session cookie ``gp_session`` = payload + HMAC-SHA256. Nonces are single use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.messages import encode_defunct

COOKIE = "gp_session"
NONCE_TTL_S = 600
SESSION_TTL_S = 12 * 3600


class AuthError(ValueError):
    """Sign-in refused; the message says why."""


def siwe_message(
    domain: str, address: str, uri: str, chain_id: int, nonce: str, issued: int, expires: int
) -> str:
    """The EIP-4361 message text (times as ISO 8601 UTC)."""

    def iso(ts: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))

    return (
        f"{domain} wants you to sign in with your Ethereum account:\n{address}\n\n"
        "Sign in to gridpeer to trade energy in your community.\n\n"
        f"URI: {uri}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\n"
        f"Issued At: {iso(issued)}\nExpiration Time: {iso(expires)}"
    )


@dataclass
class Auth:
    """Pending sign-in messages and the cookie signing key."""

    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    pending: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    def challenge(self, domain: str, address: str, uri: str, chain_id: int) -> str:
        """A fresh message for ``address`` to sign."""
        now = int(time.time())
        self.pending = {n: p for n, p in self.pending.items() if p[2] > now}
        if len(self.pending) > 10_000:
            raise AuthError("too many pending sign-ins; try again in a few minutes")
        nonce = secrets.token_hex(8)
        msg = siwe_message(domain, address, uri, chain_id, nonce, now, now + NONCE_TTL_S)
        self.pending[nonce] = (address.lower(), msg, now + NONCE_TTL_S)
        return msg

    def verify(self, message: str, signature: str) -> str:
        """The signed-in address (checksummed) if ``signature`` signs a pending message.

        Raises:
            AuthError: unknown/expired/used message or a signature by someone else.
        """
        nonce = next(
            (ln.removeprefix("Nonce: ") for ln in message.splitlines() if ln.startswith("Nonce: ")),
            "",
        )
        pending = self.pending.pop(nonce, None)
        if pending is None or pending[1] != message:
            raise AuthError("unknown or already used sign-in message; request a new one")
        address, _msg, expires = pending
        if time.time() > expires:
            raise AuthError("the sign-in message expired; request a new one")
        try:
            signer = Account.recover_message(encode_defunct(text=message), signature=signature)
        except Exception as exc:
            raise AuthError(f"bad signature: {exc}") from exc
        if signer.lower() != address:
            raise AuthError("the signature is not from the address in the message")
        return str(signer)

    def cookie(self, address: str) -> str:
        """A signed session token for ``address``."""
        body = json.dumps({"a": address, "e": int(time.time()) + SESSION_TTL_S}).encode()
        payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
        mac = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
        return f"{payload}.{mac}"

    def session(self, token: str | None) -> str | None:
        """The address of a valid, unexpired session token, else None."""
        if not token or "." not in token:
            return None
        payload, mac = token.rsplit(".", 1)
        good = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, good):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("e", 0) < time.time():
            return None
        address = data.get("a")
        return address if isinstance(address, str) else None

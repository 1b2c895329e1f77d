"""Sign-In with Ethereum (EIP-4361) and signed session cookies.

The server writes the EIP-4361 message (domain, address, URI, chain id, nonce, issued
at, expiry) and remembers it by nonce in the store (table ``signin_nonces``, so every
web process of a community shares them and a restart keeps them); the wallet signs it
with ``personal_sign`` (EIP-191); the server recovers the signer and, if it is the
message's address, sets a session cookie ``gp_session`` = payload + HMAC-SHA256. Nonces
are single use and expire after 10 minutes.

Rate limits (:class:`~gridpeer.store.base.NonceLimits`): one client (an IPv4 address or an
IPv6 /64 network) holds at most 30 pending messages, and at most 5 for one address, so a
flood from one client refuses only that client (429) and never blocks anyone else's
sign-in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.messages import encode_defunct

from gridpeer.store.base import Nonce, NonceLimits, Store

COOKIE = "gp_session"
NONCE_TTL_S = 600
SESSION_TTL_S = 12 * 3600
MAX_TOKEN_CHARS = 1024
"""Longer session cookies are refused unread (a real one is about 150 characters)."""


class AuthError(ValueError):
    """Sign-in refused; the message says why."""


class RateLimited(AuthError):
    """Too many pending sign-in messages for this client or address; retry later."""


def client_key(host: str | None) -> str:
    """The rate-limit key of a client: its IPv4 address, or its IPv6 /64 network (one
    household's prefix), or the host string as given when it is not an IP address."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


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
    """The session cookie signing key and the sign-in rate limits.

    Attributes:
        secret: key that signs session cookies (``web.session_secret``); a random one per
            run when empty (sessions then end with the process).
        limits: most pending sign-in messages per client and per address.
        private: per-house telemetry only for the house's members; by default true
            exactly when a secret is configured (``serve``), false for the demo.
    """

    secret: bytes = b""
    limits: NonceLimits = field(default_factory=NonceLimits)
    private: bool | None = None

    def __post_init__(self) -> None:
        if self.private is None:
            self.private = bool(self.secret)
        if not self.secret:
            self.secret = secrets.token_bytes(32)

    def challenge(
        self,
        store: Store,
        domain: str,
        address: str,
        uri: str,
        chain_id: int,
        client: str = "unknown",
    ) -> str:
        """A fresh message for ``address`` to sign, remembered in ``store``.

        Raises:
            RateLimited: ``client`` already has too many pending messages.
            StoreUnavailable: the database is down.
        """
        now = int(time.time())
        nonce = secrets.token_hex(16)
        msg = siwe_message(domain, address, uri, chain_id, nonce, now, now + NONCE_TTL_S)
        pending = Nonce(nonce, address.lower(), client, msg, now + NONCE_TTL_S)
        refused = store.add_nonce(pending, now, self.limits)
        if refused is not None:
            raise RateLimited(f"{refused}; try again in a few minutes")
        return msg

    def verify(self, store: Store, message: str, signature: str) -> str:
        """The signed-in address (checksummed) if ``signature`` signs a pending message.

        Raises:
            AuthError: unknown/expired/used message or a signature by someone else.
        """
        nonce = next(
            (ln.removeprefix("Nonce: ") for ln in message.splitlines() if ln.startswith("Nonce: ")),
            "",
        )
        pending = store.take_nonce(nonce, int(time.time())) if nonce else None
        if pending is None or pending.message != message:
            raise AuthError("unknown, expired or already used sign-in message; request a new one")
        try:
            signer = Account.recover_message(encode_defunct(text=message), signature=signature)
        except Exception as exc:
            raise AuthError(f"bad signature: {exc}") from exc
        if signer.lower() != pending.address:
            raise AuthError("the signature is not from the address in the message")
        return str(signer)

    def cookie(self, address: str) -> str:
        """A signed session token for ``address``."""
        body = json.dumps({"a": address, "e": int(time.time()) + SESSION_TTL_S}).encode()
        payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
        mac = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
        return f"{payload}.{mac}"

    def session(self, token: str | None) -> str | None:
        """The address of a valid, unexpired session token, else None (never raises: a
        malformed, foreign or non-ASCII cookie is just no session)."""
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii() or "." not in token:
            return None
        payload, mac = token.rsplit(".", 1)
        good = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac.encode(), good.encode()):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(data, dict):
            return None
        expires, address = data.get("e"), data.get("a")
        if not isinstance(expires, int) or expires < time.time() or not isinstance(address, str):
            return None
        return address

"""Pending sign-in messages (table ``signin_nonces``), shared by the SQL backends.

Each function runs inside the caller's transaction on a DB-API connection whose
``execute(sql, args)`` returns a cursor (sqlite3 and psycopg both do); ``ph`` is the
driver's placeholder (``?`` or ``%s``). Times are POSIX seconds (wall clock).
"""

from __future__ import annotations

from typing import Any

from gridpeer.store.base import Nonce, NonceLimits

DDL = """
CREATE TABLE IF NOT EXISTS signin_nonces (
    nonce TEXT PRIMARY KEY, address TEXT NOT NULL, client TEXT NOT NULL,
    message TEXT NOT NULL, expires_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS signin_nonces_client ON signin_nonces (client, address);
CREATE INDEX IF NOT EXISTS signin_nonces_expiry ON signin_nonces (expires_at);
"""


def add(db: Any, ph: str, nonce: Nonce, now: int, limits: NonceLimits) -> str | None:
    """Drop expired nonces, then store ``nonce`` unless its client already has
    ``limits.per_client`` pending (or ``limits.per_address`` for this address). Returns
    None when stored, else the refusal in words."""
    db.execute(f"DELETE FROM signin_nonces WHERE expires_at <= {ph}", (now,))
    (n_client,) = db.execute(
        f"SELECT count(*) FROM signin_nonces WHERE client = {ph}", (nonce.client,)
    ).fetchone()
    if int(n_client) >= limits.per_client:
        return f"too many pending sign-ins from {nonce.client} ({limits.per_client} at most)"
    (n_address,) = db.execute(
        f"SELECT count(*) FROM signin_nonces WHERE client = {ph} AND address = {ph}",
        (nonce.client, nonce.address),
    ).fetchone()
    if int(n_address) >= limits.per_address:
        return f"too many pending sign-ins for {nonce.address} ({limits.per_address} at most)"
    db.execute(
        "INSERT INTO signin_nonces (nonce, address, client, message, expires_at) "
        f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph})",
        (nonce.nonce, nonce.address, nonce.client, nonce.message, nonce.expires_at),
    )
    return None


def take(db: Any, ph: str, nonce: str, now: int) -> Nonce | None:
    """Delete ``nonce`` and return it if it was pending and unexpired, else None."""
    row = db.execute(
        "DELETE FROM signin_nonces WHERE nonce = "
        f"{ph} RETURNING nonce, address, client, message, expires_at",
        (nonce,),
    ).fetchone()
    if row is None or int(row[4]) <= now:
        return None
    return Nonce(str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]))

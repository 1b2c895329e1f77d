"""JSON response bodies encoded once and served many times: bytes, gzip, ETag.

The live cache renders the overview once per refresh; at 1,000 houses it is ~400 kB of
JSON, and sending that to every client that asks (25 per second in the live benchmark's
read mix) was what held the web back: 100 overviews per second came out at 58 per second,
p50 5.5 s, while the web process used a tenth of a core. :class:`Encoded` keeps the body
as bytes, gzip-compressed once when that pays (~8× smaller for the overview), and a
strong ETag from its content; :func:`respond` picks the gzip body for clients that accept
it and answers ``If-None-Match`` with 304 Not Modified.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass

from fastapi import Request, Response

GZIP_MIN_BYTES = 1024
"""Smaller bodies are sent as they are (gzip would save less than its headers cost)."""
GZIP_LEVEL = 6


@dataclass(frozen=True)
class Encoded:
    """A JSON body: ``raw`` bytes, ``gz`` (gzip of ``raw``, or None when it is small) and
    ``etag`` (quoted, from a hash of ``raw``: the same content has the same tag)."""

    raw: bytes
    gz: bytes | None
    etag: str

    @classmethod
    def of(cls, text: str) -> Encoded:
        """Encode ``text`` (UTF-8), compress it if at least :data:`GZIP_MIN_BYTES`."""
        raw = text.encode()
        gz = gzip.compress(raw, GZIP_LEVEL, mtime=0) if len(raw) >= GZIP_MIN_BYTES else None
        return cls(raw, gz, '"' + hashlib.blake2b(raw, digest_size=12).hexdigest() + '"')


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` header accepts gzip (``gzip`` or ``*``, q > 0)."""
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def not_modified(header: str, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (or ``*``); weak tags compare equal."""
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags


def respond(request: Request, body: Encoded) -> Response:
    """``body`` as the response to ``request``: 304 when the client has it already, gzip
    when the client accepts it, else the plain bytes. Caches may keep it but must ask
    again before using it (``no-cache``): it changes with every live refresh."""
    headers = {"ETag": body.etag, "Cache-Control": "no-cache"}
    if not_modified(request.headers.get("if-none-match", ""), body.etag):
        return Response(status_code=304, headers=headers)
    if body.gz is not None:
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            headers["Content-Encoding"] = "gzip"
            return Response(body.gz, media_type="application/json", headers=headers)
    return Response(body.raw, media_type="application/json", headers=headers)

"""Live answers encoded once per refresh: gzip for clients that take it, ETag and 304,
and new bodies (new tags) after a refresh that saw new readings."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from gridpeer.store.base import Sample, Store
from gridpeer.store.factory import open_store
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from gridpeer.web.encoded import Encoded, accepts_gzip, not_modified
from tests.web.conftest import DAY0, HOUSES, fill

PLAIN = {"Accept-Encoding": "identity"}


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("deflate, GZIP;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("br, deflate", False),
        ("", False),
        ("gzip;q=x", False),
    ],
)
def test_accept_encoding(header: str, ok: bool) -> None:
    assert accepts_gzip(header) is ok


def test_if_none_match() -> None:
    tag = Encoded.of("{}").etag
    assert not_modified(tag, tag)
    assert not_modified(f'"other", W/{tag}', tag)
    assert not_modified("*", tag)
    assert not not_modified("", tag)
    assert not not_modified('"other"', tag)


def test_small_bodies_are_not_compressed_and_large_ones_decompress_to_the_same() -> None:
    assert Encoded.of('{"a":1}').gz is None
    text = json.dumps({"houses": [{"id": f"h{k}", "load_w": k * 1.5} for k in range(200)]})
    body = Encoded.of(text)
    assert body.gz is not None and len(body.gz) < len(body.raw) // 3
    assert gzip.decompress(body.gz) == text.encode() == body.raw
    assert Encoded.of(text).etag == body.etag != Encoded.of(text + " ").etag


def test_overview_gzip_etag_and_304(client: TestClient) -> None:
    plain = client.get("/api/overview", headers=PLAIN)
    zipped = client.get("/api/overview")  # httpx asks for gzip and decodes it
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json() == plain.json() and len(plain.json()["houses"]) == len(HOUSES)
    assert zipped.headers["etag"] == plain.headers["etag"]
    assert plain.headers["vary"] == "Accept-Encoding"
    again = client.get("/api/overview", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == plain.headers["etag"]


def test_refresh_with_new_readings_gives_new_bodies_and_tags(
    ctx: WebContext, store: Store, client: TestClient
) -> None:
    before = {p: client.get(p) for p in ("/api/overview", "/api/houses/h3/latest")}
    for r in before.values():
        tag = r.headers["etag"]
        assert client.get(r.url, headers={"If-None-Match": tag}).status_code == 304
    ctx.cache.refresh()  # nothing new: the house's row is the same (the overview has `now`)
    latest = before["/api/houses/h3/latest"].headers["etag"]
    assert client.get("/api/houses/h3/latest", headers={"If-None-Match": latest}).status_code == 304
    ts = DAY0 + timedelta(hours=12, seconds=-1)
    store.write([Sample("h3", "meter", ts, v=231.0, i=5.0, p=1234.0, p_grid=1234.0)])
    ctx.cache.refresh()
    for path, r in before.items():
        fresh = client.get(path, headers={"If-None-Match": r.headers["etag"]})
        assert fresh.status_code == 200 and fresh.headers["etag"] != r.headers["etag"]
    h3 = client.get("/api/houses/h3/latest").json()
    assert h3["load_w"] == 1234.0
    rows = {h["id"]: h for h in client.get("/api/overview").json()["houses"]}
    assert rows["h3"]["load_w"] == 1234.0 and rows["h1"]["load_w"] == 500.0


def test_live_cache_reads_its_own_store(tmp_path: object, ctx: WebContext) -> None:
    """``cache_store``: the refresh's connection; requests read ``store``."""
    path = f"sqlite:///{tmp_path}/live.db"
    writer = open_store(path)
    fill(writer)
    requests, live = open_store(path), open_store(path)
    try:
        web = WebContext.create(requests, ctx.clock, HOUSES, "lab", cache_store=live)
        assert web.cache.store is live and web.store is requests
        body = TestClient(create_app(web)).get("/api/overview").json()
        assert body["totals"]["load_w"] == 500.0 + 800.0 + 400.0
    finally:
        for s in (writer, requests, live):
            s.close()


def _hidden(ctx: WebContext, allowed: frozenset[str], house: str | None, rows: str) -> object:
    """The overview with other houses' readings null, built row by row with the models."""
    from gridpeer.web.models import HouseNow

    ov = ctx.cache.overview
    picked = [] if rows == "none" else [h for h in ov.houses if house in (None, h.id)]
    shown = [h if h.id in allowed else HouseNow(id=h.id, name=h.name, kind=h.kind) for h in picked]
    return json.loads(ov.model_copy(update={"houses": shown}).model_dump_json())


@pytest.mark.parametrize("allowed", [frozenset(), frozenset({"h2"}), frozenset({"h1", "h3"})])
@pytest.mark.parametrize(
    ("house", "rows"), [(None, "all"), ("h2", "all"), ("h9", "all"), (None, "none")]
)
def test_composed_private_overview_equals_the_model_built_one(
    ctx: WebContext, allowed: frozenset[str], house: str | None, rows: str
) -> None:
    composed = ctx.cache.rendered.compose(allowed, house, rows)
    assert json.loads(composed) == _hidden(ctx, allowed, house, rows)
    everyone = json.loads(ctx.cache.rendered.compose(None))
    assert everyone == json.loads(ctx.cache.overview_json)
    anonymous = ctx.cache.rendered.anonymous
    assert json.loads(anonymous.raw) == _hidden(ctx, frozenset(), None, "all")

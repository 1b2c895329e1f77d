"""The ThingSpeak uplink against a local HTTP stand-in on 127.0.0.1 that checks the
request format of ThingSpeak's Write Data API (the real service is unreachable here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from pydantic import ValidationError

from gridpeer.store.base import Sample
from gridpeer.store.thingspeak import (
    ThingSpeakChannel,
    ThingSpeakSettings,
    ThingSpeakUplink,
    update_form,
)

T0 = datetime(2026, 6, 1, 13, 0, 5, tzinfo=UTC)
KEY = "K7Q2M9X4T1W8N5R3"


class StandIn:
    """Answers like ThingSpeak: a feed entry, or ``0`` while ``refuse`` is set."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str, dict[str, list[str]]]] = []
        self.refuse = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode()
                ctype = self.headers.get("Content-Type", "")
                outer.requests.append(("POST", self.path, ctype, parse_qs(body)))
                answer = (
                    b"0"
                    if outer.refuse
                    else json.dumps({"channel_id": 7, "entry_id": len(outer.requests)}).encode()
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    s = StandIn()
    yield s
    s.stop()


def settings(url: str, **kw: object) -> ThingSpeakSettings:
    return ThingSpeakSettings.model_validate(
        {
            "enabled": True,
            "url": url,
            "channels": [
                {
                    "house": "h1",
                    "write_key": KEY,
                    "fields": {"field1": "meter.p", "field2": "meter.e_wh", "field4": "bess.soc"},
                }
            ],
            **kw,
        }
    )


def meter(ts: datetime, p: float, e_wh: int, house: str = "h1") -> Sample:
    return Sample(house, "meter", ts, v=230.0, i=p / 230.0, p=p, e_wh=e_wh, p_grid=p)


def test_updates_follow_the_write_data_format_and_the_rate_limit(stand_in: StandIn) -> None:
    now = [0.0]
    up = ThingSpeakUplink(settings(stand_in.url), clock=lambda: now[0])
    up.offer([meter(T0, 1200.0, 5000), Sample("h1", "bess", T0 - timedelta(seconds=3), soc=0.5)])
    up.offer([meter(T0, 1.0, 1, house="h9")])  # a house without a channel: ignored
    assert up.flush() == 1
    method, path, ctype, form = stand_in.requests[0]
    assert (method, path) == ("POST", "/update.json")
    assert ctype == "application/x-www-form-urlencoded"
    assert form == {
        "api_key": [KEY],
        "field1": ["1200.0"],
        "field2": ["5000"],
        "field4": ["0.5"],
        "created_at": ["2026-06-01T13:00:05Z"],
    }
    # newer readings within 15 s are held back, the newest one is sent after
    now[0] = 5.0
    up.offer([meter(T0 + timedelta(seconds=5), 1300.0, 5002)])
    now[0] = 10.0
    up.offer([meter(T0 + timedelta(seconds=10), 1400.0, 5004)])
    assert up.flush() == 0 and len(stand_in.requests) == 1
    now[0] = 15.0
    assert up.flush() == 1
    assert stand_in.requests[1][3]["field1"] == ["1400.0"]
    assert stand_in.requests[1][3]["created_at"] == ["2026-06-01T13:00:15Z"]
    now[0] = 40.0  # nothing newer: nothing sent
    assert up.flush() == 0 and len(stand_in.requests) == 2
    assert (up.posted, up.failed) == (2, 0)


def test_a_refused_update_is_counted_and_retried_after_the_interval(stand_in: StandIn) -> None:
    now = [0.0]
    up = ThingSpeakUplink(settings(stand_in.url, min_interval_s=20.0), clock=lambda: now[0])
    stand_in.refuse = True
    up.offer([meter(T0, 900.0, 10)])
    assert up.flush() == 0 and up.failed == 1
    stand_in.refuse = False
    now[0] = 10.0
    assert up.flush() == 0 and len(stand_in.requests) == 1  # not before 20 s
    now[0] = 20.0
    assert up.flush() == 1 and up.posted == 1
    assert stand_in.requests[1][3]["field1"] == ["900.0"]  # the same reading again


def test_unreachable_service_counts_a_failure() -> None:
    up = ThingSpeakUplink(settings("http://127.0.0.1:9", timeout_s=1.0))
    up.offer([meter(T0, 900.0, 10)])
    assert up.flush() == 0 and up.failed == 1


def test_settings_are_off_by_default_and_refuse_bad_channels() -> None:
    assert ThingSpeakSettings().enabled is False
    with pytest.raises(ValidationError, match="at least one"):
        ThingSpeakSettings(enabled=True)
    with pytest.raises(ValidationError, match="http"):
        ThingSpeakSettings(url="file:///etc/passwd")
    ch = {"house": "h1", "write_key": KEY, "fields": {"field1": "meter.p"}}
    with pytest.raises(ValidationError, match="one ThingSpeak channel per house"):
        ThingSpeakSettings.model_validate({"channels": [ch, ch]})
    for bad in (
        {**ch, "fields": {"field9": "meter.p"}},
        {**ch, "fields": {"field1": "meter.watts"}},
        {**ch, "fields": {}},
        {**ch, "write_key": "changeme"},
    ):
        with pytest.raises(ValidationError):
            ThingSpeakChannel.model_validate(bad)
    assert KEY not in repr(ThingSpeakChannel.model_validate(ch))  # the key stays secret


def test_a_form_needs_a_mapped_value() -> None:
    ch = ThingSpeakChannel.model_validate(
        {"house": "h1", "write_key": KEY, "fields": {"field1": "pv.p"}}
    )
    assert update_form(ch, {"meter": meter(T0, 1.0, 1)}) is None

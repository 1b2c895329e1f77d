"""Schema validation, including fuzzed malformed payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.store.base import Sample
from gridpeer.telemetry.validate import (
    MAX_PAYLOAD_BYTES,
    Rejected,
    RejectReason,
    validate_message,
)

TS = "2026-06-01T12:00:00.250Z"
GOOD: dict[str, dict[str, Any]] = {
    "meter": {"ts": TS, "v": 230.1, "i": 2.5, "p": 575.0, "e_wh": 1234, "p_grid": -100.0},
    "pv": {"ts": TS, "v": 310.0, "i": 8.1, "p": 2511.0},
    "bess": {"ts": TS, "v": 51.2, "i": -10.0, "p": -512.0, "soc": 0.42},
}


def topic(device: str, house: str = "h1", community: str = "lab") -> str:
    return f"gridpeer/{community}/{house}/{device}/reading"


def check(device: str, body: Any, **kw: str) -> Sample | Rejected:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return validate_message(topic(device, **kw), raw, "lab", "h1")


@pytest.mark.parametrize("device", ["meter", "pv", "bess"])
def test_valid_readings_become_samples(device: str) -> None:
    s = check(device, GOOD[device])
    assert isinstance(s, Sample)
    assert (s.house, s.device) == ("h1", device)
    assert s.ts == datetime(2026, 6, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    assert s.p == GOOD[device]["p"]
    assert s.soc == GOOD[device].get("soc")
    assert s.e_wh == GOOD[device].get("e_wh")


def test_posix_seconds_and_offsets_are_accepted_as_utc() -> None:
    s = check("pv", {**GOOD["pv"], "ts": "2026-06-01T08:00:00-04:00"})
    assert isinstance(s, Sample) and s.ts == datetime(2026, 6, 1, 12, tzinfo=UTC)
    s = check("pv", {**GOOD["pv"], "ts": 1780315200})
    assert isinstance(s, Sample) and s.ts == datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("device", "change", "reason"),
    [
        ("bess", {"soc": 1.2}, RejectReason.OUT_OF_RANGE),
        ("bess", {"soc": -0.01}, RejectReason.OUT_OF_RANGE),
        ("meter", {"v": -1.0}, RejectReason.OUT_OF_RANGE),
        ("meter", {"e_wh": -5}, RejectReason.OUT_OF_RANGE),
        ("pv", {"p": -3.0}, RejectReason.OUT_OF_RANGE),
        ("pv", {"i": 1e9}, RejectReason.OUT_OF_RANGE),
        ("meter", {"e_wh": 1.5}, RejectReason.MALFORMED),
        ("meter", {"v": "230"}, RejectReason.MALFORMED),
        ("pv", {"ts": "2026-06-01T12:00:00"}, RejectReason.MALFORMED),  # naive time
        ("pv", {"ts": "yesterday"}, RejectReason.MALFORMED),
        ("pv", {"soc": 0.5}, RejectReason.MALFORMED),  # field of another device
        ("bess", {"device": "pv"}, RejectReason.MALFORMED),
    ],
)
def test_bad_values_are_rejected_with_reason(
    device: str, change: dict[str, Any], reason: RejectReason
) -> None:
    r = check(device, {**GOOD[device], **change})
    assert isinstance(r, Rejected)
    assert r.reason is reason
    assert r.detail


def test_missing_field_and_non_json_and_nan() -> None:
    body = dict(GOOD["meter"])
    del body["e_wh"]
    assert check("meter", body) == Rejected(RejectReason.MALFORMED, "meter: e_wh: Field required")
    assert (
        isinstance(r := check("pv", b"\xff\xfe{"), Rejected) and r.reason is RejectReason.MALFORMED
    )
    nan = b'{"ts":"2026-06-01T12:00:00Z","v":NaN,"i":1,"p":1}'
    r = check("pv", nan)
    assert isinstance(r, Rejected) and r.reason in (
        RejectReason.MALFORMED,
        RejectReason.OUT_OF_RANGE,
    )


def test_foreign_and_bad_topics_and_size() -> None:
    r = check("meter", GOOD["meter"], house="h2")
    assert isinstance(r, Rejected) and r.reason is RejectReason.FOREIGN
    r = check("meter", GOOD["meter"], community="other")
    assert isinstance(r, Rejected) and r.reason is RejectReason.FOREIGN
    r = check("fridge", GOOD["meter"])
    assert isinstance(r, Rejected) and r.reason is RejectReason.BAD_TOPIC
    big = json.dumps({**GOOD["pv"], "pad": "x" * MAX_PAYLOAD_BYTES}).encode()
    r = check("pv", big)
    assert isinstance(r, Rejected) and r.reason is RejectReason.TOO_LARGE


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)


@settings(deadline=None)  # no timing assertions: CI machines are loaded
@given(device=st.sampled_from(["meter", "pv", "bess"]), payload=st.binary(max_size=300))
def test_fuzz_random_bytes_never_raise_and_are_rejected(device: str, payload: bytes) -> None:
    r = check(device, payload)
    assert isinstance(r, Rejected)


@settings(deadline=None)  # no timing assertions: CI machines are loaded
@given(
    device=st.sampled_from(["meter", "pv", "bess"]),
    drop=st.sets(st.sampled_from(["ts", "v", "i", "p", "e_wh", "soc"])),
    extra=st.dictionaries(st.sampled_from(["v", "i", "p", "soc", "e_wh", "x", "ts"]), json_values),
)
def test_fuzz_mutated_payloads_either_validate_in_range_or_are_rejected(
    device: str, drop: set[str], extra: dict[str, Any]
) -> None:
    body = {k: v for k, v in GOOD[device].items() if k not in drop} | extra
    r = check(device, body)
    if isinstance(r, Rejected):
        ok = (RejectReason.MALFORMED, RejectReason.OUT_OF_RANGE, RejectReason.TOO_LARGE)
        assert r.reason in ok
        return
    # anything accepted satisfies the contract's ranges
    assert r.v is not None and 0 <= r.v <= 1000
    assert r.i is not None and -500 <= r.i <= 500
    assert r.soc is None or 0 <= r.soc <= 1
    assert r.e_wh is None or (isinstance(r.e_wh, int) and r.e_wh >= 0)
    assert r.ts.tzinfo is not None


@settings(deadline=None)  # no timing assertions: CI machines are loaded
@given(topic_text=st.text(max_size=80))
def test_fuzz_topics_never_raise(topic_text: str) -> None:
    r = validate_message(topic_text, json.dumps(GOOD["pv"]).encode(), "lab", "h1")
    if not isinstance(r, Rejected):
        assert topic_text == topic("pv")

"""One direction of an emulated link: loss, delay, jitter, rate, order (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.netsim.emulation.link import LinkDirection, LinkParams


def test_params_are_checked() -> None:
    with pytest.raises(ValueError):
        LinkParams(loss=1.5)
    with pytest.raises(ValueError):
        LinkParams(delay_ms=-1)


def test_no_impairment_delivers_at_once() -> None:
    link = LinkDirection(LinkParams(), seed=1)
    assert link.offer(100, 5.0) == 5.0
    assert (link.sent, link.dropped) == (1, 0)


def test_full_loss_drops_everything() -> None:
    link = LinkDirection(LinkParams(loss=1.0), seed=1)
    assert all(link.offer(60, float(t)) is None for t in range(100))
    assert (link.sent, link.dropped) == (0, 100)


def test_loss_rate_is_close_to_the_parameter() -> None:
    link = LinkDirection(LinkParams(loss=0.2), seed=7)
    for t in range(5000):
        link.offer(60, t * 0.01)
    assert 0.17 < link.dropped / 5000 < 0.23


def test_rate_serialises_back_to_back_packets() -> None:
    link = LinkDirection(LinkParams(delay_ms=10, rate_bps=1000), seed=1)
    first = link.offer(500, 0.0)  # 0.5 s on the wire, then 10 ms
    second = link.offer(500, 0.0)  # waits for the first
    assert first == pytest.approx(0.51)
    assert second == pytest.approx(1.01)


def test_same_seed_same_fate() -> None:
    p = LinkParams(loss=0.3, delay_ms=100, jitter_ms=50)
    a, b = LinkDirection(p, 3), LinkDirection(p, 3)
    assert [a.offer(80, t / 10) for t in range(200)] == [b.offer(80, t / 10) for t in range(200)]


@given(
    loss=st.floats(0.0, 0.9),
    delay=st.floats(0.0, 1000.0),
    jitter=st.floats(0.0, 500.0),
    rate=st.sampled_from([0.0, 1e3, 1e5]),
    gaps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=60),
    seed=st.integers(0, 1000),
)
def test_fifo_and_never_early(
    loss: float, delay: float, jitter: float, rate: float, gaps: list[float], seed: int
) -> None:
    link = LinkDirection(LinkParams(loss, delay, jitter, rate), seed)
    now, last = 0.0, 0.0
    for gap in gaps:
        now += gap
        at = link.offer(100, now)
        if at is None:
            continue
        assert at >= now + max(delay - jitter, 0.0) / 1000.0 - 1e-9  # never earlier
        assert at >= last  # never reordered
        last = at
    assert link.sent + link.dropped == len(gaps)

"""ns-3's prediction for an emulated link: small TCP messages over a lossy, delayed
point-to-point link."""

from __future__ import annotations

import numpy as np
import pytest

from gridpeer.netsim.emulation.predict import message_latencies_ms

pytestmark = [pytest.mark.netsim, pytest.mark.slow]


def test_a_clean_link_delivers_every_message_after_the_delay() -> None:
    lat = message_latencies_ms(0.0, 50.0, messages=200)
    assert len(lat) == 200
    assert min(lat) >= 50.0 and max(lat) < 52.0  # one-way delay + 100 Mbit/s serialisation


def test_loss_adds_retransmission_delays_and_loses_nothing() -> None:
    lat = message_latencies_ms(0.05, 50.0, messages=1000, seed=3)
    assert len(lat) == 1000  # TCP retransmits: every message arrives
    assert np.percentile(lat, 50) < 52.0
    # a lost segment waits at least the minimum RTO (200 ms) before it is resent
    assert np.percentile(lat, 99) > 50.0 + 200.0


def test_the_same_seed_predicts_the_same() -> None:
    assert message_latencies_ms(0.1, 20.0, 300, seed=5) == message_latencies_ms(
        0.1, 20.0, 300, seed=5
    )

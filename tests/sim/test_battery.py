"""Battery dispatch invariants (property-based)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.sim.battery import ETA, dispatch

houses = st.integers(min_value=1, max_value=40)


@settings(max_examples=200, deadline=None)
@given(n=houses, seed=st.integers(0, 2**32 - 1), reserve=st.floats(0.0, 0.9))
def test_dispatch_respects_limits(n: int, seed: int, reserve: float) -> None:
    rng = np.random.default_rng(seed)
    cap = rng.choice([0.0, 5000.0, 13500.0], n)
    stored = cap * rng.uniform(0, 1, n)
    max_wh = rng.uniform(100, 1500, n)
    net = rng.integers(-3000, 3000, n)
    c, d, after = dispatch(net, stored, cap, max_wh, reserve)
    assert (c >= 0).all() and (d >= 0).all()
    assert not ((c > 0) & (d > 0)).any()
    assert (c <= np.clip(net, 0, None)).all() and (d <= np.clip(-net, 0, None)).all()
    assert (c <= max_wh).all() and (d <= max_wh).all()
    assert (after <= cap + 1e-6).all()
    # never discharges below the reserve (unless it started below it)
    assert ((d == 0) | (after >= cap * reserve - 1e-6)).all()
    np.testing.assert_allclose(after, stored + c * ETA - d / ETA)
    assert (c[cap == 0] == 0).all() and (d[cap == 0] == 0).all()

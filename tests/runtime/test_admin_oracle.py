"""``admin state``'s oracle view: pending deliveries read from the oracle's state table
(seen, commanded and delivering, awaiting a side's result, ready to confirm, disputed),
finished ones counted, and nothing created where the oracle never ran."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gridpeer.oracle.ports import BlockRef, TradeEvent
from gridpeer.oracle.state import OracleState, TradeState
from gridpeer.runtime.admin_oracle import oracle_lines, read_oracle_trades

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _event(tid: int, start: datetime) -> TradeEvent:
    return TradeEvent(
        block=BlockRef(tid, f"0x{tid:064x}"),
        tx_hash=f"0x{tid:064x}",
        log_index=0,
        trade_id=tid,
        seller="h1",
        buyer="h2",
        energy_wh=10 * tid,
        price_wei_per_kwh=10**15,
        window_start=start,
        window_end=start + timedelta(minutes=15),
        grace_s=3600,
    )


def _oracle_db(path: Path) -> str:
    """Six trades, one in each phase the admin should tell apart."""
    url = f"sqlite:///{path}"
    st = OracleState(url)
    early = T0 - timedelta(hours=1)
    events = [_event(1, T0 + timedelta(hours=1))]  # seen, not commanded
    events += [_event(t, early) for t in (2, 3, 4, 5, 6)]
    events.append(_event(7, T0 - timedelta(minutes=5)))  # window still running
    st.apply_range(BlockRef(7, "0x07"), events)
    st.set_states([2, 3, 4, 5, 6, 7], TradeState.COMMANDED)
    st.record_result(3, seller_side=True, measured_wh=30)  # buyer still silent
    st.record_result(4, seller_side=True, measured_wh=40)
    st.record_result(4, seller_side=False, measured_wh=40)
    st.set_state(5, TradeState.CONFIRMING, delivered_wh=50, confirm_tx="0xabc")
    st.set_state(6, TradeState.CONFIRMED, delivered_wh=60)
    st.close()
    return url


def test_each_pending_delivery_is_told_where_it_stands(tmp_path: Path) -> None:
    rows = read_oracle_trades(_oracle_db(tmp_path / "s.db"))
    assert rows is not None and [r.trade_id for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    lines = oracle_lines(rows, T0, {})
    assert lines[0] == "pending deliveries, oracle's view (6; 1 confirmed):"
    by_trade = {int(ln.split()[1]): ln for ln in lines[1:]}
    assert set(by_trade) == {1, 2, 3, 4, 5, 7}  # the confirmed one is only counted
    assert "seen, commands not sent yet" in by_trade[1]
    assert "awaiting the result of seller h1 and buyer h2" in by_trade[2]
    assert "awaiting the result of buyer h2" in by_trade[3] and "seller h1" not in by_trade[3]
    assert "both results in (seller out 40 Wh, buyer in 40 Wh): ready to confirm" in by_trade[4]
    assert "ready to confirm 50 Wh" in by_trade[5] and "0xabc sent" in by_trade[5]
    assert "commanded, delivering until 2026-03-01 12:10:00Z" in by_trade[7]


def test_no_oracle_state_is_said_and_nothing_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    assert read_oracle_trades(f"sqlite:///{missing}") is None
    assert not missing.exists()
    other = tmp_path / "store.db"
    import sqlite3

    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE samples (x INTEGER)")
    assert read_oracle_trades(f"sqlite:///{other}") is None
    assert oracle_lines(None, T0, {}) == [
        "oracle's view: no oracle state in the store (the oracle has not run)"
    ]

"""The oracle's persistent cursor and trade state (SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridpeer.oracle.ports import BlockRef, TradeEvent
from gridpeer.oracle.state import OracleState, TradeState

T0 = datetime(2026, 1, 1, 13, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests on SQLite and on a real PostgreSQL."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path}/s.db"


def ev(trade_id: int, block: int, log_index: int = 0, bh: str | None = None) -> TradeEvent:
    return TradeEvent(
        block=BlockRef(block, bh or f"0xb{block}"),
        tx_hash=f"0xt{trade_id}",
        log_index=log_index,
        trade_id=trade_id,
        seller="h1",
        buyer="h2",
        energy_wh=100 + trade_id,
        price_wei_per_kwh=10**18,
        window_start=T0,
        window_end=T0 + timedelta(hours=1),
    )


def test_replay_is_idempotent_and_survives_reopen(url: str) -> None:
    st = OracleState(url)
    assert st.last_block() == -1
    assert st.apply_range(BlockRef(5, "0xb5"), [ev(1, 3), ev(2, 5)]) == 2
    assert st.apply_range(BlockRef(5, "0xb5"), [ev(1, 3), ev(2, 5)]) == 0
    st.set_state(1, TradeState.COMMANDED)
    st.close()
    st = OracleState(url)
    assert st.last_block() == 5
    assert [t.trade_id for t in st.trades()] == [1, 2]
    assert st.trade(1) is not None and st.trade(1).state is TradeState.COMMANDED  # type: ignore[union-attr]
    assert st.trade(2).price_wei_per_kwh == 10**18  # type: ignore[union-attr]
    assert st.trade(2).window_start == T0  # type: ignore[union-attr]


def test_rewind_drops_only_uncommanded_trades_after_the_ancestor(url: str) -> None:
    st = OracleState(url)
    st.apply_range(BlockRef(3, "0xb3"), [ev(1, 2)])
    st.apply_range(BlockRef(6, "0xb6"), [ev(2, 4), ev(3, 6)])
    st.set_state(2, TradeState.COMMANDED)
    dropped = st.rewind(BlockRef(3, "0xb3"))
    assert dropped == 1
    assert [t.trade_id for t in st.trades()] == [1, 2]
    assert st.history() == [BlockRef(3, "0xb3")]
    # re-reading the new fork adds the trade back, and a re-included trade 2 stays single
    assert st.apply_range(BlockRef(6, "0xf6"), [ev(2, 5, bh="0xf5"), ev(3, 6, bh="0xf6")]) == 1
    assert [t.trade_id for t in st.trades()] == [1, 2, 3]


def test_results_first_report_wins(url: str) -> None:
    st = OracleState(url)
    st.apply_range(BlockRef(1, "0xb1"), [ev(9, 1)])
    st.record_result(9, True, 50)
    row = st.record_result(9, True, 70)
    assert row is not None and row.seller_out_wh == 50 and row.buyer_in_wh is None
    row = st.record_result(9, False, 40)
    assert row is not None and row.buyer_in_wh == 40


def test_history_is_trimmed(url: str) -> None:
    st = OracleState(url, keep_blocks=3)
    for b in range(10):
        st.apply_range(BlockRef(b, f"0xb{b}"), [])
    assert [r.number for r in st.history()] == [7, 8, 9]


def test_start_after(url: str) -> None:
    st = OracleState(url)
    st.start_after(BlockRef(9, "0xb9"))
    assert st.last_block() == 9
    st.start_after(BlockRef(49, "0xb49"))
    assert st.history() == [BlockRef(9, "0xb9")]


def test_a_state_from_before_the_settlement_rule_is_migrated(url: str) -> None:
    old = OracleState(url)
    with old._tx() as tx:  # the table as the first release created it
        tx.execute("DROP TABLE oracle_trades")
        tx.execute(
            "CREATE TABLE oracle_trades (trade_id BIGINT PRIMARY KEY, seller TEXT NOT NULL, "
            "buyer TEXT NOT NULL, energy_wh BIGINT NOT NULL, price_wei_per_kwh TEXT NOT NULL, "
            "window_start DOUBLE PRECISION NOT NULL, window_end DOUBLE PRECISION NOT NULL, "
            "block_number BIGINT NOT NULL, state TEXT NOT NULL, seller_out_wh BIGINT, "
            "buyer_in_wh BIGINT, delivered_wh BIGINT, confirm_tx TEXT)"
        )
    old.close()
    st = OracleState(url)
    assert st.apply_range(BlockRef(1, "0xb1"), [ev(4, 1)]) == 1
    st.set_state(4, TradeState.CONFIRMING, delivered_wh=3, reason="meters agree")
    row = st.trade(4)
    assert row is not None and row.reason == "meters agree" and row.grace_s is None

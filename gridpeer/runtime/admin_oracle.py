"""``gridpeer admin state``: pending deliveries as the oracle sees them, from its state
table (``oracle_trades`` in the store's database, see :mod:`gridpeer.oracle.state`).

The chain says which trades are open; the oracle's table says where each stands in the
delivery protocol: seen (commands not yet sent), commanded (delivering, or awaiting the
seller's / buyer's metered result), ready to confirm (both results in, the confirmation
being sent), disputing / disputed. Energies in Wh, times UTC.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from gridpeer.oracle.state import FINAL, OracleState, TradeRow, TradeState
from gridpeer.store.factory import is_postgres, sqlite_path


def read_oracle_trades(url: str) -> list[TradeRow] | None:
    """Every trade in the oracle's table at ``url`` (SQLite or PostgreSQL), by id; None
    when the database or its ``oracle_trades`` table does not exist (the oracle never ran
    there). Creates nothing."""
    if is_postgres(url):
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT to_regclass('oracle_trades')").fetchone()
        if row is None or row[0] is None:
            return None
    else:
        path = sqlite_path(url)
        if not isinstance(path, Path) or not path.exists():
            return None
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'oracle_trades'"
            ).fetchone()
        if found is None:
            return None
        url = f"sqlite:///{path}"
    state = OracleState(url)
    try:
        return state.trades()
    finally:
        state.close()


def oracle_phase(row: TradeRow, now: datetime, houses: dict[str, str]) -> str:
    """Where trade ``row`` stands in the oracle's delivery protocol at ``now`` (UTC)."""
    seller = houses.get(row.seller.lower(), row.seller)
    buyer = houses.get(row.buyer.lower(), row.buyer)
    st = row.state
    if st is TradeState.SEEN:
        return f"seen, commands not sent yet (window opens {_ts(row.window_start)})"
    if st is TradeState.COMMANDED:
        if now < row.window_end:
            return f"commanded, delivering until {_ts(row.window_end)}"
        missing = [
            who
            for who, wh in (
                (f"seller {seller}", row.seller_out_wh),
                (f"buyer {buyer}", row.buyer_in_wh),
            )
            if wh is None
        ]
        if missing:
            return f"commanded, awaiting the result of {' and '.join(missing)}"
        return f"both results in ({_results(row)}): ready to confirm"
    if st is TradeState.CONFIRMING:
        sent = f", transaction {row.confirm_tx} sent" if row.confirm_tx else ""
        return f"ready to confirm {row.delivered_wh} Wh ({_results(row)}){sent}"
    if st is TradeState.DISPUTING:
        return f"results disagree ({_results(row)}): opening a dispute"
    if st is TradeState.DISPUTED:
        return f"disputed on chain ({_results(row)}): the admin resolves it"
    return st.value  # a final state


def oracle_lines(
    rows: Sequence[TradeRow] | None, now: datetime, houses: dict[str, str]
) -> list[str]:
    """``admin state``'s section on the oracle's view: its unfinished trades with their
    phase, and how many it finished by state. ``houses``: member address (lower case) →
    house id."""
    if rows is None:
        return ["oracle's view: no oracle state in the store (the oracle has not run)"]
    pending = [r for r in rows if r.state not in FINAL]
    done: dict[str, int] = {}
    for r in rows:
        if r.state in FINAL:
            done[r.state.value] = done.get(r.state.value, 0) + 1
    finished = ", ".join(f"{n} {s}" for s, n in sorted(done.items())) or "none finished"
    lines = [f"pending deliveries, oracle's view ({len(pending)}; {finished}):"]
    for r in pending:
        lines.append(
            f"  trade {r.trade_id} ({r.energy_wh} Wh, window {_ts(r.window_start)}-"
            f"{_ts(r.window_end)}): {oracle_phase(r, now, houses)}"
            + (f" [{r.reason}]" if r.reason else "")
        )
    return lines


def _results(row: TradeRow) -> str:
    def wh(v: int | None) -> str:
        return "?" if v is None else f"{v} Wh"

    return f"seller out {wh(row.seller_out_wh)}, buyer in {wh(row.buyer_in_wh)}"


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%SZ")

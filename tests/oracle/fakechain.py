"""An in-memory chain implementing :class:`gridpeer.oracle.ports.ChainView` (tests only):
blocks with hashes, trade events, reorgs, confirmations that can happen once."""

from __future__ import annotations

import threading
from datetime import datetime

from gridpeer.oracle.ports import BlockRef, TradeEvent


class FakeChain:
    def __init__(self) -> None:
        self.blocks: list[tuple[str, list[TradeEvent]]] = [("0xgenesis", [])]
        self.settled: dict[int, int] = {}
        self.confirm_calls = 0
        self.fork = 0
        self._lock = threading.Lock()

    def mine(self, trades: list[tuple[int, str, str, int, datetime, datetime]]) -> BlockRef:
        with self._lock:
            n = len(self.blocks)
            ref = BlockRef(n, f"0x{self.fork}b{n}")
            evs = [
                TradeEvent(ref, f"0xtx{tid}", i, tid, s, b, wh, 10**15, ws, we)
                for i, (tid, s, b, wh, ws, we) in enumerate(trades)
            ]
            self.blocks.append((ref.hash, evs))
            return ref

    def reorg(self, keep: int) -> None:
        """Drop blocks after ``keep``; later blocks get new hashes."""
        with self._lock:
            self.fork += 1
            del self.blocks[keep + 1 :]

    def head(self) -> int:
        return len(self.blocks) - 1

    def block_hash(self, number: int) -> str | None:
        with self._lock:
            return self.blocks[number][0] if 0 <= number < len(self.blocks) else None

    def trade_events(self, from_block: int, to_block: int) -> list[TradeEvent]:
        with self._lock:
            return [e for h, evs in self.blocks[from_block : to_block + 1] for e in evs]

    def is_settled(self, trade_id: int) -> bool:
        return trade_id in self.settled

    def confirm_delivery(self, trade_id: int, delivered_wh: int) -> str:
        self.confirm_calls += 1
        if trade_id in self.settled:
            raise RuntimeError(f"trade {trade_id} already settled")
        self.settled[trade_id] = delivered_wh
        return f"0xconfirm{trade_id}"

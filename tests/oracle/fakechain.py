"""An in-memory chain implementing :class:`gridpeer.oracle.ports.ChainView` (tests only):
blocks with hashes, trade events, reorgs, confirmations and disputes that can happen
once, a contract grace, and an outage switch (every call raises while ``down``)."""

from __future__ import annotations

import threading
from datetime import datetime

from gridpeer.oracle.ports import BlockRef, TradeEvent


class FakeChain:
    def __init__(self, grace_s: int = 3600) -> None:
        self.blocks: list[tuple[str, list[TradeEvent]]] = [("0xgenesis", [])]
        self.settled: dict[int, int] = {}
        self.disputed: dict[int, tuple[int, int]] = {}
        self.confirm_calls = 0
        self.dispute_calls = 0
        self.grace_s = grace_s
        self.down = False
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

    def _up(self) -> None:
        if self.down:
            raise ConnectionRefusedError("fake chain node is down")

    def head(self) -> int:
        self._up()
        return len(self.blocks) - 1

    def block_hash(self, number: int) -> str | None:
        self._up()
        with self._lock:
            return self.blocks[number][0] if 0 <= number < len(self.blocks) else None

    def head_and_hash(self, number: int) -> tuple[BlockRef, str | None]:
        self._up()
        with self._lock:
            head = len(self.blocks) - 1
            old = self.blocks[number][0] if 0 <= number <= head else None
            return BlockRef(head, self.blocks[head][0]), old

    def trade_events(self, from_block: int, to_block: int) -> list[TradeEvent]:
        self._up()
        with self._lock:
            return [e for h, evs in self.blocks[from_block : to_block + 1] for e in evs]

    def grace_seconds(self) -> int:
        self._up()
        return self.grace_s

    def is_settled(self, trade_id: int) -> bool:
        self._up()
        return trade_id in self.settled

    def is_disputed(self, trade_id: int) -> bool:
        self._up()
        return trade_id in self.disputed and trade_id not in self.settled

    def confirm_delivery(self, trade_id: int, delivered_wh: int) -> str:
        self._up()
        self.confirm_calls += 1
        if trade_id in self.settled:
            raise RuntimeError(f"trade {trade_id} already settled")
        self.settled[trade_id] = delivered_wh
        return f"0xconfirm{trade_id}"

    def open_dispute(self, trade_id: int, seller_wh: int, buyer_wh: int) -> str:
        self._up()
        self.dispute_calls += 1
        if trade_id in self.settled or trade_id in self.disputed:
            raise RuntimeError(f"trade {trade_id} already settled or disputed")
        self.disputed[trade_id] = (seller_wh, buyer_wh)
        return f"0xdispute{trade_id}"

    def resolve(self, trade_id: int, delivered_wh: int) -> None:
        """The admin settles a disputed trade."""
        if trade_id not in self.disputed or trade_id in self.settled:
            raise RuntimeError(f"trade {trade_id} is not disputed")
        self.settled[trade_id] = delivered_wh

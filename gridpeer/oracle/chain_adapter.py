""":class:`~gridpeer.oracle.ports.ChainView` over the chain layer's typed market client.

Reads trade events (book trades and coordinator batches, decoded by
:func:`gridpeer.chain.events.decode_logs`) with ``eth_getLogs`` over a block range, maps
member addresses to house ids, and confirms deliveries with the oracle key. Works on
every backend: JSON-RPC nodes (anvil, Hardhat, geth), the embedded web3 tester, pyrevm.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from gridpeer.chain.client import MarketClient
from gridpeer.chain.codec import abi
from gridpeer.chain.events import TRADE_EVENTS, TradeCreated, decode_logs
from gridpeer.chain.fairlock import FairLock
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.oracle.ports import BatchResult, BlockRef, TradeEvent

TRADE_TOPICS = tuple(ev.topic for ev in abi().events.values() if ev.name in TRADE_EVENTS)
"""Signature hashes of the events that create trades: the node sends only those (at
1,000 houses a session's opening is ~1,000 order logs the oracle has no use for: decoding
them, and looking up each new order's member, took a pass up to ~0.2 s)."""


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class MarketChainView:
    """The oracle's view of one deployed ``EnergyMarket``.

    Args:
        market: the typed client of the deployment.
        oracle: the oracle role's key.
        houses: house id per member address (the community's registry); unknown members
            show up as ``member:<address>``.
        lock: a lock shared with every other user of the same in-process backend
            (the embedded web3 tester is not thread-safe); a private one by default.
    """

    def __init__(
        self,
        market: MarketClient,
        oracle: LocalAccount,
        houses: Mapping[str, str],
        lock: threading.Lock | threading.RLock | FairLock | None = None,
    ) -> None:
        self.market = market
        self.oracle = oracle
        self._houses = {to_checksum_address(a): h for a, h in houses.items()}
        self._lock = lock or threading.Lock()
        w3 = getattr(market.backend, "w3", None)
        self._w3 = w3

    def house(self, address: str) -> str:
        """House id of a member address."""
        addr = to_checksum_address(address)
        return self._houses.get(addr, f"member:{addr}")

    def head(self) -> int:
        """Latest block number."""
        with self._lock:
            return self.market.backend.block_number()

    def block_hash(self, number: int) -> str | None:
        """Canonical hash of block ``number`` (None if absent). Backends without blocks
        by hash (pyrevm, in-process, no reorgs) get a stable synthetic hash."""
        if number < 0:
            return None
        with self._lock:
            if self._w3 is None:
                return f"#{number}" if number <= self.market.backend.block_number() else None
            try:
                block = self._w3.eth.get_block(number)
            except OSError:  # the node is down (requests' ConnectionError): not a reorg
                raise
            except Exception:  # BlockNotFound on every provider
                return None
        return "0x" + bytes(block["hash"]).hex()

    def head_and_hash(self, number: int) -> tuple[BlockRef, str | None]:
        """The latest block and the canonical hash of block ``number`` (None if absent),
        in one JSON-RPC batch on a node. Backends without blocks by hash get the stable
        synthetic hashes of :meth:`block_hash`."""
        with self._lock:
            backend = self.market.backend
            if not isinstance(backend, Web3Backend):
                head = backend.block_number()
                return BlockRef(head, f"#{head}"), (f"#{number}" if 0 <= number <= head else None)
            n, h, old = backend.head_and_hash(number) if number >= 0 else (*self._head(), None)
        return BlockRef(n, "0x" + h.hex()), None if old is None else "0x" + old.hex()

    def _head(self) -> tuple[int, bytes]:
        assert isinstance(self.market.backend, Web3Backend)
        latest = self.market.backend.w3.eth.get_block("latest")
        return int(latest["number"]), bytes(latest["hash"])

    def trade_events(self, from_block: int, to_block: int) -> list[TradeEvent]:
        """Trades created in blocks ``[from_block, to_block]``, in chain order."""
        with self._lock:
            logs = self.market.backend.get_logs(
                self.market.address, from_block, to_block, TRADE_TOPICS
            )
            events = decode_logs(logs, self.market.member_address)
        out: list[TradeEvent] = []
        for ev in events:
            if not isinstance(ev, TradeCreated):
                continue
            m, t = ev.meta, ev.trade
            out.append(
                TradeEvent(
                    block=BlockRef(m.block_number, "0x" + m.block_hash.hex()),
                    tx_hash="0x" + m.tx_hash.hex(),
                    log_index=m.log_index,
                    trade_id=t.id,
                    seller=self.house(t.seller),
                    buyer=self.house(t.buyer),
                    energy_wh=t.wh,
                    price_wei_per_kwh=t.price,
                    window_start=_utc(t.start),
                    window_end=_utc(t.end),
                    grace_s=t.grace_s or None,
                )
            )
        return out

    def grace_seconds(self) -> int:
        """The contract's ``graceSeconds`` (reclaim opens at window end + grace), s."""
        with self._lock:
            return self.market.grace_seconds()

    def is_settled(self, trade_id: int) -> bool:
        """True when the trade is no longer open (confirmed, resolved or reclaimed)."""
        with self._lock:
            return self.market.trade(trade_id) is None

    def is_disputed(self, trade_id: int) -> bool:
        """True when the trade is open and disputed."""
        with self._lock:
            trade = self.market.trade(trade_id)
        return trade is not None and trade.disputed

    def _send(self, send: Callable[[], None]) -> str:
        with self._lock:
            try:
                send()
            except Exception:
                # a node that went away may have lost the tx: ask it for the nonce again
                if isinstance(self.market.backend, Web3Backend):
                    self.market.backend.close()
                raise
            receipt = self.market.last_receipt
        return "0x" + receipt.tx_hash.hex() if receipt is not None else ""

    def confirm_delivery(self, trade_id: int, delivered_wh: int) -> str:
        """``confirmDelivery`` as the oracle; raises the contract's error if refused."""
        return self._send(lambda: self.market.confirm_delivery(self.oracle, trade_id, delivered_wh))

    def open_dispute(self, trade_id: int, seller_wh: int, buyer_wh: int) -> str:
        """``openDispute`` as the oracle; raises the contract's error if refused."""
        return self._send(
            lambda: self.market.open_dispute(self.oracle, trade_id, seller_wh, buyer_wh)
        )

    def confirm_batch(
        self, deliveries: Sequence[tuple[int, int]], on_signed: Callable[[str], None]
    ) -> BatchResult:
        """``confirmBatch`` as the oracle; ``on_signed("0x…")`` before the node sees it."""
        out = None

        def send() -> None:
            nonlocal out
            out = self.market.confirm_batch(
                self.oracle, deliveries, on_signed=lambda h: on_signed("0x" + h.hex())
            )

        self._send(send)
        assert out is not None
        return BatchResult("0x" + out.tx_hash.hex(), out.confirmed, dict(out.skipped))

    def batch_outcome(self, tx_hash: str) -> BatchResult | None:
        """What the ``confirmBatch`` ``tx_hash`` did (its receipt's DeliveryConfirmed and
        ConfirmSkipped events); None if the node does not know it (never sent, dropped)."""
        with self._lock:
            out = self.market.batch_outcome(bytes.fromhex(tx_hash.removeprefix("0x")))
        if out is None:
            return None
        return BatchResult(tx_hash, out.confirmed, dict(out.skipped))

""":class:`~gridpeer.oracle.ports.ChainView` over web3 and the ``EnergyMarket`` contract.

Reads ``TradeCreated`` (offer bought / request filled) and ``BatchSettled`` (coordinator
batches, one log holding many trades) with ``eth_getLogs`` over a block range, decodes
the packed trade words documented in the contract, maps member indices to house ids,
and sends ``confirmDelivery`` as the oracle account. Works with any JSON-RPC node
(anvil, Hardhat, geth) and with web3's embedded ``EthereumTesterProvider``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from eth_abi.abi import decode
from web3 import Web3
from web3.exceptions import BlockNotFound

from gridpeer.oracle.ports import BlockRef, TradeEvent

M16, M32, M40, M64 = (1 << 16) - 1, (1 << 32) - 1, (1 << 40) - 1, (1 << 64) - 1


def _topic(signature: str) -> str:
    return "0x" + Web3.keccak(text=signature).hex().removeprefix("0x")


TRADE_CREATED = _topic("TradeCreated(uint256,uint256,uint256)")
BATCH_SETTLED = _topic("BatchSettled(uint256,uint256,uint256[])")


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return value if value.startswith("0x") else "0x" + value
    return "0x" + bytes(value).hex()


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def decode_trade_word(word: int) -> tuple[int, int, int, int, int, int]:
    """A book trade word → ``(seller idx, buyer idx, Wh, price wei/kWh, start, end)``
    (start/end UTC unix seconds)."""
    return (
        word & M16,
        (word >> 16) & M16,
        (word >> 32) & M32,
        (word >> 64) & M64,
        (word >> 128) & M40,
        (word >> 168) & M40,
    )


def decode_batch(
    batch_id: int, header: int, words: Sequence[int]
) -> list[tuple[int, int, int, int, int]]:
    """A ``BatchSettled`` log → ``[(trade id, seller idx, buyer idx, Wh, price)]``."""
    count = (header >> 80) & M16
    out = []
    for i in range(count):
        rec = (words[i >> 1] >> ((i & 1) * 128)) & ((1 << 128) - 1)
        tid = (batch_id << 16 | i) << 2
        out.append((tid, rec & M16, (rec >> 16) & M16, (rec >> 32) & M32, (rec >> 64) & M64))
    return out


class Web3ChainView:
    """The oracle's view of an ``EnergyMarket`` deployment.

    Args:
        w3: connected web3 instance (HTTP provider or ``EthereumTesterProvider``).
        address: contract address.
        abi: contract ABI.
        oracle: address of the oracle role (an unlocked node account) ...
        private_key: ... or its private key (transactions are then signed locally).
        houses: house id per member address (the community's registry).
        gas: gas limit for ``confirmDelivery``.
    """

    def __init__(
        self,
        w3: Web3,
        address: str,
        abi: list[dict[str, Any]],
        oracle: str,
        houses: Mapping[str, str],
        private_key: str | None = None,
        gas: int = 200_000,
    ) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.contract = w3.eth.contract(address=self.address, abi=abi)
        self.oracle = Web3.to_checksum_address(oracle)
        self.private_key = private_key
        self.gas = gas
        self._by_address = {Web3.to_checksum_address(a): h for a, h in houses.items()}
        self._by_index: dict[int, str] = {}
        self._lock = threading.Lock()

    def house_of(self, idx: int) -> str:
        """House id of member index ``idx`` (``member<idx>`` if not in the registry)."""
        if idx not in self._by_index:
            for addr, house in self._by_address.items():
                if house in self._by_index.values():
                    continue
                i = int(self.contract.functions.memberOf(addr).call()[0])
                if i:
                    self._by_index[i] = house
        return self._by_index.get(idx, f"member{idx}")

    def head(self) -> int:
        """Latest block number."""
        return int(self.w3.eth.block_number)

    def block_hash(self, number: int) -> str | None:
        """Canonical hash of block ``number`` (None if absent)."""
        if number < 0:
            return None
        try:
            return _hex(self.w3.eth.get_block(number)["hash"])
        except BlockNotFound:
            return None

    def trade_events(self, from_block: int, to_block: int) -> list[TradeEvent]:
        """Trades created in blocks ``[from_block, to_block]`` (book and batch trades)."""
        logs = self.w3.eth.get_logs(
            {
                "address": self.address,
                "fromBlock": from_block,
                "toBlock": to_block,
                "topics": [[TRADE_CREATED, BATCH_SETTLED]],
            }
        )
        out: list[TradeEvent] = []
        for log in logs:
            topic0 = _hex(log["topics"][0])
            block = BlockRef(int(log["blockNumber"]), _hex(log["blockHash"]))
            tx, li = _hex(log["transactionHash"]), int(log["logIndex"])
            first = int.from_bytes(bytes(log["topics"][1]), "big")
            data = bytes(log["data"])
            if topic0 == TRADE_CREATED:
                _order, word = decode(["uint256", "uint256"], data)
                s, b, wh, price, start, end = decode_trade_word(int(word))
                out.append(
                    TradeEvent(
                        block,
                        tx,
                        li,
                        first,
                        self.house_of(s),
                        self.house_of(b),
                        wh,
                        price,
                        _utc(start),
                        _utc(end),
                    )
                )
            elif topic0 == BATCH_SETTLED:
                header, words = decode(["uint256", "uint256[]"], data)
                ws, we = _utc(int(header) & M40), _utc((int(header) >> 40) & M40)
                for tid, s, b, wh, price in decode_batch(first, int(header), list(words)):
                    out.append(
                        TradeEvent(
                            block,
                            tx,
                            li,
                            tid,
                            self.house_of(s),
                            self.house_of(b),
                            wh,
                            price,
                            ws,
                            we,
                        )
                    )
        return out

    def is_settled(self, trade_id: int) -> bool:
        """True when the trade is no longer open (confirmed or reclaimed)."""
        return int(self.contract.functions.tradeOf(trade_id).call()[2]) == 0

    def confirm_delivery(self, trade_id: int, delivered_wh: int) -> str:
        """Send ``confirmDelivery`` and wait for it to be mined; raises if it reverts."""
        fn = self.contract.functions.confirmDelivery(trade_id, delivered_wh)
        with self._lock:
            if self.private_key is None:
                tx_hash = fn.transact({"from": self.oracle, "gas": self.gas})
            else:
                tx = fn.build_transaction(
                    {
                        "from": self.oracle,
                        "gas": self.gas,
                        "nonce": self.w3.eth.get_transaction_count(self.oracle, "pending"),
                    }
                )
                signed = self.w3.eth.account.sign_transaction(tx, self.private_key)
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.01)
        if int(receipt["status"]) != 1:
            raise RuntimeError(f"confirmDelivery({trade_id}, {delivered_wh}) reverted")
        return _hex(tx_hash)

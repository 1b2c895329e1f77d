"""The typed market client: every contract action over any :class:`Backend`.

    from gridpeer.chain import open_chain, dev_account
    chain = open_chain("embedded")              # or "revm", or an http:// URL
    market = chain.deploy_market()               # admin/oracle/coordinator = dev accounts
    market.add_member(chain.admin, house.address)
    oid = market.post_offer(house, wh=500, price=2 * 10**14, start=t0, end=t1)

Units: energy Wh, prices wei per kWh, money wei, times UTC unix seconds. Every refusal
raises a :class:`gridpeer.chain.errors.ContractRevert` subclass named like the Solidity
custom error. ``build_tx`` returns unsigned ``{to, data, value}`` for a browser wallet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from gridpeer.chain import errors, order_wire
from gridpeer.chain.artifact import load_artifact
from gridpeer.chain.backend import Backend, Receipt, Reverted
from gridpeer.chain.codec import decode_output, decode_revert, encode_call
from gridpeer.chain.events import Event, decode_logs
from gridpeer.chain.types import (
    Match,
    Order,
    OrderTerms,
    Schedule,
    Side,
    SignedOrder,
    Trade,
    cost_wei,
    decode_order_word,
    id_kind,
    pack_match,
    pack_signed_order,
)

# Explicit gas limits (estimating on every call halves throughput); generous upper bounds.
GAS = {
    "deploy": 6_000_000,
    "postOffer": 150_000,
    "postRequest": 150_000,
    "buy": 150_000,
    "fill": 150_000,
    "cancel": 100_000,
    "confirmDelivery": 120_000,
    "openDispute": 80_000,
    "resolveDispute": 120_000,
    "reclaim": 120_000,
    "withdraw": 80_000,
    "invalidateNonce": 60_000,
    "deposit": 80_000,
    "admin": 200_000,
}
ACTIONS = (
    "post_offer",
    "post_request",
    "buy",
    "fill",
    "cancel",
    "confirm_delivery",
    "reclaim",
    "withdraw",
    "deposit",
    "invalidate_nonce",
)


Role = Literal["admin", "oracle", "coordinator"]
ROLES: tuple[Role, ...] = ("admin", "oracle", "coordinator")
"""Role names in the contract's numbering (0 admin, 1 oracle, 2 coordinator)."""


CONFIRM_BATCH_MAX = 100
"""Most trades one ``confirmBatch`` transaction carries by default (gas ~1.5 M)."""


def confirm_batch_gas(trades: int) -> int:
    """Gas limit for ``confirmBatch`` of ``trades`` trades (measured ~14-30k per trade:
    bench/gas.py; this bound covers cold storage and events with room to spare)."""
    return 60_000 + 40_000 * trades


@dataclass(frozen=True)
class BatchOutcome:
    """What one ``confirmBatch`` did: trade ids settled (DeliveryConfirmed) and skipped
    ({trade id: ConfirmSkipped reason}, see :data:`gridpeer.chain.events.SKIP_REASONS`)."""

    tx_hash: bytes
    confirmed: tuple[int, ...]
    skipped: dict[int, int]


def batch_gas(orders: int, matches: int) -> int:
    """Gas limit for a batch of ``orders`` signed orders and ``matches`` matches."""
    return 200_000 + 40_000 * orders + 30_000 * matches


@dataclass(frozen=True)
class TxRequest:
    """An unsigned transaction for a wallet (EIP-1193 ``eth_sendTransaction``)."""

    to: str
    data: str  # 0x-hex calldata
    value: int  # wei
    gas: int

    def as_dict(self, sender: str) -> dict[str, str]:
        """JSON-ready ``{from, to, data, value, gas}`` with hex quantities."""
        return {
            "from": sender,
            "to": self.to,
            "data": self.data,
            "value": hex(self.value),
            "gas": hex(self.gas),
        }


class MarketClient:
    """Typed access to one deployed ``EnergyMarket`` contract."""

    def __init__(self, backend: Backend, address: str) -> None:
        self.backend = backend
        self.address = to_checksum_address(address)
        self.last_receipt: Receipt | None = None
        self._members: dict[int, str] = {0: "0x" + "00" * 20}

    # ------------------------------------------------------------------ plumbing
    @classmethod
    def deploy(
        cls,
        backend: Backend,
        admin: LocalAccount,
        oracle: str,
        coordinator: str,
        grace_s: int = 3600,
    ) -> MarketClient:
        """Deploy the committed bytecode; ``admin`` pays and becomes admin."""
        code = load_artifact().bytecode + encode(
            ["address", "address", "uint32"],
            [to_checksum_address(oracle), to_checksum_address(coordinator), grace_s],
        )
        r = cls._send_raw(backend, admin, None, code, 0, GAS["deploy"])
        assert r.contract_address is not None
        client = cls(backend, r.contract_address)
        client.last_receipt = r
        return client

    @staticmethod
    def _send_raw(
        backend: Backend, key: LocalAccount, to: str | None, data: bytes, value: int, gas: int
    ) -> Receipt:
        try:
            return backend.send(key, to, data, value, gas)
        except Reverted as exc:
            raise decode_revert(exc.data) from None

    def _send(
        self,
        key: LocalAccount,
        fn: str,
        *args: Any,
        value: int = 0,
        gas: int = 0,
        on_signed: Callable[[bytes], None] | None = None,
    ) -> Receipt:
        gas = gas or GAS.get(fn, GAS["admin"])
        data = encode_call(fn, *args)
        send_signed = getattr(self.backend, "send_signed", None)  # Web3Backend
        if on_signed is not None and send_signed is not None:
            try:
                r: Receipt = send_signed(key, self.address, data, value, gas, on_signed)
            except Reverted as exc:
                raise decode_revert(exc.data) from None
        else:
            r = self._send_raw(self.backend, key, self.address, data, value, gas)
        self.last_receipt = r
        return r

    def _call(self, fn: str, *args: Any) -> tuple[Any, ...]:
        try:
            return decode_output(fn, self.backend.call(self.address, encode_call(fn, *args)))
        except Reverted as exc:
            raise decode_revert(exc.data) from None

    def _event_field(self, r: Receipt, field: str) -> int:
        from gridpeer.chain.codec import decode_event

        for log in r.logs:
            dec = decode_event(log.topics, log.data)
            if dec is not None and field in dec[1]:
                return int(dec[1][field])
        raise RuntimeError(f"no event with {field} in receipt")

    # ------------------------------------------------------------------ admin
    def add_member(self, admin: LocalAccount, account: str) -> int:
        """Register a house; returns its member index (1-based)."""
        r = self._send(admin, "addMember", to_checksum_address(account))
        return self._event_field(r, "idx")

    def remove_member(self, admin: LocalAccount, account: str) -> None:
        """Stop a member from trading (it keeps open trades and credit)."""
        self._send(admin, "removeMember", to_checksum_address(account))

    def propose_role(self, admin: LocalAccount, role: Role, account: str) -> int:
        """Propose ``account`` for ``role``; returns the eta (UTC unix s) from which
        :meth:`execute_role` can put it into effect (now + the contract's ROLE_DELAY)."""
        r = self._send(admin, "proposeRole", ROLES.index(role), to_checksum_address(account))
        return self._event_field(r, "eta")

    def cancel_role(self, admin: LocalAccount, role: Role) -> None:
        """Withdraw the pending proposal for ``role``."""
        self._send(admin, "cancelRole", ROLES.index(role))

    def execute_role(self, key: LocalAccount, role: Role) -> None:
        """Put the pending proposal for ``role`` into effect after its delay.

        ``key``: the admin for ``"oracle"``/``"coordinator"``; the proposed account itself
        for ``"admin"`` (two-step transfer: the new admin accepts).
        """
        self._send(key, "executeRole", ROLES.index(role))

    def pending_role(self, role: Role) -> tuple[str, int] | None:
        """(proposed account, eta UTC unix s) of the pending change of ``role``, or None."""
        account, eta = self._call("pendingRole", ROLES.index(role))
        if int(account, 16) == 0:
            return None
        return to_checksum_address(account), int(eta)

    def role_delay(self) -> int:
        """Seconds between a role proposal and its earliest execution."""
        return int(self._call("ROLE_DELAY")[0])

    def set_grace(self, admin: LocalAccount, seconds: int) -> None:
        """Grace (s, 1 s to 7 days) after a delivery window before the buyer may reclaim.

        Applies to orders posted and batches settled afterwards; every open order and
        trade keeps the grace it was made with (``Trade.grace_s``).
        """
        self._send(admin, "setGrace", seconds)

    def set_schedule(self, admin: LocalAccount, schedule: Schedule) -> None:
        """Set the trading schedule enforced on chain."""
        self._send(
            admin,
            "setSchedule",
            schedule.mode_code,
            schedule.tz_minutes,
            schedule.slot_minutes,
            list(schedule.windows),
        )

    # ------------------------------------------------------------------ user actions
    def build_tx(self, action: str, **kw: int) -> TxRequest:
        """Unsigned transaction for ``action`` (one of :data:`ACTIONS`) with its arguments.

        Arguments by action: post_offer/post_request(wh, price, start, end);
        buy(offer_id, wh); fill(request_id, wh); cancel(order_id);
        confirm_delivery(trade_id, delivered_wh); reclaim(trade_id); withdraw();
        deposit(value); invalidate_nonce(below). The value (wei) of buy/post_request is
        computed exactly.
        """
        value = 0
        args: tuple[int, ...]
        if action == "post_offer":
            fn, args = "postOffer", (kw["wh"], kw["price"], kw["start"], kw["end"])
        elif action == "post_request":
            fn, args = "postRequest", (kw["wh"], kw["price"], kw["start"], kw["end"])
            value = cost_wei(kw["wh"], kw["price"])
        elif action == "buy":
            fn, args = "buy", (kw["offer_id"], kw["wh"])
            price = kw.get("price")
            if price is None:
                order = self.order(kw["offer_id"])
                price = order.price if order else 0
            value = cost_wei(kw["wh"], price)
        elif action == "fill":
            fn, args = "fill", (kw["request_id"], kw["wh"])
        elif action == "cancel":
            fn, args = "cancel", (kw["order_id"],)
        elif action == "confirm_delivery":
            fn, args = "confirmDelivery", (kw["trade_id"], kw["delivered_wh"])
        elif action == "reclaim":
            fn, args = "reclaim", (kw["trade_id"],)
        elif action == "withdraw":
            fn, args = "withdraw", ()
        elif action == "deposit":
            fn, args, value = "deposit", (), kw["value"]
        elif action == "invalidate_nonce":
            fn, args = "invalidateNonce", (kw["below"],)
        else:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        data = "0x" + encode_call(fn, *args).hex()
        return TxRequest(self.address, data, value, GAS[fn])

    def send_tx(self, key: LocalAccount, tx: TxRequest) -> Receipt:
        """Sign ``tx`` with ``key`` and send it (the demo's server-side dev-key path)."""
        r = self._send_raw(self.backend, key, tx.to, bytes.fromhex(tx.data[2:]), tx.value, tx.gas)
        self.last_receipt = r
        return r

    def post_offer(self, key: LocalAccount, wh: int, price: int, start: int, end: int) -> int:
        """Offer ``wh`` Wh at ``price`` wei/kWh for delivery in [start, end); returns its id."""
        tx = self.build_tx("post_offer", wh=wh, price=price, start=start, end=end)
        return self._event_field(self.send_tx(key, tx), "offerId")

    def post_request(self, key: LocalAccount, wh: int, price: int, start: int, end: int) -> int:
        """Ask for ``wh`` Wh at ``price`` wei/kWh, escrowing the exact cost; returns its id."""
        tx = self.build_tx("post_request", wh=wh, price=price, start=start, end=end)
        return self._event_field(self.send_tx(key, tx), "requestId")

    def buy(self, key: LocalAccount, offer_id: int, wh: int, price: int | None = None) -> int:
        """Buy ``wh`` Wh of an offer, escrowing the exact cost; returns the trade id.

        ``price`` (wei/kWh) saves a read of the offer when the caller knows it.
        """
        kw = {"offer_id": offer_id, "wh": wh} | ({} if price is None else {"price": price})
        return self._event_field(self.send_tx(key, self.build_tx("buy", **kw)), "tradeId")

    def fill(self, key: LocalAccount, request_id: int, wh: int) -> int:
        """Sell ``wh`` Wh into a request; returns the trade id."""
        tx = self.build_tx("fill", request_id=request_id, wh=wh)
        return self._event_field(self.send_tx(key, tx), "tradeId")

    def cancel(self, key: LocalAccount, order_id: int) -> None:
        """Cancel the rest of an own offer or request."""
        self.send_tx(key, self.build_tx("cancel", order_id=order_id))

    def confirm_delivery(self, oracle: LocalAccount, trade_id: int, delivered_wh: int) -> None:
        """Oracle: settle a trade for the metered ``delivered_wh``."""
        tx = self.build_tx("confirm_delivery", trade_id=trade_id, delivered_wh=delivered_wh)
        self.send_tx(oracle, tx)

    def confirm_batch(
        self,
        oracle: LocalAccount,
        deliveries: Sequence[tuple[int, int]],
        on_signed: Callable[[bytes], None] | None = None,
    ) -> BatchOutcome:
        """Oracle: settle many trades in one transaction, ``(trade_id, delivered_wh)`` each.

        A trade the contract refuses (unknown or settled, too many Wh, outside its
        settlement time) is skipped, not reverted: see :attr:`BatchOutcome.skipped`.
        ``on_signed(tx_hash)`` is called once the transaction is signed, before it is sent
        (backends that sign locally), so a caller can record the hash crash-safely.

        Raises:
            errors.EmptyBatch: no deliveries.
        """
        ids = [t for t, _ in deliveries]
        whs = [w for _, w in deliveries]
        r = self._send(
            oracle,
            "confirmBatch",
            ids,
            whs,
            gas=confirm_batch_gas(max(len(ids), 1)),
            on_signed=on_signed,
        )
        return self._outcome(r)

    def batch_outcome(self, tx_hash: bytes) -> BatchOutcome | None:
        """What a ``confirmBatch`` sent earlier did, from its receipt's events; None if the
        node does not know the transaction or the backend cannot look receipts up."""
        lookup = getattr(self.backend, "receipt", None)  # Web3Backend
        r = lookup(tx_hash) if lookup is not None else None
        return None if r is None else self._outcome(r)

    @staticmethod
    def _outcome(r: Receipt) -> BatchOutcome:
        from gridpeer.chain.codec import decode_event

        confirmed: list[int] = []
        skipped: dict[int, int] = {}
        for log in r.logs:
            dec = decode_event(log.topics, log.data)
            if dec is None:
                continue
            name, f = dec
            if name == "DeliveryConfirmed":
                confirmed.append(int(f["tradeId"]))
            elif name == "ConfirmSkipped":
                skipped.setdefault(int(f["tradeId"]), int(f["reason"]))
        return BatchOutcome(r.tx_hash, tuple(confirmed), skipped)

    def open_dispute(
        self, oracle: LocalAccount, trade_id: int, seller_wh: int, buyer_wh: int
    ) -> None:
        """Oracle: the meters disagree (seller metered ``seller_wh`` Wh, buyer ``buyer_wh``).

        The trade must be open and not past its reclaim time; afterwards the buyer cannot
        reclaim it and only :meth:`resolve_dispute` (admin) or :meth:`confirm_delivery`
        (oracle, at any time) settles it. Raises ``errors.Disputed`` if already disputed.
        """
        self._send(oracle, "openDispute", trade_id, seller_wh, buyer_wh)

    def resolve_dispute(self, admin: LocalAccount, trade_id: int, delivered_wh: int) -> None:
        """Admin: settle a disputed trade for ``delivered_wh`` Wh (like confirm_delivery)."""
        self._send(admin, "resolveDispute", trade_id, delivered_wh)

    def reclaim(self, key: LocalAccount, trade_id: int) -> None:
        """Buyer: take back the escrow of an unconfirmed trade after window + grace."""
        self.send_tx(key, self.build_tx("reclaim", trade_id=trade_id))

    def invalidate_nonce(self, key: LocalAccount, below: int) -> None:
        """Member: revoke every own signed order with a nonce below ``below`` (1..2^31).

        Raises ``errors.StaleNonce`` if the last consumed nonce is already >= below - 1.
        """
        self.send_tx(key, self.build_tx("invalidate_nonce", below=below))

    def deposit(self, key: LocalAccount, value: int) -> None:
        """Add ``value`` wei to the caller's credit (escrow source for batches)."""
        self.send_tx(key, self.build_tx("deposit", value=value))

    def withdraw(self, key: LocalAccount) -> int:
        """Pay out the caller's credit; returns the amount (wei)."""
        return self._event_field(self.send_tx(key, self.build_tx("withdraw")), "amount")

    # ------------------------------------------------------------------ batch settlement
    def domain(self) -> dict[str, Any]:
        """The EIP-712 domain of this contract."""
        return order_wire.domain(self.backend.chain_id, self.address)

    def typed_order(self, terms: OrderTerms) -> dict[str, Any]:
        """EIP-712 typed data of ``terms`` (for ``eth_signTypedData_v4`` in a wallet)."""
        return order_wire.typed_data(self.domain(), terms)

    def sign_order(self, key: LocalAccount, terms: OrderTerms) -> SignedOrder:
        """Sign order terms with ``key`` (EIP-712)."""
        return order_wire.sign(key, self.domain(), terms)

    def settle_batch(
        self, coordinator: LocalAccount, orders: Sequence[SignedOrder], matches: Sequence[Match]
    ) -> int:
        """Coordinator: verify the signed orders, escrow from buyers' credit, record trades.

        Returns the batch id; trade i has id ``batch_trade_id(batch, i)``. Every order must
        be for the first one's window (:class:`~gridpeer.chain.errors.WindowMismatch`
        otherwise, raised before sending: the contract takes the window once per batch).
        """
        if not orders:
            raise errors.EmptyBatch()
        start, end = orders[0].terms.start, orders[0].terms.end
        for i, o in enumerate(orders):
            if (o.terms.start, o.terms.end) != (start, end):
                raise errors.WindowMismatch({"orderIndex": i})
        enc_orders = [pack_signed_order(o) for o in orders]
        enc_matches = [pack_match(m) for m in matches]
        gas = batch_gas(len(orders), len(matches))
        r = self._send(coordinator, "settleBatch", start, end, enc_orders, enc_matches, gas=gas)
        return self._event_field(r, "batchId")

    # ------------------------------------------------------------------ views
    def member_address(self, idx: int) -> str:
        """Address of member index ``idx`` (cached: indices never change)."""
        if idx not in self._members:
            addr, _credit = self._call("accounts", idx)
            self._members[idx] = to_checksum_address(addr)
        return self._members[idx]

    def member(self, account: str) -> tuple[int, bool, int]:
        """(index, active, last consumed batch-order nonce) of ``account``; index 0 = never."""
        addr = to_checksum_address(account)
        idx, active = self._call("memberOf", addr)
        return int(idx), bool(active), int(self._call("nonceOf", addr)[0])

    def credit(self, account: str) -> int:
        """Withdrawable credit of ``account`` in wei."""
        idx = self.member(account)[0]
        return int(self._call("accounts", idx)[1]) if idx else 0

    def credit_of_index(self, idx: int) -> int:
        """Withdrawable credit of member index ``idx`` in wei."""
        return int(self._call("accounts", idx)[1])

    def member_count(self) -> int:
        """Members ever registered."""
        return int(self._call("memberCount")[0])

    def order(self, order_id: int) -> Order | None:
        """An offer or request (``remaining_wh`` 0 when closed); None if unknown/traded."""
        w = int(self._call("bookWord", order_id)[0])
        kind = id_kind(order_id)
        if w == 0 or w >> 255 or kind not in ("offer", "request"):
            return None
        own, rem, price, start, end, bid, fills = decode_order_word(order_id, w)
        side: Side = "offer" if kind == "offer" else "request"
        return Order(order_id, side, self.member_address(own), rem, price, start, end, bid, fills)

    def trade(self, trade_id: int) -> Trade | None:
        """An open (unsettled) trade, or None."""
        s, b, wh, price, start, end, escrow, disputed, grace = self._call("tradeOf", trade_id)
        if wh == 0:
            return None
        seller, buyer = self.member_address(s), self.member_address(b)
        return Trade(trade_id, seller, buyer, wh, price, start, end, escrow, bool(disputed), grace)

    def roles(self) -> dict[str, str]:
        """Addresses of admin, oracle and coordinator."""
        return {
            r: to_checksum_address(self._call(r)[0]) for r in ("admin", "oracle", "coordinator")
        }

    def grace_seconds(self) -> int:
        """Grace after a window's end before reclaim (s) that new orders and batches get."""
        return int(self._call("graceSeconds")[0])

    def schedule(self) -> Schedule:
        """The trading schedule in force."""
        m = self._call("market")
        mode = ("open", "windows", "continuous")[int(m[3])]
        w = tuple(int(x) for x in m[6:12])
        return Schedule(mode, int(m[4]), int(m[5]), w)  # type: ignore[arg-type]

    def balance(self) -> int:
        """Ether held by the contract (escrow + credits), wei."""
        return self.backend.balance(self.address)

    def now(self) -> int:
        """Chain time (latest block timestamp), UTC unix s."""
        return self.backend.now()

    def set_time(self, ts: int) -> None:
        """Advance chain time to ``ts`` (dev chains; simulation clock)."""
        self.backend.set_time(ts)

    def events(self, from_block: int, to_block: int | None = None) -> list[Event]:
        """Decoded events of blocks [from_block, to_block] (default: up to the latest)."""
        last = self.backend.block_number() if to_block is None else to_block
        if from_block > last:
            return []
        logs = self.backend.get_logs(self.address, from_block, last)
        return decode_logs(logs, self.member_address)

    def receipt_events(self, receipt: Receipt | None = None) -> list[Event]:
        """Decoded events of one receipt (default: the last transaction sent)."""
        r = receipt or self.last_receipt
        return decode_logs(list(r.logs), self.member_address) if r else []

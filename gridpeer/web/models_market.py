"""JSON shapes of the market, wallet and explorer API. Energy Wh, prices wei per kWh,
money wei (as decimal strings where it can exceed 2^53), times UTC unix seconds."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Wh = Annotated[int, Field(ge=1, le=2**32 - 1, description="energy, Wh")]
PriceWei = Annotated[int, Field(ge=1, le=2**64 - 1, description="price, wei per kWh")]
UnixS = Annotated[int, Field(ge=86_400, le=2**40 - 1, description="UTC unix seconds")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="0x address")]
Signer = Annotated[
    str,
    Field(
        pattern=r"^(wallet|demo:[A-Za-z0-9_-]{1,32})$",
        description="'wallet' (build an unsigned tx for the signed-in wallet) or "
        "'demo:<house>' (the server signs with that house's dev account; demo only)",
    ),
]


class Currency(BaseModel):
    """How the UI shows money: ``wei_per_unit`` wei make one unit of ``code``."""

    code: str
    wei_per_unit: str


class WindowOut(BaseModel):
    """A delivery window ``[start, end)`` that takes bids from ``bid_open`` (0 = any time)."""

    bid_open: int
    start: int
    end: int


LABEL = "short readable name: O<n> offer, R<n> request, O<n>.<k> k-th partial fill, B<b>.<j>"


class TradeBrief(BaseModel):
    """The most recent trade: its price (wei/kWh), energy (Wh) and block."""

    id: str
    label: str = Field(description=LABEL)
    price: str
    wh: int
    block: int


class MarketStatus(BaseModel):
    """The market now: design, schedule, open windows, countdown, last trade."""

    design: str = Field(description="market design in words")
    design_id: Literal["decentralized", "centralized", "hybrid"] = Field(
        "decentralized", description="market design (``[market] design``)"
    )
    gate_closes_at: str | None = Field(
        None,
        description="centralized/hybrid: the next gate closure (no more orders for the "
        "coming delivery window), UTC ISO 8601; None otherwise",
    )
    schedule: str = Field(description="trading schedule in words")
    mode: Literal["open", "windows", "continuous"]
    tz_minutes: int = Field(description="schedule's local time = UTC + tz_minutes")
    now: int = Field(description="model time, UTC unix s")
    chain_time: int = Field(description="latest block time, UTC unix s")
    bidding_open: bool
    open_windows: list[WindowOut]
    next_change: int | None = Field(description="UTC unix s of the next open/close")
    next_change_what: str
    reason: str = Field(description="why bidding is closed (empty when open)")
    currency: Currency
    chain_id: int
    contract: str
    demo: bool = Field(description="demo accounts available (server-side dev keys)")
    last_trade: TradeBrief | None
    speed: float = Field(1.0, description="model seconds per wall second")
    session: WindowOut | None = Field(
        None,
        description="the current or next trading session: bids from bid_open until start, "
        "delivery [start, end) (UTC unix s; model time)",
    )
    tariff_import: str = Field("0", description="grid import tariff, wei per kWh")
    tariff_feed_in: str = Field("0", description="grid feed-in tariff, wei per kWh")


class OrderOut(BaseModel):
    """A sell offer or purchase request with Wh left (ids as decimal strings).

    ``bidding_open`` is false once its delivery window has started: nobody can take it
    any more (its Wh stay listed in the history until the order is cancelled)."""

    id: str
    label: str = Field(description=LABEL)
    bidding_open: bool = True
    side: Literal["offer", "request"]
    owner: str
    house: str | None = Field(description="demo house of the owner, if any")
    remaining_wh: int
    price: str = Field(description="wei per kWh")
    start: int
    end: int


class TradeOut(BaseModel):
    """A trade with its delivery progress and settlement."""

    id: str
    label: str = Field(description=LABEL)
    seller: str
    buyer: str
    seller_house: str | None
    buyer_house: str | None
    wh: int
    price: str
    start: int
    end: int
    escrow: str = Field(description="wei escrowed")
    status: Literal["open", "settled", "reclaimed"]
    phase: Literal[
        "before delivery", "delivering", "awaiting confirmation", "disputed", "settled", "reclaimed"
    ]
    progress: float = Field(description="share of the delivery window elapsed, 0..1")
    delivered_wh: int | None
    seller_paid: str | None
    buyer_refund: str | None
    reclaimable_at: int = Field(description="UTC unix s after which the buyer may reclaim")


class AccountOut(BaseModel):
    """An account: ether balance and withdrawable market credit (wei)."""

    address: str
    house: str | None
    member: bool
    balance: str
    credit: str


class OfferIn(BaseModel):
    """Post a sell offer (or, on /requests, a purchase request with escrow)."""

    model_config = ConfigDict(extra="forbid")
    signer: Signer = "wallet"
    wh: Wh
    price: PriceWei
    start: UnixS
    end: UnixS


class AmountIn(BaseModel):
    """Buy from an offer / sell into a request: how many Wh (partial amounts allowed)."""

    model_config = ConfigDict(extra="forbid")
    signer: Signer = "wallet"
    wh: Wh


class SignerIn(BaseModel):
    """An action without arguments (cancel, reclaim, withdraw)."""

    model_config = ConfigDict(extra="forbid")
    signer: Signer = "wallet"


class UnsignedTx(BaseModel):
    """For the browser wallet's ``eth_sendTransaction`` (hex quantities)."""

    from_: str = Field(alias="from")
    to: str
    data: str
    value: str
    gas: str
    chainId: str


class ActionOut(BaseModel):
    """Result of an action: an unsigned tx for the wallet, or the demo tx's outcome."""

    tx: UnsignedTx | None = None
    tx_hash: str | None = None
    id: str | None = Field(None, description="new offer/request/trade id, or amount withdrawn")
    label: str | None = Field(None, description="the new order's or trade's " + LABEL)
    amount: str | None = Field(None, description="wei withdrawn (withdraw only)")
    fee: str | None = Field(
        None,
        description="wei the transaction's gas cost (demo: paid; wallet: gas limit x gas "
        "price, at most)",
    )


class NonceOut(BaseModel):
    """An EIP-4361 (Sign-In with Ethereum) message for the wallet to sign."""

    message: str


class VerifyIn(BaseModel):
    """The signed EIP-4361 message."""

    model_config = ConfigDict(extra="forbid")
    message: str = Field(max_length=2000)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


class SessionOut(BaseModel):
    """Who is signed in (null when nobody)."""

    address: str | None
    house: str | None = None


class BlockOut(BaseModel):
    """A block for the explorer."""

    number: int
    hash: str
    timestamp: int
    time: str = Field("", description="block time in the community's time zone, readable")
    txs: int
    gas_used: int


class TxOut(BaseModel):
    """A transaction for the explorer, with its decoded method."""

    hash: str
    block: int
    from_: str = Field(alias="from")
    to: str | None
    value: str
    method: str


class EventOut(BaseModel):
    """A decoded contract event."""

    block: int
    tx: str
    log_index: int
    name: str
    fields: dict[str, str]
    readable: dict[str, str] = Field(
        default_factory=dict,
        description="the same fields for a person: money in the community's currency, "
        "energy in Wh/kWh, times local, houses by name, order/trade labels",
    )


class Explorer(BaseModel):
    """Recent blocks, transactions and events; accounts with balances; roles."""

    chain_id: int
    head: int
    contract: str
    contract_balance: str
    roles: dict[str, str]
    blocks: list[BlockOut]
    txs: list[TxOut]
    events: list[EventOut]
    accounts: list[AccountOut]
    currency: Currency | None = None
    tz: str = Field("UTC", description="the community's time zone (block times)")


class PricePoint(BaseModel):
    """One trade for the clearing-price chart."""

    start: int = Field(description="delivery start, UTC unix s")
    price: str = Field(description="wei per kWh")
    wh: int


class MarketSummary(BaseModel):
    """Peer-to-peer trading of one UTC day (by delivery start) and what it saved."""

    date: str
    trades: int
    traded_wh: int
    delivered_wh: int = Field(description="confirmed by the oracle, Wh")
    avg_price: str | None = Field(description="energy-weighted mean price, wei per kWh")
    share_p2p: float = Field(description="traded Wh / community consumption that day, 0..1")
    savings: str = Field(
        description="wei the community kept vs. the grid: traded kWh x (import - feed-in price)"
    )
    prices: list[PricePoint]

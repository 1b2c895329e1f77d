"""Chain explorer API: recent blocks and transactions (methods decoded with the market's
ABI), decoded contract events, accounts with ether balances and market credit."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from gridpeer.chain.hub import ChainHub
from gridpeer.web.api_market import _ERRORS, account_out, hub_of
from gridpeer.web.context import WebContext, get_context
from gridpeer.web.models_market import BlockOut, Currency, EventOut, Explorer, TxOut
from gridpeer.web.units import energy, money, trade_label

_MONEY = {"amount", "escrow", "refund", "seller_paid", "buyer_refund", "value"}
_PRICE = {"price"}
_ENERGY = {"wh", "remaining_wh", "delivered_wh"}
_TIME = {"start", "end", "at", "timestamp"}
_IDS = {"id", "trade", "order", "tradeId", "orderId", "offerId", "requestId"}
_PARTIES = {"owner", "seller", "buyer", "member", "account"}

router = APIRouter(prefix="/api/chain", tags=["explorer"])
Ctx = Annotated[WebContext, Depends(get_context)]


def _selectors() -> dict[bytes, str]:
    from gridpeer.chain.codec import abi

    return {f.selector: f.name for f in abi().functions.values()}


def _raw(x: Any) -> bytes:
    if isinstance(x, str):
        return bytes.fromhex(x.removeprefix("0x"))
    return bytes(x)


def _hex(b: Any) -> str:
    return "0x" + bytes(b).hex()


def local_time(ts: int, tz: tzinfo) -> str:
    """UTC unix seconds as ``YYYY-MM-DD HH:MM:SS`` in ``tz``."""
    return datetime.fromtimestamp(ts, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def readable(hub: ChainHub, name: str, value: str | int, currency: Currency, tz: tzinfo) -> str:
    """One event field for a person (money, energy, local time, house, label)."""
    text = str(value)
    if not text.lstrip("-").isdigit():
        if name in _PARTIES and text.startswith("0x"):
            house = hub.house_of(text)
            return f"House {house.removeprefix('h')}" if house else text[:8] + "…" + text[-4:]
        return text
    n = int(text)
    if name in _MONEY:
        return money(n, currency)
    if name in _PRICE:
        return money(n, currency, per_kwh=True)
    if name in _ENERGY:
        return energy(n)
    if name in _TIME and n > 86_400:
        return local_time(n, tz)[:16]
    if name in _IDS and n > 0:
        return trade_label(n)
    return text


def explore(
    hub: ChainHub, n_blocks: int, currency: Currency | None = None, tz: tzinfo = UTC
) -> Explorer:
    """Read the explorer view (chain thread)."""
    cur = currency or Currency(code="CLP", wei_per_unit=str(10**12))
    backend = hub.market.backend
    head = backend.block_number()
    blocks: list[BlockOut] = []
    txs: list[TxOut] = []
    w3 = getattr(backend, "w3", None)
    if w3 is not None:
        names = _selectors()
        for num in range(head, max(-1, head - n_blocks), -1):
            b = w3.eth.get_block(num, full_transactions=True)
            blocks.append(
                BlockOut(
                    number=num,
                    hash=_hex(b["hash"]),
                    timestamp=b["timestamp"],
                    time=local_time(int(b["timestamp"]), tz),
                    txs=len(b["transactions"]),
                    gas_used=b["gasUsed"],
                )
            )
            for t in b["transactions"]:
                data = _raw(t.get("input", t.get("data", b"")))
                method = "deploy" if t["to"] is None else names.get(data[:4], "transfer")
                txs.append(
                    TxOut.model_validate(
                        {
                            "hash": _hex(t["hash"]),
                            "block": num,
                            "from": t["from"],
                            "to": t["to"],
                            "value": str(t["value"]),
                            "method": method,
                        }
                    )
                )
    addresses = [k.address for k in hub.demo_keys.values()]
    roles = hub.market.roles()
    return Explorer(
        chain_id=backend.chain_id,
        head=head,
        contract=hub.market.address,
        contract_balance=str(hub.market.balance()),
        roles=roles,
        blocks=blocks,
        txs=txs,
        events=[
            EventOut(
                block=e.block,
                tx=e.tx,
                log_index=e.log_index,
                name=e.name,
                fields={k: str(v) for k, v in e.fields.items()},
                readable={k: readable(hub, k, v, cur, tz) for k, v in e.fields.items()},
            )
            for e in list(hub.events)[:100]
        ],
        accounts=[account_out(hub, a) for a in addresses],
        currency=cur,
        tz=str(tz),
    )


@router.get("/explorer", response_model=Explorer, responses=_ERRORS, summary="Chain explorer")
async def explorer(
    ctx: Ctx, blocks: Annotated[int, Query(ge=1, le=100, description="recent blocks")] = 20
) -> Explorer:
    """Latest blocks and transactions, decoded events, accounts and balances (wei)."""
    hub = hub_of(ctx)
    return await hub.call(explore, hub, blocks, ctx.currency, ctx.tz)

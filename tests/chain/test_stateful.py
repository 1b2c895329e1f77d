"""Property-based stateful tests: random sequences of every market action.

A reference model predicts each action's outcome (success or the exact custom error)
and the money each member may withdraw. After every step the machine checks, on every
backend it drives: contract balance == escrow + withdrawable credits; credits equal the
model's (nobody is paid without a confirmation, nobody reaches another's money); open
trades equal the model's (delivered <= contracted, each trade settled at most once, its
grace and dispute flag).

Besides members' actions the machine drives the oracle's disputes, the admin's powers
(members, grace, timelocked role changes that may execute if time runs past their eta,
cancelling removed members' orders, resolving disputes) and members revoking nonces. The
rule ``admin_cannot_move_escrow`` has the admin try every call that moves a trade's
escrow and checks that open undisputed trades and all credits stay exactly as they were.

``DifferentialMachine`` drives the embedded (web3/py-evm) and pyrevm backends with the
same actions and also requires identical results and identical decoded events.

Chain time moves in 15-minute ticks and transactions run mid-tick, so the few seconds a
node adds per block never cross a window boundary (windows and grace are whole ticks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from gridpeer.chain import MarketClient, Match, OrderTerms, Schedule, batch_trade_id, errors
from gridpeer.chain.errors import ContractRevert
from gridpeer.chain.events import LogMeta, TradeCreated
from gridpeer.chain.open import Chain, open_chain

TICK = 900
GRACE = 3600
GRACES = st.sampled_from([900, 3600, 7200])  # whole ticks (see the module docstring)
ROLE = st.integers(min_value=0, max_value=2)  # 0 admin, 1 oracle, 2 coordinator
ROLE_NAMES = ("admin", "oracle", "coordinator")
PRICES = st.sampled_from([1, 999, 1_500, 200_000_000_000_000, 2**64 - 1])
WH = st.integers(min_value=1, max_value=3000)
PICK = st.integers(min_value=0, max_value=10**6)
HOUSE = st.integers(min_value=0, max_value=3)


def cost(wh: int, price: int) -> int:
    return wh * price // 1000


@dataclass
class MTrade:
    seller: int
    buyer: int
    wh: int
    price: int
    start: int
    end: int
    escrow: int
    grace: int = GRACE
    disputed: bool = False


@dataclass
class Model:
    """What the contract should hold; member i (0..3) has index i+1."""

    now: int
    # id -> [owner, rem, price, start, end, grace]
    offers: dict[int, list[int]] = field(default_factory=dict)
    requests: dict[int, list[int]] = field(default_factory=dict)
    trades: dict[int, MTrade] = field(default_factory=dict)
    settled: set[int] = field(default_factory=set)
    credit: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    fills: dict[int, int] = field(default_factory=dict)
    n_offer: int = 0
    n_request: int = 0
    n_batch: int = 0
    nonce: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    active: list[bool] = field(default_factory=lambda: [True] * 4)
    grace: int = GRACE
    roles: list[Any] = field(default_factory=list)  # LocalAccount of admin, oracle, coordinator
    pending: dict[int, tuple[Any, int]] = field(default_factory=dict)  # role -> (key, eta)

    def escrow(self) -> int:
        held = sum(t.escrow for t in self.trades.values())
        held += sum(cost(r[1], r[2]) for r in self.requests.values() if r[1] > 0)
        return held + sum(self.credit)


class MarketMachine(RuleBasedStateMachine):
    kinds: tuple[str, ...] = ("revm",)

    def __init__(self) -> None:
        super().__init__()
        self.chains: list[Chain] = []
        self.markets: list[MarketClient] = []
        self.houses: list[Any] = []
        self.model = Model(now=0)

    @initialize()
    def setup(self) -> None:
        for kind in self.kinds:
            ch = open_chain(kind)
            m = ch.deploy_market(grace_s=GRACE)
            self.houses = ch.houses(4, m)
            m.set_schedule(ch.admin, Schedule("open"))
            self.chains.append(ch)
            self.markets.append(m)
        start = (max(m.now() for m in self.markets) // 86_400 + 1) * 86_400
        self.model.now = start + TICK // 2
        for m in self.markets:
            m.set_time(self.model.now)
        self.base = start + 2 * 3600  # windows: base + k hours, k in 0..3, one hour long
        ch = self.chains[0]  # dev role keys are the same on every backend
        self.model.roles = [ch.admin, ch.oracle, ch.coordinator]
        self.delay = self.markets[0].role_delay()

    def teardown(self) -> None:
        for ch in self.chains:
            ch.backend.close()

    # ------------------------------------------------------------------ driving
    def _run(
        self, expect: type[ContractRevert] | None, fn: Any, same_events: bool = True
    ) -> list[Any]:
        """Apply ``fn(market)`` to every backend; all must succeed or raise ``expect``.

        ``same_events=False`` for events holding a block time (nodes add a second per block
        after a time jump, pyrevm does not).
        """
        results: list[Any] = []
        events: list[list[Any]] = []
        for m in self.markets:
            try:
                results.append(fn(m))
                events.append(_strip(m.receipt_events()))
            except ContractRevert as exc:
                assert expect is not None, f"unexpected {exc!r}"
                assert type(exc) is expect, f"expected {expect.__name__}, got {exc!r}"
                results.append(type(exc))
                events.append([])
            else:
                assert expect is None, f"expected {expect.__name__}, call succeeded"
        assert all(r == results[0] for r in results), results
        if same_events:
            assert all(e == events[0] for e in events), "backends emitted different events"
        return results

    def _window(self, k: int) -> tuple[int, int]:
        s = self.base + (k % 4) * 3600
        return s, s + 3600

    def _pick(self, ids: list[int], k: int, missing: int) -> int:
        return ids[k % len(ids)] if ids else missing

    # ------------------------------------------------------------------ rules
    @rule(h=HOUSE, wh=WH, price=PRICES, w=st.integers(0, 3), offer=st.booleans())
    def post(self, h: int, wh: int, price: int, w: int, offer: bool) -> None:
        start, end = self._window(w)
        md = self.model
        expect: Any = None if md.now < start else errors.OutsideWindow
        if not md.active[h]:
            expect = errors.NotMember
        if offer:
            res = self._run(expect, lambda m: m.post_offer(self.houses[h], wh, price, start, end))
            if expect is None:
                md.n_offer += 1
                assert res[0] == md.n_offer << 2 | 1
                md.offers[res[0]] = [h, wh, price, start, end, md.grace]
        else:
            res = self._run(expect, lambda m: m.post_request(self.houses[h], wh, price, start, end))
            if expect is None:
                md.n_request += 1
                assert res[0] == md.n_request << 2 | 2
                md.requests[res[0]] = [h, wh, price, start, end, md.grace]

    def _take(self, book: dict[int, list[int]], oid: int, h: int, wh: int) -> Any:
        o = book.get(oid)
        if not self.model.active[h]:
            return errors.NotMember
        if o is None:
            return errors.UnknownId
        if o[1] == 0:
            return errors.OrderClosed
        if wh > o[1]:
            return errors.ExceedsRemaining
        if self.model.now >= o[3]:
            return errors.OutsideWindow
        if o[0] == h:
            return errors.SelfTrade
        return None

    def _new_trade(self, oid: int, o: list[int], wh: int, seller: int, buyer: int) -> int:
        md = self.model
        rem = o[1]
        esc = cost(wh, o[2]) if oid & 3 == 1 else cost(rem, o[2]) - cost(rem - wh, o[2])
        if wh == rem:
            tid = oid
        else:
            md.fills[oid] = md.fills.get(oid, 0) + 1
            tid = ((oid >> 2) << 1 | (oid & 2) >> 1) << 18 | md.fills[oid] << 2 | 3
        o[1] -= wh
        md.trades[tid] = MTrade(seller, buyer, wh, o[2], o[3], o[4], esc, o[5])
        return tid

    @rule(h=HOUSE, k=PICK, wh=WH)
    def buy(self, h: int, k: int, wh: int) -> None:
        md = self.model
        open_ids = sorted(i for i, o in md.offers.items() if o[1] > 0)
        oid = self._pick(open_ids, k, (md.n_offer + 1) << 2 | 1)
        expect = self._take(md.offers, oid, h, wh)
        price = md.offers[oid][2] if oid in md.offers else 1
        res = self._run(expect, lambda m: m.buy(self.houses[h], oid, wh, price=price))
        if expect is None:
            o = md.offers[oid]
            assert res[0] == self._new_trade(oid, o, wh, o[0], h)

    @rule(h=HOUSE, k=PICK, wh=WH)
    def fill(self, h: int, k: int, wh: int) -> None:
        md = self.model
        open_ids = sorted(i for i, o in md.requests.items() if o[1] > 0)
        rid = self._pick(open_ids, k, (md.n_request + 1) << 2 | 2)
        expect = self._take(md.requests, rid, h, wh)
        res = self._run(expect, lambda m: m.fill(self.houses[h], rid, wh))
        if expect is None:
            o = md.requests[rid]
            assert res[0] == self._new_trade(rid, o, wh, h, o[0])

    @rule(h=HOUSE, k=PICK)
    def cancel(self, h: int, k: int) -> None:
        md = self.model
        ids = sorted(i for i, o in (md.offers | md.requests).items() if o[1] > 0)
        oid = self._pick(ids, k, (md.n_offer + 1) << 2 | 1)
        o = md.offers.get(oid) or md.requests.get(oid)
        expect = None if o and o[0] == h else errors.UnknownId if not o else errors.NotOwner
        self._run(expect, lambda m: m.cancel(self.houses[h], oid))
        if expect is None and o:
            if oid & 3 == 2:
                md.credit[h] += cost(o[1], o[2])
            o[1] = 0

    def _settle_expect(self, tid: int) -> Any:
        if tid in self.model.settled:
            return errors.AlreadySettled
        return errors.UnknownId if tid not in self.model.trades else None

    def _due(self, k: int, action: str) -> int | None:
        """An open trade on which ``action`` (confirm, reclaim, resolve) is due now, if any:
        the plain picks hit mostly refusals, these reach the success paths."""
        md = self.model

        def due(t: MTrade) -> bool:
            if action == "confirm":
                return t.start <= md.now and (md.now <= t.end + t.grace or t.disputed)
            if action == "reclaim":
                return md.now > t.end + t.grace and not t.disputed
            return t.disputed

        ids = [tid for tid, t in sorted(md.trades.items()) if due(t)]
        return ids[k % len(ids)] if ids else None

    @rule(k=PICK, short=st.integers(0, 3000), by_oracle=st.booleans(), due=st.booleans())
    def confirm(self, k: int, short: int, by_oracle: bool, due: bool) -> None:
        md = self.model
        tid = self._pick(sorted(md.trades) + sorted(md.settled), k, batch_trade_id(999, 0))
        if due:
            tid = self._due(k, "confirm") or tid
        t = md.trades.get(tid)
        delivered = max(0, t.wh - short) if t else 1
        if short % 7 == 0 and t:
            delivered = t.wh + 1
        expect = self._settle_expect(tid)
        if not by_oracle:
            expect = errors.WrongRole
        elif expect is None and t:
            if delivered > t.wh:
                expect = errors.DeliveredTooMuch
            elif md.now < t.start or (md.now > t.end + t.grace and not t.disputed):
                expect = errors.OutsideWindow
        who = md.roles[1] if by_oracle else self.houses[0]
        self._run(expect, lambda m: m.confirm_delivery(who, tid, delivered))
        if expect is None and t:
            self._pay(tid, t, delivered)

    @rule(
        ks=st.lists(PICK, min_size=1, max_size=6),
        shorts=st.lists(st.integers(0, 3000), min_size=6, max_size=6),
        by_oracle=st.booleans(),
    )
    def confirm_batch(self, ks: list[int], shorts: list[int], by_oracle: bool) -> None:
        """confirmBatch over a mix of due, early, late, settled, unknown, over-delivered and
        repeated trades: each due one settles as confirmDelivery would, the others are
        skipped with their reason and nothing else moves."""
        md = self.model
        pool = sorted(md.trades) + sorted(md.settled) + [batch_trade_id(999, 0)]
        items: list[tuple[int, int]] = []
        for k, short in zip(ks, shorts, strict=False):
            tid = (self._due(k, "confirm") if k % 2 else None) or pool[k % len(pool)]
            t = md.trades.get(tid)
            delivered = max(0, t.wh - short) if t else 1
            if short % 7 == 0 and t:
                delivered = t.wh + 1
            items.append((tid, delivered))
        who = md.roles[1] if by_oracle else self.houses[0]
        if not by_oracle:
            self._run(errors.WrongRole, lambda m: m.confirm_batch(who, items))
            return
        confirmed: list[int] = []
        skipped: dict[int, int] = {}
        pays: list[tuple[int, MTrade, int]] = []
        done: set[int] = set()
        for tid, delivered in items:
            t = md.trades.get(tid)
            reason = 0
            if t is None or tid in done:
                reason = 1
            elif delivered > t.wh:
                reason = 2
            elif md.now < t.start or (md.now > t.end + t.grace and not t.disputed):
                reason = 3
            if reason:
                skipped.setdefault(tid, reason)
            else:
                assert t is not None
                confirmed.append(tid)
                pays.append((tid, t, delivered))
                done.add(tid)

        def go(m: MarketClient) -> tuple[tuple[int, ...], dict[int, int]]:
            out = m.confirm_batch(who, items)
            return out.confirmed, out.skipped

        (got,) = set(map(repr, self._run(None, go)))
        assert got == repr((tuple(confirmed), skipped))
        for tid, t, delivered in pays:
            self._pay(tid, t, delivered)

    def _pay(self, tid: int, t: MTrade, delivered: int) -> None:
        md = self.model
        paid = cost(delivered, t.price)
        md.credit[t.seller] += paid
        md.credit[t.buyer] += t.escrow - paid
        del md.trades[tid]
        md.settled.add(tid)

    @rule(h=HOUSE, k=PICK, due=st.booleans())
    def reclaim(self, h: int, k: int, due: bool) -> None:
        md = self.model
        tid = self._pick(sorted(md.trades) + sorted(md.settled), k, batch_trade_id(999, 0))
        if due and (d := self._due(k, "reclaim")) is not None:
            tid, h = d, md.trades[d].buyer
        t = md.trades.get(tid)
        expect = self._settle_expect(tid)
        if expect is None and t:
            if t.buyer != h:
                expect = errors.NotOwner
            elif md.now <= t.end + t.grace:
                expect = errors.OutsideWindow
            elif t.disputed:
                expect = errors.Disputed
        self._run(expect, lambda m: m.reclaim(self.houses[h], tid))
        if expect is None and t:
            md.credit[h] += t.escrow
            del md.trades[tid]
            md.settled.add(tid)

    @rule(h=HOUSE)
    def withdraw(self, h: int) -> None:
        md = self.model
        expect = None if md.credit[h] > 0 else errors.NothingToWithdraw
        res = self._run(expect, lambda m: m.withdraw(self.houses[h]))
        if expect is None:
            assert res[0] == md.credit[h]
            md.credit[h] = 0

    @rule(ticks=st.integers(1, 8), k=PICK, to=st.sampled_from(["ticks", "start", "reclaim"]))
    def jump(self, ticks: int, k: int, to: str) -> None:
        """Move time on by ``ticks``, or into an open trade's window, or past its grace."""
        md = self.model
        ids = sorted(md.trades)
        if to != "ticks" and ids:
            t = md.trades[ids[k % len(ids)]]
            target = t.start if to == "start" else t.end + t.grace + 1
            ticks = max(0, -(-(target - md.now) // TICK))
        if ticks:
            self.time_jump(ticks)

    def time_jump(self, ticks: int) -> None:
        self.model.now += ticks * TICK
        for m in self.markets:
            m.set_time(self.model.now)

    @rule(s=HOUSE, b=HOUSE, w=st.integers(0, 3), deposit=st.booleans(), data=st.data())
    def batch(self, s: int, b: int, w: int, deposit: bool, data: st.DataObject) -> None:
        """settleBatch of one sell and one buy order with 1-6 matches between them, at one
        price (stored once in the batch header, four trades per word) or at the sell and
        the buy limit mixed (each record with its price, two per word)."""
        md = self.model
        lo = data.draw(st.sampled_from([1, 1_500, 200_000_000_000_000]))
        hi = data.draw(st.sampled_from([lo, lo + 1, 3 * lo]))
        parts = data.draw(st.lists(st.integers(1, 800), min_size=1, max_size=6))
        prices = [data.draw(st.sampled_from([lo, hi])) for _ in parts]
        wh = sum(parts) + data.draw(st.integers(0, 5))  # both orders; the rest lapses
        need = sum(cost(x, p) for x, p in zip(parts, prices, strict=True))
        start, end = self._window(w)
        if deposit and md.active[b]:
            amount = need + 1
            self._run(None, lambda m: m.deposit(self.houses[b], amount))
            md.credit[b] += amount
        expect: Any = None
        if md.now >= start:
            expect = errors.OutsideWindow
        elif not md.active[s]:
            expect = errors.NotMember
        elif s == b:
            expect = errors.NonceUsed  # same maker, same nonce twice in one batch
        elif not md.active[b]:
            expect = errors.NotMember
        elif md.credit[b] < need:
            expect = errors.InsufficientCredit
        ns, nb = md.nonce[s] + 1, md.nonce[b] + 1

        def go(m: MarketClient) -> tuple[int, list[tuple[int, str, str, int, int, int]]]:
            expiry = md.now + 86_400
            sell = OrderTerms(self.houses[s].address, True, wh, lo, start, end, ns, expiry)
            buy = OrderTerms(self.houses[b].address, False, wh, hi, start, end, nb, expiry)
            orders = [m.sign_order(self.houses[s], sell), m.sign_order(self.houses[b], buy)]
            matches = [Match(0, 1, x, p) for x, p in zip(parts, prices, strict=True)]
            batch_id = m.settle_batch(md.roles[2], orders, matches)
            trades = [
                (e.trade.id, e.trade.seller, e.trade.buyer, e.trade.wh, e.trade.price, e.order_id)
                for e in m.receipt_events()
                if isinstance(e, TradeCreated)
            ]
            return batch_id, trades

        res = self._run(expect, go)
        if expect is None:
            md.n_batch += 1
            batch_id, created = res[0]
            assert batch_id == md.n_batch
            md.nonce[s], md.nonce[b] = ns, nb
            md.credit[b] -= need
            sa, ba = self.houses[s].address, self.houses[b].address
            assert created == [
                (batch_trade_id(batch_id, j), sa, ba, x, p, 0)
                for j, (x, p) in enumerate(zip(parts, prices, strict=True))
            ], "BatchSettled decodes to other trades than were matched"
            for j, (x, p) in enumerate(zip(parts, prices, strict=True)):
                md.trades[batch_trade_id(batch_id, j)] = MTrade(
                    s, b, x, p, start, end, cost(x, p), md.grace
                )

    # ------------------------------------------------------------------ disputes
    def _open_pick(self, k: int) -> int:
        md = self.model
        return self._pick(sorted(md.trades) + sorted(md.settled), k, batch_trade_id(999, 0))

    @rule(k=PICK, seller_wh=WH, by_oracle=st.booleans(), due=st.booleans())
    def open_dispute(self, k: int, seller_wh: int, by_oracle: bool, due: bool) -> None:
        md = self.model
        tid = self._open_pick(k)
        if due:
            tid = self._due(k, "confirm") or tid
        t = md.trades.get(tid)
        expect = errors.WrongRole if not by_oracle else self._settle_expect(tid)
        if expect is None and t:
            if md.now > t.end + t.grace:
                expect = errors.OutsideWindow
            elif t.disputed:
                expect = errors.Disputed
        who = md.roles[1] if by_oracle else self.houses[1]
        self._run(expect, lambda m: m.open_dispute(who, tid, seller_wh, 0))
        if expect is None and t:
            t.disputed = True

    @rule(k=PICK, short=st.integers(0, 3000), by_admin=st.booleans(), due=st.booleans())
    def resolve_dispute(self, k: int, short: int, by_admin: bool, due: bool) -> None:
        md = self.model
        tid = self._open_pick(k)
        if due:
            tid = self._due(k, "resolve") or tid
        t = md.trades.get(tid)
        delivered = max(0, t.wh - short) if t else 0
        expect = errors.WrongRole if not by_admin else self._settle_expect(tid)
        if expect is None and t:
            expect = None if t.disputed else errors.NotDisputed
        who = md.roles[0] if by_admin else self.houses[2]
        self._run(expect, lambda m: m.resolve_dispute(who, tid, delivered))
        if expect is None and t:
            self._pay(tid, t, delivered)

    # ------------------------------------------------------------------ the admin's powers
    @rule(g=GRACES, bad=st.booleans())
    def set_grace(self, g: int, bad: bool) -> None:
        md = self.model
        value = 0 if bad else g
        self._run(errors.BadGrace if bad else None, lambda m: m.set_grace(md.roles[0], value))
        if not bad:
            md.grace = g

    @rule(h=HOUSE)
    def toggle_member(self, h: int) -> None:
        md = self.model
        addr = self.houses[h].address
        if md.active[h]:
            self._run(None, lambda m: m.remove_member(md.roles[0], addr))
        else:
            res = self._run(None, lambda m: m.add_member(md.roles[0], addr))
            assert res[0] == h + 1  # re-admitted with its index
        md.active[h] = not md.active[h]

    @rule(k=PICK)
    def admin_cancel(self, k: int) -> None:
        md = self.model
        ids = sorted(i for i, o in (md.offers | md.requests).items() if o[1] > 0)
        if not ids:
            return
        oid = ids[k % len(ids)]
        o = md.offers.get(oid) or md.requests[oid]
        expect = errors.NotOwner if md.active[o[0]] else None
        self._run(expect, lambda m: m.cancel(md.roles[0], oid))
        if expect is None:
            if oid & 3 == 2:
                md.credit[o[0]] += cost(o[1], o[2])
            o[1] = 0

    @rule(role=ROLE, to=ROLE, by_admin=st.booleans())
    def propose_role(self, role: int, to: int, by_admin: bool) -> None:
        md = self.model
        who = md.roles[0] if by_admin else self.houses[0]
        key = self.chains[0].admin if to == 0 else md.roles[to]
        name = ROLE_NAMES[role]
        etas: list[int] = []
        self._run(
            None if by_admin else errors.WrongRole,
            lambda m: etas.append(m.propose_role(who, name, key.address)),
            same_events=False,
        )
        if by_admin:
            # tick-aligned model eta: nodes add a few seconds, never a tick (docstring)
            assert all(0 <= e - (md.now + self.delay) < 60 for e in etas), etas
            md.pending[role] = (key, md.now + self.delay)

    @rule(role=ROLE, by_right_key=st.booleans())
    def execute_role(self, role: int, by_right_key: bool) -> None:
        md = self.model
        p = md.pending.get(role)
        if p is not None and md.now == p[1]:
            return  # exactly at the eta: nodes' extra block seconds decide (not modelled)
        right = (p[0] if p else md.roles[0]) if role == 0 else md.roles[0]
        who = right if by_right_key else self.houses[3]
        expect: Any = None
        if p is None:
            expect = errors.NoProposal
        elif not by_right_key:
            expect = errors.WrongRole
        elif md.now < p[1]:
            expect = errors.TooEarly
        name = ROLE_NAMES[role]
        self._run(expect, lambda m: m.execute_role(who, name))
        if expect is None and p:
            md.roles[role] = p[0]
            del md.pending[role]
        for m in self.markets:  # the roles on chain are the model's, always
            assert list(m.roles().values()) == [k.address for k in md.roles]

    @precondition(lambda self: bool(self.model.pending) and self.model.now > self.base + 4 * 3600)
    @rule()
    def wait_out_role_delay(self) -> None:
        """Let a pending role change become executable, once every delivery window has
        begun (what remains is settling, reclaiming and disputes under the new roles)."""
        assert self.delay % TICK == 0
        self.time_jump(self.delay // TICK + 1)

    @rule(role=ROLE)
    def cancel_role(self, role: int) -> None:
        md = self.model
        expect = None if role in md.pending else errors.NoProposal
        name = ROLE_NAMES[role]
        self._run(expect, lambda m: m.cancel_role(md.roles[0], name))
        md.pending.pop(role, None)

    @rule(k=PICK, h=HOUSE)
    def admin_cannot_move_escrow(self, k: int, h: int) -> None:
        """The admin tries every escrow-moving call on an open undisputed trade and on an
        active member's order: each is refused and nothing moves."""
        md = self.model
        admin = md.roles[0]
        open_ids = sorted(i for i, t in md.trades.items() if not t.disputed)
        before = [[m.trade(i) for i in open_ids] for m in self.markets]
        credits = [[m.credit_of_index(i) for i in range(1, 5)] for m in self.markets]
        if open_ids:
            tid = open_ids[k % len(open_ids)]
            self._run(errors.NotOwner, lambda m: m.reclaim(admin, tid))
            self._run(errors.NotDisputed, lambda m: m.resolve_dispute(admin, tid, 0))
            if admin.address != md.roles[1].address:
                self._run(errors.WrongRole, lambda m: m.confirm_delivery(admin, tid, 0))
                self._run(errors.WrongRole, lambda m: m.confirm_batch(admin, [(tid, 0)]))
        book = md.offers | md.requests
        mine = sorted(i for i, o in book.items() if o[1] > 0 and md.active[o[0]])
        if mine:
            oid = mine[k % len(mine)]
            self._run(errors.NotOwner, lambda m: m.cancel(admin, oid))
        self._run(errors.NotMember, lambda m: m.withdraw(admin))
        self._run(errors.NotMember, lambda m: m.invalidate_nonce(admin, 2**31))
        assert [[m.trade(i) for i in open_ids] for m in self.markets] == before
        assert [[m.credit_of_index(i) for i in range(1, 5)] for m in self.markets] == credits

    # ------------------------------------------------------------------ members' nonces
    @rule(h=HOUSE, bump=st.integers(0, 3))
    def invalidate_nonce(self, h: int, bump: int) -> None:
        md = self.model
        below = md.nonce[h] + bump
        expect: Any = errors.StaleNonce if bump <= 1 else None
        if below == 0:
            expect = errors.AmountOverflow
        self._run(expect, lambda m: m.invalidate_nonce(self.houses[h], below))
        if expect is None:
            md.nonce[h] = below - 1
        for m in self.markets:
            assert m.member(self.houses[h].address)[2] == md.nonce[h]

    # ------------------------------------------------------------------ invariants
    @invariant()
    def money_is_conserved_and_owned(self) -> None:
        if not self.markets:
            return
        md = self.model
        for m in self.markets:
            credits = [m.credit_of_index(i) for i in range(1, 5)]
            assert credits == md.credit, "credits differ from the model"
            assert m.balance() == md.escrow(), "contract balance != escrow + credits"

    @invariant()
    def open_trades_match_the_model(self) -> None:
        for m in self.markets:
            for tid, t in self.model.trades.items():
                ct = m.trade(tid)
                assert ct is not None and ct.wh == t.wh and ct.escrow == t.escrow
                assert (ct.grace_s, ct.disputed) == (t.grace, t.disputed)
                assert ct.seller == self.houses[t.seller].address
                assert (ct.buyer, ct.price) == (self.houses[t.buyer].address, t.price)
            for tid in list(self.model.settled)[-3:]:
                assert m.trade(tid) is None


def _strip(events: list[Any]) -> list[Any]:
    """Events without their log position (block numbers/hashes differ between backends)."""
    out = []
    for ev in events:
        d = {k: v for k, v in vars(ev).items() if not isinstance(v, LogMeta)}
        out.append((type(ev).__name__, d))
    return out


class DifferentialMachine(MarketMachine):
    kinds = ("embedded", "revm")


TestMarketRevm = MarketMachine.TestCase
TestMarketRevm.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None, derandomize=True
)

TestDifferential = DifferentialMachine.TestCase
TestDifferential.settings = settings(
    max_examples=4, stateful_step_count=30, deadline=None, derandomize=True
)

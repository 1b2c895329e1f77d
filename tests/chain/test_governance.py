"""The admin's powers: timelocked role changes, two-step admin transfer, limited cancel."""

from __future__ import annotations

import pytest

from gridpeer.chain import cost_wei, errors
from gridpeer.chain.events import AdminEvent
from tests.chain.conftest import PRICE, Env


def _admin_events(e: Env, name: str) -> list[dict[str, object]]:
    return [ev.fields for ev in e.market.receipt_events() if isinstance(ev, AdminEvent)
            and ev.name == name]  # fmt: skip


def test_oracle_change_takes_effect_only_after_the_visible_delay(env: Env) -> None:
    m, ch, (s, b, c, _) = env.market, env.chain, env.h
    delay = m.role_delay()
    assert delay == 2 * 86_400
    start, end = env.window()
    tid = m.buy(b, m.post_offer(s, 10, PRICE, start, end), 10)
    before = m.now()
    eta = m.propose_role(ch.admin, "oracle", c.address)
    assert before + delay <= eta <= m.now() + delay
    assert _admin_events(env, "RoleProposed") == [{"role": 1, "account": c.address, "eta": eta}]
    assert m.pending_role("oracle") == (c.address, eta)
    assert m.roles()["oracle"] == ch.oracle.address  # nothing changed yet
    with pytest.raises(errors.TooEarly):
        m.execute_role(ch.admin, "oracle")
    env.goto(start)
    with pytest.raises(errors.WrongRole):  # the proposed oracle cannot act before the eta
        m.confirm_delivery(c, tid, 10)
    for who in (c, s, ch.oracle):
        with pytest.raises(errors.WrongRole):
            m.execute_role(who, "oracle")
    env.goto(eta)
    m.execute_role(ch.admin, "oracle")
    assert _admin_events(env, "RoleSet") == [{"role": 1, "account": c.address}]
    assert m.roles()["oracle"] == c.address and m.pending_role("oracle") is None
    with pytest.raises(errors.NoProposal):
        m.execute_role(ch.admin, "oracle")


def test_admin_transfer_is_two_step_and_timelocked(env: Env) -> None:
    m, ch, (s, b, *_) = env.market, env.chain, env.h
    eta = m.propose_role(ch.admin, "admin", b.address)
    with pytest.raises(errors.TooEarly):
        m.execute_role(b, "admin")
    env.goto(eta)
    with pytest.raises(errors.WrongRole):  # the current admin cannot accept for the nominee
        m.execute_role(ch.admin, "admin")
    m.execute_role(b, "admin")
    assert m.roles()["admin"] == b.address
    with pytest.raises(errors.WrongRole):
        m.add_member(ch.admin, ch.oracle.address)
    with pytest.raises(errors.WrongRole):
        m.propose_role(ch.admin, "coordinator", ch.admin.address)
    m.propose_role(b, "coordinator", s.address)


def test_proposals_can_be_cancelled_and_are_checked(env: Env) -> None:
    m, ch, (s, *_) = env.market, env.chain, env.h
    eta = m.propose_role(ch.admin, "coordinator", s.address)
    with pytest.raises(errors.WrongRole):
        m.cancel_role(s, "coordinator")
    m.cancel_role(ch.admin, "coordinator")
    assert _admin_events(env, "RoleProposalCancelled") == [{"role": 2, "account": s.address}]
    env.goto(eta)
    with pytest.raises(errors.NoProposal):
        m.execute_role(ch.admin, "coordinator")
    with pytest.raises(errors.NoProposal):
        m.cancel_role(ch.admin, "coordinator")
    with pytest.raises(errors.ZeroAddress):
        m.propose_role(ch.admin, "oracle", "0x" + "00" * 20)
    with pytest.raises(errors.BadRole):
        m._send(ch.admin, "proposeRole", 3, s.address)
    assert m.roles()["coordinator"] == ch.coordinator.address


def test_admin_cancels_only_removed_members_orders(env: Env) -> None:
    m, ch, (s, b, *_) = env.market, env.chain, env.h
    start, end = env.window()
    oid = m.post_offer(s, 10, PRICE, start, end)
    rid = m.post_request(b, 10, PRICE, start, end)
    for order in (oid, rid):  # active members' orders are theirs alone
        with pytest.raises(errors.NotOwner):
            m.cancel(ch.admin, order)
    m.remove_member(ch.admin, b.address)
    m.cancel(ch.admin, rid)
    assert m.credit(b.address) == cost_wei(10, PRICE) and m.credit(ch.admin.address) == 0
    with pytest.raises(errors.NotOwner):
        m.cancel(ch.admin, oid)
    m.cancel(s, oid)

"""Pipelined set-up transactions on a real anvil: members registered in order with their
indices, dev accounts funded, a revert reported with its reason."""

from __future__ import annotations

import pytest

from gridpeer.chain import open_chain
from gridpeer.chain.accounts import dev_houses
from gridpeer.chain.errors import AlreadyMember
from gridpeer.chain.pipeline import add_members, fund_many

pytestmark = pytest.mark.anvil


def test_members_registered_in_order_in_few_blocks(anvil_url: str) -> None:
    chain = open_chain(anvil_url)
    market = chain.deploy_market()
    houses = [h.address for h in dev_houses(250)]
    first_block = chain.backend.block_number()

    indices = add_members(market, chain.admin, houses)

    assert indices == list(range(1, 251))
    assert market.member_count() == 250
    assert [market.member_address(i) for i in (1, 125, 250)] == [
        houses[0],
        houses[124],
        houses[249],
    ]
    assert all(market.member(h)[1] for h in houses[::25])  # active
    # the next transaction of the same sender still gets the right nonce
    assert add_members(market, chain.admin, [dev_houses(251)[-1].address]) == [251]
    assert chain.backend.block_number() > first_block


def test_a_reverted_registration_raises_its_reason(anvil_url: str) -> None:
    chain = open_chain(anvil_url)
    market = chain.deploy_market()
    h = dev_houses(2)
    with pytest.raises(AlreadyMember):
        add_members(market, chain.admin, [h[0].address, h[1].address, h[0].address])
    assert market.member_count() == 2
    # a failed batch leaves the nonce cache consistent: the admin can go on
    assert add_members(market, chain.admin, [dev_houses(3)[-1].address]) == [3]


def test_fund_many_adds_to_each_balance(anvil_url: str) -> None:
    chain = open_chain(anvil_url)
    addresses = [h.address for h in dev_houses(300)][250:]
    before = [chain.backend.balance(a) for a in addresses]
    fund_many(chain.backend, addresses, 10**18)
    assert [chain.backend.balance(a) for a in addresses] == [b + 10**18 for b in before]

"""Each house's P2P trading totals as a retained MQTT state, for Home Assistant's energy
dashboard (``gridpeer/<community>/<house>/p2p/state``).

The totals come from the settled trades (what the contract paid for: the oracle's
confirmed Wh at the trade's price): ``bought_wh`` / ``sold_wh`` are the energy the house
bought / sold peer to peer since the community started (Wh, only ever grow) and
``balance`` is what it earned selling minus what it paid buying, in the community's
currency (the contract pays ``floor(Wh × price / 1000)`` wei per trade; ``wei_per_unit``
wei make one currency unit). A state is published, retained with QoS 1, only when it
changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from gridpeer.core.mqtt import BrokerAddress, MqttClient, MqttTls
from gridpeer.telemetry.schemas import TOPIC_ROOT


def p2p_topic(community: str, house: str) -> str:
    """The retained topic of ``house``'s P2P totals."""
    return f"{TOPIC_ROOT}/{community}/{house}/p2p/state"


class P2PState(BaseModel):
    """One house's P2P totals.

    Attributes:
        v: message version (1).
        ts: UTC time of the totals.
        bought_wh: energy bought from peers, Wh.
        sold_wh: energy sold to peers, Wh.
        balance: earned minus paid, in ``currency`` units.
        currency: the community's currency code.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    ts: datetime
    bought_wh: int
    sold_wh: int
    balance: float
    currency: str


@dataclass(frozen=True)
class SettledTrade:
    """A trade the contract settled: who sold, who bought, the Wh paid for, the price
    (wei per kWh)."""

    seller: str
    buyer: str
    delivered_wh: int
    price_wei_per_kwh: int


def p2p_totals(
    trades: Iterable[SettledTrade], houses: Iterable[str]
) -> dict[str, tuple[int, int, int]]:
    """House → (bought Wh, sold Wh, balance wei) over ``trades`` (pure)."""
    out = {h: (0, 0, 0) for h in houses}
    for t in trades:
        pay = t.delivered_wh * t.price_wei_per_kwh // 1000
        if t.buyer in out:
            b, s, bal = out[t.buyer]
            out[t.buyer] = (b + t.delivered_wh, s, bal - pay)
        if t.seller in out:
            b, s, bal = out[t.seller]
            out[t.seller] = (b, s + t.delivered_wh, bal + pay)
    return out


class P2PStatePublisher:
    """Publishes the houses' P2P totals (retained) whenever they change.

    Args:
        host, port: the broker.
        community: community id.
        houses: the houses to publish.
        currency: currency code; wei_per_unit: wei in one currency unit.
        credentials: MQTT (user, password).
        tls: TLS to the broker (its certificate verified), None for plain TCP.
    """

    def __init__(
        self,
        host: str,
        port: int,
        community: str,
        houses: Iterable[str],
        currency: str,
        wei_per_unit: int,
        credentials: tuple[str, str] | None = None,
        tls: MqttTls | None = None,
    ) -> None:
        self.community, self.houses = community, list(houses)
        self.currency, self.wei_per_unit = currency, wei_per_unit
        self.sent: dict[str, tuple[int, int, int]] = {}
        self.link = MqttClient(
            f"gridpeer-p2p-state-{community}",
            BrokerAddress(host, port, tls=tls).with_credentials(credentials),
        )

    def states(
        self, trades: Iterable[SettledTrade], now: datetime
    ) -> Mapping[str, tuple[tuple[int, int, int], P2PState]]:
        """Each house's totals and state message (pure)."""
        return {
            h: (
                t,
                P2PState(
                    ts=now,
                    bought_wh=t[0],
                    sold_wh=t[1],
                    balance=t[2] / self.wei_per_unit,
                    currency=self.currency,
                ),
            )
            for h, t in p2p_totals(trades, self.houses).items()
        }

    def update(self, trades: Iterable[SettledTrade], now: datetime) -> int:
        """Publish the states that changed since the last call; returns how many."""
        n = 0
        for house, (totals, state) in self.states(trades, now).items():
            if self.sent.get(house) == totals:
                continue
            topic = p2p_topic(self.community, house)
            if self.link.publish(topic, state.model_dump_json(), retain=True, timeout=2.0):
                self.sent[house] = totals
                n += 1
        return n

    def start(self) -> None:
        """Connect."""
        self.link.start()

    def stop(self) -> None:
        """Disconnect (the retained states stay)."""
        self.link.stop()

"""Home Assistant MQTT discovery as a service of ``serve``: with ``[homeassistant]
enabled = true`` the discovery configs of every configured house (meter; PV with
``pv_kwp``; battery with ``bess_kwh``; P2P bought / sold energy and balance in the
tariff's currency) are published retained on the community's broker, and again on each
Home Assistant birth message (:class:`~gridpeer.telemetry.adapters.homeassistant.
HomeAssistantDiscovery`). ``gridpeer homeassistant remove`` deletes a house's entities.
Needs ``parts.broker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from gridpeer.core.settings import Settings
from gridpeer.runtime.composition import Parts
from gridpeer.telemetry.adapters.homeassistant import HomeAssistantDiscovery
from gridpeer.telemetry.schemas import Device

log = logging.getLogger(__name__)


def house_devices(settings: Settings) -> dict[str, list[Device]]:
    """Each configured house's measured devices: the meter, PV if it has ``pv_kwp``, the
    battery if it has ``bess_kwh``."""
    out: dict[str, list[Device]] = {}
    for a in settings.accounts:
        devices = [Device.METER]
        if a.pv_kwp > 0:
            devices.append(Device.PV)
        if a.bess_kwh > 0:
            devices.append(Device.BESS)
        out[a.id] = devices
    return out


def discovery(settings: Settings) -> HomeAssistantDiscovery:
    """The discovery publisher for the community's houses, on its broker (services'
    account and TLS from ``[mqtt]``)."""
    addr = settings.mqtt.address()
    credentials = (addr.username, addr.password) if addr.username and addr.password else None
    return HomeAssistantDiscovery(
        addr.host,
        addr.port,
        settings.community,
        house_devices(settings),
        prefix=settings.homeassistant.prefix,
        credentials=credentials,
        tls=addr.tls,
        p2p_currency=settings.tariff.currency,
    )


@contextlib.asynccontextmanager
async def homeassistant(parts: Parts) -> AsyncIterator[None]:
    """Publish the discovery configs while the community runs (nothing when disabled)."""
    if not parts.settings.homeassistant.enabled:
        yield
        return
    pub = discovery(parts.settings)
    await asyncio.to_thread(pub.start)
    log.info("Home Assistant discovery: %d configs published", pub.published)
    try:
        yield
    finally:
        await asyncio.to_thread(pub.stop)

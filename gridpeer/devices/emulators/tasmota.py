"""An emulated Tasmota energy plug or multi-channel meter on MQTT.

Publishes what Tasmota documents (https://tasmota.github.io/docs/MQTT/ ,
https://tasmota.github.io/docs/Commands/#power ): ``tele/<topic>/LWT`` ``Online``
(retained; ``Offline`` as the last will), ``tele/<topic>/SENSOR`` every ``TelePeriod``
with the ``ENERGY`` object (``Total``/``Yesterday``/``Today`` kWh with 3 decimals,
``Power`` W, ``ApparentPower`` VA, ``ReactivePower`` var, ``Factor``, ``Voltage`` V,
``Current`` A; arrays on multi-channel devices), and obeys ``cmnd/<topic>/POWER<n>``
(``ON``/``OFF``/``TOGGLE``/``1``/``0``/empty = query), answering on
``stat/<topic>/RESULT`` (``{"POWER":"ON"}``, or ``{"POWER2":"ON"}`` with several
relays) and ``stat/<topic>/POWER<n>``.

Like the firmware, ``Total`` is saved to flash only every ``save_period_s``; a
:meth:`TasmotaEmulator.power_cut` restarts it from the last save (energy since then is
lost), and ``Today`` resets at local midnight (``Yesterday`` takes its value).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gridpeer.core.mqtt import MqttTls
from gridpeer.devices.emulators.base import Channel, DeviceLink, Ticker, utc_now

TOTAL_START = "2025-01-01T00:00:00"


class TasmotaEmulator:
    """One Tasmota device.

    Args:
        topic: its ``Topic``.
        host, port: the broker.
        channels: the metered channels (one relay each).
        tele_period_s: seconds between SENSOR messages (Tasmota: 10–3600).
        tz: its ``Timezone`` (``Time`` is local).
        per_channel_total: ``SetOption129 1``: ``Total`` as an array per channel
            (default on a single channel; off = one summed ``Total``).
        power_delta_w: like ``PowerDelta``: a SENSOR at once when power changes by more.
        save_period_s: seconds between flash saves of ``Total``.
        now: the clock (UTC).
        tick_s: wall seconds between steps.
        tls: TLS to the broker verifying it (``[mqtt] tls`` / ``ca_file``: the community
            CA, as ``settings.mqtt.address().tls``); None: plain TCP.
        credentials: the MQTT login (the house's user and password); None: anonymous.
    """

    def __init__(
        self,
        topic: str,
        host: str,
        port: int,
        channels: Sequence[Channel],
        tele_period_s: float = 10.0,
        tz: str = "UTC",
        per_channel_total: bool = False,
        power_delta_w: float | None = None,
        save_period_s: float = 300.0,
        now: Callable[[], datetime] = utc_now,
        tick_s: float = 0.1,
        tls: MqttTls | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.topic, self.channels = topic, list(channels)
        self.tele_period_s, self.zone = tele_period_s, ZoneInfo(tz)
        self.per_channel_total = per_channel_total or len(self.channels) == 1
        self.power_delta_w, self.save_period_s = power_delta_w, save_period_s
        self.now = now
        self.today_wh = [0.0] * len(self.channels)
        self.yesterday_wh = [0.0] * len(self.channels)
        self.saved_wh = [c.energy_wh for c in self.channels]
        self.sensors = 0
        self._day_base = [c.energy_wh for c in self.channels]
        self._day = self._local(self.now()).date()
        self._last_tele: datetime | None = None
        self._last_save = self.now()
        self._sent_power = [0.0] * len(self.channels)
        self._lock = threading.RLock()
        self._host, self._port = host, port
        self._tls, self._credentials = tls, credentials
        self.link = self._new_link()
        self._ticker = Ticker(self.step, tick_s, f"tasmota-{topic}")

    def _new_link(self) -> DeviceLink:
        link = DeviceLink(
            self._host,
            self._port,
            f"tasmota-{self.topic}",
            will=(f"tele/{self.topic}/LWT", "Offline"),
            subscriptions=[f"cmnd/{self.topic}/+"],
            on_message=self._on_command,
            tls=self._tls,
            credentials=self._credentials,
        )
        link.on_connect = lambda: link.publish(f"tele/{self.topic}/LWT", "Online", retain=True)
        return link

    def _local(self, t: datetime) -> datetime:
        return t.astimezone(self.zone)

    def sensor_payload(self, now: datetime) -> str:
        """The SENSOR message for ``now`` (exactly Tasmota's field names and units)."""
        n = len(self.channels)

        def col(values: list[Any]) -> Any:
            return values if n > 1 else values[0]

        chans = self.channels
        totals = [round(c.energy_wh / 1000.0, 3) for c in chans]
        energy: dict[str, Any] = {
            "TotalStartTime": TOTAL_START,
            "Total": col(totals) if self.per_channel_total else round(sum(totals), 3),
            "Yesterday": col([round(x / 1000.0, 3) for x in self.yesterday_wh]),
            "Today": col([round(x / 1000.0, 3) for x in self.today_wh]),
            "Period": col([0] * n),
            "Power": col([round(c.power_w) for c in chans]),
            "ApparentPower": col([round(c.apparent_va) for c in chans]),
            "ReactivePower": col(
                [round(math.sqrt(max(0.0, c.apparent_va**2 - c.power_w**2))) for c in chans]
            ),
            "Factor": col([round(c.power_factor if c.power_w else 0.0, 2) for c in chans]),
            "Voltage": round(chans[0].voltage_v),
            "Current": col([round(c.current_a, 3) for c in chans]),
        }
        local = self._local(now).replace(tzinfo=None).isoformat(timespec="seconds")
        return json.dumps({"Time": local, "ENERGY": energy}, separators=(",", ":"))

    def step(self) -> None:
        """Advance to the clock's now: meter, roll the day, save, publish if due."""
        with self._lock:  # stamped under the lock: messages leave in time order
            now = self.now()
            for c in self.channels:
                c.step(now)
            self.today_wh = [
                max(0.0, c.energy_wh - b)
                for c, b in zip(self.channels, self._day_base, strict=True)
            ]
            day = self._local(now).date()
            if day != self._day:  # local midnight: Today → Yesterday, Today restarts
                self._day = day
                self.yesterday_wh = list(self.today_wh)
                self._day_base = [c.energy_wh for c in self.channels]
                self.today_wh = [0.0] * len(self.channels)
            if (now - self._last_save).total_seconds() >= self.save_period_s:
                self.saved_wh = [c.energy_wh for c in self.channels]
                self._last_save = now
            due = (
                self._last_tele is None
                or (now - self._last_tele).total_seconds() >= self.tele_period_s
            )
            if not due and self.power_delta_w is not None:
                due = any(
                    abs(c.power_w - p) > self.power_delta_w
                    for c, p in zip(self.channels, self._sent_power, strict=True)
                )
            if due:
                self._last_tele = now
                self._sent_power = [c.power_w for c in self.channels]
                self.sensors += 1
                self.link.publish(f"tele/{self.topic}/SENSOR", self.sensor_payload(now))

    def _on_command(self, topic: str, payload: bytes) -> None:
        cmd = topic.rsplit("/", 1)[-1].upper()
        if not cmd.startswith("POWER") or (cmd[5:] and not cmd[5:].isdigit()):
            self.link.publish(f"stat/{self.topic}/RESULT", '{"Command":"Unknown"}')
            return
        idx = int(cmd[5:] or "1") - 1
        if not 0 <= idx < len(self.channels):
            self.link.publish(f"stat/{self.topic}/RESULT", '{"Command":"Unknown"}')
            return
        arg = payload.decode("utf-8", "replace").strip().upper()
        with self._lock:
            c = self.channels[idx]
            c.step(self.now())  # meter up to the switch with the old state
            if arg in ("ON", "1"):
                c.relay_on = True
            elif arg in ("OFF", "0"):
                c.relay_on = False
            elif arg in ("TOGGLE", "2"):
                c.relay_on = not c.relay_on
            elif arg != "":
                self.link.publish(f"stat/{self.topic}/RESULT", '{"Command":"Error"}')
                return
            c.step(self.now())
            state = "ON" if c.relay_on else "OFF"
        key = "POWER" if len(self.channels) == 1 else f"POWER{idx + 1}"
        self.link.publish(f"stat/{self.topic}/RESULT", json.dumps({key: state}))
        self.link.publish(f"stat/{self.topic}/{key}", state)

    def start(self) -> None:
        """Connect (LWT Online) and start metering and publishing."""
        self.link.start()
        self._ticker.start()

    def power_cut(self) -> None:
        """Lose power and boot again: the broker publishes the last will (Offline); the
        relays open; ``Total`` restarts from the last flash save."""
        with self._lock:
            self.link.publish(f"tele/{self.topic}/LWT", "Offline", retain=True)
            self.link.stop()
            for c, saved in zip(self.channels, self.saved_wh, strict=True):
                c.step(self.now())
                c.relay_on, c.power_w, c.energy_wh = False, 0.0, saved
            self._last_tele = None
            self.link = self._new_link()
        self.link.start()

    def stop(self) -> None:
        """Stop stepping and disconnect."""
        self._ticker.stop()
        self.link.stop()

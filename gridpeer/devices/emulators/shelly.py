"""An emulated Shelly Gen2+ device (Plus/Pro 1PM, Pro EM, Pro 3EM) on MQTT.

Speaks what the Shelly Gen2+ API documents (https://shelly-api-docs.shelly.cloud/gen2/ ,
pages "MQTT", "Notifications", "RPC Protocol", "Switch", "EM", "EMData"):

* ``<prefix>/online``: ``true`` (retained) on connect, ``false`` as the last will;
* ``<prefix>/events/rpc``: ``NotifyStatus`` frames with only what changed
  (``{"src":…,"dst":"<prefix>/events","method":"NotifyStatus","params":{"ts":…,
  "switch:0":{"id":0,"apower":…}}}``);
* ``<prefix>/status/<component:id>``: the entire component status (``status_ntf``);
* RPC requests on ``<prefix>/rpc`` (``Switch.Set``, ``Switch.GetStatus``,
  ``EM.GetStatus``, ``EMData.GetStatus``, ``Shelly.GetStatus``), answered on
  ``<src>/rpc`` with ``result`` or ``error``.

Switch units: ``apower`` W, ``voltage`` V, ``current`` A, ``aenergy.total`` Wh
(``by_minute`` in mWh). Pro 3EM: per phase ``a_``/``b_``/``c_`` ``act_power`` W (signed),
``aprt_power`` VA, ``voltage`` V, ``current`` A, ``pf``; ``emdata:0`` energies in Wh.
Pro EM (pages "ShellyProEM", "EM1", "EM1Data"): two CT channels ``em1:0`` / ``em1:1``
(``act_power`` W signed, ``aprt_power`` VA, ``voltage`` V, ``current`` A, ``pf``,
``freq`` Hz, ``calibration``), their counters ``em1data:<n>`` ``total_act_energy`` /
``total_act_ret_energy`` Wh, and one dry-contact relay ``switch:0`` (``output`` only, no
metering). Here channel 0's CT sits on the line the relay switches (the P2P line);
channel 1's is not behind the relay (e.g. the grid connection) and always carries its flow.
A :meth:`ShellyEmulator.reboot` restarts the switch energy counters at 0 (the EMData /
EM1Data totals of a Pro 3EM / Pro EM persist) and opens the relays.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from gridpeer.core.mqtt import MqttTls
from gridpeer.devices.emulators.base import Channel, DeviceLink, Ticker, utc_now

ShellyModel = Literal["plus1pm", "pro1pm", "proem", "pro3em"]
_PHASES = ("a", "b", "c")


class ShellyEmulator:
    """One Shelly Gen2+ device.

    Args:
        prefix: its MQTT topic prefix (e.g. ``shellyplus1pm-a8032ab12345``).
        host, port: the broker.
        model: ``plus1pm`` / ``pro1pm`` (one ``switch:<n>`` per channel), ``proem`` (two
            ``em1:<n>`` channels, ``switch:0`` switching channel 0) or ``pro3em`` (three
            phase channels in ``em:0`` / ``emdata:0``, no relay).
        channels: the metered channels.
        notify_period_s: seconds between status notifications (when something changed).
        status_ntf: also publish full statuses on ``<prefix>/status/<component>``.
        now: the clock (UTC).
        tick_s: wall seconds between steps.
        tls: TLS to the broker verifying it (``[mqtt] tls`` / ``ca_file``: the community
            CA, as ``settings.mqtt.address().tls``); None: plain TCP.
        credentials: the MQTT login (the house's user and password); None: anonymous.
    """

    def __init__(
        self,
        prefix: str,
        host: str,
        port: int,
        model: ShellyModel,
        channels: Sequence[Channel],
        notify_period_s: float = 1.0,
        status_ntf: bool = True,
        now: Callable[[], datetime] = utc_now,
        tick_s: float = 0.1,
        tls: MqttTls | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        if model == "pro3em" and len(channels) != 3:
            raise ValueError("a Pro 3EM has three phase channels")
        if model == "proem" and len(channels) != 2:
            raise ValueError("a Pro EM has two CT channels")
        self.prefix, self.model, self.channels = prefix, model, list(channels)
        for c in self.channels[self.switches :]:
            c.relay_on = True  # behind no relay: the channel always carries its flow
        self.notify_period_s, self.status_ntf, self.now = notify_period_s, status_ntf, now
        self.sources = ["init"] * len(self.channels)
        self.notifies = 0
        self._booted = time.monotonic()
        self._sent: dict[str, dict[str, Any]] = {}
        self._last_notify: datetime | None = None
        self._lock = threading.RLock()
        self._host, self._port = host, port
        self._tls, self._credentials = tls, credentials
        self.link = self._new_link()
        self._ticker = Ticker(self.step, tick_s, f"shelly-{prefix}")

    def _new_link(self) -> DeviceLink:
        link = DeviceLink(
            self._host,
            self._port,
            f"shelly-{self.prefix}",
            will=(f"{self.prefix}/online", "false"),
            subscriptions=[f"{self.prefix}/rpc"],
            on_message=self._on_rpc,
            tls=self._tls,
            credentials=self._credentials,
        )

        def connected() -> None:
            link.publish(f"{self.prefix}/online", "true", retain=True)
            if self.status_ntf:
                for key, status in self.components().items():
                    link.publish(f"{self.prefix}/status/{key}", json.dumps(status))

        link.on_connect = connected
        return link

    @property
    def switches(self) -> int:
        """How many relays (``switch:<n>``) the model has."""
        return {"pro3em": 0, "proem": 1}.get(self.model, len(self.channels))

    def components(self) -> dict[str, dict[str, Any]]:
        """Every metered component's full status, by ``component:id``."""
        with self._lock:
            if self.model == "pro3em":
                return {"em:0": self._em(), "emdata:0": self._emdata()}
            if self.model == "proem":
                return {
                    "switch:0": self._relay(0),
                    **{f"em1:{i}": self._em1(i) for i in range(2)},
                    **{f"em1data:{i}": self._em1data(i) for i in range(2)},
                }
            return {f"switch:{i}": self._switch(i) for i in range(len(self.channels))}

    def _relay(self, i: int) -> dict[str, Any]:
        """A dry-contact switch's status: no metering fields."""
        return {
            "id": i,
            "source": self.sources[i],
            "output": self.channels[i].relay_on,
            "temperature": {"tC": 38.2, "tF": 100.8},
        }

    def _em1(self, i: int) -> dict[str, Any]:
        c = self.channels[i]
        return {
            "id": i,
            "current": round(c.current_a, 3),
            "voltage": round(c.voltage_v, 1),
            "act_power": round(c.power_w, 1),
            "aprt_power": round(c.apparent_va, 1),
            "pf": round(c.power_factor if c.power_w else 0.0, 2),
            "freq": 50.0,
            "calibration": "factory",
        }

    def _em1data(self, i: int) -> dict[str, Any]:
        c = self.channels[i]
        return {
            "id": i,
            "total_act_energy": round(c.energy_wh, 2),
            "total_act_ret_energy": round(c.returned_wh, 2),
        }

    def _switch(self, i: int) -> dict[str, Any]:
        c = self.channels[i]
        minute = int(self.now().timestamp()) // 60 * 60
        return {
            "id": i,
            "source": self.sources[i],
            "output": c.relay_on,
            "apower": round(c.power_w, 1),
            "voltage": round(c.voltage_v, 1),
            "freq": 50.0,
            "current": round(c.current_a, 3),
            "pf": round(c.power_factor if c.power_w else 0.0, 2),
            "aenergy": {
                "total": round(c.energy_wh, 3),
                "by_minute": [0.0, 0.0, 0.0],
                "minute_ts": minute,
            },
            "temperature": {"tC": 41.3, "tF": 106.3},
        }

    def _em(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": 0}
        for ph, c in zip(_PHASES, self.channels, strict=True):
            out |= {
                f"{ph}_current": round(c.current_a, 3),
                f"{ph}_voltage": round(c.voltage_v, 1),
                f"{ph}_act_power": round(c.power_w, 1),
                f"{ph}_aprt_power": round(c.apparent_va, 1),
                f"{ph}_pf": round(c.power_factor if c.power_w else 0.0, 2),
                f"{ph}_freq": 50.0,
            }
        out |= {
            "n_current": None,
            "total_current": round(sum(c.current_a for c in self.channels), 3),
            "total_act_power": round(sum(c.power_w for c in self.channels), 3),
            "total_aprt_power": round(sum(c.apparent_va for c in self.channels), 3),
            "user_calibrated_phase": [],
        }
        return out

    def _emdata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": 0}
        for ph, c in zip(_PHASES, self.channels, strict=True):
            out[f"{ph}_total_act_energy"] = round(c.energy_wh, 2)
            out[f"{ph}_total_act_ret_energy"] = round(c.returned_wh, 2)
        out["total_act"] = round(sum(c.energy_wh for c in self.channels), 2)
        out["total_act_ret"] = round(sum(c.returned_wh for c in self.channels), 2)
        return out

    def _notify(self, now: datetime, force: bool = False) -> None:
        """NotifyStatus with what changed since the last one (and full statuses)."""
        current = self.components()
        delta: dict[str, Any] = {}
        for key, status in current.items():
            before = self._sent.get(key, {})
            changed = {k: v for k, v in status.items() if k == "id" or before.get(k) != v}
            if force or len(changed) > 1:
                delta[key] = changed
        if not delta:
            return
        self._sent = current
        self.notifies += 1
        frame = {
            "src": self.prefix,
            "dst": f"{self.prefix}/events",
            "method": "NotifyStatus",
            "params": {"ts": round(now.timestamp(), 2), **delta},
        }
        self.link.publish(f"{self.prefix}/events/rpc", json.dumps(frame))
        if self.status_ntf:
            for key in delta:
                self.link.publish(f"{self.prefix}/status/{key}", json.dumps(current[key]))

    def step(self) -> None:
        """Advance to the clock's now: meter; notify if the period passed."""
        with self._lock:  # stamped under the lock: messages leave in time order
            now = self.now()
            for c in self.channels:
                c.step(now)
            if (
                self._last_notify is None
                or (now - self._last_notify).total_seconds() >= self.notify_period_s
            ):
                self._last_notify = now
                self._notify(now)

    def _on_rpc(self, topic: str, payload: bytes) -> None:
        try:
            req = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return  # a Shelly ignores frames it cannot parse
        if not isinstance(req, dict) or not isinstance(req.get("src"), str):
            return
        answer: dict[str, Any] = {"id": req.get("id"), "src": self.prefix, "dst": req["src"]}
        try:
            answer["result"] = self._call(str(req.get("method")), req.get("params") or {})
        except LookupError as exc:
            answer["error"] = {"code": 404, "message": str(exc)}
        except ValueError as exc:
            answer["error"] = {"code": -103, "message": str(exc)}
        self.link.publish(f"{req['src']}/rpc", json.dumps(answer))
        if "result" in answer and req.get("method") == "Switch.Set":
            with self._lock:
                self._notify(self.now())

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        comps = self.components()
        if method == "Shelly.GetStatus":
            uptime = int(time.monotonic() - self._booted)
            return {**comps, "sys": {"uptime": uptime, "unixtime": int(self.now().timestamp())}}
        if method in ("EM.GetStatus", "EMData.GetStatus") and self.model == "pro3em":
            return comps["em:0" if method == "EM.GetStatus" else "emdata:0"]
        if method in ("EM1.GetStatus", "EM1Data.GetStatus") and self.model == "proem":
            key = f"{method.split('.')[0].lower()}:{params.get('id')}"
            if key not in comps:
                raise ValueError(f"Argument 'id', value {params.get('id')!r} not found!")
            return comps[key]
        if method in ("Switch.Set", "Switch.GetStatus") and self.switches:
            idx = params.get("id")
            if not isinstance(idx, int) or not 0 <= idx < self.switches:
                raise ValueError(f"Argument 'id', value {idx!r} not found!")
            if method == "Switch.GetStatus":
                return comps[f"switch:{idx}"]
            on = params.get("on")
            if not isinstance(on, bool):
                raise ValueError("Missing required argument 'on'!")
            with self._lock:
                c = self.channels[idx]
                was_on = c.relay_on
                c.step(self.now())  # meter up to the switch with the old state
                c.relay_on = on
                self.sources[idx] = "MQTT"
                c.step(self.now())
            return {"was_on": was_on}
        raise LookupError(f"No handler for {method}")

    def start(self) -> None:
        """Connect (online true, full statuses) and start metering and notifying."""
        self.link.start()
        self._ticker.start()

    def reboot(self) -> None:
        """Restart: ``online`` goes false, relays open, switch energy counters restart at
        0 (a Pro 3EM keeps its EMData totals)."""
        with self._lock:
            self.link.publish(f"{self.prefix}/online", "false", retain=True)
            self.link.stop()
            for i, c in enumerate(self.channels):
                c.step(self.now())
                if i < self.switches:
                    c.relay_on, c.power_w = False, 0.0
                    if self.model != "proem":  # a switch's own counter restarts at 0
                        c.energy_wh = 0.0
            self.sources = ["init"] * len(self.channels)
            self._booted = time.monotonic()
            self._sent = {}
            self.link = self._new_link()
        self.link.start()

    def stop(self) -> None:
        """Stop stepping and disconnect."""
        self._ticker.stop()
        self.link.stop()

"""Shelly Gen2/Gen3 meters and relays (Plus/Pro 1PM, Pro EM, Pro 3EM, 3EM Gen3).

Pure parsing and command building; the MQTT I/O is in :mod:`.bridge`. Formats as
documented in the Shelly Gen2+ API (https://shelly-api-docs.shelly.cloud/gen2/):

* "MQTT" (HOWTO/MQTTSetup): with ``rpc_ntf`` the device publishes RPC notifications on
  ``<prefix>/events/rpc``; with ``status_ntf`` the *entire* status of a component on
  ``<prefix>/status/<component:id>``; ``<prefix>/online`` is ``true`` / ``false``
  (retained, last will). RPC requests go to ``<prefix>/rpc``; the answer goes to
  ``<src>/rpc``.
* "Notifications" (General/Notifications): ``{"src":…,"dst":…,"method":"NotifyStatus",
  "params":{"ts":1700000000.12,"switch:0":{"id":0,"apower":12.3}}}`` carries only what
  changed — "overlay the changes from NotifyStatus over a known status"; so a delta is
  applied only on a full status seen before (``status/<component>``,
  ``NotifyFullStatus`` or a ``Shelly.GetStatus`` answer), else it is rejected
  (``no_base``) and :meth:`ShellyAdapter.status_request` asks for one.
* "Switch" (ComponentsAndServices/Switch): status ``{"id":0,"source":"init",
  "output":true,"apower":8.9,"voltage":237.5,"current":0.04,"pf":0.95,"freq":50.0,
  "aenergy":{"total":6.532,"by_minute":[45.2,47.3,45.1],"minute_ts":1654511520},
  "temperature":{"tC":23.5,"tF":74.4}}`` — ``apower`` W, ``voltage`` V, ``current`` A,
  ``aenergy.total`` Wh (``ret_aenergy.total`` Wh returned, Gen3). Relay:
  ``{"id":1,"src":"<src>","method":"Switch.Set","params":{"id":0,"on":true}}`` →
  ``{"id":1,"src":"<device>","dst":"<src>","result":{"was_on":false}}``.
* "EM" (ComponentsAndServices/EM, Pro 3EM): ``em:0`` has per phase ``a_current`` A,
  ``a_voltage`` V, ``a_act_power`` W (signed), ``a_aprt_power`` VA, ``a_pf`` (and
  ``b_``, ``c_``), ``total_current``, ``total_act_power``, ``total_aprt_power``.
  "EMData": ``emdata:0`` has ``a_total_act_energy``, ``a_total_act_ret_energy`` (per
  phase) and ``total_act``, ``total_act_ret`` — all in **Wh**.
* "EM1"/"EM1Data" (Pro EM, EM Gen3): ``em1:<n>`` has ``current``, ``voltage``,
  ``act_power``, ``aprt_power``, ``pf``; ``em1data:<n>`` ``total_act_energy``,
  ``total_act_ret_energy`` (Wh).

Channels: ``switch:<n>`` → channel n; Pro 3EM ``em:0`` → channel 0 = all phases,
1, 2, 3 = phases a, b, c; ``em1:<n>`` → channel n.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from gridpeer.telemetry.adapters.readings import (
    MAX_DEVICE_PAYLOAD_BYTES,
    AdapterReject,
    ChannelReading,
    EnergyCounter,
    Malformed,
    OutOfRange,
    Rejection,
    number,
)
from gridpeer.telemetry.adapters.update import Update

_PHASES = ("a", "b", "c")
_METERED = ("switch", "em", "emdata", "em1", "em1data")


def _load(payload: bytes) -> Any:
    if len(payload) > MAX_DEVICE_PAYLOAD_BYTES:
        raise OverflowError(f"payload of {len(payload)} B > {MAX_DEVICE_PAYLOAD_BYTES} B")
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"not JSON: {exc}") from None


def overlay(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``delta`` applied (nested objects merged key by key), a new dict."""
    out = copy.deepcopy(base)
    for key, value in delta.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = overlay(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def switch_set(prefix: str, src: str, request_id: int, channel: int, on: bool) -> tuple[str, str]:
    """(topic, payload) of the ``Switch.Set`` RPC that switches ``switch:<channel>``."""
    body = {
        "id": request_id,
        "src": src,
        "method": "Switch.Set",
        "params": {"id": channel, "on": on},
    }
    return f"{prefix}/rpc", json.dumps(body, separators=(",", ":"))


def _component(key: str) -> tuple[str, int] | None:
    kind, sep, idx = key.partition(":")
    if kind not in _METERED or not sep or not idx.isdigit():
        return None
    return kind, int(idx)


def _num(status: dict[str, Any], key: str, lo: float, hi: float, what: str) -> float | None:
    value = status.get(key)
    return None if value is None else number(value, f"{what}.{key}", lo, hi)


@dataclass
class ShellyAdapter:
    """One Shelly Gen2+ device: messages in, readings and relay confirmations out.

    Args:
        prefix: the device's MQTT topic prefix (default ``<model>-<mac>``).
        src: this client's RPC source name (answers arrive on ``<src>/rpc``).
        max_power_w: the largest power it can measure, W (energy counter plausibility).
    """

    prefix: str
    src: str = "gridpeer"
    max_power_w: float = 25_000.0
    online: bool | None = None
    relays: dict[int, bool] = field(default_factory=dict)
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_ts: dict[str, datetime] = field(default_factory=dict)
    counters: dict[tuple[str, int, str], EnergyCounter] = field(default_factory=dict)
    _next_id: int = 1
    _pending: dict[int, tuple[str, int, bool]] = field(default_factory=dict)
    _last_delta: dict[str, dict[str, Any]] = field(default_factory=dict)

    def subscriptions(self) -> list[str]:
        """Topics to subscribe to (QoS 1)."""
        p = self.prefix
        return [f"{p}/events/rpc", f"{p}/status/+", f"{p}/online", f"{self.src}/rpc"]

    def relay_command(self, channel: int, on: bool) -> tuple[str, str]:
        """(topic, payload) of a ``Switch.Set`` for ``switch:<channel>``."""
        rid = self._take_id("Switch.Set", channel, on)
        return switch_set(self.prefix, self.src, rid, channel, on)

    def status_request(self) -> tuple[str, str]:
        """(topic, payload) of a ``Shelly.GetStatus`` RPC (its answer is a full status)."""
        rid = self._take_id("Shelly.GetStatus", 0, False)
        body = {"id": rid, "src": self.src, "method": "Shelly.GetStatus"}
        return f"{self.prefix}/rpc", json.dumps(body, separators=(",", ":"))

    def _take_id(self, method: str, channel: int, on: bool) -> int:
        rid = self._next_id
        self._next_id += 1
        self._pending[rid] = (method, channel, on)
        if len(self._pending) > 256:  # answers that never came: forget the oldest
            del self._pending[min(self._pending)]
        return rid

    def handle(self, topic: str, payload: bytes, received_at: datetime) -> Update:
        """Apply one message; never raises for bad input (a rejection is returned)."""
        p = self.prefix
        try:
            if topic == f"{p}/online":
                text = payload.decode("utf-8", "replace").strip()
                if text not in ("true", "false"):
                    raise Malformed(f"online: expected true or false, got {text[:40]!r}")
                self.online = text == "true"
                return Update(online=self.online)
            if topic.startswith(f"{p}/status/"):
                key = topic[len(p) + 8 :]
                body = _load(payload)
                if not isinstance(body, dict):
                    raise Malformed(f"status/{key} is not a JSON object")
                return self._apply({key: body}, received_at.astimezone(UTC), full=True)
            if topic == f"{p}/events/rpc":
                return self._event(_load(payload), received_at)
            if topic == f"{self.src}/rpc":
                return self._answer(_load(payload), received_at)
        except OverflowError as exc:
            return Update(rejection=Rejection(AdapterReject.TOO_LARGE, f"{topic}: {exc}"))
        except OutOfRange as exc:
            return Update(rejection=Rejection(AdapterReject.OUT_OF_RANGE, f"{topic}: {exc}"))
        except Malformed as exc:
            return Update(rejection=Rejection(AdapterReject.MALFORMED, f"{topic}: {exc}"))
        return Update(rejection=Rejection(AdapterReject.FOREIGN, f"{topic} is not {p}'s"))

    def _event(self, body: Any, received_at: datetime) -> Update:
        if not isinstance(body, dict) or not isinstance(body.get("params"), dict):
            raise Malformed("events/rpc frame without params")
        method = body.get("method")
        params: dict[str, Any] = body["params"]
        if method not in ("NotifyStatus", "NotifyFullStatus"):
            return Update()  # NotifyEvent (button pushes, …): nothing to meter
        ts_raw = params.get("ts")
        ts = (
            datetime.fromtimestamp(number(ts_raw, "params.ts", 1.5e9, 1e10), UTC)
            if ts_raw is not None
            else received_at.astimezone(UTC)
        )
        comps = {k: v for k, v in params.items() if k != "ts" and isinstance(v, dict)}
        return self._apply(comps, ts, full=method == "NotifyFullStatus", stamped=True)

    def _answer(self, body: Any, received_at: datetime) -> Update:
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise Malformed("RPC answer without an integer id")
        if body.get("src") != self.prefix:
            return Update()  # another device's answer to the same src: not ours to use
        request = self._pending.pop(body["id"], None)
        if request is None:
            return Update()  # an answer we did not wait for (a repeat): nothing to do
        method, channel, on = request
        if "error" in body:
            err = body["error"]
            return Update(
                rejection=Rejection(AdapterReject.DEVICE_ERROR, f"{method} failed: {err!r}")
            )
        result = body.get("result")
        if not isinstance(result, dict):
            raise Malformed(f"{method} answer without a result object")
        if method == "Switch.Set":
            self.relays[channel] = on
            return Update(relays={channel: on})
        comps = {k: v for k, v in result.items() if isinstance(v, dict)}
        return self._apply(comps, received_at.astimezone(UTC), full=True)

    def _apply(
        self, comps: dict[str, dict[str, Any]], ts: datetime, full: bool, stamped: bool = False
    ) -> Update:
        """Overlay (or replace, if ``full``) the components, then read them.

        Only notifications carry the device's own time (``stamped``); they are ordered
        against each other. Full statuses without a time are always applied (they
        replace the base), so a skew between the device's and our clock cannot make
        every later notification look old."""
        new: dict[str, dict[str, Any]] = {}
        for key, value in comps.items():
            comp = _component(key)
            if comp is None:
                continue  # sys, wifi, cloud…: not metered
            if not full:
                if key not in self.status:
                    return Update(
                        rejection=Rejection(
                            AdapterReject.NO_BASE,
                            f"{self.prefix}: NotifyStatus for {key} before any full status",
                        )
                    )
                last = self.last_ts.get(key)
                # older, or a QoS 1 redelivery (same time, same content); ``ts`` has 10 ms
                # resolution, so two different changes may share it
                if last is not None and (
                    ts < last or (ts == last and value == self._last_delta.get(key))
                ):
                    what = "a repeat of" if ts == last else "older than"
                    return Update(
                        rejection=Rejection(
                            AdapterReject.OUT_OF_ORDER,
                            f"{self.prefix}: NotifyStatus for {key} at {ts.isoformat()} is "
                            f"{what} the last one ({last.isoformat()})",
                        )
                    )
            new[key] = value if full else overlay(self.status[key], value)
        if not new:
            return Update()
        merged = {**self.status, **new}
        readings, relays, counts = self._read(merged, new, ts)
        for counter, raw in counts.values():  # everything valid: commit
            counter.update(raw, ts)
        self.status = merged
        if stamped:
            for key in new:
                self.last_ts[key] = ts
                self._last_delta[key] = comps[key]
        self.relays.update(relays)
        final = tuple(self._with_energy(kind, r) for kind, r in readings)
        return Update(readings=final, relays=relays)

    def _read(
        self, status: dict[str, dict[str, Any]], changed: dict[str, dict[str, Any]], ts: datetime
    ) -> tuple[
        list[tuple[str, ChannelReading]], dict[int, bool], dict[str, tuple[EnergyCounter, float]]
    ]:
        """Readings (with their counter family) of every channel touched by ``changed``;
        counters checked, not yet applied."""
        readings: list[tuple[str, ChannelReading]] = []
        relays: dict[int, bool] = {}
        counts: dict[str, tuple[EnergyCounter, float]] = {}

        def count(name: str, kind: str, ch: int, which: str, raw: Any, what: str) -> None:
            if raw is None:
                return
            value = number(raw, what, 0.0, 1e12)
            counter = self._counter(kind, ch, which)
            counter.check(value, ts)
            counts[name] = (counter, value)

        touched = {_component(k) for k in changed} - {None}
        for kind, idx in sorted(c for c in touched if c is not None):
            key = f"{kind}:{idx}"
            if kind == "switch":
                s = status[key]
                if "output" in s:
                    if not isinstance(s["output"], bool):
                        raise Malformed(f"{key}.output is not a boolean")
                    relays[idx] = s["output"]
                if "apower" not in s:
                    continue  # an unmetered switch (Plus 1): relay only
                aenergy = s.get("aenergy")
                if aenergy is not None and not isinstance(aenergy, dict):
                    raise Malformed(f"{key}.aenergy is not an object")
                ret = s.get("ret_aenergy")
                count(f"{key}/act", "switch", idx, "act", (aenergy or {}).get("total"), key)
                if isinstance(ret, dict):
                    count(f"{key}/ret", "switch", idx, "ret", ret.get("total"), key)
                readings.append(("switch", self._channel(s, "", idx, ts, key, "apower")))
            elif kind in ("em", "emdata") and idx == 0:
                em, data = status.get("em:0"), status.get("emdata:0")
                if data is not None:
                    count("emdata/total", "em", 0, "act", data.get("total_act"), "emdata:0")
                    count("emdata/ret", "em", 0, "ret", data.get("total_act_ret"), "emdata:0")
                    for n, ph in enumerate(_PHASES, 1):
                        count(
                            f"emdata/{ph}",
                            "em",
                            n,
                            "act",
                            data.get(f"{ph}_total_act_energy"),
                            "emdata:0",
                        )
                        count(
                            f"emdata/{ph}r",
                            "em",
                            n,
                            "ret",
                            data.get(f"{ph}_total_act_ret_energy"),
                            "emdata:0",
                        )
                if em is None:
                    continue  # energy only: readings come with the next em:0 status
                readings.append(("em", self._em_total(em, ts)))
                for n, ph in enumerate(_PHASES, 1):
                    if f"{ph}_act_power" in em:
                        reading = self._channel(em, f"{ph}_", n, ts, "em:0", "act_power")
                        readings.append(("em", reading))
            elif kind in ("em1", "em1data"):
                em1, data = status.get(f"em1:{idx}"), status.get(f"em1data:{idx}")
                if data is not None:
                    count(
                        f"em1data:{idx}/act",
                        "em1",
                        idx,
                        "act",
                        data.get("total_act_energy"),
                        f"em1data:{idx}",
                    )
                    count(
                        f"em1data:{idx}/ret",
                        "em1",
                        idx,
                        "ret",
                        data.get("total_act_ret_energy"),
                        f"em1data:{idx}",
                    )
                if em1 is not None:
                    reading = self._channel(em1, "", idx, ts, f"em1:{idx}", "act_power")
                    readings.append(("em1", reading))
        return readings, relays, counts

    def _channel(
        self, s: dict[str, Any], pre: str, ch: int, ts: datetime, what: str, power_key: str
    ) -> ChannelReading:
        power = s.get(f"{pre}{power_key}")
        if power is None:
            raise Malformed(f"{what}.{pre}{power_key} missing")
        pf = _num(s, f"{pre}pf", -1.0, 1.0, what)
        return ChannelReading(
            device=self.prefix,
            channel=ch,
            ts=ts,
            power_w=number(power, f"{what}.{pre}{power_key}", -100_000.0, 100_000.0),
            voltage_v=_num(s, f"{pre}voltage", 0.0, 1000.0, what),
            current_a=_num(s, f"{pre}current", 0.0, 500.0, what),
            power_factor=None if pf is None else abs(pf),
            apparent_va=_num(s, f"{pre}aprt_power", 0.0, 100_000.0, what),
        )

    def _em_total(self, em: dict[str, Any], ts: datetime) -> ChannelReading:
        power = em.get("total_act_power")
        if power is None:
            raise Malformed("em:0.total_act_power missing")
        volts = [_num(em, f"{ph}_voltage", 0.0, 1000.0, "em:0") for ph in _PHASES]
        known = [v for v in volts if v is not None]
        return ChannelReading(
            device=self.prefix,
            channel=0,
            ts=ts,
            power_w=number(power, "em:0.total_act_power", -300_000.0, 300_000.0),
            voltage_v=sum(known) / len(known) if known else None,
            current_a=_num(em, "total_current", 0.0, 1500.0, "em:0"),
            apparent_va=_num(em, "total_aprt_power", 0.0, 300_000.0, "em:0"),
        )

    def _counter(self, kind: str, ch: int, which: str) -> EnergyCounter:
        key = (kind, ch, which)
        if key not in self.counters:
            self.counters[key] = EnergyCounter(self.max_power_w)
        return self.counters[key]

    def _with_energy(self, kind: str, r: ChannelReading) -> ChannelReading:
        act = self.counters.get((kind, r.channel, "act"))
        ret = self.counters.get((kind, r.channel, "ret"))
        return replace(
            r,
            energy_wh=act.wh if act is not None else None,
            returned_wh=ret.wh if ret is not None else None,
        )

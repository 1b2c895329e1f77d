# The node's logic: publish readings, execute delivery commands. Hardware and the
# MQTT client are injected, so the same code runs on a Pico W and in tests.
import json

from gridpeer_node.sensors import Integrator, SocEstimator
from gridpeer_node.timeutil import parse_ts

IDLE, PENDING, ACTIVE, DONE = "idle", "pending", "active", "done"


class Node:
    """One house's sensor/relay node.

    cfg keys: community, house, devices (subset of "meter", "pv", "bess"), period_s
    (seconds between readings, default 1), battery_ah and soc0 (for "bess"),
    state_file (JSON file remembering deliveries across reboots, or None).
    """

    def __init__(self, cfg, hal, client, now):
        self.cfg = cfg
        self.hal = hal
        self.client = client
        self.now = now  # callable -> POSIX seconds (UTC)
        self.prefix = "gridpeer/%s/%s/" % (cfg["community"], cfg["house"])
        self.devices = cfg.get("devices", ("meter",))
        self.period_s = cfg.get("period_s", 1.0)
        self.meter_energy = Integrator()
        self.soc = SocEstimator(cfg.get("battery_ah", 1.0), cfg.get("soc0", 0.5))
        self.deliveries = {}  # trade id -> state dict
        self.rejected = 0
        self._next_reading = 0.0
        self._load_state()
        client.on_message = self.on_message

    # -- telemetry ---------------------------------------------------------
    def reading(self, device, t):
        """The JSON body for one device, in the gridpeer telemetry contract v1."""
        v, i = self.hal.read(device)
        body = {"ts": t, "v": round(v, 3), "i": round(i, 4), "p": round(v * i, 2)}
        if device == "meter":
            body["i"] = round(max(i, 0.0), 4)
            body["p"] = round(max(v * i, 0.0), 2)
            body["e_wh"] = int(self.meter_energy.add(t, body["p"]))
        elif device == "pv":
            body["i"] = round(max(i, 0.0), 4)
            body["p"] = round(max(v * i, 0.0), 2)
        elif device == "bess":
            body["soc"] = round(self.soc.update(t, i), 4)
        return body

    def publish_readings(self, t):
        for device in self.devices:
            topic = self.prefix + device + "/reading"
            self.client.publish(topic, json.dumps(self.reading(device, t)), qos=1)

    # -- deliveries --------------------------------------------------------
    def on_message(self, topic, payload):
        if topic != self.prefix + "cmd/delivery":
            return
        try:
            cmd = json.loads(payload)
            trade = str(cmd["trade_id"])
            direction = cmd["direction"]
            target = int(cmd["target_wh"])
            start = parse_ts(cmd.get("window_start", 0))
            end = parse_ts(cmd["window_end"])
            if direction not in ("in", "out") or target <= 0 or end <= start:
                raise ValueError("bad delivery command")
        except (ValueError, KeyError, TypeError):
            self.rejected += 1
            return
        if trade in self.deliveries:  # QoS 1 redelivery: executed once
            return
        self.deliveries[trade] = {"trade_id": cmd["trade_id"], "direction": direction,
                                  "target_wh": target, "closed_at": None,
                                  "start": start, "end": end, "state": PENDING,
                                  "wh": 0.0, "last": None}
        self._save_state()

    def advance_deliveries(self, t):
        for trade, d in self.deliveries.items():
            if d["state"] == PENDING and t >= d["start"]:
                if t >= d["end"]:
                    self._finish(trade, d, t)
                    continue
                self.hal.relay(d["direction"], True)
                d["state"] = ACTIVE
                d["closed_at"] = t
                d["last"] = None
                self._save_state()
            if d["state"] == ACTIVE:
                v, i = self.hal.read("p2p")
                p = abs(v * i)
                if d["last"] is not None and t > d["last"][0]:
                    d["wh"] += (d["last"][1] + p) * 0.5 * (t - d["last"][0]) / 3600.0
                d["last"] = (t, p)
                if d["wh"] >= d["target_wh"] or t >= d["end"]:
                    self._finish(trade, d, t)

    def _finish(self, trade, d, t):
        self.hal.relay(d["direction"], False)
        reached = d["wh"] >= d["target_wh"]
        d["state"] = DONE
        # DeliveryResult v1 (gridpeer/telemetry/delivery.py); times as POSIX seconds (UTC).
        result = {"v": 1, "trade_id": d["trade_id"], "house": self.cfg["house"],
                  "direction": d["direction"], "target_wh": d["target_wh"],
                  "measured_wh": int(min(d["wh"], d["target_wh"])),
                  "closed_at": d.get("closed_at"), "opened_at": t,
                  "reason": "target" if reached else "window_end"}
        self._save_state()
        # Retained, so the oracle finds it after any restart of its own.
        self.client.publish(self.prefix + "delivery/result/" + trade, json.dumps(result),
                            qos=1, retain=True)

    # -- persistence -------------------------------------------------------
    def _load_state(self):
        path = self.cfg.get("state_file")
        if not path:
            return
        try:
            with open(path) as f:
                self.deliveries = json.load(f)
        except (OSError, ValueError):
            self.deliveries = {}
        for d in self.deliveries.values():  # a reboot mid-delivery resumes metering
            if d["state"] == ACTIVE:
                d["last"] = None

    def _save_state(self):
        path = self.cfg.get("state_file")
        if path:
            with open(path, "w") as f:
                json.dump(self.deliveries, f)

    # -- main loop -----------------------------------------------------------
    def step(self):
        """One pass: handle incoming messages, publish readings when due, meter deliveries."""
        self.client.poll(0.05)
        t = self.now()
        if t >= self._next_reading:
            self.publish_readings(t)
            self._next_reading = t + self.period_s
        self.advance_deliveries(t)
        self.client.ping_if_due()

# The node's logic: measure, publish readings (buffered while offline), execute delivery
# commands. Hardware, the MQTT client and the clocks are injected, so the same code runs on
# a Pico W and in tests. The node keeps metering and switching relays while the broker is
# unreachable; the network is retried every ``reconnect_s``.
import json
import time

from gridpeer_node.deliveries import Deliveries
from gridpeer_node.hal import relay_spec
from gridpeer_node.outbox import Outbox
from gridpeer_node.sensors import Integrator, SocEstimator
from gridpeer_node.store import RecordStore


class Node:
    """One house's sensor/relay node.

    cfg keys: community, house, devices (subset of "meter", "pv", "bess"), period_s
    (seconds between readings, default 1), battery_ah and soc0 (for "bess"),
    relays (name -> GPIO or {"pin", "meter"}; default out/in metered on "p2p"),
    state_dir (directory of the delivery records on flash, or None for RAM only),
    buffer (Outbox options: ram_max, flash_dir, seg_len, seg_max), drain_max (readings
    sent per step, default 20), reconnect_s (wall seconds between connection attempts,
    default 5), republish_s (wall seconds between publications of an unacknowledged
    result, default 60), checkpoint_s, give_up_s (see Deliveries).
    now: callable -> POSIX seconds (UTC) of the measurements and delivery windows, an int
    on the board (single-precision floats there cannot hold a POSIX time; keep period_s,
    checkpoint_s and give_up_s integers too);
    wall: callable -> seconds of the network timers (default time.time).
    """

    def __init__(self, cfg, hal, client, now, wall=None):
        self.cfg = cfg
        self.hal = hal
        self.client = client
        self.now = now
        self.wall = wall or time.time
        self.prefix = "gridpeer/%s/%s/" % (cfg["community"], cfg["house"])
        self.devices = cfg.get("devices", ("meter",))
        self.period_s = cfg.get("period_s", 1)
        self.drain_max = cfg.get("drain_max", 20)
        self.reconnect_s = cfg.get("reconnect_s", 5)
        self.republish_s = cfg.get("republish_s", 60)
        self.meter_energy = Integrator()
        self.soc = SocEstimator(cfg.get("battery_ah", 1.0), cfg.get("soc0", 0.5))
        relays = cfg.get("relays", {"out": 15, "in": 14})
        meters = {}
        for name, spec in relays.items():
            meters[name] = relay_spec(spec)[1]
        self.deliveries = Deliveries(
            cfg["house"], meters, RecordStore(cfg.get("state_dir")),
            cfg.get("checkpoint_s", 30), cfg.get("give_up_s", 86400))
        self.outbox = Outbox(**cfg.get("buffer", {}))
        self.connected = False
        self.connections = 0
        self.clipped = 0  # AC measurements whose waveform touched an ADC rail
        self._retry_at = 0
        self._next_reading = 0
        self._clears = []  # result topics to clear after an acknowledgement
        client.on_message = self.on_message

    @property
    def rejected(self):
        return self.deliveries.rejected

    # -- telemetry ---------------------------------------------------------
    def reading(self, device, t):
        """The JSON body for one device, in the gridpeer telemetry contract v1."""
        m = self.hal.measure(device)
        if m.get("clipped"):
            self.clipped += 1
        v, i, p = m["v"], m["i"], m["p"]
        body = {"ts": t, "v": round(v, 3), "i": round(i, 4), "p": round(p, 2)}
        if device == "meter":  # household consumption: the CT reads the house's load
            body["i"] = round(abs(i), 4)
            body["p"] = round(max(p, 0.0), 2)
            self.meter_energy.add(t, body["p"])
            body["e_wh"] = self.meter_energy.whole
        elif device == "pv":
            body["i"] = round(abs(i), 4)
            body["p"] = round(max(p, 0.0), 2)
        elif device == "bess":
            body["soc"] = round(self.soc.update(t, i), 4)
        return body

    def queue_readings(self, t):
        for device in self.devices:
            self.outbox.push(self.prefix + device + "/reading", json.dumps(self.reading(device, t)))

    # -- messages ----------------------------------------------------------
    def on_message(self, topic, payload):
        if topic == self.prefix + "cmd/delivery":
            self.deliveries.command(payload)
        elif topic.startswith(self.prefix + "delivery/result/") and not payload:
            # the oracle cleared the retained result: the trade is settled or expired
            trade = topic[len(self.prefix) + 16:]
            if self.deliveries.ack(trade):
                # clear a copy this node may have re-published after the oracle's clear
                # (sent from _send: publishing here would nest inside the client's poll)
                self._clears.append(topic)

    # -- network -----------------------------------------------------------
    def connect(self):
        """Connect and subscribe; on failure retry after ``reconnect_s``. Returns connected."""
        try:
            self.client.connect()
            self.connected = True
            self.client.subscribe(self.prefix + "cmd/delivery", qos=1)
            self.client.subscribe(self.prefix + "delivery/result/+", qos=1)
        except Exception as exc:  # OSError, MQTTError: the broker or Wi-Fi is down
            self._drop(exc)
            return False
        self.connections += 1
        self.deliveries.republish_all()
        return True

    def _drop(self, exc):
        print("MQTT link down:", exc)
        self.connected = False
        self.client.close()
        self._retry_at = self.wall() + self.reconnect_s

    def _send(self, t):
        """Publish due results and clears, then up to ``drain_max`` buffered readings,
        oldest first."""
        while self._clears:
            self.client.publish(self._clears[0], b"", qos=1, retain=True)
            self._clears.pop(0)
        for trade in self.deliveries.due(self.wall(), t, self.republish_s):
            # Retained, so the oracle finds it after any restart of its own.
            self.client.publish(self.prefix + "delivery/result/" + trade,
                                json.dumps(self.deliveries.result(trade)), qos=1, retain=True)
        for _ in range(self.drain_max):
            item = self.outbox.peek()
            if item is None:
                break
            self.client.publish(item[0], item[1], qos=1)
            self.outbox.pop()  # only once the broker acknowledged it
        self.client.ping_if_due()

    # -- main loop -----------------------------------------------------------
    def step(self, poll_s=0.05):
        """One pass: network, readings when due, deliveries, then sending."""
        if not self.connected and self.wall() >= self._retry_at:
            self.connect()
        if self.connected:
            try:
                self.client.poll(poll_s)
            except Exception as exc:
                self._drop(exc)
        else:
            time.sleep(poll_s)
        t = self.now()
        if t >= self._next_reading:
            self.queue_readings(t)
            self._next_reading = t + self.period_s
        self.deliveries.advance(t, self.hal)
        if self.connected:
            try:
                self._send(t)
            except Exception as exc:
                self._drop(exc)

    def stats(self):
        d = self.deliveries
        return {"buffered": len(self.outbox), "dropped": self.outbox.dropped,
                "spilled": self.outbox.spilled, "rejected": d.rejected,
                "duplicates": d.duplicates, "acked": d.acked, "given_up": d.given_up,
                "flash_writes": d.store.writes, "connections": self.connections,
                "clipped": self.clipped}

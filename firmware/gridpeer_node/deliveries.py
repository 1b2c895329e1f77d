# Delivery commands -> relay switching and metered Wh -> results, until the oracle acks.
#
# Rules (docs/firmware.md "Deliveries", the home agent's rule of docs/delivery.md):
# * one relay per direction serves every trade of that direction whose window is open, at
#   once; the energy metered for the relay in each step is split among them pro rata to
#   their contracted Wh, each capped at its contract (split.share_energy), and trades that
#   finish together are rounded to whole Wh as a group (split.round_group); the relay
#   opens when no trade of its direction is left;
# * each direction counts only energy flowing its way through its meter channel: OUT the
#   exported real power (P > 0 on the P2P channel), IN the imported (P < 0); the channel
#   is measured once per step, so no energy is counted twice;
# * each trade is a small record on flash, written on a state change and during metering
#   at most every ``checkpoint_s`` (and only when its whole Wh changed);
# * a finished trade's result is (re)published until the oracle acknowledges it by clearing
#   the retained result (an empty retained message on the result topic); then it is pruned
#   and its id remembered (``keep_ids``) so a late duplicate command is not run again.
import json

from gridpeer_node.split import EPS, round_group, share_energy
from gridpeer_node.timeutil import parse_ts

PENDING, ACTIVE, DONE = "pending", "active", "done"
PRUNED_KEY = "pruned"


class Deliveries:
    """The node's deliveries.

    house: this node's house id; meters: relay name -> meter channel (e.g. {"out": "p2p",
    "in": "p2p"}); store: a :class:`~gridpeer_node.store.RecordStore`; checkpoint_s:
    seconds between Wh checkpoints of a running delivery; give_up_s: seconds after
    window end after which an unacknowledged result is dropped (counted in ``given_up``);
    keep_ids: how many pruned trade ids are remembered. Times in POSIX seconds (UTC),
    integers on the board (see timeutil).
    """

    def __init__(self, house, meters, store, checkpoint_s=30, give_up_s=86400,
                 keep_ids=64):
        self.house = house
        self.meters = meters
        self.store = store
        self.checkpoint_s = checkpoint_s
        self.give_up_s = give_up_s
        self.keep_ids = keep_ids
        self.rejected = 0
        self.duplicates = 0
        self.given_up = 0
        self.acked = 0
        self.trades = {}  # trade id (str) -> record
        self.pruned = []  # recently pruned trade ids, oldest first
        self._relay_on = {}  # direction -> relay closed (RAM only: relays open at boot)
        self._last = {}  # direction -> (t, W) of its last meter sample (RAM only)
        self._saved = {}  # trade id -> (t, whole Wh) of the last checkpoint
        self._due = {}  # trade id -> wall time of the next result publication
        for key, rec in store.load().items():
            if key == PRUNED_KEY:
                self.pruned = rec.get("ids", [])
            elif "state" in rec:  # after a reboot the time it was down is not metered
                self.trades[key] = rec

    # -- commands -----------------------------------------------------------------------
    def command(self, payload):
        """Accept a DeliveryCommand (JSON bytes); returns "new", "duplicate" or "rejected"."""
        try:
            cmd = json.loads(payload)
            trade = str(int(cmd["trade_id"]))
            direction = cmd["direction"]
            target = int(cmd["target_wh"])
            start = parse_ts(cmd.get("window_start", 0))
            end = parse_ts(cmd["window_end"])
            if direction not in self.meters or target <= 0 or end <= start:
                raise ValueError("bad delivery command")
            if cmd.get("house", self.house) != self.house:
                raise ValueError("command for another house")
        except (ValueError, KeyError, TypeError):
            self.rejected += 1
            return "rejected"
        if trade in self.trades or trade in self.pruned:  # QoS 1 redelivery, oracle resend
            self.duplicates += 1
            if trade in self.trades and self.trades[trade]["state"] == DONE:
                self._due[trade] = 0  # the oracle asks again: answer at once
            return "duplicate"
        rec = {"trade_id": int(trade), "direction": direction, "target_wh": target,
               "start": start, "end": end, "state": PENDING, "wh": 0.0,
               "closed_at": None, "opened_at": None, "reason": None}
        self.trades[trade] = rec
        self._save(trade)  # stored before the broker gets the PUBACK
        return "new"

    # -- metering -----------------------------------------------------------------------
    def advance(self, t, hal):
        """Meter the open trades at time ``t`` (s), end those at their target or window end,
        and let trades whose window opened join their relay.
        ``hal.measure(channel)["p"]`` is the signed real power W, ``hal.relay(name, on)``."""
        power = {}
        for direction in self.meters:
            active = [k for k, d in self.trades.items()
                      if d["state"] == ACTIVE and d["direction"] == direction]
            if not active:
                self._last.pop(direction, None)
                continue
            active.sort(key=int)
            self._switch(hal, direction, True)  # again after a reboot mid-delivery
            channel = self.meters[direction]
            if channel not in power:
                power[channel] = hal.measure(channel)["p"]
            p = max(power[channel] if direction == "out" else -power[channel], 0.0)
            last = self._last.get(direction)
            energy = 0.0
            if last is not None and t > last[0]:
                energy = (last[1] + p) * 0.5 * (t - last[0]) / 3600.0
            if last is None or t > last[0]:
                self._last[direction] = (t, p)
            recs = [self.trades[k] for k in active]
            parts = share_energy(energy, [d["target_wh"] for d in recs], [d["wh"] for d in recs])
            ending = []
            for n in range(len(active)):  # (zip has no strict= on MicroPython)
                k, d = active[n], recs[n]
                d["wh"] = min(float(d["target_wh"]), d["wh"] + parts[n])
                if d["wh"] >= d["target_wh"] - EPS:
                    d["wh"] = float(d["target_wh"])
                    ending.append((k, "target"))
                elif t >= d["end"]:
                    ending.append((k, "window_end"))
                else:
                    self._checkpoint(k, t)
            whole = round_group([self.trades[k]["wh"] for k, _ in ending],
                                [int(k) for k, _ in ending])
            for n in range(len(ending)):
                self._finish(ending[n][0], t, ending[n][1], whole[n])
        for trade in sorted(self.trades, key=self._order):
            d = self.trades[trade]
            if d["state"] != PENDING or t < d["start"]:
                continue
            if t >= d["end"]:  # missed its whole window (node offline): nothing delivered
                self._finish(trade, t, "window_end", 0)
                continue
            d["state"] = ACTIVE  # joins its relay at once, beside any others
            d["closed_at"] = t
            self._save(trade, t)
        for direction in self.meters:
            self._switch(hal, direction, any(
                d["state"] == ACTIVE and d["direction"] == direction
                for d in self.trades.values()))

    def _switch(self, hal, direction, closed):
        if self._relay_on.get(direction, False) != closed:
            hal.relay(direction, closed)
            self._relay_on[direction] = closed

    def _order(self, trade):
        d = self.trades[trade]
        return (d["start"], d["trade_id"])

    def _checkpoint(self, trade, t):
        wh = int(self.trades[trade]["wh"])
        if trade not in self._saved:  # first metering after a reboot
            self._saved[trade] = (t, wh)
        saved_t, saved_wh = self._saved[trade]
        if wh > saved_wh and t - saved_t >= self.checkpoint_s:
            self._save(trade, t)

    def _finish(self, trade, t, reason, wh):
        d = self.trades[trade]
        d["state"] = DONE
        d["opened_at"] = t
        d["reason"] = reason
        d["wh"] = wh  # whole Wh, rounded with the trades that finished with it
        self._save(trade, t)
        self._due[trade] = 0  # publish at once

    def _save(self, trade, t=0.0):
        d = self.trades[trade]
        self.store.save(trade, d)
        self._saved[trade] = (t, int(d["wh"]))

    # -- results ------------------------------------------------------------------------
    def result(self, trade):
        """DeliveryResult v1 body (gridpeer/telemetry/delivery.py), times POSIX seconds."""
        d = self.trades[trade]
        return {"v": 1, "trade_id": d["trade_id"], "house": self.house,
                "direction": d["direction"], "target_wh": d["target_wh"],
                "measured_wh": int(min(d["wh"], d["target_wh"])),
                "closed_at": d["closed_at"], "opened_at": d["opened_at"],
                "reason": d["reason"]}

    def due(self, wall, model_t, every_s):
        """Trade ids whose result should be (re)published now; schedules the next time
        ``every_s`` wall seconds later. Unacknowledged results ``give_up_s`` after their
        window are dropped and counted."""
        out = []
        for trade in list(self.trades):
            d = self.trades[trade]
            if d["state"] != DONE:
                continue
            if model_t > d["end"] + self.give_up_s:
                self.given_up += 1
                self._prune(trade)
                continue
            if self._due.get(trade, 0.0) <= wall:
                self._due[trade] = wall + every_s
                out.append(trade)
        return out

    def republish_all(self):
        """After a reconnection: every unacknowledged result is due at once."""
        for trade, d in self.trades.items():
            if d["state"] == DONE:
                self._due[trade] = 0.0

    def ack(self, trade):
        """The oracle cleared the retained result of ``trade``: prune it. Returns True if
        this acknowledged a finished delivery (an ack for a running or unknown one is
        ignored)."""
        d = self.trades.get(trade)
        if d is None or d["state"] != DONE:
            return False
        self.acked += 1
        self._prune(trade)
        return True

    def _prune(self, trade):
        del self.trades[trade]
        self._due.pop(trade, None)
        self._saved.pop(trade, None)
        self.pruned.append(trade)
        self.pruned = self.pruned[-self.keep_ids:]
        self.store.save(PRUNED_KEY, {"ids": self.pruned})
        self.store.remove(trade)

# Run the node against a simulated HAL (MicroPython unix port or CPython):
#   micropython sim_main.py CONFIG.json
# CONFIG: {"node": {...Node cfg...}, "broker": [host, port], "ca_file": CA PEM (optional:
#          TLS), "user"/"password" (optional), "readings": {"meter": [v, i],
#          ...}, "p2p_amps": A, "ac": {"pf": .., "spc": ..} (optional: measure as the AC
#          node does), "seconds": run time, "speed": model seconds per second,
#          "stop_file": path (optional: stop early once it exists), "model_start": model
#          POSIX s at start (or at POSIX wall time "wall0", to share other processes'
#          model clock)}
# Prints READY once connected, and a JSON summary as its last line.
import json
import os
import sys
import time

from gridpeer_node.hal import SimHAL
from gridpeer_node.mqtt import Client
from gridpeer_node.node import Node


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def main(path):
    with open(path) as f:
        cfg = json.load(f)
    hal = SimHAL({k: tuple(v) for k, v in cfg["readings"].items()}, cfg.get("p2p_amps", 0.0),
                 cfg.get("ac"))
    node_cfg = cfg["node"]
    ca = None
    if cfg.get("ca_file"):  # TLS: the broker's certificate verified against this CA
        with open(cfg["ca_file"], "rb") as f:
            ca = f.read()
    client = Client(node_cfg["house"] + "-node", cfg["broker"][0], cfg["broker"][1],
                    ack_timeout_s=cfg.get("ack_timeout_s", 2), ca=ca,
                    user=cfg.get("user"), password=cfg.get("password"))
    t0 = time.time()
    speed = cfg.get("speed", 1.0)
    model0 = cfg.get("model_start", t0)
    if "wall0" in cfg:  # model_start was the model time at POSIX wall time wall0
        model0 += (t0 - cfg["wall0"]) * speed

    def now():
        return model0 + (time.time() - t0) * speed

    node = Node(node_cfg, hal, client, now)
    while not node.connect():
        time.sleep(0.2)
    print("READY")
    stop_file = cfg.get("stop_file")
    n = 0
    while time.time() - t0 < cfg["seconds"]:
        node.step()
        n += 1
        if stop_file and n % 10 == 0 and exists(stop_file):
            break
    if node.connected:
        client.disconnect()
    print(json.dumps({"switches": hal.switches, "stats": node.stats(),
                      "pruned": node.deliveries.pruned,
                      "deliveries": {k: v["state"] for k, v in node.deliveries.trades.items()}}))


main(sys.argv[1])

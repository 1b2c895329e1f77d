# Run the node against a simulated HAL (MicroPython unix port or CPython):
#   micropython sim_main.py CONFIG.json
# CONFIG: {"node": {...Node cfg...}, "broker": [host, port], "readings": {"meter": [v, i],
#          ...}, "p2p_amps": A, "seconds": run time, "speed": model seconds per second}
import json
import sys
import time

from gridpeer_node.hal import SimHAL
from gridpeer_node.mqtt import Client
from gridpeer_node.node import Node


def main(path):
    with open(path) as f:
        cfg = json.load(f)
    hal = SimHAL({k: tuple(v) for k, v in cfg["readings"].items()}, cfg.get("p2p_amps", 0.0))
    node_cfg = cfg["node"]
    client = Client(node_cfg["house"] + "-node", cfg["broker"][0], cfg["broker"][1])
    t0 = time.time()
    speed = cfg.get("speed", 1.0)
    model0 = cfg.get("model_start", t0)

    def now():
        return model0 + (time.time() - t0) * speed

    node = Node(node_cfg, hal, client, now)
    client.connect()
    client.subscribe(node.prefix + "cmd/delivery", qos=1)
    print("READY")
    while time.time() - t0 < cfg["seconds"]:
        node.step()
    client.disconnect()
    print(json.dumps({"switches": hal.switches, "rejected": node.rejected,
                      "deliveries": {k: v["state"] for k, v in node.deliveries.items()}}))


main(sys.argv[1])
